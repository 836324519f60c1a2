"""Activation functions: one fused node each, double-backward capable (backward formulas use
operators and dual helpers that accept arrays or Tensors)."""
import math
import warnings

import numpy as np

from ... import _dtype
from ..._dtype import NP_BFLOAT16
from ..._backend import get_array_module
from ...autograd import grad_mode
from ...autograd.function import Node
from ...tensor import Tensor, _new
from ...ops import pointwise as P
from ...ops._util import cast, wrap_dim, sum_to, register_methods, masked_grad
from ...ops.arithmetic import check_inplace, apply_inplace, sub, mul, neg
from ...ops.indexing import scalar_type_name
from ...ops.random import _gen
from ...amp.autocast_mode import autocast_args
from ...cuda.kernels.nn import gelu_forward, gelu_backward

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
           "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "softplus", "softsign",
           "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "logsigmoid", "prelu", "rrelu",
           "rrelu_", "threshold", "threshold_", "softmax", "log_softmax", "softmin", "glu",
           "tanhshrink", "softshrink", "hardshrink", "gumbel_softmax"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


# --------------------------------------------------------------- dual helpers
def _dual(tensor_fn, array_fn):
    def fn(x):
        return tensor_fn(x) if isinstance(x, Tensor) else array_fn(x)
    return fn


def _sigmoid_array(x):
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_exp = _dual(P.exp, lambda x: get_array_module(x).exp(x))
_tanh = _dual(P.tanh, lambda x: get_array_module(x).tanh(x))
_erf = _dual(P.erf, P._erf_array)
_abs = _dual(P.abs, lambda x: get_array_module(x).abs(x))
_sigmoid = _dual(P.sigmoid, _sigmoid_array)


def _where(cond, a, b):
    if isinstance(cond, Tensor) or isinstance(a, Tensor) or isinstance(b, Tensor):
        return P.where(cond if isinstance(cond, Tensor) else _new(cond), a, b)
    return get_array_module(cond).where(cond, a, b)


def _softplus_array(x):
    # log(1 + e^x) without overflow
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _sum_keep(x, dim):
    if isinstance(x, Tensor):
        return x.sum(dim, keepdim=True)
    return x.sum(axis=dim, keepdims=True)


_FLOAT32 = np.dtype(np.float32)


def _is_bf16(array):
    return array.dtype == NP_BFLOAT16


# -------------------------------------------------------------- the one node
class Activation(Node):
    """``y = fn(xp, x, *params)`` elementwise; backward ``grad(g, x, *params)`` from the saved
    input. One subclass per activation (see :func:`_activation`).

    bfloat16 (ml_dtypes: numpy has few kernels for it, and each would round) is computed in
    float32 and rounded once, as PyTorch's CPU kernels do; so is its gradient."""

    def forward(self, x, *params):
        self.params = params
        self.save_for_backward(x)
        wide = x.astype(_FLOAT32) if _is_bf16(x) else x
        return self.fn(get_array_module(x), wide, *params).astype(x.dtype, copy=False)

    def backward(self, g):
        x, = self.saved_tensors
        if not isinstance(g, Tensor) and (_is_bf16(g) or g.dtype == np.float16):
            gx = self.grad(g.astype(_FLOAT32), x.astype(_FLOAT32), *self.params)
            return (gx.astype(g.dtype),) + (None,) * len(self.params)
        return (self.grad(g, x, *self.params),) + (None,) * len(self.params)


# PyTorch's kernel names, as its dtype errors quote them
_KERNELS = {"gelu": "GeluKernelImpl", "hardtanh": "clamp_scalar_cpu", "softplus": "softplus_cpu",
            "log_sigmoid": "log_sigmoid_forward_cpu"}


def _float_input(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if not (input.is_floating_point() or input.is_complex()):  # bfloat16 is floating
        kernel = _KERNELS.get(name, name + "_cpu")
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(input)}'")
    return input


def _activation(name, fn, grad):
    node = type("".join(part.capitalize() for part in name.split("_")), (Activation,),
                {"fn": staticmethod(fn), "grad": staticmethod(grad)})

    def op(input, *params):
        return node.apply(_float_input(input, name), *params)
    return op


