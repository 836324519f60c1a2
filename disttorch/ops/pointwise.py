"""Unary math, activations on tensors, clamp, where, lerp, addcmul/addcdiv, nan checks."""
import math

import numpy as np

from ._util import as_method as _method
from .. import _dtype
from .._backend import get_array_module, cupyx_module, is_cuda_array
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import (register_methods, float_arg, sum_to, default_float, cast, as_scalar,
                    promote_scalar_tensor, match_devices, on_device_of, wrap_int_scalar,
                    zeros_grad, masked_grad, broadcast_error)
from ..amp.autocast_mode import autocast_args
from .arithmetic import (add, mul, sub, div, check_inplace, apply_inplace, _out, _prep,
                         _nograd_inplace, _dual_where, _shape)

__all__ = ["abs", "absolute", "reciprocal", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1",
           "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos",
           "arctan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid", "erf", "erfc",
           "sign", "sgn", "signbit", "floor", "ceil", "round", "trunc", "fix", "frac", "relu",
           "clamp", "clip", "clamp_min", "clamp_max", "where", "lerp", "addcmul", "addcdiv",
           "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal", "nan_to_num", "logit",
           "xlogy", "hypot", "deg2rad", "rad2deg", "positive", "heaviside", "copysign"]


def _xp(x):
    return get_array_module(x)


def _dual(tensor_fn, name):
    """A function of arrays or Tensors: the op itself on Tensors, the xp ufunc on arrays."""
    def fn(x):
        if isinstance(x, Tensor):
            return tensor_fn(x)
        return getattr(get_array_module(x), name)(x)
    return fn


_SQRT_PI_2 = 2.0 / math.sqrt(math.pi)

_erf_objects = np.frompyfunc(math.erf, 1, 1)
_erfc_objects = np.frompyfunc(math.erfc, 1, 1)


def _erf_vec(x):
    """``math.erf`` per element, as a float64 array (frompyfunc alone gives object arrays, and
    a bare Python float for 0-d input)."""
    return np.asarray(_erf_objects(x), dtype=np.float64)


def _erfc_vec(x):
    """``math.erfc`` per element, as a float64 array."""
    return np.asarray(_erfc_objects(x), dtype=np.float64)


def _erfc_positive(z):
    """erfc(z) for float64 z >= 0 with relative error below 1.2e-7 (Numerical Recipes' rational
    approximation): for float32/16, far faster than a per-element Python call."""
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    return t * np.exp(poly)


