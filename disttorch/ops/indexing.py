"""Indexing: ``__getitem__``/``__setitem__``, index_select/add/copy/fill/put, nonzero and
``copy_``.

Reads are ``Index`` (a numpy advanced index; backward scatter-adds, so duplicate indices
accumulate) or the ``Slice`` view of ``ops.shape``; writes are ``IndexPut`` (the overwritten
region gets a zero gradient, the values get the gradient read back at the index) and
``IndexPutAccumulate`` (``+=`` at the index). All backwards are linear and dual.
"""
import numpy as np

from ._util import as_method as _method
from .. import _dtype
from .._backend import get_array_module, several_devices
from ..amp.autocast_mode import autocast_args
from ..autograd import grad_mode
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import (register_methods, wrap_dim, sum_to, cast, device_mismatch, as_scalar,
                    on_device_of, inplace_shape_error)
from .arithmetic import check_inplace, apply_inplace, _nograd_inplace, mul
from .shape import Slice, reshape, mark_view, _expand_shape
from .strided import scatter_add_flat
from ..cuda.kernels import bounds

__all__ = ["index_select", "index_add", "index_copy", "index_fill", "index_put", "index_put_",
           "nonzero", "argwhere"]


_SCALAR_TYPE = _dtype.SCALAR_TYPE_NAMES
_C_TYPE = _dtype.C_TYPE_NAMES


def scalar_type_name(t):
    """PyTorch's ScalarType name of a tensor's dtype (``Float``, ``Long``...), used in errors."""
    return _SCALAR_TYPE.get(t.dtype.name, t.dtype.name)


def _has_int_array(index):
    return any(hasattr(i, "dtype") and i.dtype.kind in "iu" and i.ndim for i in index)


def index_dual(g, index):
    """``g[index]`` for an array, or the differentiable advanced index for a Tensor."""
    if isinstance(g, Tensor):
        return Index.apply(g, index)
    return g[index]


def index_grad(g, shape, index):
    """The adjoint of ``x[index]``: zeros of ``shape`` with ``g`` added at ``index``."""
    if isinstance(g, Tensor):
        return IndexGrad.apply(g, shape, index)
    xp = get_array_module(g)
    first = index[0]
    if len(index) == 1 and getattr(first, "ndim", 0) and first.dtype.kind in "iu":
        n = shape[0]
        rows = xp.where(first < 0, first + n, first).reshape(-1)
        if len(shape) == 1:
            return scatter_add_flat(g, n, rows)
        if xp is np and rows.size:
            return _segment_sum(g.reshape(rows.size, -1), rows, shape)
    out = xp.zeros(shape, g.dtype)
    if _has_int_array(index):
        xp.add.at(out, index, g)
    else:
        out[index] = g
    return out