def _inplace(input, op, *params):
    """``op`` applied in place: the graph records ``op`` on a copy of the old values."""
    if check_inplace(input) and (input._requires_grad or input._base is not None):
        return apply_inplace(input, op(input.clone(), *params))
    with grad_mode.no_grad():
        result = op(input, *params)
    input._data[...] = result._data
    input._vc[0] += 1
    return input


_hardtanh = _activation(
    "hardtanh", lambda xp, x, lo, hi: xp.clip(x, lo, hi),
    # (a NaN gets no gradient, as in PyTorch's vectorised CPU kernel; its scalar tail and CUDA
    # kernels pass it: PyTorch is not consistent there)
    lambda g, x, lo, hi: masked_grad(g, (x > lo) & (x < hi)))
_leaky = _activation(
    "leaky_relu", lambda xp, x, s: xp.where(x > 0, x, x * s),
    lambda g, x, s: _where(x > 0, g, g * s))
_elu = _activation(
    "elu", lambda xp, x, a, scale, in_scale: scale * xp.where(x > 0, x, a * xp.expm1(x * in_scale)),
    # (a NaN takes the negative branch, NaN, as in PyTorch's vectorised CPU kernel)
    lambda g, x, a, scale, in_scale: _where(x > 0, g * scale, g * (scale * a * in_scale) *
                                            _exp(x * in_scale)))
class Gelu(Node):
    """``x * Phi(x)``; the normal CDF is kept for backward (erf is the costly part)."""

    def forward(self, x):
        fused = gelu_forward(x)
        self.fused = fused is not None
        if self.fused:
            self.save_for_backward(x)
            return fused
        # bfloat16 and float16 in float32, rounded once (the cdf is kept in float32): erf in
        # half precision was up to 16 ulps off
        wide = x.astype(_FLOAT32) if _is_bf16(x) or x.dtype == np.float16 else x
        cdf = (0.5 * (1 + P._erf_array(wide * _INV_SQRT2, relative=False))).astype(
            wide.dtype, copy=False)
        self.save_for_backward(x, cdf)
        return (wide * cdf).astype(x.dtype, copy=False)

    def backward(self, g):
        saved = self.saved_tensors
        x = saved[0]
        if self.fused and not isinstance(g, Tensor):
            dx = gelu_backward(x, g)
            if dx is not None:
                return dx
        if isinstance(g, Tensor) or self.fused:
            cdf = 0.5 * (1 + _erf(x * _INV_SQRT2))  # differentiable again, unlike the saved one
        else:
            cdf = saved[1]
        if not isinstance(g, Tensor) and _is_bf16(g):
            wide = x.astype(_FLOAT32)
            xp = get_array_module(g)
            return (g.astype(_FLOAT32) * (cdf + wide * xp.exp(wide * wide * -0.5) *
                                          _INV_SQRT_2PI)).astype(g.dtype)
        return g * (cdf + x * _exp(x * x * -0.5) * _INV_SQRT_2PI)


def _gelu(input):
    return Gelu.apply(_float_input(input, "gelu"))


def _gelu_tanh_grad(g, x):
    t = _tanh((x + x * x * x * 0.044715) * _SQRT_2_PI)
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_PI * (1 + x * x * (3 * 0.044715)))


_gelu_tanh = _activation(
    "gelu", lambda xp, x: 0.5 * x * (1 + xp.tanh(_SQRT_2_PI * (x + 0.044715 * x * x * x))),
    _gelu_tanh_grad)


def _silu_grad(g, x):
    s = _sigmoid(x)
    return g * s * (1 + x * (1 - s))


_silu = _activation("silu", lambda xp, x: x * _sigmoid_array(x), _silu_grad)


def _mish_grad(g, x):
    t = _tanh(_dual(softplus, _softplus_array)(x))
    return g * (t + x * _sigmoid(x) * (1 - t * t))


