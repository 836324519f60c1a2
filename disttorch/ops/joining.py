"""Joining and splitting: cat/stack and friends, split/chunk/unbind (views), repeat/tile, flip,
roll, rot90 and the ``atleast_*`` helpers. Backwards are linear and dual (double backward)."""
import itertools

import numpy as np

from .. import _dtype
from .._backend import get_array_module
from ..amp.autocast_mode import autocast_args
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim, wrap_dims, cast, device_mismatch, int_arg
from ._util import as_method as _method
from .shape import reshape, slice_dual, squeeze, mark_view, _ints

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack",
           "row_stack", "split", "tensor_split", "chunk", "unbind", "hsplit", "vsplit", "dsplit",
           "tile", "flip", "fliplr", "flipud", "roll", "rot90", "atleast_1d",
           "atleast_2d", "atleast_3d"]


class Cat(Node):
    def forward(self, dim, *xs):
        self.dim = dim
        ndim = max(x.ndim for x in xs)
        # PyTorch still accepts legacy empty 1-D tensors in a cat of N-D tensors.
        self.skipped = [x.shape == (0,) and ndim != 1 for x in xs]
        self.bounds = list(itertools.accumulate(
            (0 if skip else x.shape[dim] for x, skip in zip(xs, self.skipped)), initial=0))
        return get_array_module(xs[0]).concatenate(
            [x for x, skip in zip(xs, self.skipped) if not skip], axis=dim)

    def backward(self, g):
        lead = (slice(None),) * self.dim
        b = self.bounds
        edges = zip(self.next_edges[1:], self.skipped)
        return (None,) + tuple(None if skip or e is None else
                               slice_dual(g, lead + (slice(b[i], b[i + 1]),))
                               for i, (e, skip) in enumerate(edges))


class Stack(Node):
    def forward(self, dim, *xs):
        self.dim = dim
        return get_array_module(xs[0]).stack(xs, axis=dim)

    def backward(self, g):
        lead = (slice(None),) * self.dim
        return (None,) + tuple(None if e is None else slice_dual(g, lead + (i,))
                               for i, e in enumerate(self.next_edges[1:]))


def _concat_dual(grads, dim):
    if any(isinstance(g, Tensor) for g in grads):
        return cat([g if isinstance(g, Tensor) else _new(g) for g in grads], dim)
    return get_array_module(grads[0]).concatenate(grads, axis=dim)


class Split(Node):
    """Consecutive pieces of ``x`` along ``dim`` (views); backward concatenates their grads."""

    def forward(self, x, bounds, dim):
        self.dim = dim
        lead = (slice(None),) * dim
        return tuple(x[lead + (slice(a, b),)] for a, b in bounds)

    def backward(self, *grads):
        return _concat_dual(list(grads), self.dim), None, None


def _common(tensors, name):
    """Check the device and promote a list of tensors to their common dtype."""
    if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors")
    if not tensors:
        if name == "stack":
            raise RuntimeError("stack expects a non-empty TensorList")
        raise ValueError(f"torch.{name}(): expected a non-empty list of Tensors")
    kind = type(tensors[0]._data)
    for t in tensors[1:]:
        if type(t._data) is not kind:
            raise device_mismatch(tensors[0], t)
    dt = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype is not dt:
            dt = _dtype.promote_types(dt, t.dtype)
    return [cast(t, dt.np_dtype) for t in tensors]


