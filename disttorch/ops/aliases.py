"""PyTorch's other spellings of existing ops: ``torch.abs_``-style in-place functions, the
``torch.det``/``torch.svd`` family of ``linalg`` wrappers, in-place comparison and bitwise
methods, ``arcsinh``-style aliases, layouts, and small Tensor queries (``is_signed``,
``real``, ``apply_``, ``sum_to_size``, ``resize_``...)."""
import math

import numpy as np

from ._ufunc_compat import accumulate
from .. import _dtype
from .._backend import get_array_module
from ..autograd.function import Node
from ..return_types import _structseq
from ..tensor import Tensor, _new
from ._util import register_methods, sum_to, default_float, cast, wrap_dim, as_method as _method
from .arithmetic import check_inplace, apply_inplace, _nograd_inplace, _out, _prep, refuse_bool
from .indexing import scalar_type_name
from .pointwise import ZeroGrad, acosh, asinh, atanh
from ._util import with_out, broadcast_error

__all__ = ["det", "logdet", "inverse", "pinverse", "matrix_power", "cholesky", "svd", "fill",
           "detach", "get_device", "is_signed", "is_inference", "real", "imag", "angle",
           "arccosh", "arcsinh", "arctanh", "bitwise_left_shift", "bitwise_right_shift",
           "nextafter", "split_with_sizes", "unsafe_chunk", "unsafe_split",
           "unsafe_split_with_sizes", "layout", "strided", "sparse_coo", "logcumsumexp",
           "memory_format", "contiguous_format", "channels_last", "channels_last_3d",
           "preserve_format", "triangular_solve", "frobenius_norm", "nuclear_norm",
           "empty_permuted", "conj", "conj_physical", "resolve_conj", "resolve_neg", "is_conj",
           "is_neg", "is_nonzero", "is_same_size"]

svd_result = _structseq("svd", ["U", "S", "V"])
triangular_solve_result = _structseq("triangular_solve", ["solution", "cloned_coefficient"])


class layout:
    """A tensor memory layout; disttorch tensors are always ``torch.strided``."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")


class memory_format(layout):
    """A memory-format tag (``torch.channels_last``...). The ``*_like`` functions follow
    ``preserve_format`` (their default) as PyTorch's do: a permuted input's layout is kept,
    so an in-place fill afterwards visits the elements in PyTorch's order (``clone`` gives a
    row-major copy).
    ``channels_last`` tags are accepted and give the same values in row-major order."""


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


def _ops():
    from .. import ops
    return ops


def _linalg():
    from .. import linalg
    return linalg


def det(input):
    """Alias of :func:`torch.linalg.det`."""
    return _linalg().det(input)


def logdet(input):
    """The log-determinant of square matrices: ``nan`` where the determinant is negative,
    ``-inf`` where it is zero."""
    sign, logabs = _linalg().slogdet(input)
    return _ops().where(sign < 0, math.nan, logabs)


def inverse(input, *, out=None):
    """Alias of :func:`torch.linalg.inv`."""
    return _linalg().inv(input, out=out)


def pinverse(input, rcond=1e-15):
    """The pseudo-inverse, treating singular values below ``rcond`` times the largest as zero."""
    return _linalg().pinv(input, rtol=rcond)


def matrix_power(input, n):
    """Alias of :func:`torch.linalg.matrix_power`."""
    return _linalg().matrix_power(input, n)


def cholesky(input, upper=False, *, out=None):
    """The Cholesky factor (lower, or upper with ``upper=True``); see
    :func:`torch.linalg.cholesky`."""
    return _linalg().cholesky(input, upper=upper, out=out)


@with_out
def svd(input, some=True, compute_uv=True, *, out=None):
    """``input = U diag(S) V^T`` as ``(U, S, V)`` (note ``V``, not ``Vh``); ``some=False`` gives
    full ``U`` and ``V``; with ``compute_uv=False`` ``U`` and ``V`` are zero-filled."""
    if not compute_uv:
        S = _linalg().svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        batch = tuple(input.shape[:-2])
        U = input.new_zeros(batch + ((m, m) if not some else (m, min(m, n))))
        V = input.new_zeros(batch + ((n, n) if not some else (n, min(m, n))))
        return svd_result(U, S, V)
    U, S, Vh = _linalg().svd(input, full_matrices=not some)
    return svd_result(U, S, Vh.transpose(-2, -1))


@with_out
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """The solution ``X`` of ``A X = b`` (``A^T X = b`` with ``transpose``) for triangular ``A``,
    with a copy of ``A``; deprecated in PyTorch for :func:`torch.linalg.solve_triangular`."""
    coefficient = A.transpose(-2, -1) if transpose else A
    solution = _linalg().solve_triangular(coefficient, b, upper=upper != transpose,
                                          unitriangular=unitriangular)
    return triangular_solve_result(solution, A.clone())


@with_out
def frobenius_norm(input, dim, keepdim=False, *, out=None):
    """The 2-norm over ``dim`` (deprecated in PyTorch for :func:`torch.linalg.vector_norm`)."""
    return _linalg().vector_norm(input, 2, dim=dim, keepdim=keepdim)


@with_out
def nuclear_norm(input, dim=None, keepdim=False, *, out=None):
    """The sum of singular values of the matrices over ``dim`` (the last two by default; a bool
    second argument is ``keepdim``, as in PyTorch's overload)."""
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    return _linalg().matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else dim,
                                 keepdim=keepdim)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """An uninitialised tensor of ``size`` (``physical_layout`` names the memory order in
    PyTorch; disttorch tensors are row-major)."""
    if sorted(physical_layout) != list(range(len(size))):
        raise RuntimeError(f"Dimension out of range or repeated in physical_layout "
                           f"{list(physical_layout)} for size {list(size)}")
    return _ops().empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def fill(input, value):
    """A tensor like ``input`` filled with ``value`` (a number or 0-d tensor)."""
    if isinstance(value, Tensor):
        return value.to(input.dtype).expand(input.shape).clone()
    return _ops().full_like(input, value)


