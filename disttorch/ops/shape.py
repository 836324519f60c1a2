"""View ops: reshape/view, squeeze, permute/transpose, expand, narrow/select, slicing views.

Every op here returns a numpy/cupy view of its input wrapped in one Tensor and marked with
``make_view`` (shared version counter, in-place ops rewrite the base's history). The backward
of each is linear in ``g`` and written with dual helpers, so double backward records a graph.
"""
import warnings

import numpy as np

from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from . import _torch_stream
from ._util import register_methods, sum_to, wrap_dim, make_view

__all__ = ["reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose",
           "swapaxes", "swapdims", "t", "adjoint", "expand_copy", "broadcast_to",
           "broadcast_tensors", "broadcast_shapes", "narrow", "narrow_copy", "select", "movedim",
           "moveaxis", "clone", "ravel"]


def mark_view(out, base, view_fn):
    """``make_view``, also passing on whether ``base`` came from a multi-output view op (split,
    unbind, chunk), whose views PyTorch does not let in-place ops modify."""
    make_view(out, base, view_fn)
    if "_multi_output" in base.__dict__:
        out._multi_output = base._multi_output
    return out


def _ints(args, name):
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)`` -> tuple of ints (negatives
    kept)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    if all(type(s) is int for s in args):
        return tuple(args)
    out = []
    for s in args:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found "
                            f"element of type {type(s).__name__}")
        out.append(int(s))
    return tuple(out)


def infer_shape(shape, numel):
    """Resolve one ``-1`` in ``shape`` for ``numel`` elements, with PyTorch's errors."""
    if -1 not in shape and min(shape, default=0) >= 0 and _prod(shape) == numel:
        return shape
    infer = None
    known = 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        else:
            known *= s
    if infer is None:
        if known != numel:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return shape
    if known == 0 or numel % known:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape[:infer] + (numel // known,) + shape[infer + 1:]


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def view_strides(shape, strides, new_shape):
    """Strides of ``new_shape`` viewing memory laid out as (shape, strides), or None when the
    reshape needs a copy (PyTorch's computeStride)."""
    if not shape:
        return tuple(1 for _ in new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(new_strides) if view_d == -1 else None


def _is_viewable(x, shape):
    if x.flags.c_contiguous or x.size <= 1:
        return True
    return view_strides(x.shape, x.strides, shape) is not None


# ------------------------------------------------------------------ nodes
class Reshape(Node):
    def forward(self, x, shape):
        self.in_shape = x.shape
        if type(self) is Reshape:
            # PyTorch's reshape is a view of a contiguous input, else a copy viewed
            self.label = "ViewBackward0" if x.flags.c_contiguous else "UnsafeViewBackward0"
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape), None


class Squeeze(Reshape):
    pass


class Unsqueeze(Reshape):
    pass


def _permute_dual(g, dims):
    if isinstance(g, Tensor):
        return Permute.apply(g, dims)
    return g.transpose(dims)


class Permute(Node):
    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, g):
        return _permute_dual(g, tuple(np.argsort(self.dims).tolist())), None


class Expand(Node):
    def forward(self, x, shape):
        self.in_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return sum_to(g, self.in_shape), None


def slice_dual(g, index):
    """``g[index]`` on an array, or the differentiable op on a Tensor."""
    if isinstance(g, Tensor):
        return Slice.apply(g, index)
    return g[index]


def slice_grad(g, shape, index):
    """Zeros of ``shape`` with ``g`` written at ``index`` (the adjoint of basic slicing)."""
    if isinstance(g, Tensor):
        return SliceGrad.apply(g, shape, index)
    out = get_array_module(g).zeros(shape, g.dtype)
    out[index] = g
    return out


class Slice(Node):
    """Basic indexing ``x[index]`` (ints, slices, None, Ellipsis): a view."""

    def forward(self, x, index):
        self.in_shape = x.shape
        self.index = index
        return x[index]

    def name(self):
        # worked out when asked, not on every indexing call
        return _basic_index_label(self.index, self.in_shape)

    def backward(self, g):
        return slice_grad(g, self.in_shape, self.index), None