def _segment_sum(values, rows, shape):
    """Rows of ``values`` summed into the rows ``rows`` of a zero array of ``shape`` (the
    embedding-gradient case): sort the rows once, then one ``add.reduceat``; faster than
    ``add.at`` for many rows."""
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_rows[1:] != sorted_rows[:-1])))
    out = np.zeros((shape[0], values.shape[1]), values.dtype)
    if starts.size:
        out[sorted_rows[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out.reshape(shape)


class Index(Node):
    """Advanced indexing ``x[index]`` (integer arrays and boolean masks): a copy."""

    def forward(self, x, index):
        self.in_shape = x.shape
        self.index = index
        return x[index]

    def backward(self, g):
        return index_grad(g, self.in_shape, self.index), None


class IndexGrad(Node):
    def forward(self, g, shape, index):
        self.index = index
        return index_grad(g, shape, index)

    def backward(self, gg):
        return index_dual(gg, self.index), None, None


def _zero_at(g, index):
    if isinstance(g, Tensor):
        return IndexPut.apply(g, 0, index)
    out = g.copy()
    out[index] = 0
    return out


class IndexPut(Node):
    """``x`` with ``value`` written at ``index`` (out of place)."""

    def forward(self, x, value, index):
        self.index = index
        self.value_shape = getattr(value, "shape", None)
        out = x.copy()
        out[index] = value
        return out

    def backward(self, g):
        e = self.next_edges
        gv = None
        if len(e) > 1 and e[1] is not None:
            gv = sum_to(index_dual(g, self.index), self.value_shape)
        return (_zero_at(g, self.index) if e[0] is not None else None), gv, None


class IndexPutAccumulate(Node):
    """``x`` with ``value`` added at ``index``; duplicate indices add up."""

    def forward(self, x, value, index):
        self.index = index
        self.value_shape = value.shape
        out = x.copy()
        get_array_module(x).add.at(out, index, value)
        return out

    def backward(self, g):
        e = self.next_edges
        gv = sum_to(index_dual(g, self.index), self.value_shape) if e[1] is not None else None
        return (g if e[0] is not None else None), gv, None


# ------------------------------------------------------------------ index parsing
def _out_of_bounds(exc, ndim):
    msg = str(exc)
    if msg.startswith("too many indices"):
        return IndexError(f"too many indices for tensor of dimension {ndim}")
    return IndexError(msg.replace("for axis", "for dimension"))


def _index_array(item, xp):
    if isinstance(item, Tensor):
        data = item._data
        if data.dtype == np.uint8:
            # PyTorch still reads a uint8 tensor index as a mask, with this warning
            import warnings
            warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                          "torch.bool instead.", UserWarning, stacklevel=4)
            data = data != 0
    else:
        data = np.asarray(item)
        if data.dtype == object or (data.size == 0 and data.dtype.kind == "f"):
            data = data.astype(np.int64)
    kind = data.dtype.kind
    if kind not in "biu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if xp is not np and type(data) is np.ndarray:
        data = xp.asarray(data)
    elif xp is np and type(data) is not np.ndarray:
        raise RuntimeError("indices should be either on cpu or on the same device as the indexed "
                           "tensor (cpu)")
    return data


def parse_index(x, index):
    """Normalise a Python index into a numpy index tuple; also says whether it is advanced."""
    if type(index) is list and len(index) < 32 and any(
            isinstance(i, (list, tuple, slice, Tensor, np.ndarray)) or i is None or i is Ellipsis
            for i in index):
        # PyTorch (like old numpy) still reads such a list as a tuple of indices
        index = tuple(index)
    elif type(index) is not tuple:
        index = (index,)
    xp = get_array_module(x._data)
    out = []
    advanced = False
    has_ellipsis = False
    for item in index:
        if item is None or type(item) is int:
            out.append(item)
        elif type(item) is slice:
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            out.append(item)
        elif item is Ellipsis:
            has_ellipsis = True
            out.append(item)
        elif isinstance(item, Tensor) and item._data.ndim == 0 and item._data.dtype.kind in "iu":
            out.append(int(item.item()))
        elif isinstance(item, (np.integer, bool)) and not isinstance(item, np.bool_):
            out.append(int(item) if not isinstance(item, bool) else item)
        elif isinstance(item, (Tensor, list, tuple, np.ndarray, np.bool_)):
            out.append(_index_array(item, xp))
            advanced = True
        elif hasattr(item, "__index__"):
            out.append(item.__index__())
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(item).__name__})")
    if not advanced and not has_ellipsis:
        # a trailing Ellipsis keeps an all-integer index a 0-d view instead of a numpy scalar
        out.append(Ellipsis)
    if advanced and xp is not np:
        _check_on_device(x._data.shape, out)
    return tuple(out), advanced