def detach(input):
    """``input.detach()``."""
    return input.detach()


def get_device(input):
    """The CUDA device index of ``input``, or -1 on the CPU."""
    return input.get_device()


def is_signed(input):
    """Whether ``input``'s dtype is signed (every dtype but ``uint8`` and ``bool``)."""
    return input._data.dtype.kind not in "ub"


def is_inference(input):
    """Whether ``input`` was made under ``inference_mode`` (not as a view of a normal tensor):
    autograd refuses to save it, and in-place ops on it outside inference mode."""
    return input._inference


def real(input):
    """The real part: ``input`` itself for real tensors."""
    if input._data.dtype.kind == "c":
        return _new(input._data.real)
    return input


def imag(input):
    """The imaginary part of a complex tensor."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _new(input._data.imag)


class Conj(Node):
    """The elementwise complex conjugate; its gradient is the conjugate of the incoming one."""

    def forward(self, x):
        return get_array_module(x).conj(x)

    def backward(self, g):
        return conj(g) if isinstance(g, Tensor) else g.conj()


def conj(input):
    """The complex conjugate; ``input`` itself for real tensors, as in PyTorch (disttorch keeps
    no lazy conjugate bit: a complex result is computed at once)."""
    if input._data.dtype.kind != "c":
        return input
    return Conj.apply(input)


def conj_physical(input, *, out=None):
    """The complex conjugate, computed now (``input`` for real tensors)."""
    return _out(conj(input), out)


def resolve_conj(input):
    """``input``: disttorch never defers a conjugation."""
    return input


def resolve_neg(input):
    """``input``: disttorch never defers a negation."""
    return input


def is_conj(input):
    """False: disttorch tensors carry no lazy conjugate bit."""
    return False


def is_neg(input):
    """False: disttorch tensors carry no lazy negative bit."""
    return False


def is_nonzero(input):
    """Whether a one-element tensor is nonzero (``bool(input)``, with PyTorch's errors)."""
    n = input._data.size
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(()).item())


def is_same_size(input, other):
    """Whether ``input`` and ``other`` have the same shape."""
    return tuple(input.shape) == tuple(other.shape)


def angle(input, *, out=None):
    """The elementwise argument: 0 for non-negative and pi for negative real numbers (NaN kept);
    integers give floats. The gradient is zero."""
    x = input if input._data.dtype.kind in "fcV" else cast(input, default_float())
    xp = get_array_module(x._data)
    if x._data.dtype.kind == "c":
        return _new(xp.angle(x._data))
    return _out(ZeroGrad.apply(x, _real_angle), out)