def _basic_index_label(index, shape):
    """PyTorch applies a basic index item by item; its node is named after the last item that
    changes the tensor: an int selects, None unsqueezes, a partial slice slices."""
    items = index if type(index) is tuple else (index,)
    label = "SliceBackward0"
    dim = 0
    for position, item in enumerate(items):
        if item is None:
            label = "UnsqueezeBackward0"
        elif item is Ellipsis:
            dim = len(shape) - sum(i is not None and i is not Ellipsis
                                   for i in items[position + 1:])
        elif isinstance(item, slice):
            if dim < len(shape) and item.indices(shape[dim]) != (0, shape[dim], 1):
                label = "SliceBackward0"
            dim += 1
        else:
            label = "SelectBackward0"
            dim += 1
    return label


class SliceGrad(Node):
    def forward(self, g, shape, index):
        self.index = index
        out = get_array_module(g).zeros(shape, g.dtype)
        out[index] = g
        return out

    def backward(self, gg):
        return slice_dual(gg, self.index), None, None


# ------------------------------------------------------------------ functions
def reshape(input, *shape):
    """Return a tensor with the same data and number of elements as ``input`` and the given shape.

    A view of ``input`` when its memory layout allows it (always for a contiguous tensor), a copy
    otherwise: do not rely on either.

    Args:
        input (Tensor): the tensor to reshape.
        shape (tuple of int): the new shape; one dimension may be ``-1`` and is then inferred.

    Example::

        >>> a = disttorch.arange(6.)
        >>> disttorch.reshape(a, (2, -1))
        tensor([[0., 1., 2.],
                [3., 4., 5.]])
    """
    shape = infer_shape(_ints(shape, "reshape"), input._data.size)
    if shape == input._data.shape:
        return mark_view(Reshape.apply(input, shape), input, lambda a: a)
    if _is_viewable(input._data, shape):
        return mark_view(Reshape.apply(input, shape), input, lambda a: a.reshape(shape))
    return Reshape.apply(input, shape)


