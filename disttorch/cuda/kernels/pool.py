"""Fused CUDA kernels for 2-D max pooling: one thread per output forward (max and its flat
input index, PyTorch's ``return_indices``), one thread per output backward (an atomic add of
its gradient into the winning input element).

The generic path compares the strided windows tap by tap, a dozen or more array operations
each way; these are one launch each. Ties keep the first maximum in row-major tap order and a
NaN wins (the last NaN, as in PyTorch's kernel), the rule of the generic scan.
"""
import numpy as np

from ...autograd.function import Node
from ...tensor import Tensor
from . import fusable, raw_kernel

__all__ = ["max_pool2d_applies", "FusedMaxPool2d"]

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

SOURCES = {"max_pool2d": _MAX_POOL}


def _blocks(n):
    return min(65535, max(1, (n + 255) // 256))


def max_pool2d_applies(x):
    """The fused path takes float32 ``(N, C, H, W)`` CuPy arrays on a GPU."""
    return fusable(x) and x.dtype == np.float32 and x.ndim == 4


class FusedMaxPool2d(Node):
    """``max_pool2d`` with ``(kernel, stride, (low, high) pads, dilation)`` already resolved."""

    def forward(self, x, kernel, stride, pairs, dilation, outs, with_index):
        import cupy
        x = cupy.ascontiguousarray(x)
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
        import cupy
        g = cupy.ascontiguousarray(g, dtype=np.float32)
        gx = cupy.zeros(self.shape, np.float32)
        total = g.size
        if total:
            raw_kernel(_MAX_POOL, "max_pool2d_backward")(
                (_blocks(total),), (256,),
                (g, self.index, gx, np.int64(total), np.int64(self.shape[2] * self.shape[3]),
                 np.int64(g.shape[2] * g.shape[3])))
        return (gx,) + (None,) * 6
