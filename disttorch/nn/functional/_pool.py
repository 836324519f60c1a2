"""Pooling: max/avg over strided windows, adaptive pools, power-average pools, max unpooling
(fractional max pooling lives in ``_fractional`` and is exported from here).

Windows are strided views of the padded input (``_windows.sliding_windows``). Strided max
pooling compares tap by tap over that view and keeps the winning tap; its backward adds the
gradient back tap by tap where that tap won. Adaptive (and fractional) pools gather
variable-size windows through index tables padded to the largest window (repeating an element
leaves a max alone), record the argmax as a flat index into each input plane (PyTorch's
``return_indices``) and scatter-add the gradient back through it.
"""
import functools
import itertools
import math

import numpy as np

from ..._backend import get_array_module, device_constant
from ..._dtype import NP_BFLOAT16
from ...amp.autocast_mode import autocast_args
from ...autograd.function import Node
from ...cuda.kernels.pool import pool2d_applies, FusedMaxPool2d, FusedAvgPool2d
from ...ops.pointwise import abs as abs_, relu, sign
from ...tensor import Tensor
from ._windows import (ntuple, shape_str, pad_zeros, crop, sliding_windows, fold_windows,
                       window_slices, scatter_add_flat, require_float, FlatScatter, FlatPut,
                       AxisLinear)
from ._fractional import (fractional_max_pool2d, fractional_max_pool3d,
                          fractional_max_pool2d_with_indices, fractional_max_pool3d_with_indices)

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "fractional_max_pool2d",
           "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


# ---------------------------------------------------------------------------- max pooling
def _flat_index(arg, tables, spatial):
    """Flat input index (per plane) of kernel tap ``arg`` of each output;
    ``tables[i][o, k]`` is the input position of tap ``k`` of output ``o`` along dim ``i``."""
    xp = get_array_module(arg)
    d = len(tables)
    flat = xp.zeros(arg.shape, dtype=xp.int64)
    rest = arg.astype(xp.int64)
    mult = 1
    for i in reversed(range(d)):
        k = tables[i].shape[1]
        tap = rest % k
        rest = rest // k
        shape = [1] * arg.ndim
        shape[arg.ndim - d + i] = tables[i].shape[0]
        out_pos = xp.arange(tables[i].shape[0]).reshape(shape)
        flat += tables[i][out_pos, tap] * mult
        mult *= spatial[i]
    return flat


def _scatter_to_input(g, flat_index, shape):
    n, c = shape[:2]
    size = math.prod(shape[2:])
    index = flat_index.reshape(n, c, math.prod(flat_index.shape[2:]))
    if isinstance(g, Tensor):
        return FlatScatter.apply(g.reshape(*index.shape), index, size).reshape(*shape)
    return scatter_add_flat(g.reshape(index.shape), index, size).reshape(shape)


def _disjoint_blocks(kernel, stride, pairs, dilation):
    """Whether the windows are disjoint, unpadded and undilated blocks (``stride == kernel``)."""
    return (tuple(stride) == tuple(kernel) and all(dl == 1 for dl in dilation)
            and not any(lo or hi for lo, hi in pairs))


