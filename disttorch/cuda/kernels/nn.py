"""Fused CUDA kernels for the hot paths of ``nn.functional``: softmax + cross-entropy, layer
norm, GELU and a linear layer's bias + activation, forward and backward.

Each ``*_applies`` function says whether its fused path can take the call (float32, contiguous,
CuPy on a GPU, the common arguments); the public functions in ``nn.functional`` then apply the
node here instead of their generic one. Under ``create_graph`` the backward falls back to
differentiable disttorch ops, so double backward still works.
"""
import math

import numpy as np

from ...autograd.function import Node
from ...tensor import Tensor
from ..._backend import cupy_module
from . import bounds, contiguous, fusable, raw_kernel

__all__ = ["cross_entropy_applies", "FusedCrossEntropy", "layer_norm_applies", "FusedLayerNorm",
           "gelu_forward", "gelu_backward", "bias_activation_applies", "bias_activation",
           "activation_backward", "column_sum", "half_bias_applies", "bias_add_half",
           "attention_softmax_",
           "attention_softmax_backward_"]

_ROW_REDUCE = r"""
// Block-wide reduction of one float per thread (blockDim.x a power of two, <= 1024).
template <bool MAX>
__device__ float block_reduce(float value, float* shared) {
    const int tid = threadIdx.x;
    shared[tid] = value;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride) {
            shared[tid] = MAX ? fmaxf(shared[tid], shared[tid + stride])
                              : shared[tid] + shared[tid + stride];
        }
        __syncthreads();
    }
    const float result = shared[0];
    __syncthreads();
    return result;
}
"""

_HALF = r"""
// float16 storage without cuda_fp16.h: the bits, converted by PTX instructions
typedef unsigned short fp16_t;
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(fp16_t v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
    return f;
}
__device__ __forceinline__ fp16_t to_half(float v) {
    fp16_t h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
}
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(fp16_t* p, float v) { *p = to_half(v); }
"""

_COLUMNS = _HALF + r"""
// Column sums of row-major (rows x n) data: a block covers 32 columns (threadIdx.x) with
// blockDim.y row lanes; lane k sums rows k, k + blockDim.y, ... in order, then lane 0 adds the
// lanes in order (a fixed order: the same bits on every run).
#define COLUMN_TILE 32
__device__ float combine_lanes(float value, float* shared) {
    shared[threadIdx.y * COLUMN_TILE + threadIdx.x] = value;
    __syncthreads();
    float total = 0.0f;
    if (threadIdx.y == 0) {
        for (int k = 0; k < blockDim.y; ++k) total += shared[k * COLUMN_TILE + threadIdx.x];
    }
    __syncthreads();
    return total;
}

// Column sums into float32; ROUND rounds each sum once through float16 before it is stored
// (the gradient of a float32 bias that float16 autocast would have cast: see column_sum_half).
template <typename T, bool ROUND>
__device__ void column_sums(const T* a, float* out, const long long rows, const int n,
                            float* shared) {
    const int col = blockIdx.x * COLUMN_TILE + threadIdx.x;
    float sum = 0.0f;
    if (col < n) {
        for (long long r = threadIdx.y; r < rows; r += blockDim.y) sum += to_float(a[r * n + col]);
    }
    sum = combine_lanes(sum, shared);
    if (threadIdx.y == 0 && col < n) out[col] = ROUND ? to_float(to_half(sum)) : sum;
}

extern "C" __global__ void column_sum(const float* a, float* out, const long long rows,
                                      const int n) {
    extern __shared__ float shared[];
    column_sums<float, false>(a, out, rows, n, shared);
}
"""

