"""``disttorch.nn.utils``: gradient clipping, parameter/vector conversion, ``rnn`` packing."""
from .._aggregate import collect

__all__ = collect(__name__, ["clip_grad", "convert_parameters"], globals())


# private module names: importing a submodule called weight_norm would shadow the function
_FUNCTIONS = {"weight_norm": "_weight_norm", "remove_weight_norm": "_weight_norm",
              "spectral_norm": "_spectral_norm", "remove_spectral_norm": "_spectral_norm",
              "fuse_conv_bn_eval": "fusion", "fuse_conv_bn_weights": "fusion",
              "fuse_linear_bn_eval": "fusion", "fuse_linear_bn_weights": "fusion",
              "skip_init": "_module_utils",
              "convert_conv2d_weight_memory_format": "_module_utils",
              "convert_conv3d_weight_memory_format": "_module_utils"}


def __getattr__(name):
    import importlib
    if name in ("rnn", "parametrize", "parametrizations", "fusion", "stateless", "prune"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f"{__name__}.{_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module 'disttorch.nn.utils' has no attribute '{name}'")
