"""Scans along one dim: cumsum, cumprod, cummax, cummin."""

import numpy as np

from .. import _dtype, return_types
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim, cast
from ..amp.autocast_mode import autocast_args
from .pointwise import _inplace_unary
from ._ufunc_compat import accumulate
from .reduction import (reduction_api, Gather, _data, _like, _low_float, _method,
                        _others_matrix, _to_last,
                        _from_last, _INT64)

__all__ = ["cumsum", "cumprod", "cummax", "cummin"]


def _reverse_cumsum(xp, x, axis):
    flip = (slice(None),) * axis + (slice(None, None, -1),)
    return xp.cumsum(x[flip], axis=axis)[flip]


class Cumsum(Node):
    """Cumulative sum along ``axis``; ``reverse`` sums from the end (its own adjoint)."""

    def forward(self, x, axis, reverse, acc_dtype):
        self.axis, self.reverse = axis, reverse
        xp = get_array_module(x)
        if acc_dtype is None and _low_float(x.dtype):
            # half precision and bfloat16 accumulate in float32 and round each sum once, as
            # PyTorch's
            return self.forward(x.astype(np.float32), axis, reverse, None).astype(x.dtype)
        if reverse:
            return _reverse_cumsum(xp, x if acc_dtype is None else x.astype(acc_dtype), axis)
        return xp.cumsum(x, axis=axis, dtype=acc_dtype)

    def backward(self, g):
        return _cumsum(g, self.axis, not self.reverse), None, None, None


def _cumsum(x, axis, reverse):
    if isinstance(x, Tensor):
        return Cumsum.apply(x, axis, reverse, None)
    xp = get_array_module(x)
    return _reverse_cumsum(xp, x, axis) if reverse else xp.cumsum(x, axis=axis)


class Cumprod(Node):
    def forward(self, x, axis, acc_dtype):
        self.axis = axis
        if acc_dtype is None and _low_float(x.dtype):  # (in float32, as cumsum)
            out = get_array_module(x).cumprod(x.astype(np.float32), axis=axis).astype(x.dtype)
        else:
            out = get_array_module(x).cumprod(x, axis=axis, dtype=acc_dtype)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, y = self.saved_tensors
        axis = self.axis
        if not (_data(x) == 0).any():
            # dy_i/dx_j = y_i / x_j for i >= j
            return _cumsum(g * y, axis, True) / x, None, None
        # prods[..., j, i] = product of x_k for k <= i, k != j: O(n^2), only on this zero path
        from .linalg import _einsum
        xm = _to_last(x, axis)
        n = xm.shape[-1]
        xp = get_array_module(_data(x))
        dtype = _data(x).dtype
        others = _others_matrix(xm, xp.eye(n, dtype=dtype))
        prods = Cumprod.apply(others, len(others.shape) - 1, None) if isinstance(others, Tensor) \
            else xp.cumprod(others, axis=-1)
        upper = _like(g, xp.triu(xp.ones((n, n), dtype=dtype)))
        out = _einsum("...i,...ji->...j", _to_last(g, axis), prods * upper)
        return _from_last(out, axis, None), None, None


def _scan_dtype(input, dtype):
    if dtype is not None:
        np_dtype = _dtype.to_numpy_dtype(dtype)
        return cast(input, np_dtype), np_dtype
    if input._data.dtype.kind in "biu":
        return input, _INT64
    return input, None


def _scan_axis(input, dim):
    ndim = input._data.ndim
    return wrap_dim(dim, ndim) if ndim else None


def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along ``dim``; bool and integer inputs give int64."""
    input, = autocast_args("cumsum", input, dtype=dtype)
    input, acc = _scan_dtype(input, dtype)
    axis = _scan_axis(input, dim)
    if axis is None:
        return Gather.apply(input, get_array_module(input._data).zeros((), _INT64), None, False) if acc is None else \
            _new(input._data.astype(acc))
    return Cumsum.apply(input, axis, False, acc)


def cumprod(input, dim, *, dtype=None):
    """Cumulative product along ``dim``; its gradient is exact when the input has zeros."""
    input, = autocast_args("cumprod", input, dtype=dtype)
    input, acc = _scan_dtype(input, dtype)
    axis = _scan_axis(input, dim)
    if axis is None:
        return Gather.apply(input, get_array_module(input._data).zeros((), _INT64), None, False) if acc is None else \
            _new(input._data.astype(acc))
    return Cumprod.apply(input, axis, acc)


def _cum_extreme(input, dim, is_max):
    data = input._data
    xp = get_array_module(data)
    name = "cummax" if is_max else "cummin"
    axis = _scan_axis(input, dim)
    if axis is None:
        zero = xp.zeros((), _INT64)
        return getattr(return_types, name)(Gather.apply(input, zero, None, False), _new(zero))
    running = accumulate(xp, "maximum" if is_max else "minimum", data, axis)
    # the latest position whose value equals the running extreme (PyTorch's tie rule)
    hit = data == running
    if data.dtype.kind in "fcV":   # (bfloat16 is kind "V")
        hit |= xp.isnan(data)
    shape = [1] * data.ndim
    shape[axis] = data.shape[axis]
    positions = xp.arange(data.shape[axis], dtype=_INT64).reshape(shape)
    idx = accumulate(xp, "maximum", xp.where(hit, positions, 0), axis)
    return getattr(return_types, name)(Gather.apply(input, idx, axis, False), _new(idx))


def cummax(input, dim):
    """Running maximum along ``dim`` and the index where each value occurred."""
    return _cum_extreme(input, dim, True)


def cummin(input, dim):
    """Running minimum along ``dim`` and the index where each value occurred."""
    return _cum_extreme(input, dim, False)


for _name in __all__:
    globals()[_name] = reduction_api(globals()[_name])
_methods = {name: _method(globals()[name]) for name in __all__}
_methods.update({"cumsum_": _inplace_unary(cumsum), "cumprod_": _inplace_unary(cumprod)})
register_methods(_methods)