def cat(tensors, dim=0, *, out=None):
    """Concatenate ``tensors`` along the existing dim ``dim``.

    All tensors must have the same shape except in ``dim`` (legacy empty 1-D tensors are
    skipped) and are promoted to their common dtype, as in PyTorch.

    Args:
        tensors (sequence of Tensors): the tensors to join.
        dim (int): the dim to join along. Default: 0.
        out (Tensor, optional): the output tensor.

    Example::

        >>> x = disttorch.zeros(2, 3)
        >>> disttorch.cat((x, x), 1).shape
        disttorch.Size([2, 6])
    """
    tensors, = autocast_args("cat", tensors)
    tensors = _common(tensors, "cat")
    ref = next((t for t in tensors if t._data.shape != (0,)), tensors[0])
    ndim = ref._data.ndim
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = wrap_dim(dim, ndim)
    for i, t in enumerate(tensors):
        shape = t._data.shape
        if shape == (0,) and ndim != 1:
            continue
        if len(shape) != ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ndim} and "
                               f"{len(shape)}")
        for k, (a, b) in enumerate(zip(ref._data.shape, shape)):
            if k != d and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected "
                                   f"size {a} but got size {b} for tensor number {i} in the list.")
    result = Cat.apply(d, *tensors)
    if out is not None:
        from .arithmetic import _out
        return _out(result, out)
    return result


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """Join tensors of equal shape along a new dim ``dim``.

    Args:
        tensors (sequence of Tensors): the tensors to stack.
        dim (int): the index of the new dim, in ``[-ndim - 1, ndim]``. Default: 0.
        out (Tensor, optional): the output tensor.
    """
    tensors, = autocast_args("stack", tensors)
    tensors = _common(tensors, "stack")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} "
                               f"at entry 0 and {list(t._data.shape)} at entry {i}")
    result = Stack.apply(wrap_dim(dim, len(shape) + 1), *tensors)
    if out is not None:
        from .arithmetic import _out
        return _out(result, out)
    return result


def _atleast(n, tensors):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    out = []
    for t in tensors:
        shape = t._data.shape
        if len(shape) >= n:
            out.append(t)
        elif n == 3 and len(shape) == 2:
            out.append(reshape(t, shape + (1,)))
        elif n == 3 and len(shape) == 1:
            out.append(reshape(t, (1,) + shape + (1,)))
        else:
            out.append(reshape(t, (1,) * (n - len(shape)) + shape))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """Each input viewed with at least one dim."""
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """Each input viewed with at least two dims (1-D ``(n,)`` becomes ``(1, n)``)."""
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """Each input viewed with at least three dims (``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` ->
    ``(m, n, 1)``)."""
    return _atleast(3, tensors)