def _real_angle(a):
    xp = get_array_module(a)
    values = xp.where(a < 0, math.pi, 0.0).astype(a.dtype)
    return xp.where(a != a, a, values).astype(a.dtype, copy=False)   # (bfloat16 came out float32)


arccosh = acosh
arcsinh = asinh
arctanh = atanh


def _shift(name, ufunc):
    @with_out
    def op(input, other, *, out=None):
        # PyTorch's promotion (bool with an int: int64) and its int conversion (u8 << -1)
        x, y = _prep(input, other)
        kernel = ("l" if ufunc == "left_shift" else "r") + "shift_cpu"
        refuse_bool(kernel, x, y)
        for t in (x, y):
            if isinstance(t, Tensor) and t._data.dtype.kind not in "biu":
                raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                          f"'{scalar_type_name(t)}'")
        a = x._data
        xp = get_array_module(a)
        b = y._data if isinstance(y, Tensor) else xp.asarray(y, a.dtype)
        try:
            return _new(getattr(xp, ufunc)(a, b).astype(np.result_type(a, b)))
        except ValueError as exc:
            raise broadcast_error(exc, a, b) from None
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{ufunc.replace('_', ' ')}`` of integer tensors."
    return op


bitwise_left_shift = _shift("bitwise_left_shift", "left_shift")
bitwise_right_shift = _shift("bitwise_right_shift", "right_shift")


def nextafter(input, other, *, out=None):
    """The next floating-point value after ``input`` towards ``other`` (PyTorch's type
    promotion; a 0-d CPU ``other`` may meet a CUDA ``input``)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"nextafter(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    a, b = _prep(input, other)
    if a._data.dtype.kind not in "fV":
        # PyTorch's kernel is for floating types only (and raises NotImplementedError, as here)
        raise NotImplementedError(f'"nextafter_cpu" not implemented for '
                                  f"'{scalar_type_name(a)}'")
    xp = get_array_module(a._data)
    err = broadcast_error(None, a, b)
    if err is not None:
        raise err
    if xp is np:
        return _out(_new(np.nextafter(a._data, b._data)), out)
    return _out(_new(_nextafter_bits(xp, a._data, b._data)), out)


def _nextafter_bits(xp, x, y):
    """``nextafter`` by stepping the bit pattern: CUDA's ``nextafter`` flushes subnormals to zero
    (``nextafter(0, 1)`` gives the smallest normal), PyTorch's keeps them."""
    x, y = xp.broadcast_arrays(x, y)
    bits = np.dtype(f"int{x.dtype.itemsize * 8}")
    step = xp.where((x < y) == (x > 0), 1, -1).astype(bits)
    moved = (x.view(bits) + step).view(x.dtype)
    tiny = xp.zeros_like(x).view(bits)
    tiny[...] = 1   # the smallest subnormal, signed like y below
    toward_zero = xp.copysign(tiny.view(x.dtype), y)
    result = xp.where(x == 0, toward_zero, moved)
    result = xp.where(x == y, y, result)
    return xp.where(xp.isnan(x) | xp.isnan(y), x + y, result)


def split_with_sizes(input, split_sizes, dim=0):
    """Split ``input`` into pieces of the given sizes along ``dim``."""
    if sum(split_sizes) != input.shape[dim]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{input.shape[dim]} (input tensor's size at dimension {dim}), but got "
                           f"split_sizes={list(split_sizes)}")
    return input.split(list(split_sizes), dim)


def unsafe_chunk(input, chunks, dim=0):
    """Alias of :func:`torch.chunk`."""
    return input.chunk(chunks, dim)


def unsafe_split(input, split_size, dim=0):
    """Alias of :func:`torch.split`."""
    return input.split(split_size, dim)


unsafe_split_with_sizes = split_with_sizes


def _log_accumulate(x, axis):
    """Running ``logaddexp`` along ``axis`` (a log-step scan on CUDA arrays); half precision
    runs in float32 and is rounded once per prefix, as PyTorch's (a half running sum drifts)."""
    if x.dtype.itemsize < 4 and x.dtype.kind in "fV":
        return _log_accumulate(x.astype(np.float32), axis).astype(x.dtype)
    xp = get_array_module(x)
    if xp is not np:
        return accumulate(xp, "logaddexp", x, axis)
    with np.errstate(all="ignore"):
        return np.logaddexp.accumulate(x, axis=axis)