def view(self, *shape):
    """Return a view of ``self`` with the same data and a new ``shape``.

    The view shares memory (and the version counter) with ``self``. It exists only when the new
    shape is compatible with ``self``'s strides; otherwise PyTorch's error asks for
    :meth:`reshape`. ``view(dtype)`` reinterprets the bytes as another dtype instead.

    Args:
        shape (int... or tuple of int): the new shape; one dimension may be ``-1``.
    """
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer, Tensor)):
        return _view_dtype(self, shape[0])
    shape = infer_shape(_ints(shape, "view"), self._data.size)
    if not _is_viewable(self._data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return mark_view(Reshape.apply(self, shape), self, lambda a: a.reshape(shape))


def _view_dtype(self, dtype):
    from .. import _dtype
    np_dtype = _dtype.to_numpy_dtype(dtype)
    data = self._data
    if np_dtype == data.dtype:
        return mark_view(Reshape.apply(self, data.shape), self, lambda a: a)
    if self._requires_grad:
        raise RuntimeError("Tensor.view(dtype) is not differentiable when the dtype changes")
    if np_dtype.itemsize != data.dtype.itemsize and (data.ndim == 0 or data.strides[-1] !=
                                                      data.itemsize):
        raise RuntimeError(f"self.stride(-1) must be 1 to view {self.dtype} as {dtype} (different "
                           f"element sizes), but got {self.stride(-1) if data.ndim else 0}")
    return mark_view(_new(data.view(np_dtype)), self, lambda a: a.view(np_dtype))


def flatten(input, start_dim=0, end_dim=-1):
    """Flatten the dims ``start_dim`` .. ``end_dim`` of ``input`` into one.

    Args:
        input (Tensor): the input tensor.
        start_dim (int): the first dim to flatten. Default: 0.
        end_dim (int): the last dim to flatten. Default: -1.
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    start, end = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    return reshape(input, shape[:start] + (-1,) + shape[end + 1:])


def unflatten(input, dim, sizes):
    """Expand dim ``dim`` of ``input`` into the dims ``sizes``.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to expand.
        sizes (tuple of int): the new sizes; their product must be ``input.size(dim)`` (one may be
            ``-1``).
    """
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    sizes = _ints(sizes, "unflatten")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if -1 not in sizes and int(np.prod(sizes)) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {dim} ({shape[d]}) in the input tensor")
    sizes = infer_shape(sizes, shape[d])
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input, dim=None):
    """Return a view of ``input`` with dims of size 1 removed.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of int, optional): only these dims are squeezed (those of size 1);
            all size-1 dims when omitted.
    """
    shape = input._data.shape
    if dim is None:
        dims = range(len(shape))
    elif isinstance(dim, (tuple, list)):
        dims = [wrap_dim(d, len(shape)) for d in dim]
    else:
        dims = [wrap_dim(dim, len(shape))]
    new = tuple(s for i, s in enumerate(shape) if not (s == 1 and i in dims))
    return mark_view(Squeeze.apply(input, new), input, lambda a: a.reshape(new))


def unsqueeze(input, dim):
    """Return a view of ``input`` with a dim of size 1 inserted at ``dim``.

    Args:
        input (Tensor): the input tensor.
        dim (int): where to insert the new dim, in ``[-input.dim() - 1, input.dim()]``.
    """
    shape = input._data.shape
    d = wrap_dim(dim, len(shape) + 1)
    new = shape[:d] + (1,) + shape[d:]
    return mark_view(Unsqueeze.apply(input, new), input, lambda a: a.reshape(new))


def permute(input, *dims):
    """Return a view of ``input`` with its dims reordered.

    Args:
        input (Tensor): the input tensor.
        dims (tuple of int): the new order of the dims (a permutation; negative dims allowed).
    """
    ndim = input._data.ndim
    dims = _ints(dims, "permute")
    if len(dims) != ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. input."
                           f"dim() = {ndim} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(dims)) != ndim:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return mark_view(Permute.apply(input, dims), input, lambda a: a.transpose(dims))


def transpose(input, dim0, dim1):
    """Return a view of ``input`` with dims ``dim0`` and ``dim1`` swapped.

    Args:
        input (Tensor): the input tensor.
        dim0 (int): the first dim.
        dim1 (int): the second dim.
    """
    ndim = input._data.ndim
    d0, d1 = wrap_dim(dim0, ndim), wrap_dim(dim1, ndim)
    dims = list(range(ndim))
    dims[d0], dims[d1] = d1, d0
    dims = tuple(dims)
    return _labelled(mark_view(Permute.apply(input, dims), input, lambda a: a.transpose(dims)),
                     "TransposeBackward0")


def _labelled(out, label):
    """``out`` with its backward node named ``label`` (PyTorch's name for the call made)."""
    node = out.grad_fn
    if node is not None:
        node.label = label
    return out


swapaxes = swapdims = transpose


def t(input):
    """Transpose a tensor of at most 2 dims."""
    ndim = input._data.ndim
    if ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    return _labelled(transpose(input, 0, 1), "TBackward0") if ndim == 2 else mark_view(
        Reshape.apply(input, input._data.shape), input, lambda a: a)


def _T(self):
    ndim = self._data.ndim
    return permute(self, tuple(range(ndim - 1, -1, -1)))


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                           f"{self._data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _H(self):
    if self._data.ndim != 2:
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self._data.ndim}-D tensor.")
    return _conj(transpose(self, 0, 1))


