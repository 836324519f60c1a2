"""Reductions over dims: sum, mean, prod, max/min, amax/amin, argmax/argmin, all/any.

Backward formulas are "dual" (they run on arrays, and on Tensors under ``create_graph``) so
every differentiable reduction supports double backward. Broadcasting a gradient back over the
reduced dims is the ``_Expand`` node, whose own backward is ``Sum``: the pair differentiates
to any order without depending on the shape ops.
"""
import functools

import warnings

import numpy as np

from .. import _dtype, return_types
from .._dtype import NP_BFLOAT16, NP_LOW_FLOATS
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim, wrap_dims, cast, as_method as _method
from ..amp.autocast_mode import autocast_args
from .arithmetic import maximum, minimum, _out as _write_out

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "aminmax",
           "all", "any", "count_nonzero", "nansum", "nanmean"]

_INT64 = np.dtype(np.int64)


# ------------------------------------------------------------------ dual helpers
def _data(x):
    return x._data if isinstance(x, Tensor) else x


def _like(ref, array):
    """A constant in the same world as ``ref``: a graph-less Tensor if ``ref`` is a Tensor."""
    return _new(array) if isinstance(ref, Tensor) else array


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _numel(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class _Expand(Node):
    """Broadcast a reduced gradient back to the input's shape (the adjoint of ``Sum``)."""

    def forward(self, g, in_shape, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim
        if not keepdim:
            g = g.reshape(_keep_shape(in_shape, axes))
        # a real array: under create_graph this Tensor may become a leaf's writable .grad
        out = get_array_module(g).empty(in_shape, g.dtype)
        out[...] = g
        return out

    def backward(self, gg):
        return _sum(gg, self.axes, self.keepdim), None, None, None


def _expand(g, in_shape, axes, keepdim):
    if isinstance(g, Tensor):
        return _Expand.apply(g, in_shape, axes, keepdim)
    if not keepdim:
        g = g.reshape(_keep_shape(in_shape, axes))
    return get_array_module(g).broadcast_to(g, in_shape)


def _sum(x, axes, keepdim):
    if isinstance(x, Tensor):
        return Sum.apply(x, axes, keepdim, None)
    return x.sum(axis=axes, keepdims=keepdim)


def _mean_keep(x, axes):
    if isinstance(x, Tensor):
        return Mean.apply(x, axes, True)
    return quiet_mean(x, axes, True)


def quiet_mean(x, axes, keepdims):
    """``x.mean`` of an array, NaN for an empty slice without numpy's "Mean of empty slice"
    warning (PyTorch gives NaN silently)."""
    if x.size:
        return x.mean(axis=axes, keepdims=keepdims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return x.mean(axis=axes, keepdims=keepdims)


# ------------------------------------------------------------------ nodes
_FLOAT32 = np.dtype(np.float32)


def _low_float(dtype):
    """float16 and bfloat16 (ml_dtypes, numpy kind 'V'): accumulated in float32, as PyTorch
    does (numpy would sum them in their own precision)."""
    return dtype in NP_LOW_FLOATS


def _is_float(dtype):
    """Floating or complex, bfloat16 included (numpy gives it kind 'V')."""
    return dtype.kind in "fc" or dtype == NP_BFLOAT16


class Sum(Node):
    def forward(self, x, axes, keepdim, acc_dtype):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        if acc_dtype is None and _low_float(x.dtype):
            # accumulate half precision and bfloat16 in float32, as PyTorch does
            return get_array_module(x).asarray(
                x.sum(axis=axes, keepdims=keepdim, dtype=_FLOAT32)).astype(x.dtype)
        return x.sum(axis=axes, keepdims=keepdim, dtype=acc_dtype)

    def backward(self, g):
        return _expand(g, self.in_shape, self.axes, self.keepdim), None, None, None


class Mean(Node):
    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        if x.size == 0:   # NaN, silently as in PyTorch
            return get_array_module(x).asarray(quiet_mean(x, axes, keepdim)).astype(
                x.dtype, copy=False)
        if _low_float(x.dtype):
            return get_array_module(x).asarray(
                x.mean(axis=axes, keepdims=keepdim, dtype=_FLOAT32)).astype(x.dtype)
        return x.mean(axis=axes, keepdims=keepdim)

    def backward(self, g):
        n = _numel(self.in_shape, self.axes)
        scaled = g * (1.0 / n) if n else g
        return _expand(scaled, self.in_shape, self.axes, self.keepdim), None, None


class NanSum(Node):
    def forward(self, x, axes, keepdim, mean):
        xp = get_array_module(x)
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        keep = ~xp.isnan(x)
        weight = keep.astype(x.dtype)
        if mean:
            weight = (weight / keep.sum(axis=axes, keepdims=True)).astype(x.dtype)
        self.save_for_backward(weight)
        wide = x.astype(_FLOAT32) if _low_float(x.dtype) else x  # (accumulated in float32)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            # an all-NaN (or empty) slice's mean is NaN, silently as in PyTorch; the sum over the
            # count, not xp.nanmean, which CuPy refuses for an empty slice
            warnings.simplefilter("ignore", RuntimeWarning)
            out = xp.nansum(wide, axis=axes, keepdims=keepdim)
            if mean:
                out = out / keep.sum(axis=axes, keepdims=keepdim)
            return xp.asarray(out).astype(x.dtype, copy=False)

    def backward(self, g):
        weight, = self.saved_tensors
        return _expand(g, self.in_shape, self.axes, self.keepdim) * weight, None, None, None


class ExtremeAll(Node):
    """``amax``/``amin``, and ``max``/``min``/``median`` of all elements: ties share the
    gradient evenly (PyTorch's rule). ``reduce(xp, x, axes, keepdim)`` gives the value."""

    def forward(self, x, axes, keepdim, reduce, nan_shares=True):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.nan_shares = nan_shares
        out = reduce(get_array_module(x), x, axes, keepdim)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, y = self.saved_tensors
        weights = _tie_weights(_data(x), _data(y), self.axes, self.keepdim, self.nan_shares)
        return _expand(g, self.in_shape, self.axes, self.keepdim) * _like(g, weights), \
            None, None, None, None


def _tie_weights(x, y, axes, keepdim, nan_shares=True):
    """1/k at each of the k elements equal to their slice's extreme ``y``, 0 elsewhere. A NaN
    extreme: shared by the NaNs (``nan_shares``, PyTorch's max() and min()), or no element
    equals it and the slice's weights are NaN (0/0: PyTorch's amax and amin)."""
    if not keepdim:
        y = y.reshape(_keep_shape(x.shape, axes))
    hit = (x == y)
    if nan_shares:
        hit |= get_array_module(x).isnan(x) & (y != y)
    return (hit / hit.sum(axis=axes, keepdims=True)).astype(x.dtype)


def _index_tuple(xp, idx, axis, shape):
    """Full index arrays addressing ``idx`` (positions along ``axis``, or flat positions)."""
    if axis is None:
        return xp.unravel_index(idx, shape)
    grids = xp.ogrid[tuple(slice(0, s) for s in idx.shape)]
    return tuple(idx if d == axis else grids[d] for d in range(len(shape)))


class Gather(Node):
    """Pick ``x`` at ``idx`` along ``axis`` (``axis=None``: ``idx`` holds flat positions);
    ``squeeze`` drops ``axis`` from the result. Used for max/min/median with a dim."""

    def forward(self, x, idx, axis, squeeze):
        self.in_shape, self.idx, self.axis, self.squeeze = x.shape, idx, axis, squeeze
        out = x[_index_tuple(get_array_module(x), idx, axis, x.shape)]
        return out.squeeze(axis) if squeeze else out

    def backward(self, g):
        return _scatter_add(g, self.idx, self.axis, self.squeeze, self.in_shape), None, None, None


class ScatterAdd(Node):
    """The adjoint of ``Gather``: add ``g`` into zeros of ``in_shape`` at ``idx``."""

    def forward(self, g, idx, axis, squeeze, in_shape):
        self.idx, self.axis, self.squeeze = idx, axis, squeeze
        return _scatter_add_array(g, idx, axis, squeeze, in_shape)

    def backward(self, gg):
        if isinstance(gg, Tensor):
            return Gather.apply(gg, self.idx, self.axis, self.squeeze), None, None, None, None
        out = gg[_index_tuple(get_array_module(gg), self.idx, self.axis, gg.shape)]
        return (out.squeeze(self.axis) if self.squeeze else out), None, None, None, None


def _scatter_add_array(g, idx, axis, squeeze, in_shape):
    xp = get_array_module(g)
    if squeeze:
        g = xp.expand_dims(g, axis)
    out = xp.zeros(in_shape, g.dtype)
    xp.add.at(out, _index_tuple(xp, idx, axis, in_shape), g)
    return out


def _scatter_add(g, idx, axis, squeeze, in_shape):
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, idx, axis, squeeze, in_shape)
    return _scatter_add_array(g, idx, axis, squeeze, in_shape)


def _reduced_shape(shape, axes, keepdim):
    if keepdim:
        return _keep_shape(shape, axes)
    return tuple(s for i, s in enumerate(shape) if i not in axes)


# ------------------------------------------------------------------ argument handling
def _axes(input, dim):
    """Reduction axes for ``dim`` (None or () -> all dims; a 0-d tensor has none)."""
    ndim = input._data.ndim
    axes = wrap_dims(dim, ndim)
    return axes if ndim else ()


def reduction_api(fn):
    """Accept NumPy's ``axis``/``keepdims`` for ``dim``/``keepdim``, and ``out=`` (a tensor, or
    a tuple of tensors for named-tuple results), as PyTorch's reductions do."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not kwargs:
            return fn(*args)
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}() got both 'dim' and its alias 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            kwargs["keepdim"] = kwargs.pop("keepdims")
        out = kwargs.pop("out", None)
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if isinstance(result, tuple):
            for target, value in zip(out, result):
                _write_out(value, target)
            return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
        return _write_out(result, out)
    return wrapper


_SCALAR_TYPES = _dtype.SCALAR_TYPE_NAMES


def scalar_type_name(t):
    """PyTorch's name for a tensor's dtype in error messages (``Long``, ``Float``, ...)."""
    return _SCALAR_TYPES.get(t.dtype.name, t.dtype.name)


def _require_float(input, message):
    if not _is_float(input._data.dtype):
        raise RuntimeError(message.format(scalar_type_name(input)))


def _check_nonempty(input, axes, name):
    shape = input._data.shape
    if input._data.size == 0:
        for a in axes:
            if shape[a] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")


def _accumulate_dtype(input, dtype):
    """Cast for ``dtype=``; integer and bool inputs accumulate in int64 (PyTorch's rule)."""
    if dtype is not None:
        np_dtype = _dtype.to_numpy_dtype(dtype)
        return cast(input, np_dtype), np_dtype
    if input._data.dtype.kind in "biu":
        return input, _INT64
    return input, None


# ------------------------------------------------------------------ public ops
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum of the elements of ``input`` over ``dim`` (an int, a tuple, or all dims when None).

    Bool and integer inputs give an int64 result unless ``dtype`` is given.
    """
    input, = autocast_args("sum", input, dtype=dtype)
    if isinstance(dim, _dtype.dtype):
        dim, dtype = None, dim
    input, acc = _accumulate_dtype(input, dtype)
    out = Sum.apply(input, _axes(input, dim), keepdim, acc)
    if dim is not None and out.grad_fn is not None:
        out.grad_fn.label = "SumBackward1"   # PyTorch's sum.dim_IntList
    return out


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` treating NaN as zero."""
    if not _is_float(input._data.dtype):
        return sum(input, dim, keepdim, dtype=dtype)
    if dtype is not None:
        input = cast(input, _dtype.to_numpy_dtype(dtype))
    return NanSum.apply(input, _axes(input, dim), keepdim, False)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim``; the input (or ``dtype``) must be floating point or complex."""
    if dtype is not None:
        input = cast(input, _dtype.to_numpy_dtype(dtype))
    _require_float(input, "mean(): could not infer output dtype. Input dtype must be either a "
                          "floating point or complex dtype. Got: {}")
    return Mean.apply(input, _axes(input, dim), keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim`` of the non-NaN elements."""
    if dtype is not None:
        input = cast(input, _dtype.to_numpy_dtype(dtype))
    _require_float(input, "nanmean(): expected input to have floating point or complex dtype but "
                          "got {}")
    return NanSum.apply(input, _axes(input, dim), keepdim, True)


class _ExclusiveProd(Node):
    """For each element, the product of the other elements along ``axis`` (``None``: all).

    The gradient of ``prod``; computed with cumulative products so zeros are handled exactly.
    """

    def forward(self, x, axis):
        self.axis, self.shape = axis, x.shape
        out = _exclusive_prod_array(x, axis)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, e = self.saved_tensors
        if not (_data(x) == 0).any():
            # d e_i / d x_j = e_i / x_j for i != j
            axes = tuple(range(len(self.shape))) if self.axis is None else (self.axis,)
            return (_sum(g * e, axes, True) - g * e) / x, None
        # pair[..., i, j] = product over k not in {i, j}: O(n^2), only on this zero path
        from .linalg import _einsum
        xm = _to_last(x, self.axis)
        n = xm.shape[-1]
        eye = get_array_module(_data(x)).eye(n, dtype=_data(x).dtype)
        others = _others_matrix(xm, eye)
        pair = _exclusive_prod(others, len(others.shape) - 1) * _like(g, 1 - eye)
        out = _einsum("...i,...ij->...j", _to_last(g, self.axis), pair)
        return _from_last(out, self.axis, self.shape), None


def _to_last(x, axis):
    """``x`` flattened (``axis`` None) or with ``axis`` moved last; arrays or Tensors."""
    if axis is None:
        return x.reshape((-1,))
    if isinstance(x, Tensor):
        return x.movedim(axis, -1)
    return get_array_module(x).moveaxis(x, axis, -1)


def _from_last(x, axis, shape):
    if axis is None:
        return x.reshape(shape)
    if isinstance(x, Tensor):
        return x.movedim(-1, axis)
    return get_array_module(x).moveaxis(x, -1, axis)


def _others_matrix(xm, eye):
    """``m[..., i, k] = xm[..., k]`` with the diagonal set to 1 (``eye``: the identity)."""
    n = xm.shape[-1]
    full = tuple(xm.shape[:-1]) + (n, n)
    rows = _expand(xm, full, (len(full) - 2,), False)
    return rows + _like(xm, eye) - rows * _like(xm, eye)


def _exclusive_prod_array(x, axis):
    xp = get_array_module(x)
    if x.size == 0:   # an empty product: nothing to differentiate
        return xp.zeros_like(x)
    xm = x.reshape(-1) if axis is None else xp.moveaxis(x, axis, -1)
    ones = xp.ones(xm.shape[:-1] + (1,), xm.dtype)
    left = xp.concatenate([ones, xp.cumprod(xm[..., :-1], axis=-1)], axis=-1)
    right = xp.concatenate([xp.cumprod(xm[..., :0:-1], axis=-1)[..., ::-1], ones], axis=-1)
    out = left * right
    return out.reshape(x.shape) if axis is None else xp.moveaxis(out, -1, axis)


def _exclusive_prod(x, axis):
    if isinstance(x, Tensor):
        return _ExclusiveProd.apply(x, axis)
    return _exclusive_prod_array(x, axis)


class Prod(Node):
    def forward(self, x, axis, keepdim, acc_dtype):
        self.in_shape, self.axis, self.keepdim = x.shape, axis, keepdim
        self.save_for_backward(x)
        return x.prod(axis=axis, keepdims=keepdim, dtype=acc_dtype)

    def backward(self, g):
        x, = self.saved_tensors
        axes = tuple(range(len(self.in_shape))) if self.axis is None else (self.axis,)
        others = _exclusive_prod(x, self.axis)
        return _expand(g, self.in_shape, axes, self.keepdim) * others, None, None, None


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of the elements over ``dim`` (one dim, or all when None); exact gradients
    even when the input contains zeros."""
    input, = autocast_args("prod", input, dtype=dtype)
    input, acc = _accumulate_dtype(input, dtype)
    axis = None if dim is None or input._data.ndim == 0 else wrap_dim(dim, input._data.ndim)
    return Prod.apply(input, axis, keepdim, acc)


def _amax(xp, x, axes, keepdim):
    return xp.amax(x, axis=axes, keepdims=keepdim)


def _amin(xp, x, axes, keepdim):
    return xp.amin(x, axis=axes, keepdims=keepdim)


def _extreme(input, dim, keepdim, is_max, name):
    axes = _axes(input, dim)
    if input._data.size == 0 and (dim is None or dim == ()):
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           f"== 0. Specify the reduction dim with the 'dim' argument.")
    _check_nonempty(input, axes, name)
    return ExtremeAll.apply(input, axes, keepdim, _amax if is_max else _amin,
                            name not in ("amax", "amin"))


def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all dims when empty); ties share the gradient evenly."""
    return _extreme(input, dim, keepdim, True, "amax")


def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all dims when empty); ties share the gradient evenly."""
    return _extreme(input, dim, keepdim, False, "amin")


def _arg_extreme(xp, data, axis, is_max):
    """Index of the max/min along ``axis`` (first occurrence; NaN counts as the extreme)."""
    fn = xp.argmax if is_max else xp.argmin
    return fn(data, axis=axis, keepdims=True).astype(_INT64)


def _max_min(input, dim, keepdim, other, is_max):
    name = "max" if is_max else "min"
    if isinstance(dim, Tensor):
        dim, other = None, dim
    if other is not None:
        return maximum(input, other) if is_max else minimum(input, other)
    if dim is None:
        return _extreme(input, None, False, is_max, name)
    data = input._data
    axis = wrap_dim(dim, data.ndim)
    if data.ndim == 0:
        zero = get_array_module(data).zeros((), _INT64)
        return getattr(return_types, name)(Gather.apply(input, zero, None, False), _new(zero))
    _check_nonempty(input, (axis,), name)
    idx = _arg_extreme(get_array_module(data), data, axis, is_max)
    values = Gather.apply(input, idx, axis, not keepdim)
    return getattr(return_types, name)(values, _new(idx if keepdim else idx.squeeze(axis)))


def max(input, dim=None, keepdim=False, *, other=None):
    """``max(input)``: the largest element; ``max(input, dim, keepdim=False)``: a named tuple
    ``(values, indices)``; ``max(input, other)``: :func:`maximum`."""
    return _max_min(input, dim, keepdim, other, True)


def min(input, dim=None, keepdim=False, *, other=None):
    """``min(input)``, ``min(input, dim, keepdim=False) -> (values, indices)``, or
    ``min(input, other)`` (:func:`minimum`)."""
    return _max_min(input, dim, keepdim, other, False)


def _argmaxmin(input, dim, keepdim, is_max):
    data = input._data
    xp = get_array_module(data)
    name = "argmax" if is_max else "argmin"
    if data.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        if data.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                             f"== 0.")
        idx = _arg_extreme(xp, data.reshape(-1), 0, is_max).reshape(())
        return _new(idx.reshape((1,) * data.ndim) if keepdim else idx)
    axis = wrap_dim(dim, data.ndim)
    if data.ndim == 0:
        return _new(xp.zeros((), _INT64))
    _check_nonempty(input, (axis,), name)
    idx = _arg_extreme(xp, data, axis, is_max)
    return _new(idx if keepdim else idx.squeeze(axis))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened input when ``dim`` is None)."""
    return _argmaxmin(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened input when ``dim`` is None)."""
    return _argmaxmin(input, dim, keepdim, False)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (all dims when None) as a named tuple."""
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity")
        return return_types.aminmax(_extreme(input, None, keepdim, False, "aminmax"),
                                    _extreme(input, None, keepdim, True, "aminmax"))
    axis = wrap_dim(dim, input._data.ndim)
    if input._data.ndim and input._data.shape[axis] == 0:
        raise IndexError(f"aminmax: Expected reduction dim {axis} to have non-zero size.")
    return return_types.aminmax(amin(input, dim, keepdim), amax(input, dim, keepdim))


def _logical_reduce(input, dim, keepdim, fn_name):
    data = input._data
    xp = get_array_module(data)
    axes = _axes(input, dim)
    out = getattr(xp, fn_name)(data, axis=axes, keepdims=keepdim)
    return _new(xp.asarray(out).astype(xp.uint8 if data.dtype == np.uint8 else bool, copy=False))


def all(input, dim=None, keepdim=False):
    """True if every element over ``dim`` is nonzero (uint8 input gives uint8)."""
    return _logical_reduce(input, dim, keepdim, "all")


def any(input, dim=None, keepdim=False):
    """True if some element over ``dim`` is nonzero (uint8 input gives uint8)."""
    return _logical_reduce(input, dim, keepdim, "any")


def count_nonzero(input, dim=None):
    """Number of nonzero elements over ``dim`` (int64)."""
    data = input._data
    xp = get_array_module(data)
    return _new(xp.asarray((data != 0).sum(axis=_axes(input, dim)), dtype=_INT64))


for _name in __all__:
    globals()[_name] = reduction_api(globals()[_name])
register_methods({name: _method(globals()[name]) for name in __all__})
