"""gather, scatter, scatter_add and scatter_reduce (and their in-place forms).

An ``index`` tensor along ``dim`` is turned into a full numpy advanced index (broadcast
``arange`` for the other dims), so these ops reuse ``Index``/``IndexPut``/``IndexPutAccumulate``
of ``ops.indexing`` and share their gradients.

Index ranges are checked with PyTorch's messages. On CUDA, PyTorch's kernels assert
asynchronously instead of reading the indices back; here a kernel checks them on the device
(``cuda/kernels/bounds.py``) and a violation is raised at the next host read.
"""
import numpy as np

from .._backend import get_array_module
from ..amp.autocast_mode import autocast_args
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim, device_mismatch, cast, as_method as _method
from .indexing import (Index, IndexPut, IndexPutAccumulate, index_dual, _inplace, _value_for,
                       _zero_at)
from .shape import slice_view
from ._ufunc_compat import ufunc_at
from ..cuda.kernels import bounds

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_reduce", "select_scatter",
           "slice_scatter", "diagonal_scatter"]


def _full_index(input, dim, index, name, check=True):
    """Validate ``index`` for ``input`` and return (dim, numpy advanced index tuple).

    ``check=False`` skips the range check, for indices made internally (sort, topk)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if type(index._data) is not type(input._data):
        raise device_mismatch(input, index)
    x_shape, i_shape = input._data.shape, index._data.shape
    ndim = max(len(x_shape), 1)
    d = wrap_dim(dim, len(x_shape))
    if len(i_shape) != len(x_shape) and index._data.size:
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if name == 'gather' else 'self'} tensor")
    for k, (a, b) in enumerate(zip(i_shape, x_shape)):
        if k != d and a > b:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(i_shape)} to be no larger than self {list(x_shape)} apart "
                               f"from dimension {d}")
    idx = index._data
    size = x_shape[d] if x_shape else 1
    if check and type(idx) is np.ndarray:
        if idx.size:
            lo, hi = int(idx.min()), int(idx.max())
            if lo < -size or hi >= size:
                raise RuntimeError(f"index {hi if hi >= size else lo} is out of bounds for "
                                   f"dimension {d} with size {size}")
    elif check:   # on the device: see the module notes
        bounds.check(idx, size, name, "index {index} is out of bounds for dimension {dim} with "
                     "size {size}", dim=d, negative_ok=True)
    xp = get_array_module(idx)
    if not x_shape:
        # a 0-d tensor has a single element: every valid index selects it
        return d, (Ellipsis,)
    full = []
    for k, n in enumerate(i_shape):
        if k == d:
            full.append(idx)
        else:
            full.append(xp.arange(n).reshape((1,) * k + (n,) + (1,) * (ndim - k - 1)))
    return d, tuple(full)


def gather(input, dim, index, *, sparse_grad=False, out=None):
    """Gather values of ``input`` along ``dim`` at ``index``.

    For a 3-D tensor with ``dim=1``: ``out[i][j][k] = input[i][index[i][j][k]][k]``. The result
    has ``index``'s shape; its gradient is scatter-added back into ``input``.

    Args:
        input (Tensor): the source tensor.
        dim (int): the dim to index along.
        index (LongTensor): same number of dims as ``input``, no larger in the other dims.
        sparse_grad (bool): accepted for compatibility; gradients are dense.
        out (Tensor, optional): the output tensor.
    """
    _, idx = _full_index(input, dim, index, "gather")
    result = Index.apply(input, idx)
    if out is not None:
        from .arithmetic import _out
        return _out(result, out)
    return result


def gather_trusted(input, dim, index):
    """:func:`gather` at indices known to be in range (made internally, e.g. by a sort): no
    range check, which on the host costs a pass over the indices."""
    _, idx = _full_index(input, dim, index, "gather", check=False)
    return Index.apply(input, idx)


def _src_region(src, index):
    """``src`` cut to ``index``'s shape (scatter reads only that corner of ``src``)."""
    if src._data.shape == index._data.shape:
        return src
    if src._data.ndim != index._data.ndim or any(
            a > b for a, b in zip(index._data.shape, src._data.shape)):
        raise RuntimeError(f"Expected index {list(index._data.shape)} to be no larger than src "
                           f"{list(src._data.shape)} in any dimension")
    return slice_view(src, tuple(slice(0, n) for n in index._data.shape))