class LogCumSumExp(Node):
    def forward(self, x, dim):
        y = _log_accumulate(x, dim)
        self.save_for_backward(x, y)
        self.dim = dim
        return y

    def backward(self, g):
        # dx_j = sum_{i >= j} g_i exp(x_j - y_i), split by the sign of g so that every sum is a
        # stable reversed log-cumsum-exp
        x, y = self.saved_tensors
        d = self.dim
        if isinstance(g, Tensor):
            def reversed_lcse(z):
                return logcumsumexp(z.flip(d), d).flip(d)
            total = x.new_zeros(x.shape)
            for part in (g, -g):
                if bool((part._data > 0).any()):
                    logs = part.clamp(min=1e-300).log().masked_fill(part <= 0, -math.inf)
                    term = (x + reversed_lcse(logs - y)).exp()
                    # x = -inf entries contribute nothing (and would give -inf + inf = nan)
                    term = term.masked_fill(x == -math.inf, 0.0)
                    total = total + term if part is g else total - term
            return total, None
        xp = get_array_module(g)
        with np.errstate(all="ignore"):
            flip = (slice(None),) * d + (slice(None, None, -1),)
            logs = xp.log(xp.abs(g))
            pos = _log_accumulate(xp.where(g > 0, logs, -np.inf)[flip] - y[flip], d)[flip]
            neg = _log_accumulate(xp.where(g < 0, logs, -np.inf)[flip] - y[flip], d)[flip]
            dx = xp.exp(x + pos) - xp.exp(x + neg)
            return xp.where(x == -np.inf, 0.0, dx).astype(g.dtype), None


def logcumsumexp(input, dim, *, out=None):
    """``log(cumsum(exp(input), dim))``, computed without overflow or underflow."""
    if not input.is_floating_point():
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                           f"'{scalar_type_name(input)}'")
    dim = wrap_dim(dim, input.dim())
    if input.dim() == 0:
        return input.clone()
    return _out(LogCumSumExp.apply(input, dim), out)


def _inplace(fn, name):
    def method(self, *args, **kwargs):
        if check_inplace(self):
            return apply_inplace(self, fn(self, *args, **kwargs))
        return _nograd_inplace(self, fn, *args, **kwargs)
    method.__name__ = name + "_"
    return method


def _promoting_inplace(fn, name):
    """:func:`_inplace` for a binary op whose result dtype is the operands' promotion: PyTorch
    refuses a promotion past ``self``'s category before it runs the kernel ("result type Float
    can't be cast to the desired output type Long")."""
    plain = _inplace(fn, name)

    takes_numbers = name not in ("atan2", "arctan2", "heaviside")   # (those raise TypeError)

    def method(self, other, *args, **kwargs):
        if isinstance(other, Tensor) or (takes_numbers and isinstance(other, (int, float, bool))):
            result = _dtype.result_type(self, other)
            if result.category > _dtype.from_numpy_dtype(self._data.dtype).category:
                raise RuntimeError(f"result type {_dtype.SCALAR_TYPE_NAMES[result.name]} can't "
                                   f"be cast to the desired output type {scalar_type_name(self)}")
        return plain(self, other, *args, **kwargs)
    method.__name__ = plain.__name__
    return method


def _comparison_inplace(name):
    def result(self, other):
        return getattr(self, name)(other).to(self.dtype)
    return _inplace(result, name)


def apply_(self, callable):
    """Apply the Python function ``callable`` to every element in place (CPU tensors only,
    and slow: one Python call per element)."""
    if self.is_cuda:
        raise TypeError("apply_ is only implemented on CPU tensors")
    if self._requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    flat = self._data.reshape(-1)
    values = np.fromiter((callable(v.item()) for v in flat), dtype=self._data.dtype,
                         count=flat.size)
    from ..autograd._saved_hooks import note_mutation
    note_mutation(self)
    self._data[...] = values.reshape(self._data.shape)
    self._vc[0] += 1
    return self