def _check_on_device(shape, index):
    """Range checks, on the device, of the integer index arrays of a parsed advanced index (on
    the host numpy raises for them). CuPy would wrap an out-of-range index around."""
    def dims(item):   # how many dims of ``shape`` the item indexes
        if item is None or item is Ellipsis or type(item) is bool:
            return 0
        if type(item) is int or type(item) is slice:
            return 1
        return item.ndim if item.dtype.kind == "b" else 1
    d = 0
    for item in index:
        if item is Ellipsis:
            d += len(shape) - sum(dims(i) for i in index)
            continue
        if d < len(shape) and not isinstance(item, (int, slice)) and item is not None \
                and item.dtype.kind in "iu":
            bounds.check(item, shape[d], "index", "index {index} is out of bounds for dimension "
                         "{dim} with size {size}", dim=d, negative_ok=True)
        d += dims(item)


def getitem(self, index):
    """``self[index]``, with PyTorch's (and numpy's) indexing rules.

    Integers, slices (positive steps only), ``None`` and ``...`` give a view of ``self``; integer
    tensors/lists/arrays and boolean masks give a copy whose gradient is scatter-added back
    (repeated indices accumulate).
    """
    idx, advanced = parse_index(self, index)
    try:
        if advanced:
            return Index.apply(self, idx)
        return mark_view(Slice.apply(self, idx), self, lambda a: a[idx])
    except IndexError as exc:
        raise _out_of_bounds(exc, self._data.ndim) from None


def _value_for(self, value):
    """A value tensor cast to ``self``'s dtype and checked for device, or a Python scalar."""
    if isinstance(value, Tensor):
        if type(value._data) is not type(self._data):
            if value._data.ndim:
                raise device_mismatch(self, value)
            if not (value._requires_grad and type(value._data) is np.ndarray):
                return value.item()  # a 0-d CPU tensor acts as a number on the device
            value = on_device_of(value, self)  # ... and keeps its gradient
        return cast(value, self._data.dtype)
    value = as_scalar(value)
    if not isinstance(value, (int, float, bool, complex)):
        kind = type(value)   # (named as Python names it: numpy.ndarray, list)
        name = kind.__qualname__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"can't assign a {name} to a {self.type()}")
    return value


def _drop_leading_ones(value, target_ndim):
    shape = value._data.shape
    extra = len(shape) - target_ndim
    if extra > 0 and all(s == 1 for s in shape[:extra]):
        return reshape(value, shape[extra:])
    return value


def _assign_error(value, target_shape, advanced, source):
    """PyTorch's error when ``self[index] = value`` (a tensor: ``source`` cast to ``self``'s
    dtype) cannot fill a region of ``target_shape``, or None when it can. Both of its paths
    first drop the value's leading size-1 dims; an advanced index then broadcasts it to the
    region, a basic one expands it (with expand's errors)."""
    shape = value._data.shape
    lead = 0
    while lead < len(shape) and shape[lead] == 1:
        lead += 1
    shape = shape[lead:]
    if advanced:
        try:
            fits = np.broadcast_shapes(shape, target_shape) == tuple(target_shape)
        except ValueError:
            fits = False
        if fits:
            return None
        return RuntimeError(f"shape mismatch: value tensor of shape {list(shape)} cannot be "
                            f"broadcast to indexing result of shape {list(target_shape)}")
    try:
        _expand_shape(shape, tuple(target_shape), source.type)
    except RuntimeError as exc:
        return exc
    return None


def _put(self, idx, value, accumulate=False, setitem=None):
    """Out-of-place write (or add) of ``value`` at the numpy index ``idx``; ``setitem``: the
    ``(advanced, source)`` of a ``self[index] = value``, whose checks are its own."""
    if isinstance(value, Tensor):
        target = self._data[idx]
        if setitem is not None:
            err = _assign_error(value, target.shape, *setitem)
            if err is not None:
                raise err
        value = _drop_leading_ones(value, target.ndim)
        if setitem is None:
            try:
                np.broadcast_shapes(value._data.shape, target.shape)
            except ValueError:
                raise RuntimeError(f"shape mismatch: value tensor of shape "
                                   f"{list(value._data.shape)} cannot be broadcast to indexing "
                                   f"result of shape {list(target.shape)}") from None
    if accumulate:
        if not isinstance(value, Tensor):
            value = _new(get_array_module(self._data).asarray(value, self._data.dtype))
        return IndexPutAccumulate.apply(self, value, idx)
    return IndexPut.apply(self, value, idx)


