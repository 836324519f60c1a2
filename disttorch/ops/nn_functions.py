"""Top-level functions and Tensor methods whose implementation lives in ``nn.functional``
(``disttorch.softmax``, ``x.log_softmax(1)``, ...), imported on first call so that
``import disttorch`` does not load the nn package."""
import functools
import importlib

from ._util import register_methods

# Only names whose torch.* signature equals nn.functional's (torch.batch_norm and
# torch.embedding order their arguments differently and are left out).
_TOP_LEVEL = ["softmax", "log_softmax", "dropout", "layer_norm", "group_norm", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "cosine_similarity", "pairwise_distance", "pdist", "prelu",
              "hardshrink", "selu", "celu", "rrelu", "threshold", "pixel_shuffle", "pixel_unshuffle", "max_pool1d", "max_pool2d", "avg_pool1d",
              "adaptive_avg_pool1d", "adaptive_max_pool1d", "alpha_dropout"]
_METHODS = ["softmax", "log_softmax", "prelu", "hardshrink"]

__all__ = []


def _proxy(name):
    @functools.lru_cache(maxsize=None)
    def target():
        return getattr(importlib.import_module("disttorch.nn.functional"), name)

    def fn(*args, **kwargs):
        return target()(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"See :func:`disttorch.nn.functional.{name}`."
    return fn


for _name in _TOP_LEVEL:
    globals()[_name] = _proxy(_name)
    __all__.append(_name)

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    """``torch.binary_cross_entropy_with_logits``: the ATen spelling, whose ``reduction`` is an
    enum (0 none, the default; 1 mean; 2 sum), unlike ``nn.functional``'s."""
    from ..nn import functional
    return functional.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_REDUCTIONS.get(reduction, reduction),
        pos_weight=pos_weight)


__all__.append("binary_cross_entropy_with_logits")

register_methods({name: globals()[name] for name in _METHODS})