def _src_for(input, src, name):
    if type(src._data) is not type(input._data):
        raise device_mismatch(input, src)
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
    return src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Return ``input`` with ``src`` (or the number ``value``) written at ``index`` along
    ``dim``: for ``dim=0``, ``out[index[i][j]][j] = src[i][j]``.

    Args:
        input (Tensor): the destination tensor.
        dim (int): the dim to index along.
        index (LongTensor): where to write; ``src`` is read in ``index``'s shape.
        src (Tensor or Number): the values.
        value (Number): the value, when ``src`` is not given.
        reduce (str, optional): ``'add'`` or ``'multiply'`` to combine with the current values.
    """
    if src is None:
        src = value
    _, idx = _full_index(input, dim, index, "scatter")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        if not isinstance(src, Tensor):
            src = _new(get_array_module(input._data).full(index._data.shape, src,
                                                          input._data.dtype))
        src = _src_region(_src_for(input, src, "scatter_reduce"), index)
        return ScatterReduce.apply(input, src, idx, "sum" if reduce == "add" else "prod", True)
    if isinstance(src, Tensor):
        src = _src_region(_src_for(input, src, "scatter"), index)
        return IndexPut.apply(input, src, idx)
    return IndexPut.apply(input, _value_for(input, src), idx)


def scatter_add(input, dim, index, src):
    """Return ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate).

    Args:
        input (Tensor): the destination tensor.
        dim (int): the dim to index along.
        index (LongTensor): where to add; ``src`` is read in ``index``'s shape.
        src (Tensor): the values to add.
    """
    input, src = autocast_args("scatter_add", input, src)
    return _scatter_add(input, dim, index, src)


def _scatter_add(input, dim, index, src):
    """:func:`scatter_add` without autocast (``scatter_add_``: in-place ops are not autocast)."""
    _, idx = _full_index(input, dim, index, "scatter_add")
    src = _src_region(_src_for(input, src, "scatter_add"), index)
    return IndexPutAccumulate.apply(input, src, idx)


_IDENTITY = {"sum": 0, "mean": 0, "prod": 1}
_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _extreme(dtype, reduce):
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    if reduce == "amax":
        return -np.inf if dtype.kind == "f" else info.min
    return np.inf if dtype.kind == "f" else info.max


class ScatterReduce(Node):
    def forward(self, x, src, index, reduce, include_self):
        xp = get_array_module(x)
        self.index, self.reduce, self.include_self = index, reduce, include_self
        out = x.copy()
        touched = xp.zeros(x.shape, bool)
        touched[index] = True
        if not include_self:
            out[index] = _IDENTITY[reduce] if reduce in _IDENTITY else _extreme(x.dtype, reduce)
        ufunc_at(xp, _UFUNC[reduce], out, index, src)
        counts = None
        if reduce == "mean":
            counts = xp.full(x.shape, 1 if include_self else 0, x.dtype)
            xp.add.at(counts, index, xp.ones(src.shape, x.dtype))
            counts = xp.maximum(counts, 1)
            out = out // counts if x.dtype.kind in "iu" else out / counts
        self.save_for_backward(x, src, out, touched, counts)
        return out

    def backward(self, g):
        x, src, out, touched, counts = self.saved_tensors
        index, reduce = self.index, self.reduce
        wrap = isinstance(g, Tensor)
        saved = (x, src, out)
        arrays = [a._data if isinstance(a, Tensor) else a for a in (x, src, out, touched, counts)]
        x, src, out, touched, counts = arrays
        xp = get_array_module(x)
        if reduce in ("sum", "mean"):
            w_self = 1 / counts if reduce == "mean" else None
            w_src = index_dual(1 / counts, index) if reduce == "mean" else None
        elif reduce == "prod" and wrap:
            # double backward: the weights (products of the other factors) depend on the inputs
            if not (x.all() and src.all()):
                raise RuntimeError("double backward of scatter_reduce/index_reduce with "
                                   "reduce='prod' is not supported when a factor is zero")
            x_t, src_t, out_t = saved
            w_self = out_t / x_t if self.include_self else None
            w_src = index_dual(out_t, index) / src_t
            return self._apply_weights(g, w_self, w_src)
        elif reduce == "prod":
            w_self, w_src = _prod_weights(xp, x, src, index, self.include_self)
            if not self.include_self:
                w_self = None
        else:
            self_hit = (x == out) & (~touched if not self.include_self else True)
            src_hit = src == out[index]
            count = self_hit.astype(x.dtype)
            xp.add.at(count, index, src_hit.astype(x.dtype))
            w_self = self_hit / xp.maximum(count, 1)
            w_src = src_hit / xp.maximum(count, 1)[index]
        if wrap:
            w_self = None if w_self is None else _new(w_self)
            w_src = None if w_src is None else _new(w_src)
        return self._apply_weights(g, w_self, w_src)

    def _apply_weights(self, g, w_self, w_src):
        e = self.next_edges
        gx = gs = None
        if e[0] is not None:
            gx = g if w_self is None else g * w_self
            if not self.include_self:
                gx = _zero_at(gx, self.index)
        if e[1] is not None:
            gs = index_dual(g, self.index)
            if w_src is not None:
                gs = gs * w_src
        return gx, gs, None, None, None


def _prod_weights(xp, x, src, index, include_self):
    """d(out)/d(x) and d(out)/d(src) of a scatter product: the product of the other factors,
    computed without dividing by zero factors."""
    zeros = xp.zeros(x.shape, np.int64)
    nonzero = xp.where(x == 0, 1, x) if include_self else xp.ones_like(x)
    if include_self:
        zeros += x == 0
    xp.add.at(zeros, index, (src == 0).astype(np.int64))
    ufunc_at(xp, "multiply", nonzero, index, xp.where(src == 0, 1, src))

    def others(values, zeros_here, nonzero_here):
        others_zero = zeros_here - (values == 0)
        return xp.where(others_zero > 0, 0,
                        nonzero_here / xp.where(values == 0, 1, values)).astype(x.dtype)

    return others(x, zeros, nonzero), others(src, zeros[index], nonzero[index])


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into ``input`` at ``index`` along ``dim``.

    Args:
        input (Tensor): the destination tensor.
        dim (int): the dim to index along.
        index (LongTensor): where each value of ``src`` goes.
        src (Tensor): the values to reduce.
        reduce (str): ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``.
        include_self (bool): whether ``input``'s values take part. Default: ``True``.
    """
    if reduce not in _UFUNC:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    _, idx = _full_index(input, dim, index, "scatter_reduce")
    src = _src_region(_src_for(input, src, "scatter_reduce"), index)
    return ScatterReduce.apply(input, src, idx, reduce, include_self)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce the slices of ``source`` into ``input`` at ``index`` along ``dim`` with ``reduce``
    in ``'prod' | 'mean' | 'amax' | 'amin'``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin "
                           f"but got {reduce}.")
    from .indexing import _dim_index, _source_for, _check_source_shape
    source = _source_for(input, source, "index_reduce")
    d, idx = _dim_index(input, dim, index, "index_reduce")
    source = _check_source_shape(input, d, index, source, "index_reduce")
    return ScatterReduce.apply(input, source, idx, reduce, include_self)