def _selects_a_view(shape, index):
    """Whether the basic part of ``index`` (ints, None, slices short of a whole dim) selects a
    view other than the tensor itself, before any advanced part applies."""
    items = index if type(index) is tuple else (index,)

    def width(item):   # dims an item consumes
        if item is None or item is Ellipsis:
            return 0
        if isinstance(item, Tensor) and item._data.dtype == np.bool_:
            return max(item.ndim, 1)
        return 1
    dim = 0
    for position, item in enumerate(items):
        if item is None or (isinstance(item, (int, np.integer)) and not isinstance(item, bool)):
            return True
        if item is Ellipsis:
            dim = len(shape) - sum(width(i) for i in items[position + 1:])
            continue
        if isinstance(item, slice) and dim < len(shape):
            # PyTorch skips a slice only as written: from None or 0, step 1, to the end or past
            # it (x[-3:] of three elements is a view, x[0:100] is not)
            if item.start not in (None, 0) or item.step not in (None, 1) or (
                    item.stop is not None and item.stop < shape[dim]):
                return True
        dim += width(item)
    return False


def setitem(self, index, value):
    """``self[index] = value`` (a tensor broadcast to the indexed region, or a number).

    Recorded by autograd: the overwritten region of ``self``'s old value gets a zero gradient and
    ``value`` gets the gradient of that region.
    """
    if isinstance(index, Tensor) and index._data.dtype == np.uint8 and \
            not isinstance(value, Tensor):
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           "unsigned char")
    idx, advanced = parse_index(self, index)
    if advanced and isinstance(value, Tensor) and value._data.ndim and \
            value._data.dtype != self._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{scalar_type_name(self)} for the destination and "
                           f"{scalar_type_name(value)} for the source.")
    source = value
    value = _value_for(self, value)
    if self._requires_grad and self.grad_fn is None and grad_mode.is_grad_enabled() and \
            _selects_a_view(self.shape, index):
        # PyTorch writes through the view that the basic part of the index selects
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    try:
        if check_inplace(self) and (self._requires_grad or (isinstance(value, Tensor) and
                                                            value._requires_grad)):
            apply_inplace(self, _put(self, idx, value, setitem=(advanced, source)))
            return
        self._data[idx] = value._data if isinstance(value, Tensor) else value
    except IndexError as exc:
        raise _out_of_bounds(exc, self._data.ndim) from None
    except ValueError as exc:
        # numpy's broadcast errors; PyTorch checks the value's shape against the region first
        err = _assign_error(value, self._data[idx].shape, advanced, source) \
            if isinstance(value, Tensor) else None
        raise exc if err is None else err from None
    self._vc[0] += 1


def _inplace(fn, name=None):
    """The in-place method of ``fn`` (``name``: the public op's, when ``fn`` is its version
    without autocast: PyTorch's in-place ops are not autocast)."""
    name = name or fn.__name__

    def method(self, *args, **kwargs):
        if check_inplace(self):
            return apply_inplace(self, fn(self, *args, **kwargs))
        return _nograd_inplace(self, fn, *args, **kwargs)
    method.__name__ = name + "_"
    method.__doc__ = f"In-place :func:`{name}`."
    return method


