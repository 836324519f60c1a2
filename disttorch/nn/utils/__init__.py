"""``disttorch.nn.utils``: gradient clipping, parameter/vector conversion, ``rnn`` packing."""
from .._aggregate import collect

__all__ = collect(__name__, ["clip_grad", "convert_parameters"], globals())


def __getattr__(name):
    if name in ("rnn", "parametrize", "weight_norm"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'disttorch.nn.utils' has no attribute '{name}'")
