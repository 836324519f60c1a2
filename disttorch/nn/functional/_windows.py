"""Array helpers and small linear nodes shared by convolution, pooling and resampling.

``sliding_windows`` is the im2col *view* (no copy) and ``fold_windows`` its adjoint
(col2im: a loop over kernel positions adding strided slices). The nodes come in mutually
adjoint pairs, each the other's backward, so what is built on them differentiates twice:
``AxisGather``/``AxisScatter`` resample one axis through index/weight taps (interpolation),
``FlatGather``/``FlatScatter`` (and ``FlatPut``) move values by flat index within each plane
(max pooling, unpooling), and ``AxisLinear`` applies a matrix along each trailing axis
(adaptive average pooling).
"""
import itertools

from ...ops._ufunc_compat import bincount as _bincount
from ..._gemm import tensordot as _tensordot
from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor


def ntuple(value, n, name="argument"):
    """``value`` as a tuple of ``n`` ints (a single int is repeated)."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, but got "
                             f"{tuple(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
               "bool": "Bool"}


def require_float(input, kernel):
    """PyTorch's error for kernels that have no integer implementation."""
    if not (input.is_floating_point() or input.is_complex()):
        name = str(input._data.dtype)
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{_TYPE_NAMES.get(name, name)}'")


def shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def pad_zeros(x, pads, value=0):
    """Pad the trailing ``len(pads)`` axes of ``x`` by ``(low, high)`` pairs with ``value``."""
    if not any(lo or hi for lo, hi in pads):
        return x
    xp = get_array_module(x)
    lead = x.ndim - len(pads)
    out = xp.full(x.shape[:lead] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[lead:], pads)),
                  value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[lead:], pads))] = x
    return out


def crop(x, pads):
    """Inverse of ``pad_zeros``: drop ``(low, high)`` borders of the trailing axes."""
    if not any(lo or hi for lo, hi in pads):
        return x
    spatial = x.shape[-len(pads):]
    return x[(Ellipsis,) + tuple(slice(lo, s - hi) for s, (lo, hi) in zip(spatial, pads))]


def out_size(size, kernel, stride, dilation):
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def sliding_windows(x, kernel, stride, dilation):
    """A strided view of ``x`` (``(*lead, *S)``) as ``(*lead, *out, *kernel)`` windows."""
    xp = get_array_module(x)
    d = len(kernel)
    spatial = x.shape[-d:]
    out = tuple(out_size(s, k, st, dl) for s, k, st, dl in zip(spatial, kernel, stride, dilation))
    sp_strides = x.strides[-d:]
    strides = (x.strides[:-d] + tuple(s * st for s, st in zip(sp_strides, stride)) +
               tuple(s * dl for s, dl in zip(sp_strides, dilation)))
    return xp.lib.stride_tricks.as_strided(x, x.shape[:-d] + out + tuple(kernel), strides)


def fold_windows(cols, spatial, kernel, stride, dilation):
    """Adjoint of ``sliding_windows``: sum ``(*lead, *out, *kernel)`` windows into ``(*lead, *S)``.

    ``cols`` may be any (strided or broadcast) array of that shape.
    """
    xp = get_array_module(cols)
    d = len(kernel)
    lead = cols.shape[:-2 * d]
    outs = cols.shape[-2 * d:-d]
    out = xp.zeros(lead + tuple(spatial), dtype=cols.dtype)
    for pos in itertools.product(*(range(k) for k in kernel)):
        out[window_slices(pos, outs, stride, dilation)] += cols[(Ellipsis,) + pos]
    return out


def window_slices(pos, outs, stride, dilation):
    """The input positions that kernel tap ``pos`` reads for every output: an index into
    ``(*lead, *S)``."""
    return (Ellipsis,) + tuple(slice(p * dl, p * dl + st * (o - 1) + 1, st)
                               for p, dl, st, o in zip(pos, dilation, stride, outs))


def scatter_add_flat(values, index, size):
    """``out[..., index[..., j]] += values[..., j]`` over the last axis into ``size`` slots."""
    xp = get_array_module(values)
    rows = values.size // values.shape[-1] if values.shape[-1] else 0
    flat = (xp.arange(rows, dtype=xp.int64).reshape(values.shape[:-1] + (1,)) * size + index)
    summed = _bincount(xp, flat.ravel(), values.ravel(), rows * size)
    return summed.astype(values.dtype, copy=False).reshape(values.shape[:-1] + (size,))


def _move_last(x, axis):
    return get_array_module(x).moveaxis(x, axis, -1)