_mish = _activation("mish", lambda xp, x: x * xp.tanh(_softplus_array(x)), _mish_grad)
_softplus = _activation(
    "softplus",
    lambda xp, x, beta, th: xp.where(x * beta > th, x, _softplus_array(x * beta) / beta),
    lambda g, x, beta, th: _where(x * beta > th, g, g * _sigmoid(x * beta)))
_softsign = _activation("softsign", lambda xp, x: x / (1 + xp.abs(x)),
                        lambda g, x: g / ((1 + _abs(x)) * (1 + _abs(x))))
_hardsigmoid = _activation("hardsigmoid", lambda xp, x: xp.clip(x / 6 + 0.5, 0, 1),
                           lambda g, x: masked_grad(g, (x > -3) & (x < 3)) / 6)
_hardswish = _activation(
    "hardswish", lambda xp, x: x * xp.clip(x + 3, 0, 6) / 6,
    # (at x = 3 the gradient is 1, as PyTorch takes it)
    # (a NaN passes g, as PyTorch's scalar kernels do; its vectorised CPU path gives NaN)
    lambda g, x: _where(x <= -3, 0.0, _where(x < 3, g * (x / 3 + 0.5), g)))
_logsigmoid = _activation("log_sigmoid", lambda xp, x: -_softplus_array(-x),
                          lambda g, x: g * _sigmoid(-x))
# PyTorch replaces x <= threshold: a NaN stays, and passes its gradient
_threshold = _activation("threshold", lambda xp, x, th, v: xp.where(x <= th, v, x),
                         lambda g, x, th, v: masked_grad(g, ~(x <= th)))
_softshrink = _activation(
    # x - clip(x): shrunk by lambd towards 0, 0 inside, and NaN kept (as PyTorch)
    "softshrink", lambda xp, x, l: x - xp.clip(x, -l, l),
    lambda g, x, l: masked_grad(g, (x > l) | (x < -l)))
# zero inside [-lambd, lambd], x elsewhere (NaN too); the gradient is g only where |x| > lambd
# (0 at NaN), both as in PyTorch
# (both shrinks pass the gradient outside [-lambd, lambd]; a NaN gets none, as in PyTorch's
# vectorised CPU kernels)
_hardshrink = _activation("hardshrink", lambda xp, x, l: xp.where((x >= -l) & (x <= l), 0, x),
                          lambda g, x, l: masked_grad(g, (x > l) | (x < -l)))


# ----------------------------------------------------------------- public API
def relu(input, inplace=False):
    r"""Apply the rectified linear unit :math:`\max(0, x)` elementwise."""
    return input.relu_() if inplace else P.relu(input)


def relu_(input):
    return input.relu_()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamp elementwise into ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _inplace(input, _hardtanh, min_val, max_val) if inplace else \
        _hardtanh(input, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    r""":math:`\min(\max(0, x), 6)` elementwise."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    r""":math:`\max(0, x) + \text{negative\_slope} \min(0, x)` elementwise."""
    return _inplace(input, _leaky, negative_slope) if inplace else _leaky(input, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    r""":math:`x` if :math:`x > 0` else :math:`\alpha (e^x - 1)`, elementwise."""
    return _inplace(input, _elu, alpha, 1.0, 1.0) if inplace else _elu(input, alpha, 1.0, 1.0)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    r"""Scaled ELU: :math:`\text{scale} \cdot \text{elu}(x, \alpha)` with the self-normalising
    constants."""
    args = (_SELU_ALPHA, _SELU_SCALE, 1.0)
    return _inplace(input, _elu, *args) if inplace else _elu(input, *args)


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    r""":math:`\max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))` elementwise."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    args = (alpha, 1.0, 1.0 / alpha)
    return _inplace(input, _elu, *args) if inplace else _elu(input, *args)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)`` (``approximate='tanh'``: the tanh form)."""
    if approximate == "none":
        return _gelu(input)
    if approximate == "tanh":
        return _gelu_tanh(input)
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input, inplace=False):
    r""":math:`x \sigma(x)` elementwise (the swish function)."""
    return _inplace(input, _silu) if inplace else _silu(input)


def mish(input, inplace=False):
    r""":math:`x \tanh(\text{softplus}(x))` elementwise."""
    return _inplace(input, _mish) if inplace else _mish(input)


def sigmoid(input):
    return P.sigmoid(input)


def tanh(input):
    return P.tanh(input)


def softplus(input, beta=1.0, threshold=20.0):
    r""":math:`\frac{1}{\beta} \log(1 + e^{\beta x})`; linear where :math:`\beta x > \text{threshold}`."""
    input, = autocast_args("softplus", input)
    return _softplus(input, beta, threshold)


def softsign(input):
    r""":math:`x / (1 + |x|)` elementwise."""
    return _softsign(input)


def hardsigmoid(input, inplace=False):
    """Piecewise-linear sigmoid: ``relu6(x + 3) / 6``."""
    return _inplace(input, _hardsigmoid) if inplace else _hardsigmoid(input)


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6``."""
    return _inplace(input, _hardswish) if inplace else _hardswish(input)