def _block_max(x, kernel):
    """Max and winning tap of disjoint ``kernel`` blocks, reduced one kernel axis at a time.

    Ties go to the smaller flat tap index, so the winner is the first maximum in row-major tap
    order, as in the tap-by-tap scan. The first axis goes first: its slices are runs of whole
    rows, and only the smaller partial maxima are read with a stride. Winning taps are kept
    with integer arithmetic (masked copies and ``where`` on strided data are far slower). NaN
    is not handled (``maximum`` propagates it, so the caller sees it and rescans).
    """
    xp = get_array_module(x)
    d = len(kernel)
    dtype = xp.int8 if math.prod(kernel) < 128 else xp.int32
    best = sliding_windows(x, kernel, kernel, (1,) * d)   # (N, C, *out, *kernel)
    arg = xp.zeros((), dtype=dtype)
    lead = best.ndim - d
    for axis, k in enumerate(kernel):
        weight = math.prod(kernel[axis + 1:])            # flat tap index step along this axis
        taps = [best[(slice(None),) * lead + (t,)] for t in range(k)]
        # xp.full, not xp.asarray: on a GPU a host-to-device copy would wait for the stream
        args = [arg[(slice(None),) * lead + (t,)] + xp.full((), t * weight, dtype=dtype)
                if arg.ndim else xp.full((), t * weight, dtype=dtype) for t in range(k)]
        top, top_arg = taps[0], args[0]
        for candidate, cand_arg in zip(taps[1:], args[1:]):
            better = candidate > top
            if axis:
                # the first axis's candidates come in tap order; later ones may tie with a
                # smaller index already on top
                better |= (candidate == top) & (cand_arg < top_arg)
            top = xp.maximum(top, candidate)
            top_arg = top_arg + better * (cand_arg - top_arg)
        best, arg = top, top_arg
    # a kernel of ones leaves a view of x, and a 0-d tap index
    best = best if best.base is None else best.copy()
    return best, xp.broadcast_to(arg, best.shape).astype(dtype)


def _scan_max(x, kernel, stride, pairs, dilation, floating):
    """Max and winning tap of each window, comparing one kernel tap at a time."""
    xp = get_array_module(x)
    low = float("-inf") if floating else xp.iinfo(x.dtype).min
    windows = sliding_windows(pad_zeros(x, pairs, low), kernel, stride, dilation)
    best = arg = None
    for k, pos in enumerate(itertools.product(*(range(n) for n in kernel))):
        candidate = windows[(Ellipsis,) + pos]
        if best is None:
            best = candidate.copy()
            arg = xp.zeros(best.shape, dtype=xp.int8 if math.prod(kernel) < 128 else xp.int32)
            continue
        # strictly greater keeps the first maximum; NaN wins, as in PyTorch
        better = candidate > best
        if floating:
            better |= xp.isnan(candidate)
        xp.copyto(best, candidate, where=better)
        xp.copyto(arg, k, where=better)
    return best, arg


class StridedMaxPool(Node):
    """Max over strided windows, one vectorised compare per kernel tap (no window copy).

    Returns the maxima, and with ``with_index`` also their flat indices in each input plane.
    Backward adds the gradient back tap by tap where that tap won (col2im with a mask).
    """

    def forward(self, x, kernel, stride, pairs, dilation, with_index):
        xp = get_array_module(x)
        # ml_dtypes' bfloat16 is a floating type of numpy kind "V"
        floating = x.dtype.kind == "f" or x.dtype == NP_BFLOAT16
        blocks = _disjoint_blocks(kernel, stride, pairs, dilation) and x.dtype.kind in "fiu"
        best = None
        if blocks:
            best, arg = _block_max(x, kernel)
            # on a GPU this check would stall every step: there a NaN tap may win by the
            # block rule instead of the scan's (the maxima agree, the gradient's tap may not)
            if floating and xp is np and xp.isnan(best).any():
                best, blocks = None, False     # the scan's NaN rule decides which tap wins
        if best is None:
            best, arg = _scan_max(x, kernel, stride, pairs, dilation, floating)
        self.meta = (x.shape, kernel, stride, pairs, dilation, arg)
        self.blocks = blocks
        if not with_index:
            return best
        self.mark_non_differentiable(1)
        return best, _flat_index(arg, self._tables(xp), x.shape[2:])

    def _tables(self, xp):
        _, kernel, stride, pairs, dilation, arg = self.meta
        outs = arg.shape[2:]
        return [xp.arange(o)[:, None] * st - lo + xp.arange(k)[None, :] * dl
                for o, st, (lo, _), k, dl in zip(outs, stride, pairs, kernel, dilation)]

    def backward(self, g, *_):
        shape, kernel, stride, pairs, dilation, arg = self.meta
        if isinstance(g, Tensor):
            xp = get_array_module(arg)
            gx = _scatter_to_input(g, _flat_index(arg, self._tables(xp), shape[2:]), shape)
            return gx, None, None, None, None, None
        xp = get_array_module(g)
        if self.blocks:
            # disjoint windows: each input element receives at most one output's gradient
            gx = xp.zeros(shape, dtype=g.dtype)
            taps = sliding_windows(gx, kernel, stride, dilation)
            # a product with the mask is several times faster than a masked copy into strided
            # taps; it only differs where g is not finite (inf * 0) or is negative (-0.0). On a
            # GPU the finiteness check would stall every step: the masked copy always runs there
            finite = xp is np and bool(xp.isfinite(g).all())
            for k, pos in enumerate(itertools.product(*(range(n) for n in kernel))):
                if finite:
                    xp.multiply(g, arg == k, out=taps[(Ellipsis,) + pos])
                else:
                    xp.copyto(taps[(Ellipsis,) + pos], g, where=arg == k)
            return gx, None, None, None, None, None
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(shape[2:], pairs))
        gx = xp.zeros(shape[:2] + padded, dtype=g.dtype)
        zero = xp.zeros((), dtype=g.dtype)
        for k, pos in enumerate(itertools.product(*(range(n) for n in kernel))):
            target = window_slices(pos, arg.shape[2:], stride, dilation)
            gx[target] += xp.where(arg == k, g, zero)
        return crop(gx, pairs), None, None, None, None, None