def adjoint(input):
    """The conjugate transpose of the last two dims."""
    if input._data.ndim == 0:
        warnings.warn("adjoint() is deprecated on 0-D tensors. Consider using x.conj().")
        return _conj(input)
    if input._data.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of "
                           f"matrices. Got {input._data.ndim}-D tensor.")
    return _conj(transpose(input, -2, -1))


def _conj(x):
    if x._data.dtype.kind != "c":
        return x
    from .pointwise import conj
    return conj(x)


def _expand_shape(shape, sizes, type_name=None):
    """The shape ``shape`` expands to; ``type_name``: a function naming the expanded tensor's
    type (``torch.LongTensor``) for PyTorch's error, called only then."""
    if len(sizes) < len(shape):
        name = type_name() if type_name is not None else "torch.FloatTensor"
        raise RuntimeError(f"expand({name}{{{list(shape)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = list(sizes[:lead])
    if any(s < 0 for s in out):
        raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, "
                           f"non-existing dimension {out.index(-1) if -1 in out else 0}")
    for i, (have, want) in enumerate(zip(shape, sizes[lead:])):
        if want == -1:
            out.append(have)
        elif have == want or have == 1:
            out.append(want)
        else:
            raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                               f"existing size ({have}) at non-singleton dimension {i + lead}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
    return tuple(out)


def expand(self, *sizes):
    """Return a view of ``self`` with singleton dims repeated to ``sizes`` (no copy).

    New dims may be added in front. The result's elements alias each other: write to a
    :meth:`clone` instead.

    Args:
        sizes (int... or tuple of int): the target sizes; ``-1`` keeps a dim's size.
    """
    shape = _expand_shape(self._data.shape, _ints(sizes, "expand"), self.type)
    return mark_view(Expand.apply(self, shape), self,
                        lambda a: get_array_module(a).broadcast_to(a, shape))


def expand_copy(input, size):
    """:func:`expand` followed by a copy."""
    return clone(expand(input, size))


def broadcast_to(input, size):
    """Broadcast ``input`` to ``size`` (like :meth:`Tensor.expand`)."""
    return expand(input, size)


def broadcast_shapes(*shapes):
    """The shape that all ``shapes`` broadcast to."""
    try:
        return _size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                           for s in shapes]))
    except ValueError:
        raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single "
                           "shape") from None


def _size(shape):
    from ..tensor import Size
    return Size(shape)


def broadcast_tensors(*tensors):
    """Broadcast tensors against each other; returns views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    try:
        shape = np.broadcast_shapes(*[t._data.shape for t in tensors])
    except ValueError:
        shapes = [list(t._data.shape) for t in tensors]
        raise RuntimeError(f"The size of tensor a ({shapes[0]}) must match the size of tensor b "
                           f"({shapes[-1]}) at non-singleton dimension") from None
    return tuple(expand(t, shape) for t in tensors)


def narrow(input, dim, start, length):
    """Return a view of ``input`` restricted to ``start:start + length`` along ``dim``.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to narrow.
        start (int): the first index (may be negative).
        length (int): the number of elements kept.
    """
    d = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but "
                         f"got {start})")
    start %= size if size else 1
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return slice_view(input, (slice(None),) * d + (slice(start, start + length),))


def narrow_copy(input, dim, start, length):
    """A copy of :func:`narrow`'s slice."""
    return clone(narrow(input, dim, start, length))


def select(input, dim, index):
    """Return a view of ``input`` at ``index`` along ``dim``, with that dim removed.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to slice.
        index (int): the index to select (may be negative).
    """
    ndim = input._data.ndim
    if ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, ndim)
    size = input._data.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {d}")
    return slice_view(input, (slice(None),) * d + (int(index) % size,))


def slice_view(input, index):
    """``input[index]`` for a basic index tuple: a view marked for in-place autograd."""
    return mark_view(Slice.apply(input, index), input, lambda a: a[index])


