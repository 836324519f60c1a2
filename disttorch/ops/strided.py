"""Strided views: ``as_strided`` and ``Tensor.unfold`` (sliding windows).

Strides count elements of the input in row-major order (for a contiguous input that is
PyTorch's storage). The backward scatter-adds into the input's shape, so overlapping windows
accumulate; it is linear and dual (double backward).
"""
import numpy as np

from ._ufunc_compat import bincount
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim
from .shape import mark_view

__all__ = ["as_strided"]


class AsStrided(Node):
    """``as_strided`` on the row-major elements of ``x``; backward scatter-adds into ``x``."""

    def forward(self, x, size, stride, offset):
        xp = get_array_module(x)
        self.in_shape = x.shape
        self.positions = _strided_positions(xp, size, stride, offset)
        return _strided(x, size, stride, offset)

    def backward(self, g):
        return _strided_grad(g, self.in_shape, self.positions), None, None, None


def _strided(x, size, stride, offset):
    xp = get_array_module(x)
    flat = xp.ascontiguousarray(x).reshape(-1)[offset:]
    return xp.lib.stride_tricks.as_strided(flat, size, tuple(s * x.itemsize for s in stride))


def _strided_positions(xp, size, stride, offset):
    pos = xp.asarray(offset, dtype=xp.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        axis = xp.arange(n, dtype=xp.int64) * s
        pos = pos + axis.reshape((n,) + (1,) * (len(size) - d - 1))
    return xp.broadcast_to(pos, tuple(size))


def _strided_grad(g, shape, positions):
    if isinstance(g, Tensor):
        return AsStridedGrad.apply(g, shape, positions)
    return scatter_add_flat(g, int(np.prod(shape)), positions).reshape(shape)


def scatter_add_flat(values, n, positions):
    """A length-``n`` array with ``values`` summed at flat ``positions`` (duplicates add up)."""
    xp = get_array_module(values)
    pos = positions.reshape(-1)
    vals = values.reshape(-1)
    if vals.dtype.kind == "f":
        return bincount(xp, pos, vals, n).astype(vals.dtype, copy=False)
    out = xp.zeros(n, vals.dtype)
    xp.add.at(out, pos, vals)
    return out


class AsStridedGrad(Node):
    def forward(self, g, shape, positions):
        self.positions = positions
        return scatter_add_flat(g, int(np.prod(shape)), positions).reshape(shape)

    def backward(self, gg):
        pos = self.positions
        if isinstance(gg, Tensor):
            from .masked import take
            return take(gg, _new(pos)), None, None
        return gg.reshape(-1)[pos], None, None


def _row_major_strides(shape):
    return tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape)))


def unfold(self, dimension, size, step):
    """Return a view of all windows of ``size`` elements, ``step`` apart, along ``dimension``.

    The windows form a new last dim of size ``size``; dim ``dimension`` gets
    ``(self.size(dimension) - size) // step + 1`` entries. Gradients of overlapping windows add up.

    Args:
        dimension (int): the dim to slide along.
        size (int): the window length.
        step (int): the distance between window starts.
    """
    shape = list(self._data.shape)
    d = wrap_dim(dimension, len(shape)) if shape else 0
    n = shape[d] if shape else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    strides = list(_row_major_strides(shape))
    inner = strides[d] if shape else 1
    if shape:
        shape[d] = (n - size) // step + 1
        strides[d] *= step
    new_shape, new_strides = tuple(shape) + (size,), tuple(strides) + (inner,)
    out = AsStrided.apply(self, new_shape, new_strides, 0)
    if not self._data.flags.c_contiguous:
        return out
    return mark_view(out, self, lambda a: _strided(a, new_shape, new_strides, 0))


def as_strided(input, size, stride, storage_offset=0):
    """A view into ``input`` with the given ``size``, ``stride`` and ``storage_offset``.

    Strides and the offset count elements of ``input`` in row-major order; for a contiguous
    ``input`` that is PyTorch's storage, for a non-contiguous one it is its contiguous copy (the
    result is then a copy). Gradients of elements reached more than once add up.

    Args:
        input (Tensor): the input tensor.
        size (tuple of int): the shape of the result.
        stride (tuple of int): the stride of each result dim, in elements.
        storage_offset (int): the element where the result starts. Default: 0.
    """
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    numel = input._data.size
    needed = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    if needed > numel:
        itemsize = input._data.itemsize
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {storage_offset}, and itemsize {itemsize} requiring a storage "
                           f"size of {needed * itemsize} are out of bounds for storage of size "
                           f"{numel * itemsize}")
    out = AsStrided.apply(input, size, stride, int(storage_offset))
    if not input._data.flags.c_contiguous:
        return out
    return mark_view(out, input, lambda a: _strided(a, size, stride, int(storage_offset)))


register_methods({
    "unfold": unfold,
    "as_strided": lambda self, size, stride, storage_offset=0: as_strided(self, size, stride,
                                                                          storage_offset),
})