def _embed(input, src, index, name="slice"):
    """``input`` with ``src`` written at the basic ``index`` (the *_scatter ops)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"argument 'src' must be Tensor, not {type(src).__name__}")
    want = input._data[index].shape
    if src._data.shape != want:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src._data.shape)}, slice size = {list(want)}")
    if src._data.dtype != input._data.dtype and type(src._data) is type(input._data):
        src = cast(src, input._data.dtype)  # (these three cast src, unlike scatter)
    return IndexPut.apply(input, _src_for(input, src, f"{name}_scatter"), index)


def select_scatter(input, src, dim, index):
    """``input`` with ``src`` embedded at ``index`` of dim ``dim`` (the inverse of
    :func:`select`)."""
    d = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {d}")
    return _embed(input, src, (slice(None),) * d + (index % size, Ellipsis), "select")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``src`` embedded at ``start:end:step`` of dim ``dim``."""
    d = wrap_dim(dim, input._data.ndim)
    return _embed(input, src, (slice(None),) * d + (slice(start, end, step),))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with ``src`` embedded along the diagonal of dims ``dim1``, ``dim2`` (the last
    dim of ``src`` runs along the diagonal)."""
    ndim = input._data.ndim
    d1, d2 = wrap_dim(dim1, ndim), wrap_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = input._data.shape
    n = max(0, min(shape[d1] - max(-offset, 0), shape[d2] - max(offset, 0)))
    xp = get_array_module(input._data)
    rest = [k for k in range(ndim) if k not in (d1, d2)]
    diag = xp.arange(n)
    index = [None] * ndim
    for pos, k in enumerate(rest):
        index[k] = xp.arange(shape[k]).reshape((-1,) + (1,) * (len(rest) - pos))
    index[d1] = diag + max(-offset, 0)
    index[d2] = diag + max(offset, 0)
    return _embed(input, src, tuple(index), "diagonal")


register_methods({
    "gather": _method(gather), "scatter": _method(scatter), "scatter_add": _method(scatter_add),
    "scatter_reduce": _method(scatter_reduce), "scatter_": _inplace(scatter),
    "scatter_add_": _inplace(_scatter_add, "scatter_add"),
    "scatter_reduce_": _inplace(scatter_reduce),
    "index_reduce": _method(index_reduce), "index_reduce_": _inplace(index_reduce),
    "select_scatter": _method(select_scatter), "slice_scatter": _method(slice_scatter),
    "diagonal_scatter": _method(diagonal_scatter),
})
