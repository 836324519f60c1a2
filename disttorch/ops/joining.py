"""Ops that build a new tensor from the layout of others: cat/stack, repeat/tile, flip, roll,
rot90, and the ``atleast_*`` helpers. Outputs are copies (as in PyTorch); backwards are linear."""
import numpy as np

from .. import _dtype
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor
from ._util import register_methods, wrap_dim, wrap_dims, cast, device_mismatch
from .shape import reshape, slice_dual, _ints

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack",
           "row_stack", "tile", "flip", "fliplr", "flipud", "roll", "rot90", "atleast_1d",
           "atleast_2d", "atleast_3d"]


class Cat(Node):
    def forward(self, dim, *xs):
        self.dim = dim
        ndim = max(x.ndim for x in xs)
        # PyTorch still accepts legacy empty 1-D tensors in a cat of N-D tensors.
        self.skipped = [x.shape == (0,) and ndim != 1 for x in xs]
        self.bounds = np.cumsum([0] + [0 if skip else x.shape[dim]
                                       for x, skip in zip(xs, self.skipped)]).tolist()
        return get_array_module(xs[0]).concatenate(
            [x for x, skip in zip(xs, self.skipped) if not skip], axis=dim)

    def backward(self, g):
        lead = (slice(None),) * self.dim
        b = self.bounds
        return (None,) + tuple(None if skip or e is None else
                               slice_dual(g, lead + (slice(b[i], b[i + 1]),))
                               for i, (e, skip) in enumerate(zip(self.next_edges[1:], self.skipped)))


class Stack(Node):
    def forward(self, dim, *xs):
        self.dim = dim
        return get_array_module(xs[0]).stack(xs, axis=dim)

    def backward(self, g):
        lead = (slice(None),) * self.dim
        return (None,) + tuple(None if e is None else slice_dual(g, lead + (i,))
                               for i, e in enumerate(self.next_edges[1:]))


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
    """Concatenate tensors along an existing dim ``dim`` (with PyTorch's dtype promotion)."""
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
    """Join tensors of equal shape along a new dim ``dim``."""
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
    """Tile ``self`` ``sizes[i]`` times along each dim (``len(sizes) >= self.dim()``)."""
    reps = _ints(sizes, "repeat")
    if len(reps) < self._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(reps)}: "
                           f"{list(reps)}")
    return Repeat.apply(self, reps)


def tile(input, dims):
    """Repeat ``input`` along each dim; missing leading ``dims`` count as 1."""
    dims = _ints((dims,), "tile")
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
    """Reverse the order of elements along ``dims`` (a copy)."""
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
    """Shift elements cyclically by ``shifts`` along ``dims`` (the flattened tensor if None)."""
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
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first towards the
    second)."""
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
    "repeat": repeat, "tile": lambda self, *dims: tile(self, dims),
    "flip": lambda self, *dims: flip(self, dims[0] if len(dims) == 1 and not isinstance(
        dims[0], int) else dims),
    "fliplr": fliplr, "flipud": flipud,
    "roll": lambda self, shifts, dims=None: roll(self, shifts, dims),
    "rot90": lambda self, k=1, dims=(0, 1): rot90(self, k, dims),
})
