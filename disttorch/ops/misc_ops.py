"""Grids, combinatorics, block matrices, differences and integrals, covariance, histograms,
integer number theory and window functions.

Differentiable ops here are compositions of primitives, so their gradients (and double
backward) come from those primitives.
"""
import itertools
import math
import warnings

import numpy as np

from .pointwise import _inplace_unary as _inplace
from .. import _dtype
from .._backend import get_array_module, to_numpy
from ..return_types import _structseq
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import (cast, default_float, promote, register_methods, with_out, wrap_dim,
                    broadcast_error)
from .arithmetic import _out
from ..amp.autocast_mode import autocast_args
from .indexing import scalar_type_name

__all__ = ["meshgrid", "cartesian_prod", "combinations", "block_diag", "diagflat", "tril_indices",
           "triu_indices", "vander", "diff", "trapezoid", "trapz", "cumulative_trapezoid", "cov",
           "corrcoef", "gcd", "lcm", "ldexp", "frexp", "isin", "histc", "histogram", "bincount",
           "renorm", "hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]

frexp_result = _structseq("frexp", ["mantissa", "exponent"])
histogram_result = _structseq("histogram", ["hist", "bin_edges"])


def _ops():
    # the op namespace, imported late: this module is itself part of it
    from .. import ops
    return ops


def _tensor_list(tensors, name):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {tensors.index(t)} in argument 0, "
                            f"but got {type(t).__name__}")
    return tensors


