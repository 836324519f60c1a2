"""Fused CUDA kernels for 2-D max and average pooling, one launch each way.

Max pooling: one thread per output forward (max and its flat input index, PyTorch's
``return_indices``), one thread per output backward (an atomic add of its gradient into the
winning input element). Ties keep the first maximum in row-major tap order and a NaN wins (the
last NaN, as in PyTorch's kernel), the rule of the generic scan.

Average pooling: one thread per output sums its window (zero padding, ``ceil_mode`` windows
clipped as PyTorch clips them) and divides by ``divisor_override``, the whole window or only its
in-bounds part (``count_include_pad``); backward spreads ``g / divisor`` over the window with
atomic adds. The generic paths take a dozen or more array operations each way.
"""
import numpy as np

from ...autograd.function import Node
from ...tensor import Tensor
from ..._backend import cupy_module
from . import contiguous, fusable, raw_kernel

__all__ = ["pool2d_applies", "FusedMaxPool2d", "FusedAvgPool2d"]

_MAX_POOL = r"""
extern "C" __global__ void max_pool2d_forward(
        const float* x, float* y, long long* index, const long long total, const int H,
        const int W, const int OH, const int OW, const int KH, const int KW, const int SH,
        const int SW, const int PH, const int PW, const int DH, const int DW) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        const int ow = i % OW;
        const int oh = (i / OW) % OH;
        const float* plane = x + (i / ((long long)OH * OW)) * H * W;
        float best = __int_as_float(0xff800000);  // -inf
        int best_at = -1;
        for (int a = 0; a < KH; ++a) {
            const int ih = oh * SH - PH + a * DH;
            if (ih < 0 || ih >= H) continue;
            for (int b = 0; b < KW; ++b) {
                const int iw = ow * SW - PW + b * DW;
                if (iw < 0 || iw >= W) continue;
                const float v = plane[ih * W + iw];
                if (best_at < 0 || v > best || isnan(v)) {
                    best = v;
                    best_at = ih * W + iw;
                }
            }
        }
        y[i] = best;
        index[i] = best_at;
    }
}

extern "C" __global__ void max_pool2d_backward(
        const float* g, const long long* index, float* gx, const long long total,
        const long long plane_in, const long long plane_out) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        atomicAdd(gx + (i / plane_out) * plane_in + index[i], g[i]);
    }
}
"""

_AVG_POOL = r"""
// The window of output (oh, ow), clipped to the input; its divisor as PyTorch computes it.
__device__ void avg_window(int oh, int ow, int H, int W, int KH, int KW, int SH, int SW, int PH,
                           int PW, int count_include_pad, int divisor_override, int* h0, int* h1,
                           int* w0, int* w1, float* divisor) {
    int hs = oh * SH - PH, ws = ow * SW - PW;
    int he = min(hs + KH, H + PH), we = min(ws + KW, W + PW);
    const int padded = (he - hs) * (we - ws);
    hs = max(hs, 0);
    ws = max(ws, 0);
    he = min(he, H);
    we = min(we, W);
    *h0 = hs; *h1 = he; *w0 = ws; *w1 = we;
    *divisor = (float)(divisor_override ? divisor_override
                                        : (count_include_pad ? padded : (he - hs) * (we - ws)));
}

extern "C" __global__ void avg_pool2d_forward(
        const float* x, float* y, const long long total, const int H, const int W, const int OH,
        const int OW, const int KH, const int KW, const int SH, const int SW, const int PH,
        const int PW, const int count_include_pad, const int divisor_override) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        const int ow = i % OW;
        const int oh = (i / OW) % OH;
        const float* plane = x + (i / ((long long)OH * OW)) * H * W;
        int h0, h1, w0, w1;
        float divisor;
        avg_window(oh, ow, H, W, KH, KW, SH, SW, PH, PW, count_include_pad, divisor_override,
                   &h0, &h1, &w0, &w1, &divisor);
        float sum = 0.0f;
        for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w) sum += plane[h * W + w];
        y[i] = sum / divisor;
    }
}

extern "C" __global__ void avg_pool2d_backward(
        const float* g, float* gx, const long long total, const int H, const int W,
        const int OH, const int OW, const int KH, const int KW, const int SH, const int SW,
        const int PH, const int PW, const int count_include_pad, const int divisor_override) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        const int ow = i % OW;
        const int oh = (i / OW) % OH;
        float* plane = gx + (i / ((long long)OH * OW)) * H * W;
        int h0, h1, w0, w1;
        float divisor;
        avg_window(oh, ow, H, W, KH, KW, SH, SW, PH, PW, count_include_pad, divisor_override,
                   &h0, &h1, &w0, &w1, &divisor);
        const float share = g[i] / divisor;
        for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w) atomicAdd(plane + h * W + w, share);
    }
}
"""