class MaxPool(Node):
    """Max over gathered windows ``(N, C, *out, prod(K))`` (adaptive and fractional pooling):
    ``gather(x)`` returns them with a function from window tap to flat input index."""

    def forward(self, x, gather):
        xp = get_array_module(x)
        windows, to_input_index = gather(x)
        arg = windows.argmax(axis=-1)
        if windows.dtype.kind in "fV":
            # PyTorch's kernels take a NaN as the max and keep the last one (``val > max ||
            # isnan(val)``); argmax keeps the first
            nan = windows != windows
            last_nan = (windows.shape[-1] - 1) - nan[..., ::-1].argmax(axis=-1)
            arg = xp.where(nan.any(axis=-1), last_nan, arg)
        values = xp.take_along_axis(windows, arg[..., None], axis=-1)[..., 0]
        index = to_input_index(arg)
        self.meta = (x.shape, index)
        self.mark_non_differentiable(1)
        return values, index

    def backward(self, g, _):
        shape, index = self.meta
        return _scatter_to_input(g, index, shape), None


def _pool_out(size, k, s, p, dl, ceil_mode):
    span = size + 2 * p - dl * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    # in ceil mode the last window must still start inside the input or its left padding
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_setup(input, d, kernel_size, stride, padding, dilation, ceil_mode, name):
    if input.ndim not in (d + 1, d + 2) or any(s == 0 for s in input.shape[1:]):
        if d == 1:
            raise RuntimeError(f"{name}: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                               f"batch size for input, but got:{shape_str(input.shape)}")
        raise RuntimeError(f"non-empty {d + 1}D or {d + 2}D (batch mode) tensor expected for input")
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    kernel = ntuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else ntuple(stride, d,
                                                                                   "stride")
    pads = ntuple(padding, d, "padding")
    dilation = ntuple(dilation, d, "dilation")
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel={kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"stride should be greater than zero, but got stride={stride}")
    if any(dl <= 0 for dl in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation={dilation}")
    for k, p, dl in zip(kernel, pads, dilation):
        if p < 0 or 2 * p > dl * (k - 1) + 1:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={dl}")
    spatial = input.shape[2:]
    outs = tuple(_pool_out(s, k, st, p, dl, ceil_mode)
                 for s, k, st, p, dl in zip(spatial, kernel, stride, pads, dilation))
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, input.shape[1:]))}). "
                           f"Calculated output size: ({input.shape[1]}x{'x'.join(map(str, outs))})"
                           f". Output size is too small")
    # padding on the high side also covers windows that ceil_mode lets run past the input
    pairs = tuple((p, max(p, (o - 1) * st + dl * (k - 1) + 1 - s - p))
                  for s, k, st, p, dl, o in zip(spatial, kernel, stride, pads, dilation, outs))
    return input, unbatched, kernel, stride, pairs, dilation, outs