def meshgrid(*tensors, indexing=None):
    r"""Coordinate grids from 1-D tensors: output ``i`` varies along dimension ``i``.

    Args:
        tensors: 1-D (or 0-D) tensors, or one list of them.
        indexing (str): ``"ij"`` (matrix indexing, the default) or ``"xy"`` (Cartesian: the first
            two dimensions are swapped).

    Example::

        >>> x, y = torch.meshgrid(torch.tensor([1, 2, 3]), torch.tensor([4, 5]), indexing="ij")
        >>> x.shape
        torch.Size([3, 2])
    """
    tensors = _tensor_list(tensors, "meshgrid")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: "
                           f"{indexing}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"{t.dim()}D")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have the same "
                           "dtype.")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors = (tensors[1], tensors[0]) + tuple(tensors[2:])
    flat = [t.reshape(-1) for t in tensors]
    shape = tuple(t.shape[0] for t in flat)
    grids = []
    for i, t in enumerate(flat):
        view = [1] * len(flat)
        view[i] = -1
        grids.append(t.view(*view).expand(*shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-D tensors, one row per combination (like
    ``itertools.product``); a single tensor is returned as it is."""
    tensors = _tensor_list(tensors, "cartesian_prod")
    for t in tensors:
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _ops().stack([g.reshape(-1) for g in grids], dim=1)


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of the elements of the 1-D ``input``, one per row (like
    ``itertools.combinations``, or ``combinations_with_replacement``)."""
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    index = np.asarray(rows, np.int64).reshape(len(rows), r)
    xp = get_array_module(input._data)
    index = _new(index if xp is np else xp.asarray(index))
    return input[index]


def block_diag(*tensors):
    """A block-diagonal matrix from 0-, 1- or 2-D tensors (promoted to a common dtype)."""
    ops = _ops()
    blocks = []
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input {i} has {t.dim()} dimensions")
        blocks.append(t.reshape(1, -1) if t.dim() < 2 else t)
    if not blocks:
        return ops.empty((1, 0))
    # promoted as PyTorch does, 0-d inputs as scalars of their category
    dtype = _dtype.result_type_from([t.dtype for t in tensors if t.dim()],
                                    [t.dtype for t in tensors if not t.dim()], ()).np_dtype
    blocks = [cast(b, dtype) for b in blocks]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        h, w = b.shape
        pieces = [b.new_zeros((h, left)), b, b.new_zeros((h, width - left - w))]
        rows.append(ops.cat(pieces, dim=1))
        left += w
    return ops.cat(rows, dim=0)


def diagflat(input, offset=0):
    """A 2-D matrix with the flattened ``input`` on its ``offset``-th diagonal."""
    return _ops().diag(input.reshape(-1), offset)


def _index_pairs(rows, cols, dtype, device):
    dtype = _dtype.int64 if dtype is None else dtype
    return _ops().tensor(np.stack([rows, cols]).astype(np.int64), dtype=dtype, device=device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The ``2 x N`` coordinates of the lower triangle (with ``offset`` diagonals) of a
    ``row x col`` matrix, in row-major order."""
    r, c = np.tril_indices(row, offset, col)
    return _index_pairs(r, c, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The ``2 x N`` coordinates of the upper triangle (from diagonal ``offset``) of a
    ``row x col`` matrix, in row-major order."""
    r, c = np.triu_indices(row, offset, col)
    return _index_pairs(r, c, dtype, device)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D ``x``: columns ``x**(N-1), ..., x**0`` (ascending with
    ``increasing=True``); ``N`` defaults to ``len(x)``."""
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "biu":
        x = cast(x, np.dtype(np.int64))  # (PyTorch computes integer powers in int64)
    columns = ([x.new_ones(x.shape)] if n else []) + [x ** k for k in range(1, n)]
    if not increasing:
        columns = columns[::-1]
    if not columns:
        return x.new_empty((x.shape[0], 0))
    return _ops().stack(columns, dim=1)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``prepend``/``append`` are joined first);
    boolean tensors use ``!=``."""
    ops = _ops()
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = wrap_dim(dim, input.dim())
    parts = [t for t in (prepend, input, append) if t is not None]
    x = ops.cat(parts, dim=dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        later, earlier = x.narrow(dim, 1, length - 1), x.narrow(dim, 0, length - 1)
        x = ops.logical_xor(later, earlier) if x._data.dtype.kind == "b" else later - earlier
    return x


def _trapezoid_parts(y, x, dx, dim, name):
    dim = wrap_dim(dim, y.dim())
    length = y.shape[dim]
    if length == 0:
        return None, None, dim
    mid = (y.narrow(dim, 1, length - 1) + y.narrow(dim, 0, length - 1)) / 2
    if x is None:
        return mid, (1 if dx is None else dx), dim
    if x.dim() == 1:
        if x.shape[0] != length:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        shape = [1] * y.dim()
        shape[dim] = length
        x = x.reshape(shape)
    widths = diff(x, dim=dim if x.dim() == y.dim() else -1)
    return mid, widths, dim


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, with sample points ``x``
    (1-D, or broadcastable to ``y``) or a constant spacing ``dx`` (default 1)."""
    if isinstance(x, (int, float)):
        x, dx = None, x
    mid, widths, dim = _trapezoid_parts(y, x, dx, dim, "trapezoid")
    if mid is None:
        return y.sum(dim)
    return (mid * widths).sum(dim)


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral of ``y`` along ``dim`` (one element shorter)."""
    if isinstance(x, (int, float)):
        x, dx = None, x
    mid, widths, dim = _trapezoid_parts(y, x, dx, dim, "cumulative_trapezoid")
    if mid is None:
        return y.clone()
    return (mid * widths).cumsum(dim)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in columns),
    optionally with integer frequency weights and real observation weights."""
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input "
                           f"with {input.dim()} dimensions")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    if x._data.dtype.kind in "biu":
        x = cast(x, default_float())
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        if fweights._data.dtype.kind not in "iu":
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        w = fweights
    if aweights is not None:
        if aweights._data.dtype.kind != "f":
            raise RuntimeError("cov(): expected aweights to have floating point dtype")
        w = aweights if w is None else w * aweights
    if w is None:
        mean = x.mean(1, keepdim=True)
        norm = n_obs - correction
        centred = x - mean
        weighted = centred
    else:
        w = cast(w, x._data.dtype)
        w_sum = w.sum()
        mean = (x * w).sum(1, keepdim=True) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * cast(aweights, x._data.dtype)).sum() / w_sum
        centred = x - mean
        weighted = centred * w
    if isinstance(norm, Tensor):
        norm = _ops().clamp(norm, min=0)
    elif norm <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than "
                      "the number of observations.", UserWarning, stacklevel=2)
        norm = 0
    result = (weighted @ centred.transpose(0, 1)) / norm
    return result.squeeze() if input.dim() < 2 else result


def corrcoef(input):
    """Pearson correlation coefficients of the variables in the rows of ``input``, clipped to
    ``[-1, 1]``."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.reshape(-1, 1) / std.reshape(1, -1)
    return _ops().clamp(c, -1, 1)


def _integer_binary(name, fn):
    def op(input, other, *, out=None):
        a, b = promote(input, other)
        if not isinstance(a, Tensor) or not isinstance(b, Tensor):
            raise TypeError(f"{name}(): argument 'other' must be Tensor")
        if a._data.dtype.kind not in "iu":
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{scalar_type_name(a)}\'')
        xp = get_array_module(a._data)
        try:
            return _out(_new(getattr(xp, fn)(a._data, b._data)), out)
        except ValueError as exc:
            raise broadcast_error(exc, a, b) from None
    op.__name__ = name
    return op


gcd = _integer_binary("gcd", "gcd")
gcd.__doc__ = "The elementwise greatest common divisor of two integer tensors (non-negative)."
lcm = _integer_binary("lcm", "lcm")
lcm.__doc__ = "The elementwise least common multiple of two integer tensors (non-negative)."


def ldexp(input, other, *, out=None):
    """``input * 2 ** other``; the result is floating point."""
    if not isinstance(other, Tensor):
        raise TypeError(f"ldexp(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    if input._data.dtype.kind in "fcV" and other._data.dtype.kind == "b":
        raise NotImplementedError("\"ldexp_cpu_exp\" not implemented for 'Bool'")
    # PyTorch's promotion of the two, made floating: float16 * 2 ** int stays float16
    common = np.dtype(_dtype.result_type(input, other).np_dtype)
    target = common if common.kind in "fcV" else default_float()
    return _out(cast(input, target) * _ops().pow(2.0, cast(other, target)), out)


class Frexp(Node):
    """``(mantissa, exponent)``; the mantissa's gradient is ``g / 2 ** exponent``."""

    def forward(self, x):
        xp = get_array_module(x)
        mantissa, exponent = xp.frexp(x)
        self.scale = xp.ldexp(xp.ones((), x.dtype), -exponent).astype(x.dtype, copy=False)
        self.mark_non_differentiable(1)
        return mantissa, exponent.astype(np.int32)

    def backward(self, g_mantissa, g_exponent):
        scale = self.scale if not isinstance(g_mantissa, Tensor) else _new(self.scale)
        return g_mantissa * scale


@with_out
def frexp(input, *, out=None):
    """Split ``input`` into mantissas in ``[0.5, 1)`` (in magnitude) and ``int32`` exponents with
    ``input == mantissa * 2 ** exponent`` (the mantissa is differentiable, as in PyTorch)."""
    if input._data.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = Frexp.apply(input)
    return frexp_result(mantissa, exponent)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each of ``elements`` occurs in ``test_elements`` (either may be a number)."""
    source = elements if isinstance(elements, Tensor) else test_elements
    xp = get_array_module(source._data)
    a = elements._data if isinstance(elements, Tensor) else xp.asarray(elements)
    b = test_elements._data if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    return _new(xp.asarray(xp.isin(a, b, invert=invert)))


def histc(input, bins=100, min=0, max=0, *, out=None):
    """A histogram of ``input`` with ``bins`` equal bins over ``[min, max]`` (the data's range
    when both are 0); elements outside are ignored. Not differentiable."""
    if input._data.dtype.kind not in "fV":   # (bfloat16 is kind "V")
        raise NotImplementedError(f'"histogram_cpu" not implemented for '
                                  f"'{scalar_type_name(input)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    data = to_numpy(input._data).ravel()
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc(): max must be larger than min, but got min {lo} max {hi}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc(): range of [{lo}, {hi}] is not finite")
    # PyTorch's bin rule, in the input's precision: int((x - min) / (max - min) * bins), with
    # x == max in the last bin (a value on an inner edge can land on either side by rounding)
    dt = data.dtype.type
    inside = data[(data >= lo) & (data <= hi)]
    index = ((inside - dt(lo)) / (dt(hi) - dt(lo)) * dt(bins)).astype(np.int64)
    counts = np.bincount(np.minimum(index, bins - 1), minlength=bins)
    xp = get_array_module(input._data)
    return _out(_new(xp.asarray(counts.astype(input._data.dtype))), out)


@with_out
def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):
    """A histogram of ``input`` as ``(hist, bin_edges)``; ``bins`` is a count or a 1-D tensor of
    increasing edges. Not differentiable."""
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"histogram_cpu" not implemented for '
                                  f"'{scalar_type_name(input)}'")
    data = to_numpy(input._data).ravel()
    edges = to_numpy(bins._data) if isinstance(bins, Tensor) else bins
    weights = None if weight is None else to_numpy(weight._data).ravel()
    hist, edges = np.histogram(data, bins=edges, range=range, weights=weights, density=density)
    xp = get_array_module(input._data)
    dt = input._data.dtype
    return histogram_result(_new(xp.asarray(hist.astype(dt))), _new(xp.asarray(edges.astype(dt))))


def bincount(input, weights=None, minlength=0):
    """Occurrences of each value in the 1-D non-negative integer tensor ``input`` (the sum of
    ``weights`` per value when given)."""
    if input._data.dtype.kind not in "iu":   # (the dtype first, as PyTorch's dispatch)
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for "
                                  f"'{scalar_type_name(input)}'")
    if input.dim() != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = get_array_module(input._data)
    if input.numel() and bool((input._data < 0).any()):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _new(xp.bincount(input._data, minlength=minlength).astype(np.int64))
    if weights.shape != input.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    index = cast(input, np.dtype(np.int64))
    size = max(minlength, int(input._data.max()) + 1 if input.numel() else 0)
    w = weights if weights._data.dtype.kind == "f" else cast(weights, np.dtype(np.float64))
    return w.new_zeros((size,)).index_add(0, index, w)


def renorm(input, p, dim, maxnorm):
    """Rescale each slice of ``input`` along ``dim`` whose ``p``-norm exceeds ``maxnorm`` to have
    norm ``maxnorm``."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    input, = autocast_args("renorm", input)
    dim = wrap_dim(dim, input.dim())
    return Renorm.apply(input, float(p), dim, float(maxnorm))


class Renorm(Node):
    """``x * maxnorm / (norm + 1e-7)`` on the slices whose ``p``-norm exceeds ``maxnorm``, ``x``
    on the others. The gradient is PyTorch's: ``g`` itself on a slice left alone (a NaN norm
    included), and through the norm only on a rescaled one."""

    def forward(self, x, p, dim, maxnorm):
        xp = get_array_module(x)
        self.p, self.dim, self.maxnorm = p, dim, maxnorm
        self.axes = tuple(d for d in range(x.ndim) if d != dim)
        norm = self._norm(xp, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = xp.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).astype(x.dtype)
        self.save_for_backward(x)
        return x * factor

    def _norm(self, xp, x):
        from .statistics import vector_norm_array
        return vector_norm_array(x, self.p, self.axes, True) if self.axes else xp.abs(x)

    def backward(self, g):
        x, = self.saved_tensors
        if isinstance(g, Tensor):   # double backward: the same rule in differentiable ops
            from ..linalg import vector_norm
            norm = vector_norm(x, self.p, dim=self.axes, keepdim=True) if self.axes else x.abs()
            scaled = x * (self.maxnorm / (norm + 1e-7))
            over = (norm > self.maxnorm).detach()
            return _ops().where(over, _grad_of(scaled, x, g), g), None, None, None
        xp = get_array_module(x)
        p, maxnorm = self.p, self.maxnorm
        norm = self._norm(xp, x)
        over = norm > maxnorm
        with np.errstate(all="ignore"):
            inv = 1.0 / (norm + 1e-7)
            # d norm / dx = sign(x) |x|^(p-1) / norm^(p-1) (max norm: the slice's largest |x|)
            if not self.axes:
                dnorm = xp.sign(x)
            elif p == math.inf:
                a = xp.abs(x)
                hit = a == norm
                dnorm = xp.sign(x) * hit / hit.sum(axis=self.axes, keepdims=True)
            else:
                dnorm = xp.sign(x) * xp.abs(x) ** (p - 1) / norm ** (p - 1)
            inner = (g * x).sum(axis=self.axes, keepdims=True) if self.axes else g * x
            scaled = maxnorm * inv * (g - inner * inv * dnorm)
        return xp.where(over, scaled, g).astype(g.dtype, copy=False), None, None, None


def _grad_of(output, input, g):
    from ..autograd import grad
    return grad(output, input, g, create_graph=True)[0]


def _window(name, window_length, periodic, dtype, device, requires_grad, values):
    if isinstance(window_length, Tensor):  # (a one-element integer tensor, as PyTorch takes)
        window_length = int(window_length.item())
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length="
                           f"{window_length}")
    dtype = _dtype.get_default_dtype() if dtype is None else dtype
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length <= 1:
        array = np.ones(window_length)
    else:
        n = window_length + 1 if periodic else window_length
        array = values(np.arange(n, dtype=np.float64), n)[:window_length]
    return _ops().tensor(array, dtype=dtype, device=device, requires_grad=requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    r"""The Hann window :math:`0.5 - 0.5 \cos(2\pi n / (N - 1))` (periodic: computed for
    ``N + 1`` points, the last dropped)."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: 0.5 - 0.5 * np.cos(2 * np.pi * k / (n - 1)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    r"""The Hamming window :math:`\alpha - \beta \cos(2\pi n / (N - 1))`."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: alpha - beta * np.cos(2 * np.pi * k / (n - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    r"""The Blackman window
    :math:`0.42 - 0.5 \cos(2\pi n / (N - 1)) + 0.08 \cos(4\pi n / (N - 1))`."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: 0.42 - 0.5 * np.cos(2 * np.pi * k / (n - 1))
                   + 0.08 * np.cos(4 * np.pi * k / (n - 1)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    r"""The Bartlett (triangular) window :math:`1 - |2n / (N - 1) - 1|`."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: 1 - np.abs(2 * k / (n - 1) - 1))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    r"""The Kaiser window :math:`I_0(\beta \sqrt{1 - ((n - \alpha) / \alpha)^2}) / I_0(\beta)`
    with :math:`\alpha = (N - 1) / 2`."""
    from .special_ops import _bessel_i_np

    def values(k, n):
        alpha = (n - 1) / 2
        arg = beta * np.sqrt(np.clip(1 - ((k - alpha) / alpha) ** 2, 0, None))
        return _bessel_i_np(arg, 0, False) / _bessel_i_np(np.asarray([beta], np.float64), 0, False)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)


register_methods({
    "diff": diff, "diagflat": diagflat, "cov": cov, "corrcoef": corrcoef, "gcd": gcd, "lcm": lcm,
    "ldexp": ldexp, "frexp": frexp, "histc": histc, "histogram": histogram, "bincount": bincount,
    "renorm": renorm, "gcd_": _inplace(gcd), "lcm_": _inplace(lcm), "ldexp_": _inplace(ldexp),
    "renorm_": _inplace(renorm),
})