_CROSS_ENTROPY = _ROW_REDUCE + r"""
// One block per row: loss_i = logsumexp(x_i) - (1 - eps) x_i[t_i] - eps * mean_j x_i[j];
// 0 for ignored rows. lse_i is kept for the backward pass.
// An out-of-range target gives a NaN loss and is recorded in record (flag, target, classes,
// site: see cuda/kernels/bounds.py), to be raised at the next host read.
extern "C" __global__ void softmax_cross_entropy_forward(
        const float* x, const long long* target, float* loss, float* lse, float* valid,
        const int classes, const long long ignore_index, const float smoothing,
        long long* record, const long long site) {
    extern __shared__ float shared[];
    const long long row = blockIdx.x;
    const float* xr = x + row * classes;
    float local_max = __int_as_float(0xff800000);  // -inf
    for (int j = threadIdx.x; j < classes; j += blockDim.x) local_max = fmaxf(local_max, xr[j]);
    const float row_max = block_reduce<true>(local_max, shared);
    float local_sum = 0.0f, local_total = 0.0f;
    for (int j = threadIdx.x; j < classes; j += blockDim.x) {
        local_sum += expf(xr[j] - row_max);
        local_total += xr[j];
    }
    const float sum = block_reduce<false>(local_sum, shared);
    const float total = block_reduce<false>(local_total, shared);
    if (threadIdx.x == 0) {
        const long long t = target[row];
        const float log_sum = row_max + logf(sum);
        lse[row] = log_sum;
        if (t == ignore_index) {
            loss[row] = 0.0f;
            valid[row] = 0.0f;
        } else if (t < 0 || t >= classes) {
            loss[row] = __int_as_float(0x7fffffff);  // NaN until the error is raised
            valid[row] = 1.0f;
            unsigned long long* flag = reinterpret_cast<unsigned long long*>(record);
            if (atomicCAS(flag, 0ULL, 1ULL) == 0ULL) {
                record[1] = t;
                record[2] = classes;
                record[3] = site;
            }
        } else {
            loss[row] = log_sum - (1.0f - smoothing) * xr[t] - smoothing * total / classes;
            valid[row] = 1.0f;
        }
    }
}

// dx_ij = scale_i * (softmax_ij - (1 - eps) [j == t_i] - eps / C), and +0 on ignored rows:
// when every target is ignored the mean's scale is 1 / 0 = inf, which must not reach them
extern "C" __global__ void softmax_cross_entropy_backward(
        const float* x, const long long* target, const float* lse, const float* valid,
        const float* scale, const int scale_per_row, float* dx, const int classes,
        const float smoothing) {
    const long long row = blockIdx.x;
    float* dr = dx + row * classes;
    if (valid[row] == 0.0f) {
        for (int j = threadIdx.x; j < classes; j += blockDim.x) dr[j] = 0.0f;
        return;
    }
    const float s = scale[scale_per_row ? row : 0];
    const long long t = target[row];
    const float* xr = x + row * classes;
    for (int j = threadIdx.x; j < classes; j += blockDim.x) {
        const float hot = (j == t) ? 1.0f - smoothing : 0.0f;
        dr[j] = s * (expf(xr[j] - lse[row]) - hot - smoothing / classes);
    }
}
"""

