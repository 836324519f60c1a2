"""Normalization: batch, instance, layer, group and local response normalization.

Batch, instance, layer, group and RMS norm are one fused node, ``Normalize``: the input is
viewed as ``stat_shape``, statistics are taken over ``axes`` once, and the affine parameters
broadcast as ``param_shape`` (RMS norm: no centering, ``var = mean(x**2)``). Its backward is
the closed form ``invstd * (gy - mean(gy) - xhat * mean(gy * xhat))`` with
``gy = g * weight`` (without ``mean(gy)`` when not centering); under
``create_graph`` the same formula runs on Tensors, recomputing the statistics from the input
so that second derivatives see their dependence on it.
"""
import math

import numpy as np

from ..._backend import get_array_module
from ...autograd import grad_mode
from ...autograd.function import Node
from ...ops._util import sum_to
from ...tensor import Tensor, Size
from ..._dtype import NP_BFLOAT16, from_numpy_dtype
from ._windows import shape_str, dual_sum, require_float
from ._pool import AvgPool
from ...amp.autocast_mode import autocast_args
from ...cuda.kernels.nn import layer_norm_applies, FusedLayerNorm

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
           "local_response_norm"]


_FLOAT32 = np.dtype(np.float32)


def _is_bf16(array):
    """bfloat16 (ml_dtypes, numpy kind 'V'): numpy's einsum refuses it and its reductions
    accumulate in bfloat16, so the norms compute it in float32 (as PyTorch accumulates)."""
    return array is not None and array.dtype == NP_BFLOAT16


def _widen(array):
    return array.astype(_FLOAT32) if _is_bf16(array) else array


def _contract(a, b, axes):
    """``sum(a * b)`` over ``axes`` (kept as size-1 dims) without the product temporary."""
    letters = "abcdefghij"[:a.ndim]
    kept = "".join(letters[i] for i in range(a.ndim) if i not in axes)
    out = get_array_module(a).einsum(f"{letters},{letters}->{kept}", _widen(a), _widen(b))
    return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