def sum_to_size(self, *size):
    """Sum ``self`` down to ``size``, which it must be expandable from."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(size)
    try:
        ok = np.broadcast_shapes(size, tuple(self.shape)) == tuple(self.shape)
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {{{', '.join(map(str, size))}}} is not expandable to size "
                           f"{{{', '.join(map(str, self.shape))}}}.")
    return sum_to(self, size)


def new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None,
                      requires_grad=False, pin_memory=False):
    """An uninitialised tensor of ``size`` like ``self`` (disttorch picks the strides)."""
    out = self.new_empty(tuple(size), dtype=dtype, device=device)
    return out.requires_grad_(requires_grad)


def resize_(self, *sizes, memory_format=None):
    """Resize ``self`` in place to ``sizes``, keeping its leading elements in row-major order;
    new elements are uninitialised."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    xp = get_array_module(self._data)
    flat = self._data.reshape(-1)
    data = xp.empty(tuple(sizes), self._data.dtype)
    count = min(flat.size, data.size)
    data.reshape(-1)[:count] = flat[:count]
    self._data = data
    self._vc[0] += 1
    return self


def resize_as_(self, the_template, memory_format=None):
    """Resize ``self`` in place to the shape of ``the_template``."""
    return resize_(self, tuple(the_template.shape))


def fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal of ``self`` (2-D, or N-D with equal sizes) in place; with
    ``wrap`` a tall matrix's diagonal restarts every ``ncols + 1`` rows."""
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    shape = tuple(self.shape)
    if self.dim() == 2:
        rows, cols = shape
        n = min(rows, cols)
        r = list(range(n))
        c = list(range(n))
        if wrap and rows > cols + 1:
            start = cols + 1
            while start < rows:
                extra = min(cols, rows - start)
                r += list(range(start, start + extra))
                c += list(range(extra))
                start += cols + 1
        index = (np.asarray(r, np.int64), np.asarray(c, np.int64))
    else:
        k = np.arange(shape[0])
        index = tuple(k for _ in shape)
    mask = np.zeros(shape, bool)
    mask[index] = True
    xp = get_array_module(self._data)
    mask_t = _new(mask if xp is np else xp.asarray(mask))
    return _inplace(lambda t: t.masked_fill(mask_t, fill_value), "fill_diagonal")(self)


def as_subclass(self, cls):
    """``self`` (sharing data and autograd history) as an instance of the Tensor subclass
    ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass(): argument 'cls' must be a Tensor subclass, not {cls!r}")
    out = self.view_as(self)
    out.__class__ = cls
    return out


def dim_order(self):
    """The dimensions from outermost to innermost in memory."""
    strides = self.stride()
    return tuple(sorted(range(self.dim()), key=lambda d: -strides[d]))


def _float_power_inplace(self, exponent):
    if self._data.dtype != np.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {scalar_type_name(self)} but "
                           f"the operation's result requires dtype Double")
    return _inplace(lambda t, e: t.float_power(e), "float_power")(self, exponent)


_COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
                "less_equal", "not_equal"]
_BINARY_INPLACE = {"bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or",
                   "bitwise_xor": "bitwise_xor", "logical_xor": "logical_xor",
                   "atan2": "atan2", "arctan2": "arctan2", "heaviside": "heaviside"}

_methods = {name + "_": _comparison_inplace(name) for name in _COMPARISONS
            if hasattr(Tensor, name)}
_methods.update({name + "_": _promoting_inplace(lambda t, o, _n=fn: getattr(t, _n)(o), name)
                 for name, fn in _BINARY_INPLACE.items() if hasattr(Tensor, fn)})
_methods.update({
    "bitwise_not_": _inplace(lambda t: t.bitwise_not(), "bitwise_not"),
    "logical_not_": _inplace(lambda t: t.logical_not().to(t.dtype), "logical_not"),
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    "bitwise_left_shift_": _inplace(bitwise_left_shift, "bitwise_left_shift"),
    "bitwise_right_shift_": _inplace(bitwise_right_shift, "bitwise_right_shift"),
    "float_power_": _float_power_inplace, "apply_": apply_, "sum_to_size": sum_to_size,
    "new_empty_strided": new_empty_strided, "resize_": resize_, "resize_as_": resize_as_,
    "fill_diagonal_": fill_diagonal_, "as_subclass": as_subclass, "dim_order": dim_order,
    "cfloat": lambda self: self.to(_complex(np.complex64)),
    "cdouble": lambda self: self.to(_complex(np.complex128)),
    "nextafter_": _inplace(nextafter, "nextafter"),
    "arccosh_": _inplace(acosh, "arccosh"), "arcsinh_": _inplace(asinh, "arcsinh"),
    "arctanh_": _inplace(atanh, "arctanh"),
})
for _name in ["det", "logdet", "inverse", "pinverse", "matrix_power", "cholesky", "svd", "angle",
              "arccosh", "arcsinh", "arctanh", "nextafter", "is_signed", "is_inference",
              "unsafe_chunk", "unsafe_split", "logcumsumexp", "triangular_solve", "conj",
              "conj_physical", "resolve_conj", "resolve_neg", "is_conj", "is_neg",
              "is_nonzero", "is_same_size"]:
    _methods[_name] = _method(globals()[_name])
_methods["unsafe_split_with_sizes"] = _method(split_with_sizes)
register_methods(_methods)
# << and >> on integer tensors, as PyTorch's operators
Tensor.__lshift__ = lambda self, other: bitwise_left_shift(self, other)
Tensor.__rshift__ = lambda self, other: bitwise_right_shift(self, other)
Tensor.__rlshift__ = lambda self, other: bitwise_left_shift(_like_tensor(other, self), self)
Tensor.__rrshift__ = lambda self, other: bitwise_right_shift(_like_tensor(other, self), self)
Tensor.__ilshift__ = lambda self, other: self.bitwise_left_shift_(other)
Tensor.__irshift__ = lambda self, other: self.bitwise_right_shift_(other)


def _like_tensor(number, tensor):
    """A Python number as a 0-d tensor on ``tensor``'s device (the left operand of ``2 << t``)."""
    from .creation import tensor as make
    return make(number, device=tensor.device)


