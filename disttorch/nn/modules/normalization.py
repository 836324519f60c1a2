"""Normalization layers other than batch norm: ``LayerNorm``, ``GroupNorm``, ``RMSNorm``,
``InstanceNorm1d/2d/3d``, ``LocalResponseNorm`` and ``CrossMapLRN2d``."""
import numbers
import warnings

import numpy as np

from ..._backend import device_constant, get_array_module
from ...ops.creation import empty
from ...ops.linalg import matmul
from ...tensor import _new
from .. import init
from ..functional import _norm as F
from ..parameter import Parameter
from .batchnorm import _NormBase
from .module import Module

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LocalResponseNorm", "CrossMapLRN2d"]


class LayerNorm(Module):
    """Applies Layer Normalization over the trailing ``normalized_shape`` of the input.

    :math:`y = \\frac{x - E[x]}{\\sqrt{Var[x] + \\epsilon}} \\gamma + \\beta`, the statistics
    over the last ``len(normalized_shape)`` dimensions of each sample.

    Args:
        normalized_shape: the trailing shape to normalize over (an int for the last dimension)
        eps: a value added to the denominator for numerical stability. Default: 1e-5
        elementwise_affine: learnable per-element ``weight`` (ones) and ``bias`` (zeros).
            Default: ``True``
        bias: with ``elementwise_affine``, whether to learn the additive bias. Default: ``True``

    Shape:
        - Input: :math:`(N, *)`
        - Output: same shape as the input
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Applies Group Normalization: the channels are split into ``num_groups`` groups and
    each group of each sample is normalized on its own.

    Args:
        num_groups: number of groups to separate the channels into
        num_channels: number of channels expected in the input
        eps: a value added to the denominator for numerical stability. Default: 1e-5
        affine: learnable per-channel ``weight`` (ones) and ``bias`` (zeros). Default: ``True``
        bias: (keyword-only) with ``affine``, whether to learn the bias. Default: ``True``

    Shape:
        - Input: :math:`(N, C, *)` with :math:`C` = ``num_channels``
        - Output: same shape as the input
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None,
                 *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(empty(num_channels, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_channels, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Applies Root Mean Square Layer Normalization over the trailing ``normalized_shape``:
    :math:`y = \\frac{x}{\\sqrt{\\mathrm{mean}(x^2) + \\epsilon}} \\gamma`.

    Args:
        normalized_shape: the trailing shape to normalize over (an int for the last dimension)
        eps: added to the mean square; ``None`` uses ``finfo(input.dtype).eps``
        elementwise_affine: a learnable per-element ``weight`` (ones). Default: ``True``

    Shape:
        - Input: :math:`(N, *)`
        - Output: same shape as the input
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(_NormBase):
    _spatial_dims = 0

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # checkpoints from before PyTorch 0.4 (no version) carry running statistics that an
        # instance norm without track_running_stats does not have: report them, as torch does
        if local_metadata.get("version") is None and not self.track_running_stats:
            found = [prefix + name for name in ("running_mean", "running_var")
                     if prefix + name in state_dict]
            if found:
                klass = type(self).__name__
                names = " and ".join(f'"{k}"' for k in found)
                error_msgs.append(
                    f"Unexpected running stats buffer(s) {names} for {klass} with "
                    f"track_running_stats=False. If state_dict is a checkpoint saved before "
                    f"0.4.0, this may be expected because {klass} does not track running stats "
                    f"by default since 0.4.0. Please remove these keys from state_dict. If the "
                    f"running stats are actually needed, instead set track_running_stats=True "
                    f"in {klass} to enable them. See the documentation of {klass} for details.")
                for key in found:
                    state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _check_input_dim(self, input):
        d = self._spatial_dims
        if input.ndim not in (d + 1, d + 2):
            raise ValueError(f"expected {d + 1}D or {d + 2}D input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.ndim == self._spatial_dims + 1
        feature_dim = 0 if unbatched else 1
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          f"can silence this warning by not passing in num_features, which is not "
                          f"used because affine=False")
        if unbatched:
            input = input.unsqueeze(0)
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Applies Instance Normalization: each channel of each sample normalized on its own.

    Args:
        num_features: number of channels :math:`C` of the input
        eps: a value added to the denominator for numerical stability. Default: 1e-5
        momentum: the weight of new statistics in the running estimates. Default: 0.1
        affine: learnable per-channel affine parameters. Default: ``False``
        track_running_stats: keep running estimates and use them in evaluation mode.
            Default: ``False``

    Shape:
        - Input: :math:`(N, C, L)` or :math:`(C, L)`
        - Output: same shape as the input
    """

    _spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Applies Instance Normalization over a 4D input; arguments as in
    :class:`InstanceNorm1d`.

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`
        - Output: same shape as the input
    """

    _spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Applies Instance Normalization over a 5D input; arguments as in
    :class:`InstanceNorm1d`.

    Shape:
        - Input: :math:`(N, C, D, H, W)` or :math:`(C, D, H, W)`
        - Output: same shape as the input
    """

    _spatial_dims = 3


class LocalResponseNorm(Module):
    """Applies local response normalization over channels:
    :math:`b_c = a_c (k + \\frac{\\alpha}{n} \\sum_{c'} a_{c'}^2)^{-\\beta}`.

    Args:
        size: amount of neighbouring channels used for normalization
        alpha: multiplicative factor. Default: 0.0001
        beta: exponent. Default: 0.75
        k: additive factor. Default: 1

    Shape:
        - Input: :math:`(N, C, *)`
        - Output: same shape as the input
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _cross_map_window(channels, size, dtype):
    """``window[j, c] = 1`` where channel ``j`` enters the sum of channel ``c``."""
    reach = (size - 1) // 2 + 1
    window = np.zeros((channels, channels), dtype)
    for c in range(channels):
        window[0 if c <= reach else c - reach + 1:min(c + reach, channels), c] = 1
    window[0, :] = 1
    return window


class CrossMapLRN2d(Module):
    """Local response normalization across the channels of 4-D inputs, as Lua Torch's
    ``SpatialCrossMapLRN``: :math:`b_c = a_c (k + \\frac{\\alpha}{n} \\sum_{c' \\in W(c)}
    a_{c'}^2)^{-\\beta}`.

    The window :math:`W(c)` is PyTorch's: channels ``c - p + 1`` to ``c + p - 1`` with
    ``p = (size - 1) // 2 + 1``, except that channel 0, once in the window, never leaves it.
    The gradient is the exact gradient of this forward (PyTorch's hand-written backward
    assumes a symmetric window and differs from it).

    Args:
        size: amount of neighbouring channels used for normalization
        alpha: multiplicative factor. Default: 0.0001
        beta: exponent. Default: 0.75
        k: additive factor. Default: 1

    Shape:
        - Input: :math:`(N, C, H, W)`
        - Output: same shape as the input
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D "
                             f"instead.")
        channels = input.shape[1]
        xp = get_array_module(input._data)
        key = ("CrossMapLRN2d", channels, self.size, input._data.dtype.str)
        mix = _new(device_constant(xp, key, lambda: _cross_map_window(
            channels, self.size, input._data.dtype)))
        squares = (input * input).movedim(1, -1)
        scale = matmul(squares, mix).movedim(-1, 1) * (self.alpha / self.size) + self.k
        return input * scale ** -self.beta

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
