"""Convolutions (1d/2d/3d, transposed) and im2col ``unfold``/``fold``.

A convolution is one strided im2col view of the padded input, copied once into GEMM layout,
and one batched GEMM (``groups`` is a batch axis of the GEMM). The weight gradient is one GEMM
against the same columns; the input gradient is the transposed convolution (GEMM then col2im).
Three nodes close the algebra under differentiation (``Convolution``, ``ConvTranspose`` and
``ConvWeightGrad`` are each other's backward), so double backward works.

Stride-1 3x3 2-d convolutions with enough channels take Winograd's F(2x2, 3x3) instead (2.25x
fewer multiplications, the GEMM's cost); their input and weight gradients are the adjoint
computation in the Winograd domain, sharing one transform of the output gradient.
"""
import collections
import math

import numpy as np

from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor
from ._windows import (ntuple, shape_str, pad_zeros, crop, sliding_windows, fold_windows,
                       out_size, dual_sum)
from ...amp.autocast_mode import cast_lower
from ..._threads import batch_parts, parallel_map
from ..._gemm import in_dtype, matmul as _gemm
from ...cuda.kernels.conv import col2im, col2im_applies, gemm_to_nchw, im2col, im2col_applies

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold"]

# padding: one (low, high) pair per spatial dim
Geometry = collections.namedtuple("Geometry", "stride padding dilation groups")


def _windows(x, kernel, geom):
    """The im2col view ``(N, C, *out, *K)`` of the zero-padded input (no copy)."""
    return sliding_windows(pad_zeros(x, geom.padding), kernel, geom.stride, geom.dilation)


