"""Binary arithmetic with broadcasting and PyTorch's promotion, Python operators, in-place forms."""
import numpy as np

from .. import _dtype
from .._backend import get_array_module, is_cuda_array
from ..autograd import grad_mode
from ..autograd._saved_hooks import mutation_watch, note_mutation
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ..amp.autocast_mode import autocast_args
from ._util import (promote, promote_scalar_tensor, register_methods, sum_to, default_float,
                    cast, device_mismatch, as_scalar, match_devices, wrap_int_scalar,
                    _PY_SCALARS, with_out, zeros_grad, masked_grad, broadcast_error,
                    inplace_shape_error)

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "pow", "float_power", "neg", "negative",
           "maximum", "minimum", "fmax", "fmin", "atan2", "arctan2", "rsub", "square",
           "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "equal", "allclose", "isclose",
           "logical_and", "logical_or", "logical_xor", "logical_not",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]

_state = grad_mode.state


def _shape(x):
    return getattr(x, "shape", ())


def _prep(a, b, wrap=True):
    """Promote a binary op's operands; fast when both are tensors of one dtype and device.

    A Python int meeting an integer tensor is converted to its dtype as PyTorch does (wrapping
    when out of range), unless ``wrap`` is False: an op whose result is a float (true division,
    atan2...) takes the number as it is."""
    if type(a) is Tensor:
        tb = type(b)
        if tb is Tensor:
            da, db = a._data, b._data
            if da.dtype is db.dtype and type(da) is type(db):
                return a, b
            return promote(a, b)
        # Python numbers that cannot change the tensor's dtype under PyTorch's rules
        if tb is float and a._data.dtype.kind in "fc":
            return a, b
        if tb is int and a._data.dtype.kind in "fc":
            return a, b
        if tb is int and a._data.dtype.kind in "iu":
            return a, wrap_int_scalar(b, a._data.dtype) if wrap else b
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            return promote(a, b)
        b = b if type(b) in _PY_SCALARS else as_scalar(b)
        if type(b) not in _PY_SCALARS:
            raise TypeError(f"unsupported operand type(s): 'Tensor' and '{type(b).__name__}'")
        a = promote_scalar_tensor(a, b)
        return a, wrap_int_scalar(b, a._data.dtype) if wrap else b
    a = a if type(a) in _PY_SCALARS else as_scalar(a)
    if type(a) not in _PY_SCALARS:
        raise TypeError(f"unsupported operand type(s): '{type(a).__name__}' and 'Tensor'")
    b = promote_scalar_tensor(b, a)
    return (wrap_int_scalar(a, b._data.dtype) if wrap else a), b


_FLOAT32 = np.dtype(np.float32)


def _scalar_result(r, a, b):
    """``r`` of ``a (op) b`` back in bfloat16 when a bfloat16 array met a Python number:
    ml_dtypes computes that in float32, PyTorch rounds the float result back to bfloat16."""
    if type(b) in _PY_SCALARS:
        return r.astype(a.dtype) if a.dtype.kind == "V" else r
    if type(a) in _PY_SCALARS and b.dtype.kind == "V":
        return r.astype(b.dtype)
    return r


class Add(Node):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        r = a + b
        # a float32 result may be bfloat16 that met a Python number (see _scalar_result)
        return _scalar_result(r, a, b) if r.dtype is _FLOAT32 else r

    def backward(self, g):
        e = self.next_edges
        sa, sb = self.shapes
        return (sum_to(g, sa) if e[0] is not None else None,
                sum_to(g, sb) if e[1] is not None else None)


class Sub(Node):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        r = a - b
        # a float32 result may be bfloat16 that met a Python number (see _scalar_result)
        return _scalar_result(r, a, b) if r.dtype is _FLOAT32 else r

    def backward(self, g):
        e = self.next_edges
        sa, sb = self.shapes
        return (sum_to(g, sa) if e[0] is not None else None,
                sum_to(-g, sb) if e[1] is not None else None)


class Mul(Node):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        # an operand is saved only for the other's gradient, and a Python number has none: as in
        # PyTorch, ``y = x * 2`` then an in-place op on ``x`` stays legal
        self.save_for_backward(None if type(b) in _PY_SCALARS else a,
                               None if type(a) in _PY_SCALARS else b)
        r = a * b
        # a float32 result may be bfloat16 that met a Python number (see _scalar_result)
        return _scalar_result(r, a, b) if r.dtype is _FLOAT32 else r

    def backward(self, g):
        a, b = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        return (sum_to(g * b, sa) if e[0] is not None else None,
                sum_to(g * a, sb) if e[1] is not None else None)


class Div(Node):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        self.save_for_backward(None if type(b) in _PY_SCALARS else a, b)
        r = a / b
        # a float32 result may be bfloat16 that met a Python number (see _scalar_result)
        return _scalar_result(r, a, b) if r.dtype is _FLOAT32 else r

    def backward(self, g):
        a, b = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        ga = gb = None
        if e[0] is not None:
            ga = sum_to(g / b, sa)
        if e[1] is not None:
            gb = sum_to(-g * a / (b * b), sb)
        return ga, gb