def hstack(tensors, *, out=None):
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    tensors = _atleast(1, (list(tensors),))
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    """Concatenate along dim 0 after :func:`atleast_2d`."""
    return cat(_atleast(2, (list(tensors),)), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    """Concatenate along dim 2 after :func:`atleast_3d`."""
    return cat(_atleast(3, (list(tensors),)), 2, out=out)


def column_stack(tensors, *, out=None):
    """Stack 0-D/1-D tensors as columns (and concatenate 2-D ones) along dim 1."""
    cols = [reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in tensors]
    return cat(cols, 1, out=out)


def _split_at(input, bounds, d, name="Split"):
    pieces = Split.apply(input, bounds, d)
    lead = (slice(None),) * d
    out = tuple(mark_view(p, input, (lambda a, _s=lead + (slice(lo, hi),): a[_s]))
                for p, (lo, hi) in zip(pieces, bounds))
    for k, piece in enumerate(out):
        piece._multi_output = (
            f"Output {k} of {name} is a view and is being modified inplace. This view is the "
            f"output of a function that returns multiple views. Such functions do not allow the "
            f"output views to be modified inplace. You should replace the inplace operation by an "
            f"out-of-place one.")
    return out


def split(tensor, split_size_or_sections, dim=0):
    """Split ``tensor`` into pieces along ``dim`` (views of ``tensor``).

    Args:
        tensor (Tensor): the tensor to split.
        split_size_or_sections (int or list of int): the size of every piece (the last one may be
            smaller), or the list of piece sizes (summing to ``tensor.size(dim)``).
        dim (int): the dim to split along. Default: 0.
    """
    d = wrap_dim(dim, tensor._data.ndim)
    size = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        if step == 0:
            if size:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {size}")
            return _split_at(tensor, [(0, 0)], d)
        bounds = [(a, min(a + step, size)) for a in range(0, size, step)] or [(0, 0)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        ends = np.cumsum(sizes).tolist()
        bounds = [(e - s, e) for s, e in zip(sizes, ends)]
    return _split_at(tensor, bounds, d)


def tensor_split(input, indices_or_sections, dim=0):
    """Split ``input`` along ``dim`` into views, like ``numpy.array_split``.

    Args:
        input (Tensor): the tensor to split.
        indices_or_sections (int, list of int or Tensor): the number of nearly equal pieces, or the
            indices at which to cut.
        dim (int): the dim to split along. Default: 0.
    """
    d = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = (indices_or_sections.item() if indices_or_sections.ndim == 0
                               else indices_or_sections.tolist())
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        q, r = divmod(size, n)
        ends = np.cumsum([q + 1] * r + [q] * (n - r)).tolist()
        starts = [0] + ends[:-1]
    else:
        cuts = [min(max(int(i) + size if i < 0 else int(i), 0), size) for i in indices_or_sections]
        starts = [0] + cuts
        ends = cuts + [size]
    return _split_at(input, [(a, max(a, b)) for a, b in zip(starts, ends)], d)


def _dim_split(input, indices_or_sections, dim, name, min_dim):
    if input._data.ndim < min_dim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dim} dimension, but "
                           f"got a tensor with {input._data.ndim} dimensions!")
    if isinstance(indices_or_sections, int) and input._data.shape[dim] % indices_or_sections:
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size "
                           f"of the dimension {input._data.shape[dim]} is not divisible by the "
                           f"split_size {indices_or_sections}!")
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input, indices_or_sections):
    """Split along dim 1 (dim 0 for 1-D tensors)."""
    return _dim_split(input, indices_or_sections, 1 if input._data.ndim > 1 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections):
    """Split along dim 0."""
    return _dim_split(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    """Split along dim 2."""
    return _dim_split(input, indices_or_sections, 2, "dsplit", 3)


def chunk(input, chunks, dim=0):
    """Split ``input`` into at most ``chunks`` views of ``ceil(size / chunks)`` elements along
    ``dim`` (the last one may be smaller).

    Args:
        input (Tensor): the tensor to split.
        chunks (int): the number of pieces wanted.
        dim (int): the dim to split along. Default: 0.
    """
    if not input._data.ndim:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    if not size:
        # any number of empty pieces covers an empty dim: PyTorch returns ``chunks`` of them
        return split(input, [0] * chunks, d)
    return split(input, -(-size // chunks), d)


def unbind(input, dim=0):
    """Return all slices of ``input`` along ``dim``, each without that dim (views).

    Args:
        input (Tensor): the tensor to unbind.
        dim (int): the dim to remove. Default: 0.
    """
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if not n:
        return ()
    return tuple(squeeze(p, d) for p in _split_at(input, [(i, i + 1) for i in range(n)], d,
                                                   "Unbind"))


def _sum_dual(g, axes):
    if isinstance(g, Tensor):
        return g.sum(dim=axes)
    return g.sum(axis=axes)


class Repeat(Node):
    def forward(self, x, reps):
        xp = get_array_module(x)
        self.in_shape = x.shape
        self.reps = reps
        padded = (1,) * (len(reps) - x.ndim) + x.shape
        return xp.tile(x.reshape(padded), reps)

    def backward(self, g):
        reps = self.reps
        padded = (1,) * (len(reps) - len(self.in_shape)) + self.in_shape
        split = []
        for r, s in zip(reps, padded):
            split += [r, s]
        axes = tuple(range(0, 2 * len(reps), 2))
        return _sum_dual(g.reshape(tuple(split)), axes).reshape(self.in_shape), None


def repeat(self, *sizes):
    """Repeat ``self`` ``sizes[i]`` times along each dim (a copy).

    Args:
        sizes (int... or tuple of int): the number of repeats per dim; at least ``self.dim()``
            entries (extra leading entries add dims).
    """
    reps = _ints(sizes, "repeat")
    if len(reps) < self._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(reps)}: "
                           f"{list(reps)}")
    return Repeat.apply(self, reps)


def tile(input, dims):
    """Repeat ``input`` along each dim; missing leading entries of ``dims`` count as 1.

    Args:
        input (Tensor): the input tensor.
        dims (tuple of int): the number of repeats per dim.
    """
    dims = _ints(dims if isinstance(dims, (tuple, list)) else (dims,), "tile")
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


def _flip_dual(g, dims):
    if isinstance(g, Tensor):
        return Flip.apply(g, dims)
    return get_array_module(g).flip(g, dims).copy()


class Flip(Node):
    def forward(self, x, dims):
        self.dims = dims
        return get_array_module(x).flip(x, dims).copy()

    def backward(self, g):
        return _flip_dual(g, self.dims), None


def flip(input, dims):
    """Reverse the order of ``input``'s elements along ``dims`` (a copy, as in PyTorch).

    Args:
        input (Tensor): the input tensor.
        dims (int or tuple of int): the dims to flip.
    """
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not dims:
        return Flip.apply(input, ())
    return Flip.apply(input, wrap_dims(dims, input._data.ndim))


def fliplr(input):
    """Flip along dim 1 (needs at least 2 dims)."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    """Flip along dim 0 (needs at least 1 dim)."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def _roll_dual(g, shifts, dims):
    if isinstance(g, Tensor):
        return Roll.apply(g, shifts, dims)
    return get_array_module(g).roll(g, shifts, dims)


class Roll(Node):
    def forward(self, x, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return get_array_module(x).roll(x, shifts, dims)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return _roll_dual(g, neg, self.dims), None, None


def roll(input, shifts, dims=None):
    """Shift the elements of ``input`` cyclically.

    Args:
        input (Tensor): the input tensor.
        shifts (int or tuple of int): the shift per dim in ``dims``.
        dims (int or tuple of int, optional): the dims to roll; the flattened tensor when omitted
            (and the shape is restored).
    """
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return Roll.apply(input, shifts if isinstance(shifts, int) else int(shifts[0]), None)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    dims = tuple(wrap_dim(d, input._data.ndim) for d in dims)
    return Roll.apply(input, shifts, dims)


def _rot90_dual(g, k, dims):
    if isinstance(g, Tensor):
        return Rot90.apply(g, k, dims)
    return get_array_module(g).rot90(g, k, dims).copy()


class Rot90(Node):
    def forward(self, x, k, dims):
        self.k, self.dims = k, dims
        return get_array_module(x).rot90(x, k, dims).copy()

    def backward(self, g):
        return _rot90_dual(g, -self.k, self.dims), None, None


def rot90(input, k=1, dims=(0, 1)):
    """Rotate ``input`` by 90 degrees ``k`` times in the plane of ``dims``, from the first dim
    towards the second.

    Args:
        input (Tensor): the input tensor (at least 2-D).
        k (int): the number of rotations; negative rotates the other way. Default: 1.
        dims (tuple of int): the two dims of the plane. Default: ``(0, 1)``.
    """
    k = int_arg(k, "rot90", "k", 2)
    dims = tuple(dims)
    ndim = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {ndim}")
    d0, d1 = wrap_dim(dims[0], ndim), wrap_dim(dims[1], ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    return Rot90.apply(input, k % 4, (d0, d1))


register_methods({
    "split": _method(split), "split_with_sizes": _method(split),
    "tensor_split": _method(tensor_split), "chunk": _method(chunk),
    "hsplit": _method(hsplit), "vsplit": _method(vsplit), "dsplit": _method(dsplit),
    "unbind": _method(unbind),
    "repeat": repeat, "tile": lambda self, *dims: tile(self, dims[0] if len(dims) == 1 else dims),
    "flip": lambda self, *dims: flip(self, dims[0] if len(dims) == 1 and not isinstance(
        dims[0], int) else dims),
    "fliplr": fliplr, "flipud": flipud,
    "roll": lambda self, shifts, dims=None: roll(self, shifts, dims),
    "rot90": lambda self, k=1, dims=(0, 1): rot90(self, k, dims),
})