# ------------------------------------------------------------------ index_* ops
def _dim_index(input, dim, index, name):
    """The numpy index tuple selecting ``index`` (a 0-D/1-D integer tensor) along ``dim``."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    ndim = input._data.ndim
    d = wrap_dim(dim, ndim)
    size = input._data.shape[d] if ndim else 1
    idx = index._data.reshape(-1)
    if type(idx) is np.ndarray:
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
            raise IndexError("index out of range in self")
    else:   # on the device: checked there, reported at the next host read (as in PyTorch)
        bounds.check(idx, size, name, "index {index} is out of range for size {size} in self",
                     dim=d)
    if not ndim:
        return d, None
    return d, (slice(None),) * d + (idx,)


def index_select(input, dim, index, *, out=None):
    """Return the entries of ``input`` at ``index`` along ``dim`` (a copy).

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to index.
        index (Tensor): a 1-D integer tensor of indices (repeats allowed).
        out (Tensor, optional): the output tensor.
    """
    d, idx = _dim_index(input, dim, index, "index_select")
    if idx is None:
        result = Index.apply(reshape(input, (1,)), (index._data.reshape(-1),))
    else:
        result = Index.apply(input, idx)
    if out is not None:
        from .arithmetic import _out
        return _out(result, out)
    return result


def _source_for(input, source, name):
    if not isinstance(source, Tensor):
        raise TypeError(f"{name}(): argument 'source' must be Tensor, not {type(source).__name__}")
    if type(source._data) is not type(input._data):
        raise device_mismatch(input, source)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"{name}(): self ({scalar_type_name(input)}) and source "
                           f"({scalar_type_name(source)}) must have the same scalar type")
    return source


def _check_source_shape(input, d, index, source, name):
    want = list(input._data.shape)
    if want:
        want[d] = index._data.size
    if list(source._data.shape) != want and source._data.size != int(np.prod(want)):
        raise RuntimeError(f"{name}(): Source/destination tensor must have same slice shapes. "
                           f"Destination slice shape: {want} and source slice shape: "
                           f"{list(source._data.shape)}")
    return reshape(source, tuple(want)) if list(source._data.shape) != want else source


def index_add(input, dim, index, source, *, alpha=1):
    """Return ``input`` with ``alpha * source`` added at ``index`` along ``dim``.

    Repeated indices accumulate.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to index.
        index (Tensor): a 1-D integer tensor with ``source.size(dim)`` entries.
        source (Tensor): the values to add, of ``input``'s dtype.
        alpha (Number): the factor for ``source``. Default: 1.
    """
    source = _source_for(input, source, "index_add")
    d, idx = _dim_index(input, dim, index, "index_add")
    source = _check_source_shape(input, d, index, source, "index_add")
    if alpha != 1:
        source = mul(source, alpha)
    if idx is None:
        return reshape(_put(reshape(input, (1,)), (index._data.reshape(-1),),
                            reshape(source, (-1,)), True), ())
    return _put(input, idx, source, accumulate=True)


def index_copy(input, dim, index, source):
    """Return ``input`` with the slices at ``index`` along ``dim`` replaced by those of
    ``source``.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to index.
        index (Tensor): a 1-D integer tensor with ``source.size(dim)`` entries.
        source (Tensor): the new slices, of ``input``'s dtype.
    """
    input, source = autocast_args("index_copy", input, source)
    return _index_copy(input, dim, index, source)


def _index_copy(input, dim, index, source):
    """:func:`index_copy` without autocast (for ``index_copy_``)."""
    source = _source_for(input, source, "index_copy")
    d, idx = _dim_index(input, dim, index, "index_copy")
    source = _check_source_shape(input, d, index, source, "index_copy")
    if idx is None:
        return reshape(_put(reshape(input, (1,)), (index._data.reshape(-1),),
                            reshape(source, (-1,))), ())
    return _put(input, idx, source)


def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number or a 0-D
    tensor)."""
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value._data.ndim} dimension(s).")
    d, idx = _dim_index(input, dim, index, "index_fill")
    value = _value_for(input, value)
    if idx is None:
        return reshape(_put(reshape(input, (1,)), (index._data.reshape(-1),), value), ())
    return _put(input, idx, value)