class Normalize(Node):
    """``(x - mean) * invstd * weight + bias`` with statistics over ``spec.axes`` (or given
    ``stats``); returns ``(y, mean, var)``, the last two (biased variance) without gradient.

    The array code works in place on its own temporaries: on large activations a fresh
    array costs as much as the arithmetic (page faults).

    A bfloat16 input is computed in float32 and its output rounded once to bfloat16 (as
    PyTorch's CPU kernels accumulate; parameters of another floating dtype give bfloat16 as
    well); its saved ``xhat``/``invstd``/``mean`` and its statistics stay float32."""

    def forward(self, x, weight, bias, stats, spec):
        stat_shape, axes, param_shape, eps, center = spec
        xp = get_array_module(x)
        self.low = x.dtype if _is_bf16(x) else None
        self.param_dtypes = (None if weight is None else weight.dtype,
                             None if bias is None else bias.dtype)
        x_in, weight_in = x, weight
        if self.low is not None:
            x, weight, bias = _widen(x), _widen(weight), _widen(bias)
        xs = x.reshape(stat_shape)
        if stats is not None:
            mean, var = (s.astype(x.dtype, copy=False).reshape(param_shape) for s in stats)
            centered = xs - mean
        elif center:
            mean = xs.mean(axis=axes, keepdims=True)
            centered = xs - mean
            var = _contract(centered, centered, axes) / math.prod(stat_shape[a] for a in axes)
        else:
            mean = xp.zeros((), x.dtype)
            centered = None
            var = _contract(xs, xs, axes) / math.prod(stat_shape[a] for a in axes)
        invstd = 1.0 / xp.sqrt(var + eps)
        if centered is None:
            xhat = xs * invstd
        else:
            xhat = centered
            xhat *= invstd
        if weight is not None:
            y = xhat * weight.reshape(param_shape)
            if bias is not None:
                y += bias.reshape(param_shape)
        else:
            y = xhat + bias.reshape(param_shape) if bias is not None else xhat.copy()
        self.spec = spec
        self.given_stats = stats is not None
        self.bias_shape = None if bias is None else bias.shape
        self.save_for_backward(x_in, weight_in, xhat, invstd, mean)
        self.mark_non_differentiable(1, 2)
        y = y.reshape(x.shape)
        if self.low is not None:
            y = y.astype(self.low)
        return y, mean, var

    def backward(self, g, _mean, _var):
        x, weight, xhat, invstd, mean = self.saved_tensors
        if isinstance(g, Tensor):
            return self._backward_dual(g, x, weight, mean, invstd)
        if self.low is None:
            return self._backward(g, x, weight, xhat, invstd)
        # bfloat16: the float32 closed form, each gradient rounded once to its input's dtype
        gx, gw, gb, _, _ = self._backward(_widen(g), x, _widen(weight), xhat, invstd)
        wd, bd = self.param_dtypes
        return (None if gx is None else gx.astype(self.low),
                None if gw is None else gw.astype(wd, copy=False),
                None if gb is None else gb.astype(bd, copy=False), None, None)

    def _backward(self, g, x, weight, xhat, invstd):
        stat_shape, axes, param_shape, _, center = self.spec
        xp = get_array_module(g)
        e = self.next_edges
        g = g.reshape(stat_shape)
        param_axes = tuple(i for i, n in enumerate(param_shape) if n == 1)
        gx = gw = gb = None
        # per statistics group sums of g and g * xhat, when the input gradient needs them and
        # the weight is constant over each group (batch and instance norm): the weight then
        # factors out, and the parameter gradients are these sums summed further
        sums = None
        if e[0] is not None:
            # allocated in the input's shape: a base-less array the engine can adopt as .grad
            gx = xp.empty(x.shape, dtype=g.dtype)
            view = gx.reshape(stat_shape)
            count = math.prod(stat_shape[a] for a in axes)
            if self.given_stats:
                gy = g if weight is None else g * weight.reshape(param_shape)
                xp.multiply(gy, invstd, out=view)
            elif all(param_shape[a] == 1 for a in axes):
                sums = g.sum(axis=axes, keepdims=True), _contract(g, xhat, axes)
                xp.multiply(xhat, sums[1] / -count, out=view)
                if center:
                    view -= sums[0] / count
                view += g
                view *= invstd if weight is None else invstd * weight.reshape(param_shape)
            else:
                gy = g if weight is None else g * weight.reshape(param_shape)
                xp.multiply(xhat, _contract(gy, xhat, axes) / -count, out=view)
                view += gy
                if center:
                    view -= gy.sum(axis=axes, keepdims=True) / count
                view *= invstd
        rest = tuple(a for a in param_axes if a not in axes)
        if e[1] is not None:
            gw = (_contract(g, xhat, param_axes) if sums is None else
                  sums[1].sum(axis=rest, keepdims=True)).reshape(weight.shape)
        if e[2] is not None:
            gb = (g.sum(axis=param_axes) if sums is None else
                  sums[0].sum(axis=rest)).reshape(self.bias_shape)
        return gx, gw, gb, None, None

    def _backward_dual(self, g, x, weight, mean, invstd):
        # the closed form on Tensors, statistics recomputed from x (double backward)
        if self.low is None:
            return self._dual_form(g, x, weight, mean, invstd)
        # bfloat16: in float32 (as the saved statistics are), each gradient cast back
        low = x.dtype
        gx, gw, gb, _, _ = self._dual_form(g.float(), x.float(),
                                           None if weight is None else weight.float(), mean,
                                           invstd)
        wd, bd = self.param_dtypes
        return (None if gx is None else gx.to(low),
                None if gw is None else gw.to(from_numpy_dtype(wd)),
                None if gb is None else gb.to(from_numpy_dtype(bd)), None, None)

    def _dual_form(self, g, x, weight, mean, invstd):
        stat_shape, axes, param_shape, _, center = self.spec
        e = self.next_edges
        xhat, invstd = self._recompute(x, mean, invstd)
        g = g.reshape(stat_shape)
        gx = gw = gb = None
        if e[0] is not None:
            gy = g if weight is None else g * weight.reshape(param_shape)
            if self.given_stats:
                gx = gy * invstd
            else:
                count = math.prod(stat_shape[a] for a in axes)
                mean_gy_xhat = dual_sum(gy * xhat, axes, keepdim=True) / count
                if center:
                    gy = gy - dual_sum(gy, axes, keepdim=True) / count
                gx = (gy - xhat * mean_gy_xhat) * invstd
            gx = gx.reshape(x.shape)
        if e[1] is not None:
            gw = sum_to(g * xhat, param_shape).reshape(weight.shape)
        if e[2] is not None:
            gb = sum_to(g, param_shape).reshape(self.bias_shape)
        return gx, gw, gb, None, None

    def _recompute(self, x, mean, invstd):
        # Tensors of the statistics that depend on x, so a second derivative sees them move
        stat_shape, axes, _, eps, center = self.spec
        xs = x.reshape(stat_shape)
        if self.given_stats:
            return (xs - mean) * invstd, invstd
        count = math.prod(stat_shape[a] for a in axes)
        centered = xs - dual_sum(xs, axes, keepdim=True) / count if center else xs
        invstd = (dual_sum(centered * centered, axes, keepdim=True) / count + eps) ** -0.5
        return centered * invstd, invstd