_LAYER_NORM = _ROW_REDUCE + _COLUMNS + r"""
// One block per row of length n: y = (x - mean) * rstd * w + b.
extern "C" __global__ void layer_norm_forward(
        const float* x, const float* w, const float* b, float* y, float* mean_out,
        float* rstd_out, const int n, const float eps) {
    extern __shared__ float shared[];
    const long long row = blockIdx.x;
    const float* xr = x + row * n;
    float local = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) local += xr[j];
    const float mean = block_reduce<false>(local, shared) / n;
    float local_sq = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float d = xr[j] - mean;
        local_sq += d * d;
    }
    const float rstd = rsqrtf(block_reduce<false>(local_sq, shared) / n + eps);
    float* yr = y + row * n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) yr[j] = (xr[j] - mean) * rstd * w[j] + b[j];
    if (threadIdx.x == 0) {
        mean_out[row] = mean;
        rstd_out[row] = rstd;
    }
}

// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = g * w.
extern "C" __global__ void layer_norm_backward(
        const float* x, const float* g, const float* w, const float* mean_in,
        const float* rstd_in, float* dx, const int n) {
    extern __shared__ float shared[];
    const long long row = blockIdx.x;
    const float* xr = x + row * n;
    const float* gr = g + row * n;
    const float mean = mean_in[row], rstd = rstd_in[row];
    float local_gw = 0.0f, local_gwx = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float xhat = (xr[j] - mean) * rstd;
        const float gw = gr[j] * w[j];
        local_gw += gw;
        local_gwx += gw * xhat;
    }
    const float mean_gw = block_reduce<false>(local_gw, shared) / n;
    const float mean_gwx = block_reduce<false>(local_gwx, shared) / n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float xhat = (xr[j] - mean) * rstd;
        dx[row * n + j] = rstd * (gr[j] * w[j] - mean_gw - xhat * mean_gwx);
    }
}

// The parameters' gradients: dw = sum over rows of g * xhat, db = sum over rows of g.
extern "C" __global__ void layer_norm_param_grads(
        const float* x, const float* g, const float* mean_in, const float* rstd_in, float* dw,
        float* db, const long long rows, const int n) {
    extern __shared__ float shared[];
    const int col = blockIdx.x * COLUMN_TILE + threadIdx.x;
    float sum_w = 0.0f, sum_b = 0.0f;
    if (col < n) {
        for (long long r = threadIdx.y; r < rows; r += blockDim.y) {
            const float gv = g[r * n + col];
            sum_b += gv;
            sum_w += gv * ((x[r * n + col] - mean_in[r]) * rstd_in[r]);
        }
    }
    sum_w = combine_lanes(sum_w, shared);
    sum_b = combine_lanes(sum_b, shared);
    if (threadIdx.y == 0 && col < n) {
        dw[col] = sum_w;
        db[col] = sum_b;
    }
}
"""

_GELU = _COLUMNS + r"""
__device__ __forceinline__ float gelu(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

__device__ __forceinline__ float gelu_grad(float x, float g) {
    const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
    return g * (cdf + x * pdf);
}

extern "C" __global__ void gelu_forward(const float* x, float* y, const long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = gelu(x[i]);
    }
}

// A linear layer's bias and activation over its GEMM output h (rows x cols, row-major), in one
// pass. ReLU overwrites h with the output (its backward needs only the output's sign); GELU
// leaves the biased pre-activation in h for its backward and writes the output to y.
extern "C" __global__ void bias_relu_forward(float* h, const float* b, const long long n,
                                             const int cols) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const float v = h[i] + b[i % cols];
        h[i] = (v > 0.0f || v != v) ? v : 0.0f;   // NaN passes, as max(x, 0) keeps it
    }
}

extern "C" __global__ void bias_gelu_forward(float* h, const float* b, float* y,
                                             const long long n, const int cols) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const float v = h[i] + b[i % cols];
        h[i] = v;
        y[i] = gelu(v);
    }
}

extern "C" __global__ void relu_backward(const float* y, const float* g, float* dh,
                                         const long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        dh[i] = y[i] != 0.0f ? g[i] : 0.0f;   // y is 0, positive or NaN: NaN passes g
    }
}

extern "C" __global__ void gelu_backward(const float* x, const float* g, float* dx,
                                         const long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        dx[i] = gelu_grad(x[i], g[i]);
    }
}

// A linear layer's activation derivative and its bias gradient in one pass over the
// (rows x n) gradient: dh = act'(kept) * g, db = column sums of dh (kept: ReLU's output, or
// GELU's pre-activation).
template <bool RELU>
__device__ void activation_backward_bias(const float* kept, const float* g, float* dh,
                                         float* db, const long long rows, const int n,
                                         float* shared) {
    const int col = blockIdx.x * COLUMN_TILE + threadIdx.x;
    float sum = 0.0f;
    if (col < n) {
        for (long long r = threadIdx.y; r < rows; r += blockDim.y) {
            const long long i = r * n + col;
            const float d = RELU ? (kept[i] != 0.0f ? g[i] : 0.0f) : gelu_grad(kept[i], g[i]);
            dh[i] = d;
            sum += d;
        }
    }
    sum = combine_lanes(sum, shared);
    if (threadIdx.y == 0 && col < n) db[col] = sum;
}

extern "C" __global__ void relu_backward_bias(const float* y, const float* g, float* dh,
                                              float* db, const long long rows, const int n) {
    extern __shared__ float shared[];
    activation_backward_bias<true>(y, g, dh, db, rows, n, shared);
}

extern "C" __global__ void gelu_backward_bias(const float* x, const float* g, float* dh,
                                              float* db, const long long rows, const int n) {
    extern __shared__ float shared[];
    activation_backward_bias<false>(x, g, dh, db, rows, n, shared);
}

// A float32 bias under float16 autocast, without casting it first: h (rows x cols float16, a
// fresh GEMM output) += b rounded to float16, as the cast bias would be added.
extern "C" __global__ void bias_add_half(fp16_t* h, const float* b, const long long n,
                                         const int cols) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        h[i] = to_half(to_float(h[i]) + to_float(to_half(b[i % cols])));
    }
}

// Its gradient: the column sums of the float16 output gradient, accumulated in float32 and
// rounded once to float16 (the cast bias's gradient) before they are stored as float32 (the
// cast's backward), so no float16 vector and no separate cast.
extern "C" __global__ void column_sum_half(const fp16_t* a, float* out, const long long rows,
                                           const int n) {
    extern __shared__ float shared[];
    column_sums<fp16_t, true>(a, out, rows, n, shared);
}
"""