def _max_pool(input, d, kernel_size, stride, padding, dilation, ceil_mode, return_indices, name):
    input, unbatched, kernel, stride, pairs, dilation, outs = _pool_setup(
        input, d, kernel_size, stride, padding, dilation, ceil_mode, name)

    if d == 2 and pool2d_applies(input._data):
        result = FusedMaxPool2d.apply(input, kernel, stride, pairs, dilation, outs,
                                      bool(return_indices))
    else:
        result = StridedMaxPool.apply(input, kernel, stride, pairs, dilation,
                                      bool(return_indices))
    if unbatched:
        result = tuple(r.squeeze(0) for r in result) if return_indices else result.squeeze(0)
    return result


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Applies a 1D max pooling over an input signal composed of several input planes.

    Args:
        input: tensor of shape :math:`(N, C, L)` or :math:`(C, L)`
        kernel_size: the size of the window
        stride: the stride of the window. Default: ``kernel_size``
        padding: implicit negative-infinity padding on both sides, at most half the kernel
        dilation: the spacing between window elements. Default: 1
        ceil_mode: use ``ceil`` instead of ``floor`` to compute the output length
        return_indices: also return the flat indices of the maxima (for :func:`max_unpool1d`)

    Shape:
        - Output: :math:`(N, C, L_{out})`,
          :math:`L_{out} = \\lfloor (L + 2p - d (k - 1) - 1) / s + 1 \\rfloor` (or ceil)
    """
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Applies a 2D max pooling over an input signal composed of several input planes.

    Args:
        input: tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`
        kernel_size, stride, padding, dilation: ints or pairs, as in :func:`max_pool1d`
        ceil_mode: use ``ceil`` instead of ``floor`` to compute the output shape
        return_indices: also return the indices of the maxima, flat in each ``H x W`` plane

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     "max_pool2d")


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Applies a 3D max pooling over an input signal; arguments as in :func:`max_pool2d` with
    triples.

    Shape:
        - Input: :math:`(N, C, D, H, W)`; Output: :math:`(N, C, D_{out}, H_{out}, W_{out})`
    """
    if not return_indices:
        # PyTorch's CPU autocast casts max_pool3d, not max_pool3d_with_indices
        input, = autocast_args("max_pool3d", input)
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     "max_pool3d")


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """:func:`max_pool1d` returning ``(output, indices)``."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """:func:`max_pool2d` returning ``(output, indices)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """:func:`max_pool3d` returning ``(output, indices)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---------------------------------------------------------------------------- avg pooling
def _window_sum(x, kernel, stride, pairs, divisor):
    d = len(kernel)
    windows = sliding_windows(pad_zeros(x, pairs), kernel, stride, (1,) * d)
    total = windows.sum(axis=tuple(range(-d, 0)))
    if x.dtype.kind in "iub":
        # integer pooling divides with truncation, as PyTorch's integer kernels do
        return get_array_module(x).trunc(total / divisor).astype(x.dtype)
    return total / divisor


def _window_fold(g, spatial, kernel, stride, pairs, divisor):
    xp = get_array_module(g)
    d = len(kernel)
    scaled = g / divisor
    cols = xp.broadcast_to(scaled.reshape(scaled.shape + (1,) * d), scaled.shape + tuple(kernel))
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pairs))
    return crop(fold_windows(cols, padded, kernel, stride, (1,) * d), pairs)


class AvgPool(Node):
    def forward(self, x, kernel, stride, pairs, divisor):
        self.meta = (x.shape[2:], kernel, stride, pairs, divisor)
        return _window_sum(x, kernel, stride, pairs, divisor.astype(x.dtype, copy=False))

    def backward(self, g):
        spatial, kernel, stride, pairs, divisor = self.meta
        if isinstance(g, Tensor):
            return AvgPoolAdjoint.apply(g, spatial, kernel, stride, pairs, divisor), *(None,) * 4
        divisor = divisor.astype(g.dtype, copy=False)
        return _window_fold(g, spatial, kernel, stride, pairs, divisor), *(None,) * 4


class AvgPoolAdjoint(Node):
    def forward(self, g, spatial, kernel, stride, pairs, divisor):
        self.meta = (kernel, stride, pairs, divisor)
        return _window_fold(g, spatial, kernel, stride, pairs, divisor.astype(g.dtype, copy=False))

    def backward(self, gg):
        kernel, stride, pairs, divisor = self.meta
        if isinstance(gg, Tensor):
            return AvgPool.apply(gg, kernel, stride, pairs, divisor), *(None,) * 5
        return _window_sum(gg, kernel, stride, pairs, divisor.astype(gg.dtype, copy=False)), \
            *(None,) * 5


def _avg_divisor(xp, spatial, kernel, stride, padding, outs, count_include_pad, divisor_override):
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        return xp.full((), float(divisor_override), dtype=xp.float64)   # no host copy
    divisor = xp.ones((), dtype=xp.float64)
    for i, (s, k, st, p, o) in enumerate(zip(spatial, kernel, stride, padding, outs)):
        start = xp.arange(o) * st - p
        end = xp.minimum(start + k, s + p)
        if count_include_pad:
            counts = end - start
        else:
            counts = xp.minimum(end, s) - xp.maximum(start, 0)
        divisor = divisor[..., None] * counts.astype(xp.float64) if i else counts.astype(
            xp.float64)
    return divisor


def _avg_pool(input, d, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, name):
    input, unbatched, kernel, stride, pairs, _, outs = _pool_setup(
        input, d, kernel_size, stride, padding, 1, ceil_mode, name)
    xp = get_array_module(input._data)
    if d == 2 and pool2d_applies(input._data) and (divisor_override is None or (
            isinstance(divisor_override, int) and 0 < divisor_override < 2 ** 31)):
        out = FusedAvgPool2d.apply(input, kernel, stride, pairs, outs, count_include_pad,
                                   int(divisor_override or 0))
        return out.squeeze(0) if unbatched else out
    divisor = _avg_divisor(xp, input.shape[2:], kernel, stride, [lo for lo, _ in pairs], outs,
                           count_include_pad, divisor_override)
    out = AvgPool.apply(input, kernel, stride, pairs, divisor)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Applies a 1D average pooling over an input signal composed of several input planes.

    Args:
        input: tensor of shape :math:`(N, C, L)` or :math:`(C, L)`
        kernel_size: the size of the window
        stride: the stride of the window. Default: ``kernel_size``
        padding: implicit zero padding on both sides, at most half the kernel. Default: 0
        ceil_mode: use ``ceil`` instead of ``floor`` to compute the output length
        count_include_pad: include the zero-padding in the averaging count. Default: ``True``

    Shape:
        - Output: :math:`(N, C, L_{out})`
    """
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Applies 2D average-pooling in :math:`kH \\times kW` regions by step :math:`sH \\times sW`.

    Args:
        input: tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`
        kernel_size, stride, padding: ints or pairs, as in :func:`avg_pool1d`
        ceil_mode: use ``ceil`` instead of ``floor`` to compute the output shape
        count_include_pad: include the zero-padding in the averaging count. Default: ``True``
        divisor_override: if given, the divisor of every window. Default: ``None``

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, "avg_pool2d")


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Applies 3D average-pooling; arguments as in :func:`avg_pool2d` with triples.

    Shape:
        - Input: :math:`(N, C, D, H, W)`; Output: :math:`(N, C, D_{out}, H_{out}, W_{out})`
    """
    input, = autocast_args("avg_pool3d", input)
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, "avg_pool3d")


# ---------------------------------------------------------------------------- adaptive pools
def _adaptive_bounds(size, out):
    starts = [(i * size) // out for i in range(out)]
    ends = [-((-(i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _adaptive_setup(input, d, output_size, name):
    if input.ndim not in (d + 1, d + 2) or any(s == 0 for s in input.shape[-d:]):
        raise RuntimeError(f"{name}(): Expected {d + 1}D or {d + 2}D tensor, but got "
                           f"{shape_str(input.shape)}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * d
    if len(sizes) != d:
        raise ValueError(f"{name}: output_size must be an int or a tuple of {d} ints, got "
                         f"{tuple(sizes)}")
    outs = tuple(int(s) if s is not None else int(n) for s, n in zip(sizes, input.shape[-d:]))
    if any(o < 0 for o in outs):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 "
                           f"but received {outs}")
    unbatched = input.ndim == d + 1
    return (input.unsqueeze(0) if unbatched else input), unbatched, outs


def _averaging_matrix(size, out):
    """The ``(out, size)`` matrix of adaptive average pooling along one axis (host)."""
    host = np.zeros((out, size))
    for i, (a, b) in enumerate(zip(*_adaptive_bounds(size, out))):
        host[i, a:b] = 1.0 / (b - a)
    return host


@functools.lru_cache(maxsize=256)
def _window_tables(size, out):
    """Per output position its window's input indices padded to the longest window (padding
    repeats the last index), which of them are real (None when every window is full), and the
    window lengths (host arrays)."""
    starts, ends = _adaptive_bounds(size, out)
    k = max(b - a for a, b in zip(starts, ends))
    index = np.array([[min(a + j, b - 1) for j in range(k)] for a, b in zip(starts, ends)],
                     np.int64)
    real = np.array([[a + j < b for j in range(k)] for a, b in zip(starts, ends)])
    counts = np.array([b - a for a, b in zip(starts, ends)], np.float64)
    return index, (None if real.all() else real), counts


class AdaptiveAverage(AxisLinear):
    """Adaptive average pooling: each window's mean, axis by axis (a rectangle's mean is the
    mean of its rows' means). The forward sums each window on its own, so a NaN or inf stays in
    the windows that hold it, as in PyTorch; multiplying by the averaging matrices would spread
    it through their zeros. The backward is the transposed matrices' (``AxisLinear``)."""

    def forward(self, x, mats):
        self.mats = mats
        xp = get_array_module(x)
        dtype = x.dtype
        wide = x.astype(np.float32) if dtype in (np.float16, NP_BFLOAT16) else x
        d = len(mats)
        for i, m in enumerate(mats):
            axis = x.ndim - d + i
            out, size = m.shape
            if out == 1:   # one window over the whole axis (global pooling): no gather
                wide = wide.sum(axis=axis, keepdims=True) / size
                continue
            host_index, host_real, host_counts = _window_tables(size, out)
            index, counts = (device_constant(xp, ("adaptive_windows", size, out, j),
                                             lambda a=a: a)
                             for j, a in ((0, host_index), (2, host_counts)))
            windows = xp.take(wide, index.reshape(-1), axis=axis)
            windows = windows.reshape(wide.shape[:axis] + index.shape + wide.shape[axis + 1:])
            trailing = (1,) * (wide.ndim - axis - 1)
            if host_real is not None:   # (uneven windows: the padding taps count for nothing)
                real = device_constant(xp, ("adaptive_windows", size, out, 1),
                                       lambda: host_real)
                windows = xp.where(real.reshape(index.shape + trailing), windows, 0)
            wide = windows.sum(axis=axis + 1) / counts.astype(wide.dtype).reshape(
                (out,) + trailing)
        return wide.astype(dtype, copy=False)


def _adaptive_avg(input, d, output_size, name):
    input, unbatched, outs = _adaptive_setup(input, d, output_size, name)
    require_float(input, name)
    xp = get_array_module(input._data)
    mats = [device_constant(xp, ("adaptive_avg", size, o),
                            lambda s=size, o=o: _averaging_matrix(s, o))
            for size, o in zip(input.shape[2:], outs)]
    out = AdaptiveAverage.apply(input, mats)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    """Applies a 1D adaptive average pooling: output length ``output_size`` for any input.

    Shape:
        - Input: :math:`(N, C, L)` or :math:`(C, L)`; Output: :math:`(N, C, output\\_size)`
    """
    return _adaptive_avg(input, 1, output_size, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    """Applies a 2D adaptive average pooling.

    Args:
        input: tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`
        output_size: the target ``(H_out, W_out)``, an int for a square, ``None`` keeps a size

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """
    return _adaptive_avg(input, 2, output_size, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input, output_size):
    """Applies a 3D adaptive average pooling; ``output_size`` a triple or an int."""
    input, = autocast_args("adaptive_avg_pool3d", input)
    return _adaptive_avg(input, 3, output_size, "adaptive_avg_pool3d")


def _adaptive_max(input, d, output_size, return_indices, name):
    input, unbatched, outs = _adaptive_setup(input, d, output_size, name)
    spatial = input.shape[2:]

    def gather(x):
        xp = get_array_module(x)
        tables = []
        for size, o in zip(spatial, outs):
            starts, ends = _adaptive_bounds(size, o)
            k = max(b - a for a, b in zip(starts, ends))
            tables.append(xp.asarray([[min(a + j, b - 1) for j in range(k)]
                                      for a, b in zip(starts, ends)], dtype=xp.int64))
        windows = x
        for i, t in enumerate(tables):
            windows = xp.take(windows, t.ravel(), axis=2 + 2 * i)
            axis = 2 + 2 * i
            windows = windows.reshape(windows.shape[:axis] + t.shape + windows.shape[axis + 1:])
        order = ((0, 1) + tuple(2 + 2 * i for i in range(d)) + tuple(3 + 2 * i for i in range(d)))
        windows = windows.transpose(order)
        taps = math.prod(t.shape[1] for t in tables)
        return (windows.reshape(windows.shape[:2 + d] + (taps,)),
                lambda arg: _flat_index(arg, tables, spatial))

    out, index = MaxPool.apply(input, gather)
    if unbatched:
        out, index = out.squeeze(0), index.squeeze(0)
    return (out, index) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Applies a 1D adaptive max pooling; ``return_indices`` also returns argmax indices.

    Shape:
        - Input: :math:`(N, C, L)` or :math:`(C, L)`; Output: :math:`(N, C, output\\_size)`
    """
    return _adaptive_max(input, 1, output_size, return_indices, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Applies a 2D adaptive max pooling.

    Args:
        input: tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`
        output_size: the target ``(H_out, W_out)``, an int for a square, ``None`` keeps a size
        return_indices: also return the flat indices of the maxima

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """
    return _adaptive_max(input, 2, output_size, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Applies a 3D adaptive max pooling; ``output_size`` a triple or an int."""
    input, = autocast_args("adaptive_max_pool3d", input)
    return _adaptive_max(input, 3, output_size, return_indices, "adaptive_max_pool3d")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """:func:`adaptive_max_pool1d` returning ``(output, indices)``."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """:func:`adaptive_max_pool2d` returning ``(output, indices)``."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """:func:`adaptive_max_pool3d` returning ``(output, indices)``."""
    return adaptive_max_pool3d(input, output_size, True)


# ---------------------------------------------------------------------------- power average
def _lp_pool(input, d, norm_type, kernel_size, stride, ceil_mode):
    kernel = ntuple(kernel_size, d, "kernel_size")
    avg_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[d - 1]
    avg = avg_pool(input ** norm_type, kernel, stride, 0, ceil_mode)
    return (sign(avg) * relu(abs_(avg)) * math.prod(kernel)) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Applies a 1D power-average pooling :math:`(\\sum_{x \\in X} x^p)^{1/p}` over windows.

    Args:
        input: tensor of shape :math:`(N, C, L)` or :math:`(C, L)`
        norm_type: the power :math:`p`
        kernel_size: the size of the window
        stride: the stride of the window. Default: ``kernel_size``
        ceil_mode: use ``ceil`` instead of ``floor`` to compute the output length
    """
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Applies a 2D power-average pooling; arguments as in :func:`lp_pool1d` with pairs.

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`; Output: :math:`(N, C, H_{out}, W_{out})`
    """
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Applies a 3D power-average pooling; arguments as in :func:`lp_pool1d` with triples.

    Shape:
        - Input: :math:`(N, C, D, H, W)` or :math:`(C, D, H, W)`;
          Output: :math:`(N, C, D_{out}, H_{out}, W_{out})`
    """
    return _lp_pool(input, 3, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------------------- unpooling
def _max_unpool(input, indices, d, kernel_size, stride, padding, output_size, name):
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{name}: Expected {d + 1}D or {d + 2}D input, but got input of size: "
                           f"{shape_str(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({shape_str(input.shape)}) but got indices tensor with shape: "
                           f"{shape_str(indices.shape)}")
    kernel = ntuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None else ntuple(stride, d, "stride")
    pads = ntuple(padding, d, "padding")
    default = tuple((s - 1) * st - 2 * p + k
                    for s, st, p, k in zip(input.shape[-d:], stride, pads, kernel))
    if output_size is None:
        spatial = default
    else:
        spatial = tuple(int(s) for s in tuple(output_size)[-d:])
        for s, dflt, st in zip(spatial, default, stride):
            if not dflt - st < s < dflt + st:
                raise ValueError(f"invalid output_size {tuple(output_size)} (dim 0 must be between "
                                 f"{dflt - st} and {dflt + st})")
    lead = tuple(input.shape[:-d])
    flat_in = input.reshape(*(lead if len(lead) > 1 else (1,) + lead), -1)
    flat_idx = indices._data.reshape(flat_in.shape)
    size = math.prod(spatial)
    if flat_idx.size and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= size):
        raise RuntimeError(f"Found an invalid max index: {int(flat_idx.max())} (output volumes are "
                           f"of size {'x'.join(map(str, spatial))}")
    out = FlatPut.apply(flat_in, flat_idx, size)
    return out.reshape(*lead, *spatial)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Computes a partial inverse of :func:`max_pool1d`: maxima placed back at ``indices``,
    zeros elsewhere.

    Shape:
        - Input: :math:`(N, C, L)` or :math:`(C, L)`;
          Output: :math:`L_{out} = (L - 1) s - 2 p + k` or ``output_size``
    """
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size,
                       "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Computes a partial inverse of :func:`max_pool2d`.

    Args:
        input: the pooled tensor :math:`(N, C, H, W)` or :math:`(C, H, W)`
        indices: the indices returned by ``max_pool2d(..., return_indices=True)``
        kernel_size, stride, padding: those of the pooling. ``stride`` defaults to the kernel
        output_size: the target spatial size (to resolve the ambiguity of the inverse)

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})`, :math:`S_{out} = (S - 1) s - 2 p + k`
    """
    input, = autocast_args("max_unpool2d", input)
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size,
                       "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Computes a partial inverse of :func:`max_pool3d`; arguments as in :func:`max_unpool2d`."""
    input, = autocast_args("max_unpool3d", input)
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size,
                       "max_unpool3d")