def movedim(input, source, destination):
    """Move the dims ``source`` of ``input`` to the positions ``destination`` (a view).

    The other dims keep their order.

    Args:
        input (Tensor): the input tensor.
        source (int or tuple of int): the dims to move.
        destination (int or tuple of int): their new positions.
    """
    ndim = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    src = [wrap_dim(s, ndim) for s in src]
    dst = [wrap_dim(s, ndim) for s in dst]
    order = [None] * ndim
    for s, t_ in zip(src, dst):
        order[t_] = s
    rest = iter(i for i in range(ndim) if i not in src)
    return permute(input, tuple(o if o is not None else next(rest) for o in order))


moveaxis = movedim


class Clone(Node):
    def forward(self, x, keep_layout=False):
        axes = _torch_stream.memory_axes(x) if keep_layout else None
        if axes is None:
            return x.copy()
        out = get_array_module(x).empty([x.shape[a] for a in axes], x.dtype)
        out = out.transpose(tuple(int(a) for a in np.argsort(axes)))
        out[...] = x
        return out

    def backward(self, g):
        return g, None


def clone(input, *, memory_format=None):
    """A copy of ``input`` that is part of the autograd graph.

    With ``memory_format`` None or ``torch.preserve_format`` (the default) the copy is laid out
    in memory as ``input`` is (a transposed or permuted tensor's copy keeps its strides; a
    sliced one's is dense in the same axis order), as in PyTorch; any other format gives a
    row-major copy (``channels_last`` included: see :data:`channels_last`).
    """
    from .aliases import preserve_format   # (aliases builds on this module)
    keep = memory_format is None or memory_format is preserve_format
    return Clone.apply(input, keep)


def contiguous(self, memory_format=None):
    """``self`` if it is C-contiguous, else a contiguous copy."""
    if self._data.flags.c_contiguous:
        return self
    return Clone.apply(self, False)


def ravel(input):
    """A flattened 1-D tensor (a view when possible)."""
    return reshape(input, (-1,))


def _inplace_view(fn):
    """The in-place form of a view op: ``self`` takes the view's shape, strides and history."""
    def method(self, *args, **kwargs):
        from .arithmetic import check_inplace
        check_inplace(self)
        out = fn(self, *args, **kwargs)
        self._data = out._data
        if out._requires_grad:
            self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
        if self._base is not None:
            self._base = out._base
        self._vc[0] += 1
        return self
    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place :func:`{fn.__name__}` (changes the shape of ``self``)."
    return method


def _method(fn, varargs=False):
    if varargs:
        def method(self, *args):
            return fn(self, args)
    else:
        def method(self, *args, **kwargs):
            return fn(self, *args, **kwargs)
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


register_methods({
    "reshape": lambda self, *shape: reshape(self, *shape), "view": view,
    "view_as": lambda self, other: view(self, other._data.shape),
    "reshape_as": lambda self, other: reshape(self, other._data.shape),
    "flatten": _method(flatten), "unflatten": _method(unflatten), "squeeze": _method(squeeze),
    "unsqueeze": _method(unsqueeze), "permute": lambda self, *dims: permute(self, *dims),
    "transpose": _method(transpose), "swapaxes": _method(transpose),
    "swapdims": _method(transpose), "t": t, "adjoint": adjoint,
    "T": property(_T), "mT": property(_mT), "H": property(_H), "mH": property(adjoint),
    "expand": expand, "expand_as": lambda self, other: expand(self, other._data.shape),
    "broadcast_to": _method(broadcast_to), "narrow": _method(narrow), "select": _method(select),
    "narrow_copy": _method(narrow_copy),
    "movedim": _method(movedim), "moveaxis": _method(movedim),
    "clone": _method(clone), "contiguous": contiguous, "ravel": ravel,
    "squeeze_": _inplace_view(squeeze), "unsqueeze_": _inplace_view(unsqueeze),
    "transpose_": _inplace_view(transpose), "swapaxes_": _inplace_view(transpose),
    "swapdims_": _inplace_view(transpose), "t_": _inplace_view(t),
})