SOURCES = {"max_pool2d": _MAX_POOL, "avg_pool2d": _AVG_POOL}


def _blocks(n):
    return min(65535, max(1, (n + 255) // 256))


def pool2d_applies(x):
    """The fused paths take float32 ``(N, C, H, W)`` CuPy arrays on a GPU."""
    return fusable(x) and x.dtype == np.float32 and x.ndim == 4


class FusedMaxPool2d(Node):
    """``max_pool2d`` with ``(kernel, stride, (low, high) pads, dilation)`` already resolved."""

    def forward(self, x, kernel, stride, pairs, dilation, outs, with_index):
        cupy = cupy_module()
        x = contiguous(x)
        n, c, h, w = x.shape
        y = cupy.empty((n, c) + tuple(outs), np.float32)
        index = cupy.empty(y.shape, np.int64)
        total = y.size
        if total:
            raw_kernel(_MAX_POOL, "max_pool2d_forward")(
                (_blocks(total),), (256,),
                (x, y, index, np.int64(total), np.int32(h), np.int32(w), np.int32(outs[0]),
                 np.int32(outs[1]), np.int32(kernel[0]), np.int32(kernel[1]),
                 np.int32(stride[0]), np.int32(stride[1]), np.int32(pairs[0][0]),
                 np.int32(pairs[1][0]), np.int32(dilation[0]), np.int32(dilation[1])))
        self.shape, self.index = x.shape, index
        if not with_index:
            return y
        self.mark_non_differentiable(1)
        return y, index

    def backward(self, g, *_):
        if isinstance(g, Tensor):
            from ...nn.functional._pool import _scatter_to_input
            return (_scatter_to_input(g, self.index, self.shape),) + (None,) * 6
        cupy = cupy_module()
        g = contiguous(g, np.float32)
        gx = cupy.zeros(self.shape, np.float32)
        total = g.size
        if total:
            raw_kernel(_MAX_POOL, "max_pool2d_backward")(
                (_blocks(total),), (256,),
                (g, self.index, gx, np.int64(total), np.int64(self.shape[2] * self.shape[3]),
                 np.int64(g.shape[2] * g.shape[3])))
        return (gx,) + (None,) * 6


class FusedAvgPool2d(Node):
    """``avg_pool2d`` with ``(kernel, stride, (low, high) pads)`` resolved; ``divisor`` is
    ``divisor_override`` or 0 (then ``count_include_pad`` decides)."""

    def forward(self, x, kernel, stride, pairs, outs, count_include_pad, divisor):
        cupy = cupy_module()
        x = contiguous(x)
        n, c, h, w = x.shape
        y = cupy.empty((n, c) + tuple(outs), np.float32)
        self.args = (np.int32(h), np.int32(w), np.int32(outs[0]), np.int32(outs[1]),
                     np.int32(kernel[0]), np.int32(kernel[1]), np.int32(stride[0]),
                     np.int32(stride[1]), np.int32(pairs[0][0]), np.int32(pairs[1][0]),
                     np.int32(bool(count_include_pad)), np.int32(divisor))
        self.meta = (x.shape, kernel, stride, pairs, outs, count_include_pad, divisor)
        if y.size:
            raw_kernel(_AVG_POOL, "avg_pool2d_forward")(
                (_blocks(y.size),), (256,), (x, y, np.int64(y.size)) + self.args)
        return y

    def backward(self, g):
        shape, kernel, stride, pairs, outs, count_include_pad, divisor = self.meta
        if isinstance(g, Tensor):
            # double backward: the generic adjoint, with the divisors it expects
            from ...nn.functional._pool import AvgPoolAdjoint, _avg_divisor
            cupy = cupy_module()
            divisors = _avg_divisor(cupy, shape[2:], kernel, stride, [lo for lo, _ in pairs],
                                    outs, count_include_pad, divisor or None)
            return (AvgPoolAdjoint.apply(g, shape[2:], kernel, stride, pairs, divisors),) + \
                (None,) * 6
        cupy = cupy_module()
        g = contiguous(g, np.float32)
        gx = cupy.zeros(shape, np.float32)
        if g.size:
            raw_kernel(_AVG_POOL, "avg_pool2d_backward")(
                (_blocks(g.size),), (256,), (g, gx, np.int64(g.size)) + self.args)
        return (gx,) + (None,) * 6