def index_put(input, indices, values, accumulate=False):
    """Return ``input`` with ``values`` written (or added, with ``accumulate``) at the
    advanced index ``indices``.

    Args:
        input (Tensor): the input tensor.
        indices (tuple of Tensor): one index tensor (integer or boolean) per indexed dim.
        values (Tensor): the values, broadcast to the indexed region; ``input``'s dtype.
        accumulate (bool): add to the current values (repeats accumulate). Default: ``False``.
    """
    input, values = autocast_args("index_put", input, values)
    return _index_put(input, indices, values, accumulate)


def _index_put(input, indices, values, accumulate=False):
    """:func:`index_put` without autocast (for ``index_put_``)."""
    if not isinstance(values, Tensor):
        raise TypeError("index_put(): argument 'values' must be Tensor")
    if values._data.dtype != input._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{scalar_type_name(input)} for the destination and "
                           f"{scalar_type_name(values)} for the source.")
    idx, _ = parse_index(input, tuple(indices))
    try:
        return _put(input, idx, values, accumulate)
    except IndexError as exc:
        raise _out_of_bounds(exc, input._data.ndim) from None


# ------------------------------------------------------------------ nonzero / copy_
def nonzero(input, *, out=None, as_tuple=False):
    """Return the indices of the non-zero entries of ``input``.

    Args:
        input (Tensor): the input tensor.
        as_tuple (bool): return one 1-D index tensor per dim instead of an ``(n, input.dim())``
            tensor. Default: ``False``.
    """
    data = input._data
    xp = get_array_module(data)
    if as_tuple:
        return tuple(_new(i.astype(np.int64, copy=False)) for i in
                     xp.nonzero(data if data.ndim else data.reshape(1)))
    if not data.ndim:
        return _new(xp.zeros((int(bool(data)), 0), np.int64))
    result = _new(xp.stack(xp.nonzero(data), axis=1).astype(np.int64, copy=False))
    if out is not None:
        from .arithmetic import _out
        return _out(result, out)
    return result


def argwhere(input):
    """Indices of the non-zero entries as an ``(n, ndim)`` tensor."""
    return nonzero(input)


def copy_(self, src, non_blocking=False):
    """Copy the elements of ``src`` into ``self`` and return ``self``.

    ``src`` is broadcast to ``self``'s shape and converted to its dtype and device; the copy is
    recorded by autograd (the gradient flows to ``src``).

    Args:
        src (Tensor): the source tensor.
        non_blocking (bool): accepted for compatibility; copies are synchronous.
    """
    if type(src) in (int, float, bool):   # PyTorch takes a number too: a fill
        return self.fill_(src)
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    shape = self._data.shape
    if src._data.shape != shape:
        err = inplace_shape_error(shape, src._data.shape)
        if err is not None:
            raise err
    if type(src._data) is not type(self._data) or \
            (several_devices[0] and src.device != self.device):
        src = src.to(self.device)
    if check_inplace(self) and (self._requires_grad or src._requires_grad):
        from .views import Overwrite
        return apply_inplace(self, Overwrite.apply(self, cast(src, self._data.dtype)))
    data = src._data
    if data.dtype != self._data.dtype and type(data) is not np.ndarray:
        data = cast(src, self._data.dtype)._data   # PyTorch's conversions (float -> uint8)
    self._data[...] = data
    self._vc[0] += 1
    return self


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a._data.shape, b._data.shape)
        return True
    except ValueError:
        return False


index_put_ = _inplace(_index_put, "index_put")


register_methods({
    "__getitem__": getitem, "__setitem__": setitem,
    "index_select": _method(index_select), "index_add": _method(index_add),
    "index_copy": _method(index_copy), "index_fill": _method(index_fill),
    "index_put": _method(index_put), "nonzero": _method(nonzero), "argwhere": argwhere,
    "copy_": copy_,
    "index_add_": _inplace(index_add), "index_copy_": _inplace(_index_copy, "index_copy"),
    "index_fill_": _inplace(index_fill), "index_put_": index_put_,
})