def gather_axis(x, axis, taps):
    """``sum_t x.take(index_t, axis) * weight_t`` for ``taps = [(index, weight or None), ...]``."""
    xp = get_array_module(x)
    out = None
    shape = [1] * x.ndim
    for index, weight in taps:
        term = xp.take(x, index, axis=axis)
        if weight is not None:
            shape[axis] = weight.shape[0]
            term = term * weight.astype(x.dtype, copy=False).reshape(shape)
        out = term if out is None else out + term
    return out


def scatter_axis(g, axis, taps, size):
    """Adjoint of ``gather_axis``: ``g`` summed back into ``size`` positions along ``axis``."""
    xp = get_array_module(g)
    moved = _move_last(g, axis)
    values, indices = [], []
    for index, weight in taps:
        values.append(moved if weight is None else moved * weight.astype(g.dtype, copy=False))
        indices.append(index)
    values = values[0] if len(values) == 1 else xp.concatenate(values, axis=-1)
    index = indices[0] if len(indices) == 1 else xp.concatenate(indices)
    return xp.moveaxis(scatter_add_flat(values, index, size), -1, axis)


class AxisGather(Node):
    """Resample ``axis`` of ``x`` through index/weight taps (see ``gather_axis``)."""

    def forward(self, x, axis, taps):
        self.meta = (axis, taps, x.shape[axis])
        return gather_axis(x, axis, taps)

    def backward(self, g):
        axis, taps, size = self.meta
        if isinstance(g, Tensor):
            return AxisScatter.apply(g, axis, taps, size), None, None
        return scatter_axis(g, axis, taps, size), None, None


class AxisScatter(Node):
    def forward(self, g, axis, taps, size):
        self.meta = (axis, taps)
        return scatter_axis(g, axis, taps, size)

    def backward(self, gg):
        axis, taps = self.meta
        if isinstance(gg, Tensor):
            return AxisGather.apply(gg, axis, taps), None, None, None
        return gather_axis(gg, axis, taps), None, None, None


class FlatScatter(Node):
    """``out[n, c, idx[n, c, j]] += values[n, c, j]`` over planes of ``size`` elements."""

    def forward(self, values, index, size):
        self.save_for_backward(index)
        return scatter_add_flat(values, index, size)

    def backward(self, g):
        index, = self.saved_tensors
        if isinstance(g, Tensor):
            return FlatGather.apply(g, index._data), None, None
        return get_array_module(g).take_along_axis(g, index, axis=-1), None, None


class FlatGather(Node):
    def forward(self, x, index):
        self.size = x.shape[-1]
        self.save_for_backward(index)
        return get_array_module(x).take_along_axis(x, index, axis=-1)

    def backward(self, g):
        index, = self.saved_tensors
        if isinstance(g, Tensor):
            return FlatScatter.apply(g, index._data, self.size), None
        return scatter_add_flat(g, index, self.size), None


class FlatPut(Node):
    """``out[n, c, idx[n, c, j]] = values[n, c, j]`` into zeros (max unpooling: repeated
    indices carry one value, written once)."""

    def forward(self, values, index, size):
        xp = get_array_module(values)
        self.save_for_backward(index)
        rows = values.size // values.shape[-1] if values.shape[-1] else 0
        out = xp.zeros(values.shape[:-1] + (size,), dtype=values.dtype)
        base = xp.arange(rows, dtype=xp.int64).reshape(values.shape[:-1] + (1,)) * size
        out.reshape(-1)[(base + index).ravel()] = values.ravel()
        return out

    def backward(self, g):
        index, = self.saved_tensors
        if isinstance(g, Tensor):
            return FlatGather.apply(g, index._data), None, None
        return get_array_module(g).take_along_axis(g, index, axis=-1), None, None


def apply_axis_matrices(x, mats):
    """Multiply each trailing axis ``i`` of ``x`` by the matrix ``mats[i]`` (``(out, in)``)."""
    xp = get_array_module(x)
    d = len(mats)
    for i, m in enumerate(mats):
        axis = x.ndim - d + i
        x = xp.moveaxis(_tensordot(x, m.astype(x.dtype, copy=False), axes=([axis], [1])), -1,
                        axis)
    return x


class AxisLinear(Node):
    """``apply_axis_matrices`` as a node; linear, so its backward is itself with the matrices
    transposed."""

    def forward(self, x, mats):
        self.mats = mats
        return apply_axis_matrices(x, mats)

    def backward(self, g):
        transposed = [m.T for m in self.mats]
        if isinstance(g, Tensor):
            return AxisLinear.apply(g, transposed), None
        return apply_axis_matrices(g, transposed), None


def dual_sum(x, axes, keepdim=False):
    """Sum over ``axes`` of an array or (for double backward) a Tensor."""
    if isinstance(x, Tensor):
        return x.sum(dim=tuple(axes), keepdim=keepdim) if axes else x
    return x.sum(axis=tuple(axes), keepdims=keepdim) if axes else x