class RoundedDiv(Node):
    """``div(rounding_mode='trunc'|'floor')``, ``floor_divide``: piecewise constant, zero grads."""

    def forward(self, a, b, mode):
        self.shapes = (_shape(a), _shape(b))
        xp = get_array_module(a if hasattr(a, "dtype") else b)
        if mode == "floor":
            # (a bfloat16 array meeting a Python float comes back float32 from numpy)
            return _keep_float(_floor_divide(xp, a, b), a, b)
        q = xp.true_divide(a, b)
        out = xp.trunc(q)
        dt = getattr(a, "dtype", None) or b.dtype
        return out.astype(xp.result_type(a, b)) if dt.kind in "iub" else out

    def backward(self, g):
        e = self.next_edges
        sa, sb = self.shapes
        return (sum_to(zeros_grad(g), sa) if e[0] is not None else None,
                sum_to(zeros_grad(g), sb) if e[1] is not None else None, None)


class Remainder(Node):
    def forward(self, a, b, python_style):
        self.shapes = (_shape(a), _shape(b))
        self.save_for_backward(a, b)
        self.python_style = python_style
        xp = get_array_module(a if hasattr(a, "dtype") else b)
        return _keep_float(_remainder(xp, a, b) if python_style else xp.fmod(a, b), a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        gb = None
        if e[1] is not None:
            # PyTorch's -grad * div(self, other, rounding_mode): its floor division, which is
            # NaN for an infinite dividend and -1 for 1 // -inf (a floor of the quotient is not)
            q = _dual_floor_divide(a, b) if self.python_style else _dual_trunc(a / b)
            gb = sum_to(-g * q, sb)
        return (sum_to(g, sa) if e[0] is not None else None), gb, None


def _float_operands(a, b):
    """The floating dtype of the operands' array, or None for integer and bool operands."""
    dtype = next(v.dtype for v in (a, b) if hasattr(v, "dtype"))
    return dtype if dtype.kind in "fV" else None


def _floor_divide(xp, a, b):
    """PyTorch's floor division. numpy's ufunc computes it on the CPU; CuPy's float kernel
    differs at infinities (-inf // 2 is -inf there, NaN in PyTorch; 2 // -inf is -0 there, -1 in
    PyTorch), so on the GPU floats take PyTorch's formula through fmod."""
    if xp is np or _float_operands(a, b) is None:
        return xp.floor_divide(a, b)
    return _fmod_floor_divide(xp, a, b)


def _widened(xp, a, b):
    """``(a, b, dtype)``: half-precision arrays widened to float32, as PyTorch computes them."""
    dtype = _float_operands(a, b)
    if dtype.itemsize >= 4:
        return a, b, dtype
    wide = [v.astype(np.float32) if hasattr(v, "dtype") else v for v in (a, b)]
    return wide[0], wide[1], dtype


def _fmod_floor_divide(xp, a, b):
    """``a // b`` of floats from ``fmod``, rounded to the nearest integer quotient: exact where
    ``floor(a / b)`` is not, signed zeros and infinities as in PyTorch."""
    a, b, dtype = _widened(xp, a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        mod = xp.fmod(a, b)
        quotient = a / b
        div = (a - mod) / b
        div = xp.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
        floor = xp.floor(div)
        floor = xp.where(div - floor > 0.5, floor + 1, floor)
        floor = xp.where(div == 0, xp.copysign(xp.zeros_like(quotient), quotient), floor)
        if hasattr(b, "dtype"):
            out = xp.where(b == 0, quotient, floor)
        else:   # a Python number (CuPy's where takes no Python bool for a condition)
            out = quotient if b == 0 else floor
    return out.astype(dtype, copy=False)


def _remainder(xp, a, b):
    """PyTorch's remainder (the sign of the divisor): for floats ``fmod`` moved by one divisor
    where the signs differ, so a zero result keeps the dividend's sign (numpy's gives the
    divisor's, CuPy's is NaN for a finite dividend over an infinite divisor)."""
    if _float_operands(a, b) is None:
        return xp.remainder(a, b)
    a, b, dtype = _widened(xp, a, b)
    with np.errstate(invalid="ignore"):
        mod = xp.fmod(a, b)
        out = xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)
    return out.astype(dtype, copy=False)


def _keep_float(result, a, b):
    """``result`` in the operands' floating dtype (their common one after promotion), where
    numpy widened it: ml_dtypes' bfloat16 has no loop of its own for some ufuncs."""
    dtype = next(v.dtype for v in (a, b) if hasattr(v, "dtype"))
    if dtype.kind in "fV" and result.dtype != dtype:
        return result.astype(dtype)
    return result


def _dual_floor_divide(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        data = [x._data if isinstance(x, Tensor) else x for x in (a, b)]
        return _new(_floor_divide(get_array_module(*[d for d in data if hasattr(d, "dtype")]),
                                  *data))
    return _floor_divide(get_array_module(a if hasattr(a, "dtype") else b), a, b)


def _dual_floor(x):
    if isinstance(x, Tensor):
        return _new(get_array_module(x._data).floor(x._data))
    return get_array_module(x).floor(x)


def _dual_trunc(x):
    if isinstance(x, Tensor):
        return _new(get_array_module(x._data).trunc(x._data))
    return get_array_module(x).trunc(x)


def _dual_log(x):
    if isinstance(x, Tensor):
        from .pointwise import log
        return log(x)
    return get_array_module(x).log(x)


def _dual_where(cond, x, y):
    if isinstance(x, Tensor) or isinstance(y, Tensor) or isinstance(cond, Tensor):
        from .pointwise import where
        return where(cond if isinstance(cond, Tensor) else _new(cond), x, y)
    return get_array_module(cond).where(cond, x, y)


class Pow(Node):
    def forward(self, a, b):
        self.shapes = (_shape(a), _shape(b))
        xp = get_array_module(a if hasattr(a, "dtype") else b)
        if hasattr(a, "dtype") and a.dtype.kind in "biu" and type(b) is int and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if hasattr(a, "dtype") and hasattr(b, "dtype") and a.dtype.kind in "biu" and \
                b.dtype.kind == "i" and bool((b < 0).any()):
            out = _integer_power(xp, a, b)
        else:
            out = xp.power(a, b)
        if out.dtype is _FLOAT32:
            out = _scalar_result(out, a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved_tensors
        e = self.next_edges
        sa, sb = self.shapes
        ga = gb = None
        if e[0] is not None:
            if type(b) in _PY_SCALARS:
                ga = g * b * a ** (b - 1) if b != 0 else zeros_grad(g)
            else:
                # b * a**(b-1), with 0 where b == 0 (PyTorch's convention at a == 0)
                ga = sum_to(_dual_where(_is_zero(b), zeros_grad(g), g * b * a ** (b - 1)), sa)
        if e[1] is not None:
            if type(a) in _PY_SCALARS:
                gb = sum_to(g * out * float(np.log(a)) if a > 0 else g * out * float("nan"), sb)
            else:
                # d/db a**b = a**b log(a), defined as 0 where a == 0 and b >= 0 (a negative or
                # NaN exponent of 0 keeps a**b log(a): -inf or NaN, as PyTorch's)
                bd = b._data if isinstance(b, Tensor) else b
                zero_base = _is_zero(a) & (bd >= 0)
                safe = _dual_where(zero_base, zeros_grad(g), g * out * _dual_log(_abs_or_self(a)))
                gb = sum_to(safe, sb)
        return ga, gb


def _integer_power(xp, a, b):
    """``a ** b`` for integer tensors with negative exponents in ``b``, as PyTorch computes it:
    1 ** b = 1, (-1) ** b = +-1 by parity, 0 for any other base (numpy refuses them)."""
    result_dtype = xp.result_type(a, b)
    base = a.astype(result_dtype)
    negative = b < 0
    positive_part = xp.power(base, xp.where(negative, 0, b).astype(result_dtype))
    reciprocal = xp.where(base == 1, 1, xp.where(base == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.where(negative, reciprocal, positive_part).astype(result_dtype)


def _is_zero(x):
    data = x._data if isinstance(x, Tensor) else x
    return data == 0


def _abs_or_self(x):
    # log of negative bases is nan, as in PyTorch; only zero is special-cased above
    return x


class Maximum(Node):
    def forward(self, a, b, is_max):
        xp = get_array_module(a)
        self.shapes = (a.shape, b.shape)
        self.save_for_backward(a, b)
        self.is_max = is_max
        return xp.maximum(a, b) if is_max else xp.minimum(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        ad = a._data if isinstance(a, Tensor) else a
        bd = b._data if isinstance(b, Tensor) else b
        xp = get_array_module(ad)
        # PyTorch's rule: an input gets the gradient unless the other one strictly won (half
        # each on a tie), so where a NaN is involved both get it
        a_wins, b_wins = (ad > bd, ad < bd) if self.is_max else (ad < bd, ad > bd)
        tie = ad == bd
        wa = xp.where(tie, 0.5, (~b_wins).astype(ad.dtype)).astype(ad.dtype)
        wb = xp.where(tie, 0.5, (~a_wins).astype(ad.dtype)).astype(ad.dtype)
        return _weighted_pair_grads(self, g, wa, wb)


def _weighted_pair_grads(node, g, wa, wb):
    """The gradients ``g * wa`` and ``g * wb`` of a two-input elementwise ``node`` (plus one
    None for its flag argument), summed to its inputs' shapes (``node.shapes``) where needed."""
    if isinstance(g, Tensor):
        wa, wb = _new(wa), _new(wb)
    e = node.next_edges
    sa, sb = node.shapes
    return (sum_to(g * wa, sa) if e[0] is not None else None,
            sum_to(g * wb, sb) if e[1] is not None else None, None)


class FMax(Node):
    """``fmax``/``fmin``: the larger (smaller) value, ignoring a NaN; the gradient goes to
    ``input`` where it was chosen (ties included) or ``other`` is NaN, else to ``other``, as in
    PyTorch."""

    def forward(self, a, b, is_max):
        xp = get_array_module(a)
        self.shapes = (a.shape, b.shape)
        self.take_a = ((a >= b) if is_max else (a <= b)) | xp.isnan(b)
        return xp.fmax(a, b) if is_max else xp.fmin(a, b)

    def backward(self, g):
        take_a = self.take_a
        return _weighted_pair_grads(self, g, take_a.astype(g.dtype), (~take_a).astype(g.dtype))


class Atan2(Node):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        self.save_for_backward(a, b)
        return get_array_module(a).arctan2(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        denom = a * a + b * b
        e = self.next_edges
        sa, sb = self.shapes
        # 0 at the origin, as PyTorch's (where the formula is 0 / 0)
        nonzero = (denom._data if isinstance(denom, Tensor) else denom) != 0
        return (sum_to(masked_grad(g * b / denom, nonzero), sa) if e[0] is not None else None,
                sum_to(masked_grad(-g * a / denom, nonzero), sb) if e[1] is not None else None)


class Compare(Node):
    differentiable = False

    def forward(self, a, b, ufunc):
        return ufunc(a, b)


# ------------------------------------------------------------------ functions
def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting and type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = _prep(input, other)
    return _out(Add.apply(a, b), out)


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``."""
    _refuse_bool_subtraction(input, other)
    if alpha != 1:
        other = mul(other, alpha)
    a, b = _prep(input, other)
    return _out(Sub.apply(a, b), out)


def _refuse_bool_subtraction(input, other):
    a_bool = type(input) is bool or isinstance(input, Tensor) and input._data.dtype.kind == "b"
    b_bool = type(other) is bool or isinstance(other, Tensor) and other._data.dtype.kind == "b"
    if a_bool and b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if a_bool or b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` operator "
                           "instead.")


subtract = sub


def rsub(input, other, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None):
    """Elementwise product with broadcasting."""
    a, b = _prep(input, other)
    return _out(Mul.apply(a, b), out)


multiply = mul


def _to_float(x):
    if isinstance(x, Tensor):
        if x._data.dtype.kind in "biu":
            return cast(x, default_float())
        return x
    if type(x) is int or type(x) is bool:
        return float(x)
    return x


def div(input, other, *, rounding_mode=None, out=None):
    """Elementwise division; integer inputs give a float result unless ``rounding_mode`` is set."""
    if rounding_mode is None:
        a, b = _prep(input, other, wrap=False)
        a, b = _to_float(a), _to_float(b)
        return _out(Div.apply(a, b), out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                           f"found '{rounding_mode}'")
    a, b = _prep(input, other)
    refuse_bool(f"div_{rounding_mode}_cpu", a, b)
    _check_int_zero_div(a, b)
    return _out(RoundedDiv.apply(a, b, rounding_mode), out)


divide = true_divide = div


def refuse_bool(kernel, a, b):
    """PyTorch's error for an integer-only kernel given two booleans (tensors or Python bools)."""
    def is_bool(x):
        return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype.kind == "b")
    if is_bool(a) and is_bool(b):
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _check_int_zero_div(a, b):
    bd = b._data if isinstance(b, Tensor) else b
    ad = a._data if isinstance(a, Tensor) else a
    if is_cuda_array(ad) or is_cuda_array(bd):
        return  # PyTorch's CUDA kernels do not check (reading the divisor back would sync)
    if getattr(ad, "dtype", None) is not None and ad.dtype.kind in "iub" and \
            (not hasattr(bd, "dtype") or bd.dtype.kind in "iub") and not isinstance(bd, float):
        if (bd == 0) is True or (hasattr(bd, "any") and (bd == 0).any()):
            raise RuntimeError("ZeroDivisionError")


def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor", out=out)


def remainder(input, other, *, out=None):
    """Python-style modulus (the result has the sign of the divisor)."""
    a, b = _prep(input, other)
    refuse_bool("remainder_cpu", a, b)
    _check_int_zero_div(a, b)
    return _out(Remainder.apply(a, b, True), out)


def fmod(input, other, *, out=None):
    """C-style modulus (the result has the sign of the dividend)."""
    a, b = _prep(input, other)
    refuse_bool("fmod_cpu", a, b)
    _check_int_zero_div(a, b)
    return _out(Remainder.apply(a, b, False), out)


def pow(input, exponent, *, out=None):
    """``input ** exponent`` elementwise (either may be a number)."""
    input, exponent = autocast_args("pow", input, exponent)
    return _pow(input, exponent, out=out)


def _pow(input, exponent, *, out=None):
    """:func:`pow` without autocast (``pow_``: PyTorch's in-place ops are not autocast)."""
    if isinstance(input, Tensor) and type(exponent) in (int, float) and not isinstance(exponent, bool):
        if exponent == 2 and input._data.dtype.kind == "f":
            return _out(Mul.apply(input, input), out)
        if exponent == 1:
            return input.clone() if out is None else _out(input.clone(), out)
    if isinstance(input, Tensor) and isinstance(exponent, bool) and input._data.dtype.kind == "b":
        # a bool tensor to a Python bool power stays bool: itself, or all True
        result = input.clone() if exponent else _new(get_array_module(input._data).ones(
            input._data.shape, bool))
        return _out(result, out)
    a, b = _prep(input, exponent)
    refuse_bool("pow", a, b)
    return _out(Pow.apply(a, b), out)


def float_power(input, exponent, *, out=None):
    a = cast(input, np.dtype(np.float64)) if isinstance(input, Tensor) else float(input)
    b = cast(exponent, np.dtype(np.float64)) if isinstance(exponent, Tensor) else float(exponent)
    return _out(Pow.apply(a, b), out)


def square(input, *, out=None):
    if input._data.dtype.kind == "b":
        input = cast(input, np.dtype(np.int64))
    return _out(Mul.apply(input, input), out)


def neg(input, *, out=None):
    if input._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are "
                           "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return _out(Sub.apply(0, input) if input._data.dtype.kind != "u" else
                _new(-input._data), out)


negative = neg


def _require_tensor_other(name, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")


def _maxmin(input, other, is_max):
    _require_tensor_other("maximum" if is_max else "minimum", other)
    a, b = _prep(input, other)
    return Maximum.apply(a, b, is_max)


def maximum(input, other, *, out=None):
    """Elementwise maximum (NaN propagates); ties share the gradient equally."""
    return _out(_maxmin(input, other, True), out)


def minimum(input, other, *, out=None):
    """Elementwise minimum (NaN propagates); ties share the gradient equally."""
    return _out(_maxmin(input, other, False), out)


@with_out
def fmax(input, other, *, out=None):
    """Elementwise maximum that ignores NaN (NaN only where both are NaN)."""
    _require_tensor_other("fmax", other)
    a, b = _prep(input, other)
    return FMax.apply(a, b, True)


@with_out
def fmin(input, other, *, out=None):
    """Elementwise minimum that ignores NaN (NaN only where both are NaN)."""
    _require_tensor_other("fmin", other)
    a, b = _prep(input, other)
    return FMax.apply(a, b, False)


def atan2(input, other, *, out=None):
    """The quadrant-aware arctangent of ``input / other``, elementwise."""
    _require_tensor_other("atan2", other)
    input, other = autocast_args("atan2", input, other)
    return _atan2(input, other, out=out)


def _atan2(input, other, *, out=None):
    a, b = _prep(input, other, wrap=False)
    return _out(Atan2.apply(_to_float(a), _to_float(b)), out)


arctan2 = atan2


def _compare(ufunc_name):
    def op(input, other, *, out=None):
        if isinstance(input, Tensor) and isinstance(other, Tensor) and \
                type(input._data) is not type(other._data):
            input, other = match_devices(input, other)
        a = input._data if isinstance(input, Tensor) else as_scalar(input)
        b = other._data if isinstance(other, Tensor) else as_scalar(other)
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError("expected a Tensor operand")
        # an out-of-range int is first converted to the integer tensor's dtype, as PyTorch
        a = wrap_int_scalar(a, b.dtype) if hasattr(b, "dtype") else a
        b = wrap_int_scalar(b, a.dtype) if hasattr(a, "dtype") else b
        xp = get_array_module(a if hasattr(a, "dtype") else b)
        try:
            return _out(_new(getattr(xp, ufunc_name)(a, b)), out)
        except ValueError as exc:
            raise broadcast_error(exc, a, b) from None
    op.__name__ = ufunc_name
    op.__doc__ = f"Elementwise ``{ufunc_name}`` comparison; returns a bool tensor."
    return op


eq = _compare("equal")
ne = not_equal = _compare("not_equal")
lt = less = _compare("less")
le = less_equal = _compare("less_equal")
gt = greater = _compare("greater")
ge = greater_equal = _compare("greater_equal")
eq.__name__, ne.__name__, lt.__name__, le.__name__, gt.__name__, ge.__name__ = \
    "eq", "ne", "lt", "le", "gt", "ge"


def _logical(ufunc_name):
    def op(input, other, *, out=None):
        a = input._data if isinstance(input, Tensor) else input
        b = other._data if isinstance(other, Tensor) else other
        xp = get_array_module(a if hasattr(a, "dtype") else b)
        try:
            return _out(_new(getattr(xp, ufunc_name)(a, b)), out)
        except ValueError as exc:
            raise broadcast_error(exc, a, b) from None
    op.__name__ = ufunc_name
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def logical_not(input, *, out=None):
    return _out(_new(get_array_module(input._data).logical_not(input._data)), out)


def _bitwise(ufunc_name, symbol):
    def op(input, other, *, out=None):
        a, b = _prep(input, other)
        for x in (a, b):   # named by the promoted dtype, as PyTorch's dispatch does
            if isinstance(x, Tensor) and x._data.dtype.kind not in "biu":
                from .indexing import scalar_type_name
                raise NotImplementedError(f"\"{ufunc_name}_cpu\" not implemented for "
                                          f"'{scalar_type_name(x)}'")
        ad = a._data if isinstance(a, Tensor) else a
        bd = b._data if isinstance(b, Tensor) else b
        xp = get_array_module(ad if hasattr(ad, "dtype") else bd)
        try:
            return _out(_new(getattr(xp, ufunc_name)(ad, bd)), out)
        except ValueError as exc:
            raise broadcast_error(exc, ad, bd) from None
    op.__name__ = ufunc_name
    return op


bitwise_and = _bitwise("bitwise_and", "&")
bitwise_or = _bitwise("bitwise_or", "|")
bitwise_xor = _bitwise("bitwise_xor", "^")


def bitwise_not(input, *, out=None):
    if input._data.dtype.kind not in "biu":
        from .indexing import scalar_type_name
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for "
                                  f"'{scalar_type_name(input)}'")
    return _out(_new(get_array_module(input._data).invert(input._data)), out)


def _invert(input):
    if input._data.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(input)


def equal(input, other):
    """True if both tensors have the same shape and elements."""
    return input.shape == other.shape and bool((input._data == other._data).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if type(input._data) is not type(other._data):
        input, other = match_devices(input, other)
    xp = get_array_module(input._data)
    try:
        return _new(xp.isclose(input._data, other._data, rtol=rtol, atol=atol,
                               equal_nan=equal_nan))
    except ValueError as exc:
        raise broadcast_error(exc, input, other) from None


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _out(result, out):
    """Write ``result`` into the ``out=`` tensor as PyTorch does: refused where autograd would
    need a graph, across devices or to a dtype of a lower category (float into int); ``out``
    is resized to the result's shape (with PyTorch's warning when it had elements)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if (out._requires_grad or result._requires_grad) and _state.enabled:
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    data = result._data
    if out.device != result.device:
        raise RuntimeError(f"Attempting to copy from device {result.device} to device "
                           f"{out.device}, but cross-device copies are not allowed!")
    if data.dtype != out._data.dtype and _dtype.from_numpy_dtype(data.dtype).category > \
            _dtype.from_numpy_dtype(out._data.dtype).category:
        raise RuntimeError(f"result type {_type_name(data.dtype)} can't be cast to the desired "
                           f"output type {_type_name(out._data.dtype)}")
    note_mutation(out)
    if out._data.shape != data.shape:
        if out._data.size:
            import warnings
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out._data.shape)}, which does not match the required output shape "
                f"{list(data.shape)}. This behavior is deprecated, and in a future PyTorch "
                f"release outputs will not be resized unless they have zero elements. You can "
                f"explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
                f"t.resize_(0).", UserWarning, stacklevel=3)
        out._data = get_array_module(data).empty(data.shape, out._data.dtype)
    out._data[...] = data
    out._vc[0] += 1
    return out


# ------------------------------------------------------------------ in-place
def _type_name(np_dtype):
    """PyTorch's ScalarType name (``Float``, ``Long``...) of a numpy dtype, for messages."""
    from .indexing import _SCALAR_TYPE
    name = _dtype.from_numpy_dtype(np_dtype).name
    return _SCALAR_TYPE.get(name, name.capitalize())


def check_inplace(self):
    """Raise PyTorch's errors for in-place ops that autograd cannot allow; return True when the
    in-place op must be recorded in the graph."""
    if mutation_watch[0] is not None:
        mutation_watch[0](self)   # allow_mutation_on_saved_tensors: keep the old values
    if self._inference and not _state.inference:
        raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not "
                           "allowed.You can make a clone to get a normal tensor before doing "
                           "inplace update.See https://github.com/pytorch/rfcs/pull/17 for more "
                           "details.")
    if not _state.enabled:
        return False
    multi_output = self.__dict__.get("_multi_output") if self._base is not None else None
    if multi_output is not None and self._requires_grad:
        raise RuntimeError(multi_output)
    if self._requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if self._base is not None and self._base[0]._requires_grad and self._base[0].grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    return True


def apply_inplace(self, result):
    """Write an out-of-place ``result`` into ``self`` and give ``self`` its history."""
    rd = result._data
    sd = self._data
    if rd.dtype != sd.dtype:
        rk, sk = _dtype.from_numpy_dtype(rd.dtype), _dtype.from_numpy_dtype(sd.dtype)
        if rk.category > sk.category:
            raise RuntimeError(f"result type {_type_name(rd.dtype)} can't be cast to the desired "
                               f"output type {_type_name(sd.dtype)}")
    if rd.shape != sd.shape:
        try:
            np.broadcast_shapes(rd.shape, sd.shape) == sd.shape or (_ for _ in ()).throw(ValueError)
        except ValueError:
            raise RuntimeError(f"output with shape {list(sd.shape)} doesn't match the broadcast "
                               f"shape {list(rd.shape)}") from None
    if self._requires_grad and not result._requires_grad and _state.enabled:
        # The new values do not depend on the old ones: the old history gets a zero gradient
        # (PyTorch's ZeroBackward/FillBackward).
        from .views import Overwrite
        result = Overwrite.apply(self, result)
    if result._requires_grad and _state.enabled:
        from .views import rebase_history
        rebase_history(self, result)
    else:
        sd[...] = rd
        self._vc[0] += 1
    return self


def _host_operand(self, other):
    """The operand of an untracked in-place op on ``self`` when ``other`` is on another device:
    a 0-d CPU tensor acts as a number (its value, kept in its dtype) next to a CUDA tensor."""
    od = other._data
    if od.ndim or type(od) is not np.ndarray:
        raise device_mismatch(self, other)
    return od[()]


def _inplace_error(exc, self_data, other):
    """numpy's error from a ufunc writing into ``self_data`` in PyTorch's words."""
    shape = getattr(other, "shape", None)
    err = inplace_shape_error(self_data.shape, shape) if shape is not None else None
    return exc if err is None else err


def _refuse_widening(self, other):
    """PyTorch's refusal of an in-place op whose result type (``self``'s and ``other``'s
    promotion) is of a higher category than ``self``'s dtype: ``float64.add_(1j)`` would drop
    the imaginary part."""
    result = _dtype.result_type(self, other)
    own = _dtype.from_numpy_dtype(self._data.dtype)
    if result.category <= own.category:
        return
    name = _type_name(result.np_dtype)
    if result.is_complex and own is _dtype.float16 and \
            (not isinstance(other, Tensor) or other._data.ndim == 0 < self._data.ndim):
        name = "ComplexHalf"   # (PyTorch's complex32, which disttorch has not)
    raise RuntimeError(f"result type {name} can't be cast to the desired output type "
                       f"{_type_name(self._data.dtype)}")


def _inplace_op(fn, ufunc_name=None):
    def method(self, other, *args, **kwargs):
        record = check_inplace(self)
        if not record or not (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
            if ufunc_name is not None and not args and not kwargs.get("alpha", 1) != 1:
                if ufunc_name == "subtract":
                    _refuse_bool_subtraction(self, other)
                if type(other) is int and self._data.dtype.kind == "b":
                    raise RuntimeError("result type Long can't be cast to the desired output "
                                       "type Bool")
                od = other._data if isinstance(other, Tensor) else \
                    wrap_int_scalar(as_scalar(other), self._data.dtype)
                if isinstance(other, Tensor) and type(od) is not type(self._data):
                    od = _host_operand(self, other)
                sd = self._data
                xp = get_array_module(sd)
                if type(od) is complex or (hasattr(od, "dtype") and od.dtype != sd.dtype):
                    _refuse_widening(self, other)
                if type(od) is float and sd.dtype.kind in "biu":
                    raise RuntimeError(f"result type Float can't be cast to the desired output type "
                                       f"{_type_name(sd.dtype)}")
                try:
                    getattr(xp, ufunc_name)(sd, od, out=sd, casting="unsafe")
                except ValueError as exc:
                    raise _inplace_error(exc, sd, od) from None
                self._vc[0] += 1
                return self
            with grad_mode.no_grad():
                return apply_inplace(self, fn(self, other, *args, **kwargs))
        return apply_inplace(self, fn(self, other, *args, **kwargs))
    method.__name__ = fn.__name__ + "_"
    return method


add_ = _inplace_op(add, "add")
sub_ = _inplace_op(sub, "subtract")
mul_ = _inplace_op(mul, "multiply")
div_ = _inplace_op(div)
pow_ = _inplace_op(_pow)
pow_.__name__ = "pow_"
remainder_ = _inplace_op(remainder)
fmod_ = _inplace_op(fmod)
floor_divide_ = _inplace_op(floor_divide)
maximum_ = _inplace_op(maximum)
minimum_ = _inplace_op(minimum)
atan2_ = _inplace_op(_atan2)
atan2_.__name__ = "atan2_"


def _true_div_inplace(self, other, *, rounding_mode=None):
    if rounding_mode is None and self._data.dtype.kind in "biu":
        if type(other) is complex or (isinstance(other, Tensor) and other.is_complex()):
            _refuse_widening(self, other)   # (named by the complex result)
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_type_name(self._data.dtype)}")
    if rounding_mode is None and not (check_inplace(self) and (
            self._requires_grad or (isinstance(other, Tensor) and other._requires_grad))):
        od = other._data if isinstance(other, Tensor) else as_scalar(other)
        if isinstance(other, Tensor) and type(od) is not type(self._data):
            od = _host_operand(self, other)
        sd = self._data
        if type(od) is complex or (hasattr(od, "dtype") and od.dtype.kind == "c"):
            _refuse_widening(self, other)
        try:
            get_array_module(sd).true_divide(sd, od, out=sd, casting="unsafe")
        except ValueError as exc:
            raise _inplace_error(exc, sd, od) from None
        self._vc[0] += 1
        return self
    return div_(self, other, rounding_mode=rounding_mode)


def _neg_(self):
    return apply_inplace(self, neg(self)) if check_inplace(self) else _nograd_inplace(self, neg)


def _nograd_inplace(self, fn, *args, **kwargs):
    with grad_mode.no_grad():
        return apply_inplace(self, fn(self, *args, **kwargs))


def _reflected(fn):
    def method(self, other):
        return fn(other, self)
    return method


def _binary_method(fn):
    def method(self, other, *args, **kwargs):
        return fn(self, other, *args, **kwargs)
    method.__name__ = fn.__name__
    return method


def _operator(fn):
    def method(self, other):
        if not isinstance(other, (Tensor, int, float, bool, complex, np.generic)):
            return NotImplemented
        return fn(self, other)
    return method


def _roperator(fn):
    def method(self, other):
        if not isinstance(other, (int, float, bool, complex, np.generic)):
            return NotImplemented
        return fn(other, self)
    return method


def _rtruediv(self, other):
    """``other / self`` for a number ``other``: ``self.reciprocal() * other``, as PyTorch's
    ``Tensor.__rtruediv__`` (so under CUDA autocast ``1 / x`` runs in float32, as reciprocal)."""
    if not isinstance(other, (int, float, bool, complex, np.generic)):
        return NotImplemented
    from .pointwise import reciprocal
    return mul(reciprocal(self), other)


register_methods({
    "add": _binary_method(add), "sub": _binary_method(sub), "subtract": _binary_method(sub),
    "mul": _binary_method(mul), "multiply": _binary_method(mul),
    "div": _binary_method(div), "divide": _binary_method(div), "true_divide": _binary_method(div),
    "floor_divide": _binary_method(floor_divide), "remainder": _binary_method(remainder),
    "fmod": _binary_method(fmod), "pow": _binary_method(pow),
    "float_power": _binary_method(float_power),
    "maximum": _binary_method(maximum), "minimum": _binary_method(minimum),
    "fmax": _binary_method(fmax), "fmin": _binary_method(fmin),
    "atan2": _binary_method(atan2), "arctan2": _binary_method(atan2),
    "neg": neg, "negative": neg, "square": square,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": ne,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le,
    "equal": equal, "isclose": isclose, "allclose": allclose,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "add_": add_, "sub_": sub_, "subtract_": sub_, "mul_": mul_, "multiply_": mul_,
    "div_": _true_div_inplace, "divide_": _true_div_inplace, "true_divide_": _true_div_inplace,
    "pow_": pow_, "remainder_": remainder_, "fmod_": fmod_, "floor_divide_": floor_divide_,
    "neg_": _neg_, "negative_": _neg_,
    "square_": lambda self: _inplace_op(lambda s, o: square(s))(self, None),
    "__add__": _operator(add), "__radd__": _roperator(add), "__iadd__": add_,
    "__sub__": _operator(sub), "__rsub__": _roperator(sub), "__isub__": sub_,
    "__mul__": _operator(mul), "__rmul__": _roperator(mul), "__imul__": mul_,
    "__truediv__": _operator(div), "__rtruediv__": _rtruediv,
    "__itruediv__": _true_div_inplace,
    "__floordiv__": _operator(floor_divide), "__rfloordiv__": _roperator(floor_divide),
    "__ifloordiv__": floor_divide_,
    "__mod__": _operator(remainder), "__rmod__": _roperator(remainder), "__imod__": remainder_,
    "__pow__": _operator(pow), "__rpow__": _roperator(pow), "__ipow__": pow_,
    "__neg__": neg, "__pos__": lambda self: self,
    "__eq__": _operator(eq), "__ne__": _operator(ne), "__lt__": _operator(lt),
    "__le__": _operator(le), "__gt__": _operator(gt), "__ge__": _operator(ge),
    "__and__": _operator(bitwise_and), "__rand__": _roperator(bitwise_and),
    "__or__": _operator(bitwise_or), "__ror__": _roperator(bitwise_or),
    "__xor__": _operator(bitwise_xor), "__rxor__": _roperator(bitwise_xor),
    "__invert__": _invert,
    "__iand__": _inplace_op(bitwise_and, "bitwise_and"),
    "__ior__": _inplace_op(bitwise_or, "bitwise_or"),
    "__ixor__": _inplace_op(bitwise_xor, "bitwise_xor"),
    "logical_and_": _inplace_op(logical_and), "logical_or_": _inplace_op(logical_or),
})
