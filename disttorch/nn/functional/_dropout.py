"""Dropout family: a random mask drawn from the disttorch generators (``manual_seed``
reproduces it), applied by one node ``y = x * scale + shift``."""
import warnings

import numpy as np

from ..._backend import get_array_module
from ...autograd import grad_mode
from ...autograd.function import Node
from ...ops.arithmetic import check_inplace, apply_inplace
from ...ops.random import dropout_keep
from ... import _vmap_state

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

# SELU's negative saturation value: -scale * alpha
_ALPHA_PRIME = -1.7580993408473766


class MaskedAffine(Node):
    """``y = x * scale + shift`` with a broadcastable ``scale``; backward ``g * scale``."""

    def forward(self, x, scale, shift):
        self.save_for_backward(scale)
        y = x * scale
        if shift is not None:
            y += shift
        return y

    def backward(self, g):
        scale, = self.saved_tensors
        return g * scale, None, None

    @classmethod
    def name(cls):
        return "NativeDropoutBackward0"


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input, shape, p):
    """A float mask of ``shape`` (1 with probability ``1 - p``) on the input's device."""
    data = input._data
    dt = np.float32 if data.dtype == np.float32 else np.float64
    xp = get_array_module(data)
    if xp is not np:
        # drawn on the device from CuPy's generator (disttorch.cuda.manual_seed), as PyTorch
        # uses the CUDA generator: a host mask would cost a copy that waits for the stream
        _vmap_state.random_op("cuda")
        return (xp.random.random(shape, dtype=dt) >= p).astype(data.dtype)
    return dropout_keep(shape, p, data if tuple(shape) == data.shape else None).astype(data.dtype)


def _apply(input, scale, shift, inplace):
    if inplace:
        if check_inplace(input) and (input._requires_grad or input._base is not None):
            return apply_inplace(input, MaskedAffine.apply(input, scale, shift))
        with grad_mode.no_grad():
            data = input._data
            data *= scale
            if shift is not None:
                data += shift
        input._vc[0] += 1
        return input
    return MaskedAffine.apply(input, scale, shift)


def _mask_shape(input, feature_dims):
    """Full shape, or (N, C, 1, ...) for channel-wise dropout of ``feature_dims`` spatial dims."""
    if feature_dims is None:
        return input.shape
    batched = input.ndim == feature_dims + 2
    lead = 2 if batched else 1
    return tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)


def _dropout(input, p, training, inplace, feature_dims=None):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        scale = get_array_module(input._data).zeros(_mask_shape(input, feature_dims),
                                                    input._data.dtype)
    else:
        scale = _keep_mask(input, _mask_shape(input, feature_dims), p)
        # the mask divided by 1 - p in the input's dtype, as PyTorch scales its noise
        scale /= scale.dtype.type(1.0 - p)
    return _apply(input, scale, None, inplace)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``
    (identity when not ``training``).

    Args:
        p: probability of an element to be zeroed. Default: 0.5
        training: apply dropout if ``True``. Default: ``True``
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``
    """
    return _dropout(input, p, training, inplace)


def _feature_dims_check(name, input, spatial):
    batched, unbatched = spatial + 2, spatial + 1
    if input.ndim not in (unbatched, batched):
        raise RuntimeError(
            f"{name}: Expected {unbatched}D or {batched}D input, but received a {input.ndim}D "
            f"input. Note that {name} exists to provide channel-wise dropout on inputs with "
            f"{spatial} spatial dimension{'s' if spatial > 1 else ''}, a channel dimension, and "
            f"an optional batch dimension (i.e. {unbatched}D or {batched}D inputs).")


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p``."""
    _check_p(p)
    _feature_dims_check("dropout1d", input, 1)
    return _dropout(input, p, training, inplace, 1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a (N, C, H, W) or (C, H, W) input with probability ``p``."""
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      f"deprecated and will result in an error in a future release. To retain the "
                      f"behavior and silence this warning, please use dropout instead. Note that "
                      f"dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                      f"or 4D inputs).")
        return _dropout(input, p, training, inplace, max(input.ndim - 2, 0))
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape (C, H, "
                      "W). To maintain the 1D channel-wise dropout behavior, please switch to "
                      "using dropout1d instead.")
        return _dropout(input, p, training, inplace, 1)
    return _dropout(input, p, training, inplace, 2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      f"deprecated and will result in an error in a future release. To retain the "
                      f"behavior and silence this warning, please use dropout instead. Note that "
                      f"dropout3d exists to provide channel-wise dropout on inputs with 3 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. 4D "
                      f"or 5D inputs).")
        return _dropout(input, p, training, inplace, max(input.ndim - 2, 0))
    return _dropout(input, p, training, inplace, 3)


def _alpha_dropout(input, p, training, inplace, feature_dims):
    _check_p(p)
    if not training or p == 0.0:
        return input
    xp = get_array_module(input._data)
    shape = _mask_shape(input, feature_dims)
    if p == 1.0:
        keep = xp.zeros(shape, input._data.dtype)
    else:
        keep = _keep_mask(input, shape, p)
    # Keep zero mean and unit variance: dropped units take SELU's saturation value.
    a = ((1 - p) * (1 + p * _ALPHA_PRIME ** 2)) ** -0.5
    b = -a * _ALPHA_PRIME * p
    shift = (a * _ALPHA_PRIME) * (1 - keep) + b
    return _apply(input, keep * a, shift.astype(input._data.dtype), inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units are set to SELU's negative saturation and the
    result is rescaled to keep zero mean and unit variance."""
    return _alpha_dropout(input, p, training, inplace, None)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """:func:`alpha_dropout` over whole channels (dim 1)."""
    return _alpha_dropout(input, p, training, inplace, max(input.ndim - 2, 0))