Tensor.real = property(real)
Tensor.imag = property(imag)
Tensor.layout = property(lambda self: strided)
Tensor.is_meta = property(lambda self: False)
Tensor.is_mps = property(lambda self: False)
# layouts and kinds disttorch does not have: every tensor is dense, strided and unquantized
for _name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_nested", "is_mkldnn"):
    setattr(Tensor, _name, property(lambda self: False))
Tensor.conj_physical_ = lambda self: self.copy_(conj(self)) if self.is_complex() else self


def _complex(np_dtype):
    from .. import _dtype
    return _dtype.from_numpy_dtype(np.dtype(np_dtype))

_TOP_LEVEL_INPLACE = [
    "abs", "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh",
    "asin", "asinh", "atan", "atanh", "ceil", "clamp", "clamp_max", "clamp_min", "clip", "cos",
    "cosh", "deg2rad", "erf", "erfc", "exp2", "exp", "expm1", "fix", "floor", "frac", "gcd", "i0",
    "lcm", "ldexp", "log10", "log1p", "log2", "log", "logit", "nan_to_num", "neg", "negative",
    "rad2deg", "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sin", "sinc", "sinh", "sqrt",
    "square", "tan", "tanh", "trunc", "xlogy", "zero", "fill", "detach", "addmv", "resize_as"]


def _top_level_inplace(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name + "_")(*args, **kwargs)
    fn.__name__ = name + "_"
    fn.__doc__ = f"In-place version of :func:`torch.{name}` (``input.{name}_(...)``)."
    return fn


def _functional_inplace(name, signature):
    """``torch.selu_(x)``-style functions: ``nn.functional.<name>(..., inplace=True)``."""
    def fn(input, *args):
        from ..nn import functional
        return getattr(functional, name)(input, *args, inplace=True)
    fn.__name__ = name + "_"
    fn.__doc__ = f"``torch.{name}_{signature}``: :func:`torch.nn.functional.{name}` in place."
    return fn


for _name in _TOP_LEVEL_INPLACE:
    if hasattr(Tensor, _name + "_"):
        globals()[_name + "_"] = _top_level_inplace(_name)
        __all__.append(_name + "_")
for _name, _signature in [("selu", "(input)"), ("celu", "(input, alpha=1.0)"),
                          ("threshold", "(input, threshold, value)"),
                          ("rrelu", "(input, lower=1/8, upper=1/3, training=False)"),
                          ("dropout", "(input, p, train)"),
                          ("alpha_dropout", "(input, p, train)")]:
    globals()[_name + "_"] = _functional_inplace(_name, _signature)
    __all__.append(_name + "_")