def logsigmoid(input):
    r""":math:`\log(\sigma(x))`, computed stably."""
    return _logsigmoid(input)


def threshold(input, threshold, value, inplace=False):
    """``x`` where ``x > threshold``, else ``value``."""
    return _inplace(input, _threshold, threshold, value) if inplace else \
        _threshold(input, threshold, value)


def threshold_(input, threshold, value):
    return _inplace(input, _threshold, threshold, value)


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _softshrink(input, lambd)


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    return _hardshrink(input, lambd)


def tanhshrink(input):
    r""":math:`x - \tanh(x)`."""
    return sub(input, P.tanh(input))


class PReLU(Node):
    """``max(0, x) + w * min(0, x)`` with one learnable slope per channel (dim 1) or one
    shared slope."""

    def forward(self, x, w):
        shape = [1] * x.ndim
        if w.size > 1:
            shape[1 if x.ndim > 1 else 0] = w.size
        self.w_shape = tuple(shape)
        self.save_for_backward(x, w)
        return get_array_module(x).where(x > 0, x, w.reshape(self.w_shape) * x)

    def backward(self, g):
        x, w = self.saved_tensors
        wb = w.reshape(self.w_shape)
        gx = gw = None
        pos = x > 0
        if self.next_edges[0] is not None:
            gx = _where(pos, g, g * wb)
        if self.next_edges[1] is not None:
            gw = sum_to(_where(pos, g * 0, g * x), self.w_shape).reshape(w.shape)
        return gx, gw


