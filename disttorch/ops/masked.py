"""Masked and flat indexing: masked_fill/select/scatter, take, take_along_dim and put.

Built on the ``Index``/``IndexPut`` nodes of ``ops.indexing`` (and ``where`` for masked_fill),
so gradients and double backward come with them.

Index ranges (take, put) are checked on the host for CPU tensors and on the device for CUDA
ones, where a violation is raised at the next host read (``cuda/kernels/bounds.py``), as
PyTorch's device-side asserts are. masked_scatter's source size is checked for CPU tensors
only: on CUDA a short source is undefined behaviour instead of a host synchronisation per call.
"""
import numpy as np

from .._backend import get_array_module
from ..cuda.kernels import bounds
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim, cast, as_scalar
from .indexing import (Index, IndexPut, _put, _inplace, _source_for, _broadcastable,
                       scalar_type_name, _C_TYPE, _method)
from .shape import reshape, expand, slice_view

__all__ = ["masked_fill", "masked_select", "masked_scatter", "take", "take_along_dim", "put"]


def _bool_mask(mask, name):
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        dt = _C_TYPE.get(mask.dtype.name, mask.dtype.name) if isinstance(mask, Tensor) else \
            type(mask).__name__
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype {dt}")
    return mask


def masked_fill(input, mask, value):
    """Return ``input`` with ``value`` where ``mask`` is ``True``.

    Args:
        input (Tensor): the input tensor.
        mask (BoolTensor): broadcastable to ``input``.
        value (Number or Tensor): the fill value; a tensor must be 0-D (it gets a gradient).
    """
    from .pointwise import where
    _bool_mask(mask, "masked_fill_")
    if not _broadcastable(mask, input):
        raise _broadcast_error(mask._data.shape, input._data.shape)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        value = cast(value, input._data.dtype)
    else:
        value = _new(get_array_module(input._data).asarray(as_scalar(value), input._data.dtype))
    return where(mask, value, input)