def _update_running(running, value, momentum):
    data = running._data
    if _is_bf16(data):
        # in float32, rounded once (PyTorch's accumulate type)
        wide = data.astype(_FLOAT32) * (1.0 - momentum)
        wide += momentum * value.astype(_FLOAT32, copy=False).reshape(data.shape)
        data[...] = wide.astype(data.dtype)
    else:
        data *= 1.0 - momentum
        data += momentum * value.astype(data.dtype, copy=False).reshape(data.shape)
    running._vc[0] += 1


def _check_param(param, name, count):
    if param is not None and param.numel() != count:
        raise RuntimeError(f"{name} should contain {count} elements not {param.numel()}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Applies Batch Normalization for each channel across a batch of data.

    In training mode the batch statistics normalize the input and, when given, the running
    estimates are updated in place: ``running = (1 - momentum) * running + momentum * stat``
    with the unbiased batch variance. In evaluation mode the running estimates are used.

    Args:
        input: tensor of shape :math:`(N, C)` or :math:`(N, C, *)`
        running_mean, running_var: tensors of shape :math:`(C)`, or ``None`` (training only)
        weight, bias: optional affine parameters of shape :math:`(C)`
        training: use (and update) batch statistics. Default: ``False``
        momentum: the weight of the new statistic in the running estimates. Default: 0.1
        eps: added to the variance for numerical stability. Default: 1e-5

    Shape:
        - Output: same shape as ``input``
    """
    require_float(input, "batch_norm")
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{max(input.ndim, 1)}"
                         f", {max(input.ndim, 1) - 1}], but got 1)")
    channels = input.shape[1]
    if not training:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_var is None:
            raise RuntimeError("running_var must be defined in evaluation mode")
    # PyTorch's order: the running statistics first
    for param, name in ((running_mean, "running_mean"), (running_var, "running_var"),
                        (weight, "weight"), (bias, "bias")):
        _check_param(param, name, channels)
    count = input.numel() // channels
    if training and count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{Size(input.shape)}")
    spatial = math.prod(input.shape[2:])
    spec = ((input.shape[0], channels, spatial), (0, 2), (1, channels, 1), eps, True)
    stats = None if training else (running_mean._data, running_var._data)
    out, mean, var = Normalize.apply(input, weight, bias, stats, spec)
    if training and (running_mean is not None or running_var is not None):
        with grad_mode.no_grad():
            if running_mean is not None:
                _update_running(running_mean, mean._data, momentum)
            if running_var is not None:
                _update_running(running_var, var._data * (count / (count - 1)), momentum)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    """Applies Instance Normalization: each channel of each sample is normalized on its own.

    Args:
        input: tensor of shape :math:`(N, C, *)` with at least one spatial dimension
        running_mean, running_var: optional running estimates of shape :math:`(C)`, updated
            with the batch average of the instance statistics when ``use_input_stats``
        weight, bias: optional affine parameters of shape :math:`(C)`
        use_input_stats: normalize with the instance statistics (else the running ones)
        momentum, eps: as in :func:`batch_norm`

    Shape:
        - Output: same shape as ``input``
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    require_float(input, "batch_norm")
    n, channels = input.shape[:2]
    spatial = math.prod(input.shape[2:])
    for param, name in ((weight, "weight"), (bias, "bias"), (running_mean, "running_mean"),
                        (running_var, "running_var")):
        _check_param(param, name, channels)
    if use_input_stats and spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{Size(input.shape)}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    spec = ((n, channels, spatial), (2,), (1, channels, 1), eps, True)
    stats = None if use_input_stats else (running_mean._data, running_var._data)
    out, mean, var = Normalize.apply(input, weight, bias, stats, spec)
    if use_input_stats and (running_mean is not None or running_var is not None):
        with grad_mode.no_grad():
            if running_mean is not None:
                _update_running(running_mean, mean._data.mean(axis=0), momentum)
            if running_var is not None:
                unbiased = var._data * (spatial / (spatial - 1))
                _update_running(running_var, unbiased.mean(axis=0), momentum)
    return out


def _trailing_spec(input, normalized_shape, params, eps, center, joiner):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    for param, name in params:
        if param is not None and tuple(param.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {shape_str(param.shape)} and normalized_shape = "
                               f"{shape_str(normalized_shape)}")
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={shape_str(normalized_shape)}, expected input "
                           f"with shape [*{joiner}{', '.join(map(str, normalized_shape))}], but got "
                           f"input of size{shape_str(input.shape)}")
    inner = math.prod(normalized_shape)
    return (input.numel() // max(inner, 1), inner), (1,), (1, inner), eps, center


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Applies Layer Normalization over the last ``len(normalized_shape)`` dimensions.

    Args:
        input: tensor of shape :math:`(*, *normalized\\_shape)`
        normalized_shape: the trailing shape to normalize over (an int for one dimension)
        weight, bias: optional elementwise affine parameters of shape ``normalized_shape``
        eps: added to the variance for numerical stability. Default: 1e-5

    Shape:
        - Output: same shape as ``input``
    """
    input, weight, bias = autocast_args("layer_norm", input, weight, bias)
    spec = _trailing_spec(input, normalized_shape, ((weight, "weight"), (bias, "bias")), eps,
                          True, ", ")
    require_float(input, "LayerNormKernelImpl")
    if layer_norm_applies(input, normalized_shape, weight, bias):
        return FusedLayerNorm.apply(input, weight, bias, eps)
    return Normalize.apply(input, weight, bias, None, spec)[0]


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Applies Root Mean Square Layer Normalization over the last dimensions:
    :math:`y = \\frac{x}{\\sqrt{\\mathrm{mean}(x^2) + \\epsilon}} \\gamma`.

    Args:
        input: tensor of shape :math:`(*, *normalized\\_shape)`
        normalized_shape: the trailing shape to normalize over (an int for one dimension)
        weight: optional elementwise scale of shape ``normalized_shape``
        eps: added to the mean square; ``None`` uses ``finfo(input.dtype).eps``

    Shape:
        - Output: same shape as ``input``
    """
    input, weight = autocast_args("rms_norm", input, weight)
    require_float(input, "rms_norm")
    if eps is None:
        # PyTorch takes the eps of the type it computes in: float32's for float16 and bfloat16
        dtype = input._data.dtype
        wide = _FLOAT32 if _is_bf16(input._data) or dtype == np.float16 else dtype
        eps = float(np.finfo(wide).eps)
    spec = _trailing_spec(input, normalized_shape, ((weight, "weight"),), eps, False, "")
    return Normalize.apply(input, weight, None, None, spec)[0]


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Applies Group Normalization: channels split into ``num_groups`` groups, each
    normalized over its channels and the spatial dimensions of each sample.

    Args:
        input: tensor of shape :math:`(N, C, *)`
        num_groups: number of groups; must divide :math:`C`
        weight, bias: optional per-channel affine parameters of shape :math:`(C)`
        eps: added to the variance for numerical stability. Default: 1e-5

    Shape:
        - Output: same shape as ``input``
    """
    input, weight, bias = autocast_args("group_norm", input, weight, bias)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, channels = input.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {shape_str(input.shape)} and num_groups="
                           f"{num_groups}")
    for param in (weight, bias):
        if param is not None and (param.ndim != 1 or param.numel() != channels):
            raise RuntimeError(f"Expected weight to be a vector of size equal to the number of "
                               f"channels in input, but got weight of shape "
                               f"{shape_str(param.shape)} and input of shape "
                               f"{shape_str(input.shape)}")
    require_float(input, "GroupNormKernelImpl")
    spatial = math.prod(input.shape[2:])
    spec = ((n, num_groups, channels // num_groups, spatial), (2, 3),
            (1, num_groups, channels // num_groups, 1), eps, True)
    return Normalize.apply(input, weight, bias, None, spec)[0]


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Applies local response normalization across channels:
    :math:`b_c = a_c (k + \\frac{\\alpha}{n} \\sum_{c'} a_{c'}^2)^{-\\beta}`, the sum over the
    ``size`` neighbouring channels.

    Args:
        input: tensor of shape :math:`(N, C, *)`
        size: the number of neighbouring channels summed
        alpha: multiplicative factor. Default: 1e-4
        beta: exponent. Default: 0.75
        k: additive factor. Default: 1

    Shape:
        - Output: same shape as ``input``
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    n, channels = input.shape[:2]
    squares = (input * input).reshape(n, 1, channels, -1)
    divisor = get_array_module(input._data).asarray(float(size))
    window = AvgPool.apply(squares, (size, 1), (1, 1), ((size // 2, (size - 1) // 2), (0, 0)),
                           divisor)
    return input / (window.reshape(*input.shape) * alpha + k) ** beta