# Maclaurin coefficients of erf / (2 / sqrt(pi)) in x^2: (-1)^n / (n! (2n + 1))
_ERF_SERIES = tuple((-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(15))


def _erf_series(x):
    """erf(x) for float64 |x| <= 1 from its Maclaurin series (15 terms: the last is 4e-14):
    accurate relative to x near 0, where 1 - erfc(x) keeps only erfc's absolute error."""
    z = x * x
    total = _ERF_SERIES[-1]
    for c in reversed(_ERF_SERIES[:-1]):
        total = total * z + c
    return _SQRT_PI_2 * x * total


def _erf_array(x, relative=True):
    """erf of an array. ``relative=False`` (GELU's CDF) takes 1 - erfc everywhere, whose error
    is absolute (3e-8 at 0) rather than relative to erf's value."""
    xp = get_array_module(x)
    if xp is not np:
        # CuPy's erf gives float64 for float16
        return cupyx_module(xp).scipy.special.erf(x).astype(x.dtype, copy=False)
    if x.dtype == np.float64:
        return _erf_vec(x)
    wide = x.astype(np.float64)
    magnitude = np.abs(wide)
    result = np.copysign(1.0 - _erfc_positive(magnitude), wide)
    if relative:
        small = magnitude < 1.0
        result = np.where(small, _erf_series(np.where(small, wide, 0.0)), result)
    return result.astype(x.dtype)


def _erfc_array(x):
    """erfc computed as itself, not as 1 - erf: its tail (erfc(5) = 1.5e-12) keeps full relative
    precision."""
    xp = get_array_module(x)
    if xp is not np:
        return cupyx_module(xp).scipy.special.erfc(x).astype(x.dtype, copy=False)
    if x.dtype == np.float64:
        return _erfc_vec(x)
    wide = x.astype(np.float64)
    tail = _erfc_positive(np.abs(wide))
    return np.where(wide < 0, 2.0 - tail, tail).astype(x.dtype)


class Unary(Node):
    """A float pointwise op ``y = f(x)`` with ``dx = g * f'(...)``.

    Subclasses set ``fn(xp, x)`` and ``grad(g, x, y)``; ``saves`` says what backward needs.
    """

    saves = "x"

    def forward(self, x):
        y = self.fn(_xp(x), x)
        s = self.saves
        if s == "x":
            self.save_for_backward(x)
        elif s == "y":
            self.save_for_backward(y)
        elif s == "xy":
            self.save_for_backward(x, y)
        return y

    def backward(self, g):
        s = self.saves
        if s == "x":
            x, = self.saved_tensors
            return self.grad(g, x, None)
        if s == "y":
            y, = self.saved_tensors
            return self.grad(g, None, y)
        if s == "xy":
            x, y = self.saved_tensors
            return self.grad(g, x, y)
        return self.grad(g, None, None)


def _unary_op(name, fn, grad, saves="x", int_to_float=True, doc=None):
    node = type(name.capitalize(), (Unary,), {"fn": staticmethod(fn), "grad": staticmethod(grad),
                                               "saves": saves})

    def op(input, *, out=None):
        input, = autocast_args(name, input)
        if int_to_float and input._data.dtype.kind in "biu":
            input = cast(input, default_float())
        return _out(node.apply(input), out)

    op.__name__ = name
    op.__doc__ = doc or f"Elementwise ``{name}``."
    op.node = node
    return op


exp = _unary_op("exp", lambda xp, x: xp.exp(x), lambda g, x, y: g * y, "y")
_exp = _dual(exp, "exp")
exp2 = _unary_op("exp2", lambda xp, x: xp.exp2(x), lambda g, x, y: g * y * math.log(2.0), "y")
log = _unary_op("log", lambda xp, x: xp.log(x), lambda g, x, y: g / x)
log2 = _unary_op("log2", lambda xp, x: xp.log2(x), lambda g, x, y: g / (x * math.log(2.0)))
log10 = _unary_op("log10", lambda xp, x: xp.log10(x), lambda g, x, y: g / (x * math.log(10.0)))
log1p = _unary_op("log1p", lambda xp, x: xp.log1p(x), lambda g, x, y: g / (x + 1))
expm1 = _unary_op("expm1", lambda xp, x: xp.expm1(x), lambda g, x, y: g * (y + 1), "y")
sqrt = _unary_op("sqrt", lambda xp, x: xp.sqrt(x), lambda g, x, y: g / (2 * y), "y")
_dual_sqrt = _dual(sqrt, "sqrt")
rsqrt = _unary_op("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda g, x, y: -0.5 * g * y * y * y, "y")
sin = _unary_op("sin", lambda xp, x: xp.sin(x), lambda g, x, y: g * _cos(x))
cos = _unary_op("cos", lambda xp, x: xp.cos(x), lambda g, x, y: -g * _sin(x))
_sin = _dual(sin, "sin")
_cos = _dual(cos, "cos")
tan = _unary_op("tan", lambda xp, x: xp.tan(x), lambda g, x, y: g * (1 + y * y), "y")
# (1 - x^2)^(-1/2) as a quotient by a square root: at x = +-inf that is NaN, as PyTorch's rsqrt,
# where a power of -inf would give 0
asin = arcsin = _unary_op("asin", lambda xp, x: xp.arcsin(x),
                          lambda g, x, y: g / _dual_sqrt(1 - x * x))
acos = arccos = _unary_op("acos", lambda xp, x: xp.arccos(x),
                          lambda g, x, y: -g / _dual_sqrt(1 - x * x))
atan = arctan = _unary_op("atan", lambda xp, x: xp.arctan(x), lambda g, x, y: g / (1 + x * x))
sinh = _unary_op("sinh", lambda xp, x: xp.sinh(x), lambda g, x, y: g * _cosh(x))
cosh = _unary_op("cosh", lambda xp, x: xp.cosh(x), lambda g, x, y: g * _sinh(x))
_sinh = _dual(sinh, "sinh")
_cosh = _dual(cosh, "cosh")
asinh = _unary_op("asinh", lambda xp, x: xp.arcsinh(x), lambda g, x, y: g * (x * x + 1) ** -0.5)
acosh = _unary_op("acosh", lambda xp, x: xp.arccosh(x), lambda g, x, y: g * (x * x - 1) ** -0.5)
atanh = _unary_op("atanh", lambda xp, x: xp.arctanh(x), lambda g, x, y: g / (1 - x * x))
tanh = _unary_op("tanh", lambda xp, x: xp.tanh(x), lambda g, x, y: g * (1 - y * y), "y")


def _sigmoid_fn(xp, x):
    # exp(-|x|) never overflows; pick the stable branch per sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


sigmoid = _unary_op("sigmoid", _sigmoid_fn, lambda g, x, y: g * y * (1 - y), "y")
erf = _unary_op("erf", lambda xp, x: _erf_array(x), lambda g, x, y: g * _SQRT_PI_2 * _exp(-(x * x)))
erfc = _unary_op("erfc", lambda xp, x: _erfc_array(x),
                 lambda g, x, y: -g * _SQRT_PI_2 * _exp(-(x * x)))
reciprocal = _unary_op("reciprocal", lambda xp, x: 1 / x, lambda g, x, y: -g * y * y, "y")
logit_node = None
# (astype: a bfloat16 array times a Python float comes back float32 from ml_dtypes)
deg2rad = _unary_op("deg2rad", lambda xp, x: (x * (math.pi / 180)).astype(x.dtype, copy=False),
                    lambda g, x, y: g * (math.pi / 180), None)
rad2deg = _unary_op("rad2deg", lambda xp, x: (x * (180 / math.pi)).astype(x.dtype, copy=False),
                    lambda g, x, y: g * (180 / math.pi), None)


class Abs(Node):
    def forward(self, x):
        self.save_for_backward(x)
        return _xp(x).abs(x)

    def backward(self, g):
        x, = self.saved_tensors
        return g * _sign(x)


def abs(input, *, out=None):
    """Elementwise absolute value."""
    _refuse_bool_input(input, "abs_cpu")
    return _out(Abs.apply(input), out)


def _refuse_bool_input(input, kernel):
    if isinstance(input, Tensor) and input._data.dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


absolute = abs


class Relu(Node):
    def forward(self, x):
        y = _xp(x).maximum(x, 0)
        if y.dtype != x.dtype:   # numpy's bool max(x, 0) is int64
            y = y.astype(x.dtype)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        # PyTorch's threshold_backward: zero where the output is <= 0, so a NaN passes the
        # gradient; y is 0, positive or NaN, and y != 0 says exactly that
        return masked_grad(g, y != 0)


def relu(input):
    """``max(input, 0)`` elementwise."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    return Relu.apply(input)


class ZeroGrad(Node):
    """Piecewise-constant ops (sign, floor, round, ...): the gradient is zero."""

    def forward(self, x, fn):
        return fn(x)

    def backward(self, g):
        return zeros_grad(g), None


def _piecewise(name, fn_name, int_passthrough=True):
    def op(input, *, out=None):
        _refuse_bool_input(input, f"{fn_name}_vml_cpu")
        if int_passthrough and input._data.dtype.kind in "biu":
            return _out(input.clone(), out) if out is not None else input.clone()
        return _out(ZeroGrad.apply(input, getattr(_xp(input._data), fn_name)), out)
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; its gradient is zero."
    return op


floor = _piecewise("floor", "floor")
ceil = _piecewise("ceil", "ceil")
trunc = fix = _piecewise("trunc", "trunc")


def sign(input, *, out=None):
    """-1, 0 or 1 by the sign of each element (bool stays bool)."""
    if input._data.dtype.kind == "b":
        return input.clone()
    return _out(ZeroGrad.apply(input, _sign_array), out)


def _sign_array(x):
    # PyTorch's sign is (0 < x) - (x < 0): 0 for NaN, where numpy's is NaN
    xp = _xp(x)
    s = xp.sign(x)
    return xp.where(x != x, 0, s).astype(s.dtype, copy=False) if x.dtype.kind in "fc" else s


sgn = sign


def _sign(x):
    # the derivative of |x|: PyTorch's sgn, 0 at NaN as at 0
    if isinstance(x, Tensor):
        return _new(_sign_array(x._data))
    return _sign_array(x)


def signbit(input):
    return _new(_xp(input._data).signbit(input._data))


def _round_refused(input, kernel):
    from .indexing import scalar_type_name
    device = input.device.type
    raise NotImplementedError(f"\"{kernel + '_' + device if device == 'cpu' else 'round_cuda'}\" "
                              f"not implemented for '{scalar_type_name(input)}'")


def round(input, *, decimals=0, out=None):
    """Round half to even (like PyTorch), optionally to ``decimals`` places. Integer tensors
    come back unchanged (PyTorch has no kernel for them with ``decimals``, nor for bool)."""
    kind = input._data.dtype.kind
    if kind == "b" or (kind in "iu" and decimals != 0):
        _round_refused(input, "round_vml" if decimals == 0 else "round")
    if kind in "iu":
        return input.clone()
    fn = (lambda x: _xp(x).round(x, decimals)) if decimals else _xp(input._data).rint
    return _out(ZeroGrad.apply(input, fn), out)


def frac(input, *, out=None):
    """``input - trunc(input)``: floating point only, as in PyTorch."""
    if input._data.dtype.kind in "biu":
        from .indexing import scalar_type_name
        raise NotImplementedError(f"\"frac_cpu\" not implemented for "
                                  f"'{scalar_type_name(input)}'")
    return _out(sub(input, trunc(input).detach()), out)


def positive(input):
    if input._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


class Clamp(Node):
    def forward(self, x, lo, hi):
        xp = _xp(x)
        y = xp.clip(x, lo, hi)
        if y.dtype != x.dtype:
            y = y.astype(x.dtype)
        mask = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        self.save_for_backward(mask)
        return y

    def backward(self, g):
        mask, = self.saved_tensors
        return masked_grad(g, mask), None, None


def clamp(input, min=None, max=None, *, out=None):
    """Clamp every element into ``[min, max]``; bounds may be numbers or tensors."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = input
        if min is not None:
            result = where(result < min, min, result) if isinstance(min, Tensor) else clamp(result, min)
        if max is not None:
            result = where(result > max, max, result) if isinstance(max, Tensor) else \
                clamp(result, None, max)
        return _out(result, out)
    min, max = as_scalar(min), as_scalar(max)
    if input._data.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        input = cast(input, default_float())
    elif input._data.dtype.kind == "b" and (type(min) is int or type(max) is int):
        input = cast(input, np.dtype(np.int64))  # bool with an int bound: int64, as PyTorch
    return _out(Clamp.apply(input, wrap_int_scalar(min, input._data.dtype),
                            wrap_int_scalar(max, input._data.dtype)), out)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


class Where(Node):
    def forward(self, cond, a, b):
        xp = _xp(cond)
        self.save_for_backward(cond)
        self.shapes = (getattr(a, "shape", ()), getattr(b, "shape", ()))
        return xp.where(cond, a, b)

    def backward(self, g):
        cond, = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        zero = zeros_grad(g)
        ga = sum_to(_where_dual(cond, g, zero), sa) if e[1] is not None else None
        gb = sum_to(_where_dual(cond, zero, g), sb) if e[2] is not None else None
        return None, ga, gb


def _where_dual(cond, x, y):
    if isinstance(x, Tensor):
        return where(cond if isinstance(cond, Tensor) else _new(cond), x, y)
    return _xp(x).where(cond, x, y)


def where(condition, input=None, other=None, *, out=None):
    """Pick from ``input`` where ``condition`` else from ``other`` (broadcasting).

    As in PyTorch, a 0-d CPU tensor (``condition`` included) may meet CUDA tensors: it acts as a
    scalar on their device, and its gradient comes back to it on the CPU."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where(): argument 'condition' must be Tensor")
    if condition._data.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                           f"dtype {_dtype.SCALAR_TYPE_NAMES.get(condition._data.dtype.name)}")
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        a, b = _prep(input, other)
    elif isinstance(input, Tensor):
        b = as_scalar(other)
        a = promote_scalar_tensor(input, b)
    elif isinstance(other, Tensor):
        a = as_scalar(input)
        b = promote_scalar_tensor(other, a)
    else:
        a, b = as_scalar(input), as_scalar(other)
        dt = default_float() if isinstance(a, float) or isinstance(b, float) else np.int64
        return _out(_new(_xp(condition._data).where(condition._data, a, b).astype(dt)), out)
    condition, a, b = _where_devices(condition, a, b)
    res = Where.apply(condition, a, b)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        t = a if isinstance(a, Tensor) else b
        if res._data.dtype != t._data.dtype:
            res = cast(res, t._data.dtype)
    return _out(res, out)


def _where_devices(condition, a, b):
    """``where``'s operands on one device: PyTorch's output device is that of the first CUDA
    tensor among them, where 0-d CPU tensors join it (others raise the device-mismatch error)."""
    kind = type(condition._data)
    if (not isinstance(a, Tensor) or type(a._data) is kind) and \
            (not isinstance(b, Tensor) or type(b._data) is kind):
        return condition, a, b
    tensors = [t for t in (condition, a, b) if isinstance(t, Tensor)]
    like = next((t for t in tensors if is_cuda_array(t._data)), None)
    if like is None or all(is_cuda_array(t._data) for t in tensors):
        return condition, a, b
    return tuple(on_device_of(t, like) for t in (condition, a, b))


class Lerp(Node):
    """PyTorch's two-branch lerp: ``start + w (end - start)`` for ``|w| < 1/2``, else
    ``end - (end - start) (1 - w)``, so that ``w = 1`` gives ``end`` exactly."""

    def forward(self, start, end, weight):
        xp = _xp(start)
        self.shapes = (start.shape, end.shape, _shape(weight))
        self.save_for_backward(start, end, weight)
        dtype = start.dtype
        if dtype in _dtype.NP_LOW_FLOATS:   # in float32, rounded once, as PyTorch computes
            start, end = start.astype(np.float32), end.astype(np.float32)
            if hasattr(weight, "dtype"):
                weight = weight.astype(np.float32)
        diff = end - start
        with np.errstate(invalid="ignore", over="ignore"):
            if type(weight) in (int, float):
                # (this module's abs is the tensor op: a comparison instead)
                out = start + weight * diff if -0.5 < weight < 0.5 else end - diff * (1 - weight)
            else:
                out = xp.where(xp.abs(weight) < 0.5, start + weight * diff,
                               end - diff * (1 - weight))
        return out.astype(dtype, copy=False)

    def backward(self, g):
        start, end, weight = self.saved_tensors
        e = self.next_edges
        s_shape, e_shape, w_shape = self.shapes
        return (sum_to(g * (1 - weight), s_shape) if e[0] is not None else None,
                sum_to(g * weight, e_shape) if e[1] is not None else None,
                sum_to(g * (end - start), w_shape) if e[2] is not None else None)


def lerp(input, end, weight, *, out=None):
    """``input + weight * (end - input)``, computed as PyTorch does (``end`` exactly at
    ``weight = 1``)."""
    from .._dtype import C_TYPE_NAMES
    from .indexing import scalar_type_name
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError(f"lerp() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(end).__name__}, "
                        f"{type(weight).__name__}), but expected (Tensor input, Tensor end, "
                        f"Tensor or Number weight)")
    dtype = input._data.dtype
    for name, other in (("end", end), ("weight", weight)):
        if isinstance(other, Tensor) and other._data.dtype != dtype:
            raise RuntimeError(f"expected dtype {C_TYPE_NAMES.get(dtype.name, dtype.name)} for "
                               f"`{name}` but got dtype "
                               f"{C_TYPE_NAMES.get(other._data.dtype.name, other._data.dtype.name)}")
    if dtype.kind not in "fcV":
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(input)}'")
    start, end = match_devices(input, end)
    if isinstance(weight, Tensor):
        start, weight = match_devices(start, weight)
    else:
        weight = float(as_scalar(weight))
    return _out(Lerp.apply(start, end, weight), out)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 * tensor2``."""
    input, tensor1, tensor2 = autocast_args("addcmul", input, tensor1, tensor2)
    prod = mul(tensor1, tensor2)
    return _out(add(input, prod if value == 1 else mul(prod, value)), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 / tensor2``."""
    input, tensor1, tensor2 = autocast_args("addcdiv", input, tensor1, tensor2)
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future "
                           "release addcdiv will perform a true division of tensor1 and tensor2.")
    q = div(tensor1, tensor2)
    return _out(add(input, q if value == 1 else mul(q, value)), out)


def _predicate(name, fn):
    def op(input):
        return _new(fn(_xp(input._data), input._data))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; returns a bool tensor."
    return op


isnan = _predicate("isnan", lambda xp, x: xp.isnan(x))
isinf = _predicate("isinf", lambda xp, x: xp.isinf(x))
isfinite = _predicate("isfinite", lambda xp, x: xp.isfinite(x))
isposinf = _predicate("isposinf", lambda xp, x: xp.isposinf(x))
isneginf = _predicate("isneginf", lambda xp, x: xp.isneginf(x))
isreal = _predicate("isreal", lambda xp, x: xp.isreal(x))


class NanToNum(Node):
    def forward(self, x, nan, posinf, neginf):
        xp = _xp(x)
        self.save_for_backward(xp.isfinite(x))
        if x.dtype == _dtype.NP_BFLOAT16:
            # numpy's nan_to_num passes ml_dtypes' bfloat16 through untouched: in float32, with
            # bfloat16's own extremes as the defaults
            info = _dtype.finfo(_dtype.bfloat16)
            return xp.nan_to_num(x.astype(np.float32), nan=nan,
                                 posinf=info.max if posinf is None else posinf,
                                 neginf=info.min if neginf is None else neginf).astype(x.dtype)
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):
        finite, = self.saved_tensors
        return g * finite, None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replace NaN and infinities with finite numbers (the dtype's extremes by default)."""
    if input._data.dtype.kind not in "fcV":   # (bfloat16 is kind "V")
        return input.clone()
    return _out(NanToNum.apply(input, nan, posinf, neginf), out)


class Logit(Node):
    """``log(x / (1 - x))`` of ``x`` clamped to ``[eps, 1 - eps]``; the gradient is
    ``1 / (x (1 - x))``, 0 where the clamp cut (NaN outside [0, 1] without eps), as PyTorch's."""

    def forward(self, x, eps):
        xp = _xp(x)
        if eps is not None:
            # PyTorch's clamp: x < lo ? lo : (x > hi ? hi : x), so NaN stays NaN (xp.clip would
            # turn it into a bound on CuPy) and lo > hi (eps > 0.5) keeps its order of tests
            lo, hi = x.dtype.type(eps), x.dtype.type(1 - eps)
            x_ = xp.where(x < lo, lo, xp.where(x > hi, hi, x))
        else:
            x_ = x
        with np.errstate(divide="ignore", invalid="ignore"):
            y = xp.log(x_ / (1 - x_))
        self.save_for_backward(x)
        self.eps = eps
        return y.astype(x.dtype, copy=False)

    def backward(self, g):
        x, = self.saved_tensors
        data = x._data if isinstance(x, Tensor) else x
        lo, hi = (0.0, 1.0) if self.eps is None else (self.eps, 1 - self.eps)
        outside = (data < lo) | (data > hi)
        fill = float("nan") if self.eps is None else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = g / (x * (1 - x))
        # (the fill is not built from ``inside``: inf * 0 there, at x = 0 or 1, would be NaN)
        return _dual_where(outside, fill, inside), None


def logit(input, eps=None):
    """The log-odds ``log(x / (1 - x))``, of ``x`` clamped to ``[eps, 1 - eps]`` when ``eps``
    is given."""
    if eps is not None:
        eps = float_arg(eps, "logit", "eps", 2)
    if input._data.dtype.kind in "biu":
        input = cast(input, default_float())
    return Logit.apply(input, eps)


def _xlogy_array(x, y, log1p):
    """``x log(y)`` (``x log1p(y)``) of arrays or Python numbers, 0 where ``x == 0`` unless
    ``y`` is NaN, in the floating dtype of the array operand."""
    xp = _xp(x if hasattr(x, "dtype") else y)
    with np.errstate(divide="ignore", invalid="ignore"):
        if hasattr(y, "dtype"):
            log_y = xp.log1p(y) if log1p else xp.log(y)
        else:   # a Python float, so that it cannot widen x's dtype
            log_y = float(np.log1p(y) if log1p else np.log(y))
        product = x * log_y
    dtype = next(v.dtype for v in (x, y) if hasattr(v, "dtype"))
    return xp.where((x == 0) & (y == y), 0, product).astype(dtype, copy=False)


class XLogY(Node):
    """``x log(y)`` (``log1p``: ``x log1p(y)``), 0 where ``x == 0`` unless ``y`` is NaN; the
    gradients as PyTorch's: ``xlogy(g, y)`` for ``x``, 0 where ``x == 0`` and ``y`` is at or
    below the log's zero, and ``g x / y`` (``g x / (1 + y)``) for ``y``."""

    def forward(self, x, y, log1p):
        self.shapes = (_shape(x), _shape(y))
        self.save_for_backward(x, y)
        self.log1p = log1p
        return _xlogy_array(x, y, log1p)

    def backward(self, g):
        x, y = self.saved_tensors
        e = self.next_edges
        sx, sy = self.shapes
        gx = gy = None
        if e[0] is not None:
            yd, xd = (v._data if isinstance(v, Tensor) else v for v in (y, x))
            edge = -1.0 if self.log1p else 0.0
            gx = masked_grad(XLogY.apply(g, y, self.log1p) if isinstance(g, Tensor)
                             else _xlogy_array(g, yd, self.log1p), ~((xd == 0) & (yd <= edge)))
            gx = sum_to(gx, sx)
        if e[1] is not None:
            gy = sum_to(g * x / (y + 1 if self.log1p else y), sy)
        return gx, gy, None


def _xlogy(input, other, log1p):
    a, b = _prep(input, other, wrap=False)
    # integer tensors become the default float type (a Python number stays as it is)
    a, b = (cast(t, default_float()) if isinstance(t, Tensor) and t._data.dtype.kind in "biu"
            else t for t in (a, b))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a, b = match_devices(a, b)
    return XLogY.apply(a, b, log1p)


def xlogy(input, other):
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN)."""
    return _xlogy(input, other, False)


class Hypot(Node):
    """``sqrt(a^2 + b^2)`` without overflow (inf if either is infinite, even against a NaN);
    the gradients ``g a / out`` and ``g b / out``, as PyTorch's."""

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        if a.dtype == _dtype.NP_BFLOAT16:   # (numpy has no bfloat16 hypot)
            out = _xp(a).hypot(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
        else:
            out = _xp(a).hypot(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        with np.errstate(invalid="ignore", divide="ignore"):
            return (sum_to(g * a / out, sa) if e[0] is not None else None,
                    sum_to(g * b / out, sb) if e[1] is not None else None)


def hypot(input, other):
    """``sqrt(input^2 + other^2)`` elementwise, without overflow."""
    a, b = _prep(input, other, wrap=False)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("hypot(): arguments 'input' and 'other' must be Tensors")
    if a._data.dtype.kind not in "fcV":
        from .indexing import scalar_type_name
        raise NotImplementedError(f"\"hypot_cpu\" not implemented for '{scalar_type_name(a)}'")
    a, b = match_devices(a, b)
    return Hypot.apply(a, b)


def heaviside(input, values, *, out=None):
    """The Heaviside step function: 0 where ``input < 0``, 1 where ``input > 0`` and ``values``
    where ``input == 0`` (one dtype, as in PyTorch; a 0-d CPU ``values`` may meet a CUDA
    ``input``)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    if input._data.dtype.kind == "c" or values._data.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    input, values = match_devices(input, values)
    err = broadcast_error(None, input, values)
    if err is not None:
        raise err
    x = input._data
    xp = _xp(x)
    return _out(_new(xp.where(x == 0, values._data, (x > 0).astype(x.dtype)).astype(x.dtype)),
                out)


class CopySign(Node):
    """``|a|`` with the sign of ``b``; the gradient to ``a`` is PyTorch's ``g * out / a``, 0
    where ``a == 0`` (NaN where ``a`` is infinite or NaN, as there), and 0 to ``b``."""

    def forward(self, a, b):
        self.shapes = (a.shape, _shape(b))
        out = _xp(a).copysign(a, b).astype(a.dtype, copy=False)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        ga = gb = None
        if e[0] is not None:
            ad = a._data if isinstance(a, Tensor) else a
            with np.errstate(invalid="ignore"):
                ga = sum_to(masked_grad(g * (out / a), ad != 0), sa)
        if e[1] is not None:
            gb = sum_to(zeros_grad(g), sb)
        return ga, gb


def copysign(input, other):
    """``|input|`` with the sign of ``other``, elementwise."""
    a, b = _prep(input, other, wrap=False)
    a = cast(a, default_float()) if a._data.dtype.kind in "biu" else a
    if isinstance(b, Tensor):
        a, b = match_devices(a, b)
        if b._data.dtype != a._data.dtype and b._data.dtype.kind == "f":
            common = np.promote_types(a._data.dtype, b._data.dtype)
            a, b = cast(a, common), cast(b, common)
    return CopySign.apply(a, b)


def _inplace_unary(fn):
    def method(self, *args, **kwargs):
        if check_inplace(self):
            return apply_inplace(self, fn(self, *args, **kwargs))
        return _nograd_inplace(self, fn, *args, **kwargs)
    method.__name__ = fn.__name__ + "_"
    return method


_UNARY_INPLACE = ["abs", "reciprocal", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1",
                  "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                  "tanh", "sigmoid", "erf", "erfc", "sign", "floor", "ceil", "round", "trunc",
                  "frac", "relu", "clamp", "clip", "clamp_min", "clamp_max", "lerp", "addcmul",
                  "addcdiv", "nan_to_num", "logit", "arcsin", "arccos", "arctan", "asinh", "acosh",
                  "atanh", "absolute", "fix", "deg2rad", "rad2deg", "xlogy", "hypot", "copysign",
                  "sgn"]
_methods = {name: _method(globals()[name]) for name in __all__ if name != "where"}
_methods.update({name + "_": _inplace_unary(globals()[name]) for name in _UNARY_INPLACE})
_methods["where"] = lambda self, condition, other: where(condition, self, other)
_methods["__abs__"] = abs
register_methods(_methods)