def prelu(input, weight):
    r""":math:`\max(0, x) + \text{weight} \min(0, x)`; ``weight`` has one entry or one per
    channel (dim 1 of the input)."""
    input, weight = autocast_args("prelu", input, weight)
    channels = input.shape[1] if input.ndim > 1 else (input.shape[0] if input.ndim else 1)
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter "
                           f"numbers = {weight.numel()} and channel size = {channels}.")
    return PReLU.apply(input, weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomised leaky ReLU: in training each negative element gets a slope drawn from
    U(lower, upper); in eval the slope is ``(lower + upper) / 2``."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    xp = get_array_module(input._data)
    slopes = xp.asarray(_gen(None).uniform(lower, upper, input.shape)).astype(input._data.dtype)
    slopes = _new(xp.where(input._data >= 0, 1, slopes).astype(input._data.dtype))
    if inplace:
        return _inplace(input, lambda x: mul(x, slopes))
    return mul(input, slopes)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


# ------------------------------------------------------------------ softmax
def _softmax_array(x, dim, log):
    xp = get_array_module(x)
    z = x - x.max(axis=dim, keepdims=True)
    e = xp.exp(z)
    if log:
        return z - xp.log(e.sum(axis=dim, keepdims=True))
    e /= e.sum(axis=dim, keepdims=True)
    return e


class Softmax(Node):
    """bfloat16 is computed in float32 and rounded once (PyTorch's CPU kernels accumulate in
    float32), its gradient too."""

    def forward(self, x, dim, log):
        self.dim, self.log = dim, log
        if x.size == 0:
            y = x.copy()
        elif _is_bf16(x):
            y = _softmax_array(x.astype(_FLOAT32), dim, log).astype(x.dtype)
        else:
            y = _softmax_array(x, dim, log)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        if not isinstance(g, Tensor) and _is_bf16(g):
            return self._grad(g.astype(_FLOAT32), y.astype(_FLOAT32)).astype(g.dtype), None, None
        return self._grad(g, y), None, None

    def _grad(self, g, y):
        if self.log:
            return g - _exp(y) * _sum_keep(g, self.dim)
        gy = g * y
        return gy - y * _sum_keep(gy, self.dim)

    def name(self):
        return "LogSoftmaxBackward0" if self.log else "SoftmaxBackward0"


def _softmax_dim(name, ndim, stacklevel=3):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax(input, dim, dtype, log, name):
    input, = autocast_args(name, input, dtype=dtype)
    if dim is None:
        dim = _softmax_dim(name, input.ndim, 4)
    if dtype is not None:
        input = cast(input, _dtype.as_dtype(dtype).np_dtype)
    elif not (input.is_floating_point() or input.is_complex()):
        raise NotImplementedError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                                  f"'{scalar_type_name(input)}'")
    if input.ndim == 0:
        wrap_dim(dim, 0)
        out = Softmax.apply(input.reshape(1), 0, log)
        return out.reshape(())
    return Softmax.apply(input, wrap_dim(dim, input.ndim), log)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    r""":math:`\exp(x_i) / \sum_j \exp(x_j)` along ``dim``, computed stably.

    Args:
        input (Tensor): input.
        dim (int): the dim along which softmax is computed.
        dtype (:class:`disttorch.dtype`, optional): cast the input to this dtype first.
    """
    return _softmax(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    r""":math:`x_i - \log \sum_j \exp(x_j)` along ``dim``, computed stably."""
    return _softmax(input, dim, dtype, True, "log_softmax")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    r"""Softmax of ``-input`` along ``dim``."""
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, 3)
    return _softmax(neg(input), dim, dtype, False, "softmax")


def glu(input, dim=-1):
    r"""Gated linear unit: :math:`a \otimes \sigma(b)` where ``input`` is split in halves
    :math:`a, b` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    a, b = input.chunk(2, d)
    return mul(a, P.sigmoid(b))


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    r"""Sample from the Gumbel-softmax distribution: ``softmax((logits + g) / tau)`` with Gumbel
    noise ``g`` from the disttorch generator; ``hard`` returns one-hot samples whose gradient
    is the soft sample's (straight-through).

    Args:
        logits: :math:`[\dots, \text{num\_features}]` unnormalized log probabilities.
        tau: non-negative scalar temperature.
        hard: if ``True``, the returned samples are discretized as one-hot vectors.
        dim (int): a dimension along which softmax will be computed. Default: -1.
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.")
    data = logits._data
    xp = get_array_module(data)
    gumbels = -xp.log(xp.asarray(_gen(None).exponential(1.0, data.shape))).astype(data.dtype)
    y_soft = softmax((logits + _new(gumbels)) / tau, dim)
    if not hard:
        return y_soft
    d = wrap_dim(dim, logits.ndim)
    index = xp.expand_dims(y_soft._data.argmax(axis=d), d)
    positions = xp.arange(data.shape[d]).reshape([-1 if k == d else 1 for k in range(data.ndim)])
    y_hard = _new((positions == index).astype(data.dtype))
    return y_hard - y_soft.detach() + y_soft


# Tensor methods that PyTorch defines on top of these functions (available once disttorch.nn is
# imported).
register_methods({
    "softmax": lambda self, dim, dtype=None: softmax(self, dim, dtype=dtype),
    "log_softmax": lambda self, dim, dtype=None: log_softmax(self, dim, dtype=dtype),
    "hardshrink": lambda self, lambd=0.5: hardshrink(self, lambd),
    "prelu": lambda self, weight: prelu(self, weight),
})
