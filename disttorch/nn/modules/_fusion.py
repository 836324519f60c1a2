"""Where eager code knows that a linear layer feeds an activation, it may run the pair as one
fused node on CUDA (``functional._linear.linear_activation``): the transformer's feed-forward
block, and ``Sequential`` for a ``Linear`` followed by ``ReLU``/``GELU``. Only where calling
the modules would run no hooks, the linear layer is a plain ``Linear`` and the activation is
exactly ReLU or exact GELU: the result is then the same as calling the two modules."""
import numpy as np

from ..._device_guard import unguarded
from .. import functional as F
from ..functional._linear import linear_activation
from .activation import GELU, ReLU
from .linear import Linear


def activation_kind(activation):
    """``"relu"`` or ``"gelu"`` when ``activation`` (a function or a module) is exactly that
    and runs no hooks; else None."""
    function = unguarded(activation)
    if function is unguarded(F.relu):
        return "relu"
    if function is unguarded(F.gelu):
        return "gelu"
    kind = type(activation)
    if kind not in (ReLU, GELU) or not _plain(activation):
        return None
    if kind is ReLU:
        return "relu"
    return "gelu" if activation.approximate == "none" else None


def _plain(module):
    # no hooks, and no forward of its own patched onto the instance
    return not module._has_call_hooks() and "forward" not in module.__dict__


def fusable_linear(module):
    """Whether ``module`` is a plain ``Linear`` (with a bias) whose call runs no hooks."""
    return type(module) is Linear and module.bias is not None and _plain(module)


def linear_then_activation(linear, activation, x, kind=None):
    """``activation(linear(x))``, as one fused node where that applies (see the module doc);
    ``kind``: the activation's, when the caller has checked both modules already."""
    if kind is None:
        kind = activation_kind(activation)
        if kind is None or not fusable_linear(linear) or type(x._data) is np.ndarray:
            return activation(linear(x))
    return linear_activation(x, linear.weight, linear.bias, kind)