_SOFTMAX = _ROW_REDUCE + _HALF + r"""
// Attention scores, one block per row of n, in place: p = softmax(p * scale + mask[row %
// mask_rows]) (mask: mask_rows x n, or none), computed in float32 whatever the storage (the
// scores are recomputed in each pass, never stored rounded). With zero_empty, a row with no
// finite score becomes zeros (scaled_dot_product_attention's rule) instead of NaN.
template <typename T>
__device__ void softmax_rows(T* p, const T* mask, int mask_rows, int n, float scale,
                             int zero_empty, float* shared) {
    const long long row = blockIdx.x;
    T* pr = p + row * n;
    const T* mr = mask ? mask + (row % mask_rows) * (long long)n : nullptr;
    float local_max = __int_as_float(0xff800000);  // -inf
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float s = to_float(pr[j]) * scale + (mr ? to_float(mr[j]) : 0.0f);
        local_max = fmaxf(local_max, s);
    }
    const float row_max = block_reduce<true>(local_max, shared);
    if (zero_empty && row_max == __int_as_float(0xff800000)) {
        for (int j = threadIdx.x; j < n; j += blockDim.x) store(pr + j, 0.0f);
        return;
    }
    float local_sum = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float s = to_float(pr[j]) * scale + (mr ? to_float(mr[j]) : 0.0f);
        local_sum += expf(s - row_max);
    }
    const float inv = 1.0f / block_reduce<false>(local_sum, shared);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float s = to_float(pr[j]) * scale + (mr ? to_float(mr[j]) : 0.0f);
        store(pr + j, expf(s - row_max) * inv);
    }
}

// The softmax gradient in place of dw: ds = p * (dw - sum_j dw_j p_j) * scale.
template <typename T>
__device__ void softmax_grad_rows(T* dw, const T* p, int n, float scale, float* shared) {
    const long long row = blockIdx.x;
    T* dr = dw + row * n;
    const T* pr = p + row * n;
    float local = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) local += to_float(dr[j]) * to_float(pr[j]);
    const float dot = block_reduce<false>(local, shared);
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        store(dr + j, to_float(pr[j]) * (to_float(dr[j]) - dot) * scale);
}

extern "C" __global__ void scaled_masked_softmax(
        float* p, const float* mask, const int mask_rows, const int n, const float scale,
        const int zero_empty) {
    extern __shared__ float shared[];
    softmax_rows<float>(p, mask, mask_rows, n, scale, zero_empty, shared);
}

extern "C" __global__ void scaled_masked_softmax_half(
        fp16_t* p, const fp16_t* mask, const int mask_rows, const int n, const float scale,
        const int zero_empty) {
    extern __shared__ float shared[];
    softmax_rows<fp16_t>(p, mask, mask_rows, n, scale, zero_empty, shared);
}

extern "C" __global__ void softmax_backward(float* dw, const float* p, const int n,
                                            const float scale) {
    extern __shared__ float shared[];
    softmax_grad_rows<float>(dw, p, n, scale, shared);
}

extern "C" __global__ void softmax_backward_half(fp16_t* dw, const fp16_t* p, const int n,
                                                 const float scale) {
    extern __shared__ float shared[];
    softmax_grad_rows<fp16_t>(dw, p, n, scale, shared);
}
"""