def _broadcast_error(a, b):
    """PyTorch's error for shapes ``a`` and ``b`` that do not broadcast."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for d in range(n - 1, -1, -1):
        if a[d] != b[d] and 1 not in (a[d], b[d]):
            return RuntimeError(f"The size of tensor a ({a[d]}) must match the size of tensor b "
                                f"({b[d]}) at non-singleton dimension {d}")
    return RuntimeError(f"shapes {list(a)} and {list(b)} do not broadcast")


def _masked_fill_(self, mask, value):
    shape = self._data.shape
    if not _broadcastable(mask, self):
        raise _broadcast_error(shape, mask._data.shape)   # (in place: self is tensor a)
    full = np.broadcast_shapes(mask._data.shape, shape)
    if full != shape:
        raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                           f"{list(full)}")
    return _masked_fill_inplace(self, mask, value)


def _broadcast_mask(input, mask):
    shape = np.broadcast_shapes(input._data.shape, mask._data.shape)
    return expand(input, shape), get_array_module(mask._data).broadcast_to(mask._data, shape)


def masked_select(input, mask):
    """Return a 1-D tensor of the entries of ``input`` where ``mask`` is ``True``.

    Args:
        input (Tensor): the input tensor.
        mask (BoolTensor): broadcastable with ``input``.
    """
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    x, m = _broadcast_mask(input, mask)
    return Index.apply(x, (m,))


def masked_scatter(input, mask, source):
    """Return ``input`` with the entries where ``mask`` is ``True`` taken, in order,
    from ``source``.

    Args:
        input (Tensor): the input tensor.
        mask (BoolTensor): broadcastable with ``input``.
        source (Tensor): at least as many elements as ``mask`` has ``True`` entries.
    """
    _bool_mask(mask, "masked_scatter_")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{scalar_type_name(input)} and {scalar_type_name(source)}")
    x, m = _broadcast_mask(input, mask)
    if type(m) is not np.ndarray:
        return _masked_scatter_device(x, m, source)
    n = int(m.sum())
    if source._data.size < n:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements as "
                           "ones in mask")
    values = slice_view(reshape(source, (-1,)), (slice(0, n),))
    return IndexPut.apply(x, values, (m,))


def _masked_scatter_device(x, m, source):
    """masked_scatter without reading the mask's count back: the k-th True entry takes
    ``source``'s k-th element, found by a running count on the device (as PyTorch's CUDA kernel
    does). The gradients are those of ``where`` and ``take``."""
    from .pointwise import where
    xp = get_array_module(m)
    mask = _new(xp.ascontiguousarray(m))
    size = source._data.size
    if size == 0:
        return where(mask, x, x)  # nothing to take from (a True entry is an error in torch)
    pos = xp.cumsum(mask._data.reshape(-1), dtype=np.int64) - 1
    pos = xp.minimum(xp.maximum(pos, 0), size - 1).reshape(m.shape)
    values = Index.apply(reshape(source, (-1,)), (pos,))
    return where(mask, values, x)


# ------------------------------------------------------------------ take / put
def _flat_index(input, index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected a long tensor for index, but got "
                           f"{getattr(index, 'dtype', type(index).__name__)}")
    n = input._data.size
    idx = index._data
    if type(idx) is not np.ndarray:   # checked on the device, raised at the next host read
        bounds.check(idx, n, name, "out of range: tried to access index {index} on a tensor of "
                     "{size} elements", negative_ok=True)
    elif idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        bad = lo if lo < -n else hi if hi >= n else None
        if bad is not None:
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                             f"elements.")
    return idx


def take(input, index):
    """Return the entries of ``input``, seen as 1-D, at ``index``; the result has ``index``'s
    shape.

    Args:
        input (Tensor): the input tensor.
        index (LongTensor): flat indices (may be negative).
    """
    idx = _flat_index(input, index, "take")
    return Index.apply(reshape(input, (-1,)), (idx,))


def take_along_dim(input, indices, dim=None):
    """Return the values of ``input`` at ``indices`` along ``dim``, broadcasting the other
    dims (the flattened ``input`` when ``dim`` is None).

    Args:
        input (Tensor): the input tensor.
        indices (LongTensor): the indices, e.g. from :func:`argsort`.
        dim (int, optional): the dim to select along.
    """
    if dim is None:
        return take(input, reshape(indices, (-1,)))
    from .gather_scatter import gather
    ndim = input._data.ndim
    d = wrap_dim(dim, ndim)
    if indices._data.ndim != ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same number "
                           "of dimensions, but got " f"{ndim} dimensions for input, and "
                           f"{indices._data.ndim} dimensions for indices")
    xs, ix = list(input._data.shape), list(indices._data.shape)
    xs[d] = ix[d] = 1
    common = np.broadcast_shapes(tuple(xs), tuple(ix))
    x_shape = list(common)
    x_shape[d] = input._data.shape[d]
    i_shape = list(common)
    i_shape[d] = indices._data.shape[d]
    return gather(expand(input, tuple(x_shape)), d, expand(indices, tuple(i_shape)))


def put(input, index, source, accumulate=False):
    """``input`` with the flattened entries at ``index`` set to (or, with ``accumulate``,
    increased by) ``source``."""
    idx = _flat_index(input, index, "put")
    source = _source_for(input, source, "put")
    if source._data.size != idx.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source._data.size}, "
                           f"index.numel() = {idx.size}")
    flat = _put(reshape(input, (-1,)), (idx.reshape(-1),), reshape(source, (-1,)), accumulate)
    return reshape(flat, input._data.shape)


_masked_fill_inplace = _inplace(masked_fill)


register_methods({
    "masked_fill": _method(masked_fill), "masked_select": _method(masked_select),
    "masked_scatter": _method(masked_scatter), "take": _method(take),
    "take_along_dim": _method(take_along_dim), "put": _method(put),
    "masked_fill_": _masked_fill_, "masked_scatter_": _inplace(masked_scatter),
    "put_": _inplace(put),
})