def _columns(x, kernel, geom):
    """im2col in GEMM layout ``(g, Cg*prod(K), N*L)`` (one copy), and the output size.

    Putting the batch in the GEMM's long dimension makes forward, weight gradient and input
    gradient one large GEMM each (per group).
    """
    n, c = x.shape[:2]
    g = geom.groups
    d = len(kernel)
    if im2col_applies(x, kernel):
        out_sp = tuple(out_size(s + lo + hi, k, st, dl) for s, (lo, hi), k, st, dl in
                       zip(x.shape[2:], geom.padding, kernel, geom.stride, geom.dilation))
        return im2col(x, kernel, out_sp, geom), out_sp
    windows = _windows(x, kernel, geom)
    out_sp = windows.shape[2:2 + d]
    windows = windows.reshape((n, g, c // g) + out_sp + tuple(kernel))
    order = (1, 2) + tuple(range(3 + d, 3 + 2 * d)) + (0,) + tuple(range(3, 3 + d))
    cols = windows.transpose(order).reshape(g, (c // g) * math.prod(kernel),
                                            n * math.prod(out_sp))
    return cols, out_sp


def _gemm_layout(gout, groups):
    """``(N, O, *out)`` -> ``(g, O/g, N*L)``, the layout of the columns' long dimension."""
    n, o = gout.shape[:2]
    length = math.prod(gout.shape[2:])
    return gout.reshape(n, groups, o // groups, length).transpose(1, 2, 0, 3).reshape(
        groups, o // groups, n * length)


# ---------------------------------------------------------------------------- Winograd F(2x2, 3x3)
# Y = A^T [(G w G^T) * (B^T d B)] A for each 4x4 input tile d giving a 2x2 output tile; the
# weight gradient is G^T [sum over tiles (A dY A^T) * (B^T d B)] G. Row 3 of A and G is negated
# (the products are unchanged) so that the gradient tile transform needs no negation.
_WINOGRAD_G = ((1, 0, 0), (.5, .5, .5), (.5, -.5, .5), (0, 0, -1))
# Measured against im2col (forward and both gradients, 1 thread): with fewer input channels
# the forward GEMM (inner dimension C, not 9 C) is too thin for the transforms to pay, with
# fewer output channels the input gradient's; on narrower outputs the junk column of every
# tile row (see _deinterleave) and the short rows cost more than the GEMM saves
_WINOGRAD_MIN_IN, _WINOGRAD_MIN_OUT, _WINOGRAD_MIN_WIDTH = 16, 8, 10
# bytes of transformed tiles per batch chunk: the transforms and the GEMM stay in cache
_WINOGRAD_CHUNK_BYTES = 4 << 20


def _winograd_ok(array, in_channels, out_channels, out_width, kernel, geom, dtype):
    # CPU only: its transforms are many small cache-sized passes, which on a GPU would be
    # dozens of kernel launches per call where im2col and one cuBLAS GEMM do better
    return (type(array) is np.ndarray and tuple(kernel) == (3, 3) and geom.stride == (1, 1)
            and geom.dilation == (1, 1) and geom.groups == 1 and dtype.kind == "f" and dtype.itemsize >= 4
            and in_channels >= _WINOGRAD_MIN_IN and out_channels >= _WINOGRAD_MIN_OUT
            and out_width >= _WINOGRAD_MIN_WIDTH)


def _tiles(shape, pads):
    """Output size and 2x2 output tiles ``(ho, wo, th, tw)`` of a 3x3 convolution."""
    (pt, pb), (pl, pr) = pads
    ho, wo = shape[2] + pt + pb - 2, shape[3] + pl + pr - 2
    return ho, wo, (ho + 1) // 2, (wo + 1) // 2


def _chunk(n, channels, length, dtype):
    return max(1, min(n, _WINOGRAD_CHUNK_BYTES // (16 * channels * length * dtype.itemsize)))


def _parity_blocks(shape, pads, th, tw):
    """``(a, b, xd_index, x_index)`` for each row/column parity: where the pixels of ``x``
    (``shape``) go in the parity-split padded input of ``_deinterleave``."""
    h, w = shape[2:]
    (pt, _), (pl, _) = pads
    for a in range(2):
        r0 = (pt - a + 1) // 2          # first tile row whose parity-a pixel is not padding
        y0 = 2 * r0 + a - pt
        rows = min(th + 2 - r0, (h - y0 + 1) // 2)
        for b in range(2):
            s0 = (pl - b + 1) // 2
            x0 = 2 * s0 + b - pl
            cols = min(tw + 1 - s0, (w - x0 + 1) // 2)
            if rows > 0 and cols > 0:
                yield (a, b, (slice(r0, r0 + rows), slice(s0, s0 + cols)),
                       (slice(y0, y0 + 2 * rows - 1, 2), slice(x0, x0 + 2 * cols - 1, 2)))


def _deinterleave(x, pads, th, tw):
    """The zero-padded input split by row and column parity: ``(N, C, 2, 2, (th+2)*(tw+1))``
    with padded pixel ``(2r+a, 2s+b)`` at ``[a, b, r*(tw+1) + s]``.

    Every tile row then has one junk column (``s = tw``), so each operand of the transforms is
    one contiguous run per plane instead of ``tw``-long pieces.
    """
    xp = get_array_module(x)
    n, c = x.shape[:2]
    xd = xp.zeros((n, c, 2, 2, th + 2, tw + 1), dtype=x.dtype)
    for a, b, dst, src in _parity_blocks(x.shape, pads, th, tw):
        xd[(slice(None), slice(None), a, b) + dst] = x[(Ellipsis,) + src]
    return xd.reshape(n, c, 2, 2, (th + 2) * (tw + 1))


def _interleave(xd, shape, pads, th, tw, out=None):
    """Adjoint of ``_deinterleave``: the gradient ``(N, C, H, W)`` of its input (every pixel
    of the input has exactly one place in ``xd``; the padding is dropped), into ``out``."""
    xp = get_array_module(xd)
    xd = xd.reshape(tuple(shape[:2]) + (2, 2, th + 2, tw + 1))
    x = xp.empty(shape, dtype=xd.dtype) if out is None else out
    for a, b, dst, src in _parity_blocks(shape, pads, th, tw):
        x[(Ellipsis,) + src] = xd[(slice(None), slice(None), a, b) + dst]
    return x


def _input_transform(xd, th, tw, v):
    """``v[i, j]`` (``(C, nb, th*(tw+1))``) = ``(B^T d B)[i, j]`` of every tile of ``xd``."""
    xp = get_array_module(xd)
    wt = tw + 1
    length = th * wt
    r = xp.empty((4,) + xd.shape[:2] + (2, length + 1), dtype=xd.dtype)
    # rows: tile row t reads padded rows 2t..2t+3, i.e. parity i % 2 at tile row t + i // 2
    d = [xd[:, :, i % 2, :, (i // 2) * wt:(i // 2) * wt + length + 1] for i in range(4)]
    xp.subtract(d[0], d[2], out=r[0])
    xp.add(d[1], d[2], out=r[1])
    xp.subtract(d[2], d[1], out=r[2])
    xp.subtract(d[1], d[3], out=r[3])
    for i in range(4):
        e = [r[i][:, :, j % 2, j // 2:j // 2 + length] for j in range(4)]
        o = v[i].transpose(0, 2, 1, 3)
        xp.subtract(e[0], e[2], out=o[0])
        xp.add(e[1], e[2], out=o[1])
        xp.subtract(e[2], e[1], out=o[2])
        xp.subtract(e[1], e[3], out=o[3])


def _output_transform(m, tw, out):
    """``out`` (``(nb, O, th, 2, tw, 2)``) = ``A^T m A`` of ``m`` (``(4, 4, O, nb, th, tw+1)``)."""
    xp = get_array_module(m)
    s = [m[0] + m[1], m[1] - m[2]]
    s[0] += m[2]
    s[1] += m[3]                        # + because row 3 of A is negated
    for a in range(2):
        t = s[a][0] + s[a][1]
        t += s[a][2]
        out[:, :, :, a, :, 0] = t[..., :tw].transpose(1, 0, 2, 3)
        xp.subtract(s[a][1], s[a][2], out=t)
        t += s[a][3]
        out[:, :, :, a, :, 1] = t[..., :tw].transpose(1, 0, 2, 3)


def _input_transform_adjoint(v, th, tw, xd):
    """Adjoint of ``_input_transform``: ``xd`` (zeros, ``(nb, C, 2, 2, (th+2)*(tw+1))``) gets
    ``B v B^T`` of every tile, overlapping tiles summed; ``v[i, j]`` is ``(nb, C, L)`` (a view)."""
    xp = get_array_module(v)
    wt = tw + 1
    length = th * wt
    r = xp.empty((4,) + xd.shape[:2] + (2, length + 1), dtype=xd.dtype)
    for i in range(4):
        # the forward read e_j = r[i][column parity j % 2] at column shift j // 2
        e0, e1 = r[i][:, :, 0], r[i][:, :, 1]
        v0, v1, v2, v3 = v[i, 0], v[i, 1], v[i, 2], v[i, 3]
        e0[..., :length] = v0
        e0[..., length] = 0
        t = v1 + v2
        t -= v0
        e0[..., 1:] += t
        xp.subtract(v1, v2, out=e1[..., :length])
        e1[..., :length] += v3
        e1[..., length] = 0
        e1[..., 1:] -= v3
    # rows: parity 0 and 1 at tile row t (d0, d1) and t + 1 (d2, d3)
    span = slice(0, length + 1), slice(wt, wt + length + 1)
    xd[:, :, 0, :, span[0]] = r[0]
    t = r[1] + r[2]
    t -= r[0]
    xd[:, :, 0, :, span[1]] += t
    xp.subtract(r[1], r[2], out=xd[:, :, 1, :, span[0]])
    xd[:, :, 1, :, span[0]] += r[3]
    xd[:, :, 1, :, span[1]] -= r[3]


def _winograd_matrix(xp, dtype):
    return xp.asarray(_WINOGRAD_G, dtype=dtype)


def winograd_conv(x, w, pads, b=None):
    """Stride-1 3x3 convolution ``(N, C, H, W) * (O, C, 3, 3)`` (plus bias ``b``) by
    F(2x2, 3x3). Slices of the batch run on the intra-op threads."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo, th, tw = _tiles(x.shape, pads)
    length = th * (tw + 1)
    g = _winograd_matrix(xp, w.dtype)
    u = xp.matmul(xp.matmul(g, w), g.T).transpose(2, 3, 0, 1).reshape(16, o, c)
    out = xp.empty((n, o, th, 2, tw, 2), dtype=x.dtype)
    step = _chunk(n, c + o, length, x.dtype)

    def run(part):
        xd = _deinterleave(x[part], pads, th, tw)
        rows = part.stop - part.start
        for start in range(0, rows, step):
            k = min(step, rows - start)
            v = xp.empty((4, 4, c, k, length), dtype=x.dtype)
            _input_transform(xd[start:start + k], th, tw, v)
            m = xp.matmul(u, v.reshape(16, c, k * length))
            if b is not None:
                # row and column 1 of A are all ones: on tile element (1, 1) a constant reaches
                # every output of the tile, at a quarter of the cost of adding it to the output
                m[5] += b[:, None]
            _output_transform(m.reshape(4, 4, o, k, th, tw + 1), tw,
                              out[part.start + start:part.start + start + k])

    _run_parts(x, run, n, (c + o) * length * 16)
    out = out.reshape(n, o, 2 * th, 2 * tw)
    if (2 * th, 2 * tw) != (ho, wo):
        out = xp.ascontiguousarray(out[:, :, :ho, :wo])
    return out


def _run_parts(array, run, n, work_per_row):
    """``run(batch slice)`` for slices of the batch covering it, on the intra-op threads when
    ``array`` is numpy's (CuPy kernels are asynchronous already)."""
    if type(array) is not np.ndarray:
        return [run(slice(0, n))]
    return parallel_map(run, batch_parts(n, n * work_per_row))


def winograd_backward(gout, pads, shape, w=None, x=None):
    """Gradients ``(gx, gw)`` of ``winograd_conv(x, w, pads)`` (input of ``shape``) for the
    output gradient ``gout``: ``gx`` when ``w`` is given, ``gw`` when ``x`` is given. Both come
    from one transform ``A gout A^T`` of the gradient tiles: ``gw`` is
    ``G^T [sum over tiles (A gout A^T) * (B^T d B)] G`` and ``gx`` is ``B [U^T (A gout A^T)]
    B^T`` summed back over the overlapping input tiles."""
    xp = get_array_module(gout)
    n, c = shape[:2]
    o = gout.shape[1]
    th, tw = _tiles(shape, pads)[2:]
    wt = tw + 1
    length = th * wt
    g = _winograd_matrix(xp, gout.dtype)
    ut = None
    if w is not None:
        ut = xp.matmul(xp.matmul(g, w), g.T).transpose(2, 3, 1, 0).reshape(16, c, o)
    step = _chunk(n, c + o, length, gout.dtype)

    def run(part):
        rows = part.stop - part.start
        xd = None if x is None else _deinterleave(x[part], pads, th, tw)
        gxd = None if w is None else xp.zeros((rows, c, 2, 2, (th + 2) * wt), dtype=gout.dtype)
        gu = None if x is None else xp.zeros((16, o, c), dtype=gout.dtype)
        for start in range(0, rows, step):
            k = min(step, rows - start)
            # z = A' y A'^T with A' = [[1, 0], [1, 1], [1, -1], [0, 1]]: the gradient tile y by
            # parity goes straight into the corners z[0|3, 0|3] (zero on the junk column and
            # past the output's edge), the rest are sums and differences
            z = xp.empty((4, 4, o, k, th, wt), dtype=gout.dtype)
            corners = z[::3, ::3]
            corners.fill(0)
            for a in range(2):
                for b in range(2):
                    part_g = gout[part.start + start:part.start + start + k, :, a::2, b::2]
                    corners[a, b, :, :, :part_g.shape[2], :part_g.shape[3]] = \
                        part_g.transpose(1, 0, 2, 3)
            z = z.reshape(4, 4, o, k * length)
            for j in (0, 3):
                xp.add(z[0, j], z[3, j], out=z[1, j])
                xp.subtract(z[0, j], z[3, j], out=z[2, j])
            for i in range(4):
                xp.add(z[i, 0], z[i, 3], out=z[i, 1])
                xp.subtract(z[i, 0], z[i, 3], out=z[i, 2])
            z = z.reshape(16, o, k * length)
            if x is not None:
                v = xp.empty((4, 4, c, k, length), dtype=x.dtype)
                _input_transform(xd[start:start + k], th, tw, v)
                gu += xp.matmul(z, v.reshape(16, c, k * length).transpose(0, 2, 1))
            if w is not None:
                m = xp.matmul(ut, z).reshape(4, 4, c, k, length).transpose(0, 1, 3, 2, 4)
                _input_transform_adjoint(m, th, tw, gxd[start:start + k])
        if w is not None:
            _interleave(gxd, (rows,) + tuple(shape[1:]), pads, th, tw, out=gx[part])
        return gu

    gx = None if w is None else xp.empty(shape, dtype=gout.dtype)
    gus = _run_parts(gout, run, n, (c + o) * length * 16)
    gw = None
    if x is not None:
        gu = gus[0]
        for extra in gus[1:]:
            gu += extra
        gw = xp.matmul(xp.matmul(g.T, gu.reshape(4, 4, o, c).transpose(2, 3, 0, 1)), g)
    return gx, gw


def conv_forward(x, w, geom, b=None):
    """Convolution of arrays, plus bias ``b`` when given."""
    width = x.shape[-1] + sum(geom.padding[-1]) - w.shape[-1] + 1
    if _winograd_ok(x, x.shape[1], w.shape[0], width, w.shape[2:], geom, x.dtype):
        return winograd_conv(x, w, geom.padding, b)
    g = geom.groups
    n = x.shape[0]
    o = w.shape[0]
    cols, out_sp = _columns(x, w.shape[2:], geom)
    out = in_dtype(_gemm(w.reshape(g, o // g, -1), cols), x.dtype)
    if col2im_applies(out, w.shape[2:]) and (b is None or (b.dtype == out.dtype and
                                                           b.flags.c_contiguous)):
        return gemm_to_nchw(out, b, n, o, out_sp)
    out = out.reshape((g, o // g, n) + out_sp)
    out = out.transpose((2, 0, 1) + tuple(range(3, 3 + len(out_sp))))
    return _add_bias(out.reshape((n, o) + out_sp), b)


def conv_input_grad(gout, w, spatial, geom, gm=None):
    """Adjoint of the convolution in its input (the transposed convolution) on arrays.

    ``gout``: ``(N, O, *out)``; ``w``: ``(O, C/g, *K)``; returns ``(N, C, *spatial)``.
    ``gm``: ``gout`` already in GEMM layout, when the caller has it.
    """
    n, o = gout.shape[:2]
    g = geom.groups
    kernel = tuple(w.shape[2:])
    if _winograd_ok(gout, w.shape[1], o, gout.shape[-1], kernel, geom, gout.dtype):
        return winograd_backward(gout, geom.padding, (n, w.shape[1]) + tuple(spatial), w=w)[0]
    xp = get_array_module(gout)
    d = len(kernel)
    out_sp = tuple(gout.shape[2:])
    if gm is None:
        gm = _gemm_layout(gout, g)
    gcols = in_dtype(_gemm(w.reshape(g, o // g, -1).transpose(0, 2, 1), gm), w.dtype)
    c = w.shape[1] * g
    if col2im_applies(gcols, kernel):
        return col2im(gcols, (n, c) + tuple(spatial), kernel, out_sp, geom)
    # col2im in the GEMM's memory order, channels outermost (streams through both arrays),
    # then one transposing copy to (N, C, *spatial)
    gcols = gcols.reshape((c,) + kernel + (n,) + out_sp)
    order = (0, 1 + d) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(1, 1 + d))
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, geom.padding))
    gx = fold_windows(gcols.transpose(order), padded, kernel, geom.stride, geom.dilation)
    gx = crop(gx, geom.padding)
    return xp.ascontiguousarray(gx.transpose((1, 0) + tuple(range(2, 2 + d))))


def conv_weight_grad(x, gout, w_shape, geom, gm=None):
    """Gradient of the convolution in its weight: one GEMM of ``gout`` against the columns."""
    if _winograd_ok(x, x.shape[1], gout.shape[1], gout.shape[-1], w_shape[2:], geom, x.dtype):
        return winograd_backward(gout, geom.padding, x.shape, x=x)[1]
    cols, _ = _columns(x, w_shape[2:], geom)
    if gm is None:
        gm = _gemm_layout(gout, geom.groups)
    return in_dtype(_gemm(gm, cols.transpose(0, 2, 1)), x.dtype).reshape(w_shape)


def _bias_axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _add_bias(out, b):
    if b is not None:
        out += b.reshape((1, -1) + (1,) * (out.ndim - 2))
    return out


class Convolution(Node):
    def forward(self, x, w, b, geom):
        # the columns (prod(K) times the input) are rebuilt in backward rather than kept
        out = conv_forward(x, w, geom, b)
        self.geom = geom
        self.save_for_backward(x, w)
        return out

    def backward(self, g):
        x, w = self.saved_tensors
        geom = self.geom
        e = self.next_edges
        gx = gw = gb = None
        if isinstance(g, Tensor):
            if e[0] is not None:
                gx = ConvTranspose.apply(g, w, None, geom, tuple(x.shape[2:]))
            if e[1] is not None:
                gw = ConvWeightGrad.apply(x, g, geom, tuple(w.shape))
        elif _winograd_ok(g, x.shape[1], w.shape[0], g.shape[-1], w.shape[2:], geom, x.dtype):
            # one gradient tile transform serves both
            gx, gw = winograd_backward(g, geom.padding, x.shape, w=w if e[0] is not None else None,
                                       x=x if e[1] is not None else None)
        else:
            gm = _gemm_layout(g, geom.groups)
            if e[0] is not None:
                gx = conv_input_grad(g, w, x.shape[2:], geom, gm)
            if e[1] is not None:
                gw = conv_weight_grad(x, g, w.shape, geom, gm=gm)
        if e[2] is not None:
            gb = dual_sum(g, _bias_axes(g.ndim))
        return gx, gw, gb, None


class ConvTranspose(Node):
    """``conv_transpose(y, w) + b``: the input-adjoint of ``Convolution`` with weight ``w``."""

    def forward(self, y, w, b, geom, spatial):
        self.geom = geom
        self.save_for_backward(y, w)
        return _add_bias(conv_input_grad(y, w, spatial, geom), b)

    def backward(self, g):
        y, w = self.saved_tensors
        geom = self.geom
        e = self.next_edges
        gy = gw = gb = None
        if isinstance(g, Tensor):
            if e[0] is not None:
                gy = Convolution.apply(g, w, None, geom)
            if e[1] is not None:
                gw = ConvWeightGrad.apply(g, y, geom, tuple(w.shape))
        else:
            if e[0] is not None:
                gy = conv_forward(g, w, geom)
            if e[1] is not None:
                gw = conv_weight_grad(g, y, w.shape, geom)
        if e[2] is not None:
            gb = dual_sum(g, _bias_axes(g.ndim))
        return gy, gw, gb, None, None


class ConvWeightGrad(Node):
    """The weight gradient ``(x, gout) -> gw`` as a node, so convolutions twice-differentiate."""

    def forward(self, x, gout, geom, w_shape):
        self.geom = geom
        self.save_for_backward(x, gout)
        return conv_weight_grad(x, gout, w_shape, geom)

    def backward(self, ggw):
        x, gout = self.saved_tensors
        geom = self.geom
        e = self.next_edges
        gx = ggout = None
        if isinstance(ggw, Tensor):
            if e[0] is not None:
                gx = ConvTranspose.apply(gout, ggw, None, geom, tuple(x.shape[2:]))
            if e[1] is not None:
                ggout = Convolution.apply(x, ggw, None, geom)
        else:
            if e[0] is not None:
                gx = conv_input_grad(gout, ggw, x.shape[2:], geom)
            if e[1] is not None:
                ggout = conv_forward(x, ggw, geom)
        return gx, ggout, None, None


# ---------------------------------------------------------------------------- validation
def _check_input_rank(input, d, name):
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {name}, "
                           f"but got input of size: {shape_str(input.shape)}")
    return input.ndim == d + 1


def _check_params(stride, dilation, pads):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(dl <= 0 for dl in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise RuntimeError("negative padding is not supported")


def _check_same_kind(input, weight, bias):
    for other in (weight, bias):
        if other is None:
            continue
        if type(other._data) is not type(input._data):
            raise RuntimeError(f"Input type ({input.device}) and weight type ({other.device}) "
                               f"should be the same")
        if other.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {_dtype_name(input)} but found "
                               f"{_dtype_name(other)}")


def _dtype_name(t):
    name = str(t.dtype).split(".")[-1]
    return {"float32": "Float", "float64": "Double", "float16": "Half",
            "bfloat16": "BFloat16"}.get(name, name.capitalize())


def _padding_pairs(padding, d, kernel, dilation, stride):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        # an odd total puts the extra element on the high side, as PyTorch does
        totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in ntuple(padding, d, "padding"))


def _conv(input, weight, bias, stride, padding, dilation, groups, d, name):
    input, weight, bias = cast_lower(input, weight, bias)
    unbatched = _check_input_rank(input, d, name)
    if unbatched:
        input = input.unsqueeze(0)
    _check_same_kind(input, weight, bias)
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, d, "stride")
    dilation = ntuple(dilation, d, "dilation")
    pads = _padding_pairs(padding, d, kernel, dilation, stride)
    _check_params(stride, dilation, pads)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.ndim != d + 2:
        raise RuntimeError(f"Expected {d + 2}-dimensional weight for {d + 2}-dimensional input "
                           f"{shape_str(input.shape)}, but got {weight.ndim}-dimensional weight of "
                           f"size {shape_str(weight.shape)} instead")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size [{shape_str(weight.shape)}] instead")
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {shape_str(weight.shape)}, "
                           f"expected input{shape_str(input.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {input.shape[1]} channels "
                           f"instead")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"Given weight of size {shape_str(weight.shape)}, expected bias to be "
                           f"1-dimensional with {weight.shape[0]} elements, but got bias of size "
                           f"{shape_str(bias.shape)} instead")
    padded = [s + lo + hi for s, (lo, hi) in zip(input.shape[2:], pads)]
    effective = [dl * (k - 1) + 1 for k, dl in zip(kernel, dilation)]
    if any(p < k for p, k in zip(padded, effective)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, effective))}). Kernel size can't be greater "
                           f"than actual input size")
    out = Convolution.apply(input, weight, bias, Geometry(stride, pads, dilation, groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Applies a 1D convolution over an input signal composed of several input planes.

    Args:
        input: input tensor of shape :math:`(N, C_{in}, L)` or :math:`(C_{in}, L)`
        weight: filters of shape :math:`(C_{out}, C_{in} / groups, kW)`
        bias: optional bias of shape :math:`(C_{out})`. Default: ``None``
        stride: the stride of the convolving kernel. Default: 1
        padding: implicit zero padding on both sides, an int, a tuple, ``'valid'`` or
            ``'same'`` (stride 1 only). Default: 0
        dilation: the spacing between kernel elements. Default: 1
        groups: split input into groups; :math:`C_{in}` must be divisible by it. Default: 1

    Shape:
        - Output: :math:`(N, C_{out}, L_{out})`,
          :math:`L_{out} = \\lfloor (L + 2 p - d (k - 1) - 1) / s + 1 \\rfloor`
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Applies a 2D convolution over an input image composed of several input planes.

    Args:
        input: input tensor of shape :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`
        weight: filters of shape :math:`(C_{out}, C_{in} / groups, kH, kW)`
        bias: optional bias of shape :math:`(C_{out})`. Default: ``None``
        stride: the stride of the convolving kernel, an int or ``(sH, sW)``. Default: 1
        padding: implicit zero padding, an int, ``(padH, padW)``, ``'valid'`` or ``'same'``.
            Default: 0
        dilation: the spacing between kernel elements. Default: 1
        groups: split input into groups; :math:`C_{in}` must be divisible by it. Default: 1

    Shape:
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})`, each spatial size
          :math:`\\lfloor (S + 2 p - d (k - 1) - 1) / s + 1 \\rfloor`
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Applies a 3D convolution over an input image composed of several input planes.

    Args:
        input: input tensor of shape :math:`(N, C_{in}, D, H, W)` or :math:`(C_{in}, D, H, W)`
        weight: filters of shape :math:`(C_{out}, C_{in} / groups, kD, kH, kW)`
        bias, stride, padding, dilation, groups: as in :func:`conv2d`

    Shape:
        - Output: :math:`(N, C_{out}, D_{out}, H_{out}, W_{out})`
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, d,
                    name):
    input, weight, bias = cast_lower(input, weight, bias)
    unbatched = _check_input_rank(input, d, name)
    if unbatched:
        input = input.unsqueeze(0)
    _check_same_kind(input, weight, bias)
    if isinstance(padding, str):
        raise RuntimeError(f"{name}: padding must be an int or a tuple of ints, got '{padding}'")
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, d, "stride")
    dilation = ntuple(dilation, d, "dilation")
    pads = tuple((p, p) for p in ntuple(padding, d, "padding"))
    out_pad = ntuple(output_padding, d, "output_padding")
    _check_params(stride, dilation, pads)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.ndim != d + 2:
        raise RuntimeError(f"Expected {d + 2}-dimensional weight for {d + 2}-dimensional input "
                           f"{shape_str(input.shape)}, but got {weight.ndim}-dimensional weight of "
                           f"size {shape_str(weight.shape)} instead")
    if input.shape[1] != weight.shape[0] or weight.shape[0] % groups:
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(weight.shape)}, expected "
                           f"input{shape_str(input.shape)} to have {weight.shape[0]} channels, but "
                           f"got {input.shape[1]} channels instead")
    out_channels = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(weight.shape)}, expected "
                           f"bias to be 1-dimensional with {out_channels} elements, but got bias of "
                           f"size {shape_str(bias.shape)} instead")
    for op, st, dl in zip(out_pad, stride, dilation):
        if op >= st and op >= dl:
            raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                               f"got output_padding={out_pad}, stride={stride}, dilation={dilation}")
    spatial = tuple((s - 1) * st - lo - hi + dl * (k - 1) + op + 1
                    for s, st, (lo, hi), dl, k, op in zip(input.shape[2:], stride, pads, dilation,
                                                          kernel, out_pad))
    if any(s <= 0 for s in spatial):
        raise RuntimeError(f"Given input size per channel: {shape_str(input.shape[2:])}. Calculated "
                           f"output size per channel: {shape_str(spatial)}. Output size is too small")
    geom = Geometry(stride, pads, dilation, groups)
    out = ConvTranspose.apply(input, weight, bias, geom, spatial)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Applies a 1D transposed convolution ("deconvolution") over an input signal.

    Args:
        input: input tensor of shape :math:`(N, C_{in}, L)` or :math:`(C_{in}, L)`
        weight: filters of shape :math:`(C_{in}, C_{out} / groups, kW)`
        bias: optional bias of shape :math:`(C_{out})`. Default: ``None``
        stride: the stride of the convolving kernel. Default: 1
        padding: ``dilation * (kernel_size - 1) - padding`` zero-padding is added to both
            sides of the input. Default: 0
        output_padding: additional size added to one side of the output. Default: 0
        groups: split input into groups. Default: 1
        dilation: the spacing between kernel elements. Default: 1

    Shape:
        - Output: :math:`(N, C_{out}, L_{out})`,
          :math:`L_{out} = (L - 1) s - 2 p + d (k - 1) + output\\_padding + 1`
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           1, "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Applies a 2D transposed convolution ("deconvolution") over an input image.

    Args:
        input: input tensor of shape :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`
        weight: filters of shape :math:`(C_{in}, C_{out} / groups, kH, kW)`
        bias, stride, padding, output_padding, groups, dilation: as in
            :func:`conv_transpose1d`, each an int or a pair

    Shape:
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})`, each spatial size
          :math:`(S - 1) s - 2 p + d (k - 1) + output\\_padding + 1`
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           2, "conv_transpose2d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Applies a 3D transposed convolution over an input volume; arguments as in
    :func:`conv_transpose2d` with triples.

    Shape:
        - Input: :math:`(N, C_{in}, D, H, W)`; Output: :math:`(N, C_{out}, D_{out}, H_{out}, W_{out})`
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           3, "conv_transpose3d")


# ---------------------------------------------------------------------------- unfold / fold
class Unfold(Node):
    def forward(self, x, kernel, geom):
        self.meta = (x.shape[2:], kernel, geom)
        return _unfold(x, kernel, geom)

    def backward(self, g):
        spatial, kernel, geom = self.meta
        if isinstance(g, Tensor):
            return Fold.apply(g, spatial, kernel, geom), None, None
        return _fold(g, spatial, kernel, geom), None, None


class Fold(Node):
    def forward(self, cols, spatial, kernel, geom):
        self.meta = (kernel, geom)
        return _fold(cols, spatial, kernel, geom)

    def backward(self, g):
        kernel, geom = self.meta
        if isinstance(g, Tensor):
            return Unfold.apply(g, kernel, geom), None, None, None
        return _unfold(g, kernel, geom), None, None, None


def _unfold(x, kernel, geom):
    d = len(kernel)
    windows = _windows(x, kernel, geom)
    order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    return windows.transpose(order).reshape(x.shape[0], x.shape[1] * math.prod(kernel),
                                            math.prod(windows.shape[2:2 + d]))


def _fold(cols, spatial, kernel, geom):
    n = cols.shape[0]
    d = len(kernel)
    c = cols.shape[1] // math.prod(kernel)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, geom.padding))
    outs = tuple(out_size(s, k, st, dl) for s, k, st, dl in
                 zip(padded, kernel, geom.stride, geom.dilation))
    windows = cols.reshape((n, c) + tuple(kernel) + outs)
    order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    out = fold_windows(windows.transpose(order), padded, kernel, geom.stride, geom.dilation)
    return crop(out, geom.padding)


def _unfold_geometry(kernel_size, dilation, padding, stride):
    kernel = ntuple(kernel_size, 2, "kernel_size")
    stride = ntuple(stride, 2, "stride")
    dilation = ntuple(dilation, 2, "dilation")
    pads = tuple((p, p) for p in ntuple(padding, 2, "padding"))
    _check_params(stride, dilation, pads)
    return kernel, Geometry(stride, pads, dilation, 1)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extracts sliding local blocks from a batched input tensor (im2col).

    Args:
        input: tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`
        kernel_size: the size of the sliding blocks
        dilation: the stride of elements within a block. Default: 1
        padding: implicit zero padding on both sides. Default: 0
        stride: the stride of the blocks. Default: 1

    Shape:
        - Output: :math:`(N, C \\times \\prod(kernel\\_size), L)` with :math:`L` the number of
          blocks
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                           f"{input.ndim}D)")
    kernel, geom = _unfold_geometry(kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    padded = [s + 2 * p for s, (p, _) in zip(input.shape[2:], geom.padding)]
    if any(p < dl * (k - 1) + 1 for p, k, dl in zip(padded, kernel, geom.dilation)):
        raise RuntimeError(f"Given input with spatial size {shape_str(input.shape[2:])}, "
                           f"kernel_size={kernel}, dilation={geom.dilation}, padding="
                           f"{tuple(p for p, _ in geom.padding)}, calculated shape of the array of "
                           f"sliding blocks is non-positive")
    out = Unfold.apply(input, kernel, geom)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combines an array of sliding local blocks into a large containing tensor (col2im).

    Overlapping values are summed. The inverse of :func:`unfold` up to that summation.

    Args:
        input: tensor of shape :math:`(N, C \\times \\prod(kernel\\_size), L)` or unbatched
        output_size: the spatial shape ``(H, W)`` of the output
        kernel_size, dilation, padding, stride: as in :func:`unfold`

    Shape:
        - Output: :math:`(N, C, H, W)`
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possible 0 batch "
                           f"size and non-zero dimensions, but got: {shape_str(input.shape)}")
    kernel, geom = _unfold_geometry(kernel_size, dilation, padding, stride)
    spatial = ntuple(output_size, 2, "output_size")
    unbatched = input.ndim == 2
    if unbatched:
        input = input.unsqueeze(0)
    blocks = math.prod(kernel)
    if input.shape[1] % blocks:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={input.shape[1]} and "
                           f"kernel_size={kernel}")
    outs = [out_size(s + 2 * p, k, st, dl) for s, (p, _), k, st, dl in
            zip(spatial, geom.padding, kernel, geom.stride, geom.dilation)]
    if math.prod(outs) != input.shape[2]:
        raise RuntimeError(f"Given output_size={spatial}, kernel_size={kernel}, dilation="
                           f"{geom.dilation}, padding={tuple(p for p, _ in geom.padding)}, stride="
                           f"{geom.stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {outs[0]} * {outs[1]} = "
                           f"{math.prod(outs)}, but got input.size(2)={input.shape[2]}.")
    out = Fold.apply(input, spatial, kernel, geom)
    return out.squeeze(0) if unbatched else out
