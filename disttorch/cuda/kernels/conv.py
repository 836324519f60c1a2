"""im2col and col2im for 2-D convolutions on the GPU, one launch each, and the forward GEMM's
result put in ``(N, O, H, W)`` order with its bias in one more.

The generic path builds the columns from a zero-padded copy of the input through a strided view
and a transposing copy, and sums the input gradient back tap by tap (a strided add per kernel
position); here one thread per element does either directly, in the GEMM layout the
convolution uses (``(C, KH, KW, N, OH, OW)``, i.e. ``(groups, C/g * KH * KW, N * L)``). col2im
gathers, with no atomics: each input element sums its taps in the generic path's order, so
the two paths agree bit for bit.
"""
import math

import numpy as np

from ..._backend import cupy_module
from . import fusable, raw_kernel

__all__ = ["im2col_applies", "col2im_applies", "im2col", "col2im", "gemm_to_nchw"]

_CONV = r"""
extern "C" __global__ void im2col_2d(
        const float* x, float* cols, const int N, const int C, const int H, const int W,
        const int KH, const int KW, const int OH, const int OW, const int SH, const int SW,
        const int PH, const int PW, const int DH, const int DW, const long long total) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long t = i;
        const int ow = t % OW; t /= OW;
        const int oh = t % OH; t /= OH;
        const int n = t % N; t /= N;
        const int kw = t % KW; t /= KW;
        const int kh = t % KH; t /= KH;
        const int c = (int)t;
        const int h = oh * SH - PH + kh * DH;
        const int w = ow * SW - PW + kw * DW;
        cols[i] = (h >= 0 && h < H && w >= 0 && w < W)
                  ? x[(((long long)n * C + c) * H + h) * W + w] : 0.0f;
    }
}

// gx (N, C, H, W): every input element sums the columns that read it, taps in (kh, kw) order
extern "C" __global__ void col2im_2d(
        const float* cols, float* gx, const int N, const int C, const int H, const int W,
        const int KH, const int KW, const int OH, const int OW, const int SH, const int SW,
        const int PH, const int PW, const int DH, const int DW, const long long total) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long t = i;
        const int w = t % W; t /= W;
        const int h = t % H; t /= H;
        const int c = t % C; t /= C;
        const int n = (int)t;
        float acc = 0.0f;
        for (int kh = 0; kh < KH; ++kh) {
            const int th = h + PH - kh * DH;
            if (th < 0 || th % SH != 0 || th / SH >= OH) continue;
            const int oh = th / SH;
            for (int kw = 0; kw < KW; ++kw) {
                const int tw = w + PW - kw * DW;
                if (tw < 0 || tw % SW != 0 || tw / SW >= OW) continue;
                const int ow = tw / SW;
                acc += cols[((((long long)c * KH + kh) * KW + kw) * N + n) * OH * OW
                            + (long long)oh * OW + ow];
            }
        }
        gx[i] = acc;
    }
}

// The forward GEMM's (O, N * L) result to (N, O, L), plus the bias when there is one.
extern "C" __global__ void gemm_to_nchw(
        const float* y, const float* bias, float* out, const int N, const int O,
        const long long L, const long long total) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        const long long l = i % L;
        const long long t = i / L;
        const int o = t % O;
        const int n = (int)(t / O);
        const float v = y[((long long)o * N + n) * L + l];
        out[i] = bias ? v + bias[o] : v;
    }
}
"""

SOURCES = {"conv": _CONV}

_BLOCK = 256
_MAX_BLOCKS = 65535


def im2col_applies(x, kernel):
    """Whether :func:`im2col` takes ``x``: a contiguous float32 CuPy array ``(N, C, H, W)``
    and a 2-D kernel."""
    return (fusable(x) and x.ndim == 4 and len(kernel) == 2 and x.dtype == np.float32
            and x.flags.c_contiguous)


def col2im_applies(cols, kernel):
    """Whether :func:`col2im` takes ``cols``: contiguous float32 CuPy columns of a 2-D kernel."""
    return (fusable(cols) and len(kernel) == 2 and cols.dtype == np.float32
            and cols.flags.c_contiguous)


def _dims(shape, kernel, out_sp, geom):
    (ph, _), (pw, _) = geom.padding
    n, c, h, w = shape
    return tuple(np.int32(v) for v in (n, c, h, w) + tuple(kernel) + tuple(out_sp) +
                 tuple(geom.stride) + (ph, pw) + tuple(geom.dilation))


def _launch(name, source_array, out, dims):
    total = out.size
    if total:
        blocks = min(_MAX_BLOCKS, (total + _BLOCK - 1) // _BLOCK)
        raw_kernel(_CONV, name)((blocks,), (_BLOCK,), (source_array, out) + dims +
                                (np.int64(total),))


def im2col(x, kernel, out_sp, geom):
    """The columns of ``x`` ``(N, C, H, W)`` in GEMM layout ``(groups, C/g * KH * KW, N * L)``,
    zero outside the input (its padding)."""
    n, c = x.shape[:2]
    g = geom.groups
    cols = cupy_module().empty((g, (c // g) * math.prod(kernel), n * math.prod(out_sp)),
                               np.float32)
    _launch("im2col_2d", x, cols, _dims(x.shape, kernel, out_sp, geom))
    return cols


def col2im(cols, shape, kernel, out_sp, geom):
    """The adjoint of :func:`im2col`: contiguous columns in GEMM layout summed into an array of
    the input's ``shape`` ``(N, C, H, W)``."""
    gx = cupy_module().empty(tuple(shape), np.float32)
    _launch("col2im_2d", cols, gx, _dims(shape, kernel, out_sp, geom))
    return gx


def gemm_to_nchw(y, bias, n, o, out_sp):
    """The forward GEMM's contiguous float32 result ``y`` (``(groups, O/g, N * L)``) as the
    convolution's output ``(N, O, *out_sp)``, ``bias`` (contiguous ``(O,)`` float32, or None)
    added."""
    out = cupy_module().empty((n, o) + tuple(out_sp), np.float32)
    total = out.size
    if total:
        blocks = min(_MAX_BLOCKS, (total + _BLOCK - 1) // _BLOCK)
        raw_kernel(_CONV, "gemm_to_nchw")((blocks,), (_BLOCK,), (
            y, bias, out, np.int32(n), np.int32(o), np.int64(math.prod(out_sp)),
            np.int64(total)))
    return out