SOURCES = {"softmax_cross_entropy": _CROSS_ENTROPY, "layer_norm": _LAYER_NORM, "gelu": _GELU,
           "attention_softmax": _SOFTMAX}


def _threads(n):
    """A power of two between 32 and 1024, near the row length."""
    return min(1024, max(32, 1 << max(0, math.ceil(math.log2(max(n, 1))))))


def _column_launch(rows, n):
    """Grid, block and shared bytes of the column-sum kernels: 32 columns per block, with
    more row lanes for taller inputs."""
    lanes = 32 if rows >= 2048 else 8
    return ((n + 31) // 32,), (32, lanes), 32 * lanes * 4


def column_sum(a, dtype):
    """``a.sum(0)`` of a (rows x n) CuPy array in one launch, as a float32 ``dtype`` vector, or
    None when the fused path does not apply (a linear layer's bias gradient, ``dtype`` the
    bias's). A float16 ``a`` gives the sums rounded through float16: the gradient of a float32
    bias that float16 autocast would have cast."""
    if not (dtype == np.float32 and a.ndim == 2 and fusable(a) and a.flags.c_contiguous
            and (a.dtype == np.float32 or a.dtype == np.float16)):
        return None
    rows, n = a.shape
    out = cupy_module().empty(n, np.float32)
    grid, block, shared = _column_launch(rows, n)
    name = "column_sum" if a.dtype == np.float32 else "column_sum_half"
    raw_kernel(_GELU, name)(grid, block, (a, out, np.int64(rows), np.int32(n)),
                            shared_mem=shared)
    return out


def half_bias_applies(x, w, b):
    """Whether a linear layer under float16 autocast can take its float32 bias ``b`` as it is
    (:func:`bias_add_half`, and :func:`column_sum` for its gradient) instead of a float16 copy:
    ``x`` and ``w`` are the float16 CuPy operands of the GEMM, ``b`` a contiguous float32 vector
    of the output width on the same device."""
    return (fusable(x) and type(w) is type(x) and type(b) is type(x) and w.ndim == 2
            and x.dtype == np.float16 and w.dtype == np.float16 and b.dtype == np.float32
            and b.ndim == 1 and b.shape[0] == w.shape[0] and b.flags.c_contiguous)


def bias_add_half(h, b):
    """``h += b`` in place for a fresh (contiguous, rows x out) float16 GEMM output ``h`` and a
    float32 bias ``b``, the bias rounded to float16 first as autocast's cast would; one launch."""
    n = h.size
    blocks = min(65535, max(1, (n + 255) // 256))
    raw_kernel(_GELU, "bias_add_half")((blocks,), (256,),
                                       (h, b, np.int64(n), np.int32(h.shape[-1])))
    return h


def _f32(*arrays):
    return all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays)


# ------------------------------------------------------------------ cross entropy
TARGET_OUT_OF_BOUNDS = "Target {index} is out of bounds"


def cross_entropy_applies(input, target, weight, reduction):
    """The fused kernel covers (N, C) float32 logits, class-index targets, no class weights."""
    x = input._data
    return (fusable(x) and weight is None and x.ndim == 2 and _f32(x)
            and isinstance(target, Tensor) and target._data.ndim == 1
            and target._data.dtype == np.int64 and reduction in ("mean", "sum", "none"))


class FusedCrossEntropy(Node):
    """``cross_entropy(x, target, ignore_index=..., label_smoothing=...)`` in two kernels."""

    def forward(self, x, target, ignore_index, smoothing, reduction):
        cupy = cupy_module()
        n, c = x.shape
        target = contiguous(target)
        loss = cupy.empty(n, np.float32)
        lse = cupy.empty(n, np.float32)
        valid = cupy.empty(n, np.float32)
        threads = _threads(c)
        record, site = bounds.record_for(target, "cross_entropy", TARGET_OUT_OF_BOUNDS)
        raw_kernel(_CROSS_ENTROPY, "softmax_cross_entropy_forward")(
            (n,), (threads,), (x, target, loss, lse, valid, np.int32(c), np.int64(ignore_index),
                               np.float32(smoothing), record, site), shared_mem=threads * 4)
        self.save_for_backward(x)
        self.target, self.lse, self.valid = target, lse, valid
        self.smoothing, self.reduction = smoothing, reduction
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        self.denom = valid.sum()
        return total / self.denom

    def _scale(self, g):
        if self.reduction == "none":
            return g
        return g / self.denom if self.reduction == "mean" else g

    def backward(self, g):
        x, = self.saved_tensors
        if isinstance(g, Tensor):
            return self._backward_graph(x, g), None, None, None, None
        cupy = cupy_module()
        n, c = x.shape
        scale = contiguous(self._scale(g), np.float32).reshape(-1)
        dx = cupy.empty_like(x)
        raw_kernel(_CROSS_ENTROPY, "softmax_cross_entropy_backward")(
            (n,), (_threads(c),), (x, self.target, self.lse, self.valid, scale,
                                   np.int32(scale.size > 1), dx, np.int32(c),
                                   np.float32(self.smoothing)))
        return dx, None, None, None, None

    def _backward_graph(self, x, g):
        from ...nn.functional import softmax, one_hot
        from ...ops.pointwise import where
        from ...tensor import _new
        n, c = x.shape
        eps = self.smoothing
        hot = one_hot(_new(self.target.clip(0, c - 1)), c).to(x.dtype)
        if self.reduction == "none":
            scale = g.reshape(-1, 1)
        else:
            scale = g / _new(self.denom) if self.reduction == "mean" else g
        valid = _new(self.valid.reshape(-1, 1) != 0)
        # the ignored rows masked out of the scale, as in the kernel, so that an inf scale (all
        # ignored) leaves them 0 in this gradient and in its own backward
        grad = (softmax(x, 1) - hot * (1 - eps) - eps / c) * where(valid, scale, 0.0)
        return where(valid, grad, 0.0)


# ------------------------------------------------------------------ layer norm
def layer_norm_applies(input, normalized_shape, weight, bias):
    """The fused kernel covers float32 rows normalised over the last dim, with weight and bias."""
    x = input._data
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return (fusable(x) and len(normalized_shape) == 1 and weight is not None and bias is not None
            and x.ndim >= 1 and x.shape[-1] == normalized_shape[0]
            and _f32(x, weight._data, bias._data))


class FusedLayerNorm(Node):
    """``layer_norm(x, (D,), weight, bias, eps)``: one block per row, forward and backward."""

    def forward(self, x, weight, bias, eps):
        cupy = cupy_module()
        n = x.shape[-1]
        rows = x.size // n
        y = cupy.empty_like(x)
        mean = cupy.empty(rows, np.float32)
        rstd = cupy.empty(rows, np.float32)
        threads = _threads(n)
        raw_kernel(_LAYER_NORM, "layer_norm_forward")(
            (rows,), (threads,), (x, weight, bias, y, mean, rstd, np.int32(n), np.float32(eps)),
            shared_mem=threads * 4)
        self.save_for_backward(x, weight)
        self.mean, self.rstd, self.eps = mean, rstd, eps
        return y

    def backward(self, g):
        x, weight = self.saved_tensors
        if isinstance(g, Tensor):
            return self._backward_graph(x, weight, g)
        cupy = cupy_module()
        n = x.shape[-1]
        rows = x.size // n
        g = contiguous(g)
        e = self.next_edges
        dx = dw = db = None
        if e[0] is not None:
            dx = cupy.empty_like(x)
            threads = _threads(n)
            raw_kernel(_LAYER_NORM, "layer_norm_backward")(
                (rows,), (threads,), (x, g, weight, self.mean, self.rstd, dx, np.int32(n)),
                shared_mem=threads * 4)
        if e[1] is not None or e[2] is not None:
            dw = cupy.empty(n, np.float32)
            db = cupy.empty(n, np.float32)
            grid, block, shared = _column_launch(rows, n)
            raw_kernel(_LAYER_NORM, "layer_norm_param_grads")(
                grid, block, (x, g, self.mean, self.rstd, dw, db, np.int64(rows), np.int32(n)),
                shared_mem=shared)
        return dx, dw, db, None

    def _backward_graph(self, x, weight, g):
        # the same formulas in differentiable ops, for double backward
        n = x.shape[-1]
        mean = x.mean(-1, keepdim=True)
        rstd = (((x - mean) ** 2).mean(-1, keepdim=True) + self.eps).rsqrt()
        xhat = (x - mean) * rstd
        gw = g * weight
        dx = rstd * (gw - gw.mean(-1, keepdim=True) - xhat * (gw * xhat).mean(-1, keepdim=True))
        return dx, (g * xhat).reshape(-1, n).sum(0), g.reshape(-1, n).sum(0), None


# ------------------------------------------------------------------ GELU
def _elementwise(name, *arrays):
    cupy = cupy_module()
    out = cupy.empty_like(arrays[0])
    n = arrays[0].size
    blocks = min(65535, max(1, (n + 255) // 256))
    raw_kernel(_GELU, name)((blocks,), (256,), tuple(arrays) + (out, np.int64(n)))
    return out


def bias_activation_applies(x, w, b):
    """Whether a linear layer's input ``x``, weight ``w`` (out x in) and bias ``b`` (out,) take
    :func:`bias_activation` after their GEMM: float32 CuPy arrays, the bias a vector."""
    return (fusable(x) and b is not None and type(w) is type(x) and type(b) is type(x)
            and w.ndim == 2 and b.ndim == 1 and b.shape[0] == w.shape[0] and _f32(x, w, b))


def bias_activation(h, b, kind):
    """``kind`` ("relu" or "gelu") of ``h + b`` in one launch, ``h`` being the layer's fresh
    (contiguous, rows x out) GEMM output; returns ``(y, kept)``, ``kept``
    being what :func:`activation_backward` needs (ReLU: ``y``, which overwrites ``h``; GELU: the
    pre-activation, left in ``h``)."""
    cupy = cupy_module()
    n = h.size
    blocks = min(65535, max(1, (n + 255) // 256))
    if kind == "relu":
        raw_kernel(_GELU, "bias_relu_forward")((blocks,), (256,),
                                               (h, b, np.int64(n), np.int32(h.shape[1])))
        return h, h
    y = cupy.empty_like(h)
    raw_kernel(_GELU, "bias_gelu_forward")((blocks,), (256,),
                                           (h, b, y, np.int64(n), np.int32(h.shape[1])))
    return y, h


def activation_backward(kept, g, kind, bias_grad=False):
    """The gradient at the pre-activation from the output's gradient ``g`` (float32, the
    shape of ``kept``, rows x out); with ``bias_grad`` also the bias gradient (its column
    sums), from the same pass: ``(dh, db)``."""
    g = contiguous(g)
    if not bias_grad:
        return _elementwise("relu_backward" if kind == "relu" else "gelu_backward", kept, g)
    cupy = cupy_module()
    rows, n = kept.shape
    dh = cupy.empty_like(kept)
    db = cupy.empty(n, np.float32)
    grid, block, shared = _column_launch(rows, n)
    raw_kernel(_GELU, f"{kind}_backward_bias")(
        grid, block, (kept, g, dh, db, np.int64(rows), np.int32(n)), shared_mem=shared)
    return dh, db


def gelu_forward(x):
    """Exact (erf) GELU of a float32 CuPy array, or None when the fused path does not apply."""
    if not (fusable(x) and _f32(x)):
        return None
    return _elementwise("gelu_forward", x)


def gelu_backward(x, g):
    """``g * GELU'(x)`` for float32 CuPy arrays, or None when the fused path does not apply."""
    if not (fusable(x) and _f32(x) and _f32(g)):
        return None
    return _elementwise("gelu_backward", x, g)


# ------------------------------------------------------------------ attention softmax
_SOFTMAX_SUFFIX = {np.dtype(np.float32): "", np.dtype(np.float16): "_half"}


def _softmax_storage(*arrays):
    """The kernel suffix for contiguous arrays of one dtype (float32: "", float16: "_half"), or
    None."""
    dtype = arrays[0].dtype
    if dtype not in _SOFTMAX_SUFFIX or not all(a.dtype == dtype and a.flags.c_contiguous
                                               for a in arrays):
        return None
    return _SOFTMAX_SUFFIX[dtype]


def attention_softmax_(p, scale, mask, zero_empty):
    """``p = softmax(p * scale + mask)`` over the last dim, in place, in one launch (float32
    arithmetic for float16 scores too); False (nothing done) unless ``p`` is a contiguous
    float32 or float16 CuPy array and ``mask`` is None or a contiguous ``p.shape[-2:]`` array of
    the same dtype, shared by every batch and head."""
    if not (fusable(p) and p.ndim >= 2 and p.size):
        return False
    suffix = _softmax_storage(p) if mask is None else _softmax_storage(p, mask)
    if suffix is None or (mask is not None and tuple(mask.shape) != tuple(p.shape[-2:])):
        return False
    n = p.shape[-1]
    threads = _threads(n)
    mask_rows = p.shape[-2] if mask is not None else 1
    raw_kernel(_SOFTMAX, "scaled_masked_softmax" + suffix)(
        (p.size // n,), (threads,), (p, mask, np.int32(mask_rows), np.int32(n),
                                     np.float32(scale), np.int32(bool(zero_empty))),
        shared_mem=threads * 4)
    return True


def attention_softmax_backward_(dw, p, scale):
    """``dw = p * (dw - sum(dw * p, -1)) * scale`` in place; False unless both are contiguous
    CuPy arrays of one shape and dtype (float32 or float16)."""
    if not (fusable(dw) and dw.shape == p.shape and dw.size):
        return False
    suffix = _softmax_storage(dw, p)
    if suffix is None:
        return False
    n = p.shape[-1]
    threads = _threads(n)
    raw_kernel(_SOFTMAX, "softmax_backward" + suffix)(
        (p.size // n,), (threads,), (dw, p, np.int32(n), np.float32(scale)),
        shared_mem=threads * 4)
    return True
