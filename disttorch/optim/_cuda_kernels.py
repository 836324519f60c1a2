"""Multi-tensor CUDA kernels for the SGD and Adam/AdamW updates: one launch per step.

``sgd_step`` and ``adam_step`` return False (and do nothing) when the arrays are not all
contiguous float32 CuPy arrays on a GPU; the caller then runs its generic array code. The maths
follows the generic functions in ``sgd.py`` and ``adam.py`` operation for operation.
"""
import numpy as np

from .._backend import get_array_module
from ..cuda.kernels import fusable, launch_multi_tensor, raw_kernel

__all__ = ["sgd_step", "adam_step"]

_PREAMBLE = r"""
#define TENSOR_LOOP(n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)
"""

_SGD = _PREAMBLE + r"""
extern "C" __global__ void sgd_multi_tensor(
        const long long* params, const long long* grads, const long long* buffers,
        const long long* sizes, const float lr, const float weight_decay, const float momentum,
        const float dampening, const int nesterov, const int maximize, const int first_step) {
    const int t = blockIdx.y;
    float* p = reinterpret_cast<float*>(params[t]);
    const float* g = reinterpret_cast<const float*>(grads[t]);
    float* buf = reinterpret_cast<float*>(buffers[t]);
    TENSOR_LOOP(sizes[t]) {
        float grad = maximize ? -g[i] : g[i];
        grad += weight_decay * p[i];
        if (momentum != 0.0f) {
            const float b = first_step ? grad : momentum * buf[i] + (1.0f - dampening) * grad;
            buf[i] = b;
            grad = nesterov ? grad + momentum * b : b;
        }
        p[i] -= lr * grad;
    }
}
"""

_ADAM = _PREAMBLE + r"""
extern "C" __global__ void adam_multi_tensor(
        const long long* params, const long long* grads, const long long* exp_avgs,
        const long long* exp_avg_sqs, const long long* sizes, const float lr, const float beta1,
        const float beta2, const float eps, const float weight_decay,
        const float bias_correction1, const float bias_correction2_sqrt, const int decoupled,
        const int maximize) {
    const int t = blockIdx.y;
    float* p = reinterpret_cast<float*>(params[t]);
    const float* g = reinterpret_cast<const float*>(grads[t]);
    float* m = reinterpret_cast<float*>(exp_avgs[t]);
    float* v = reinterpret_cast<float*>(exp_avg_sqs[t]);
    const float step_size = lr / bias_correction1;
    const float w1 = 1.0f - beta1;
    TENSOR_LOOP(sizes[t]) {
        float param = p[i];
        float grad = maximize ? -g[i] : g[i];
        if (decoupled) {
            param *= 1.0f - lr * weight_decay;
        } else {
            grad += weight_decay * param;
        }
        // torch's two-sided lerp, as lerp_ in optimizer.py
        const float m_i = w1 < 0.5f ? m[i] + w1 * (grad - m[i]) : grad - (grad - m[i]) * beta1;
        const float v_i = v[i] * beta2 + (1.0f - beta2) * grad * grad;
        m[i] = m_i;
        v[i] = v_i;
        const float denom = sqrtf(v_i) / bias_correction2_sqrt + eps;
        p[i] = param - step_size * (m_i / denom);
    }
}
"""

SOURCES = {"sgd_multi_tensor": _SGD, "adam_multi_tensor": _ADAM}


def _all_float32_contiguous(*lists):
    return all(a.dtype == np.float32 and a.flags.c_contiguous for arrays in lists for a in arrays)


def sgd_step(params, grads, momentum_buffers, *, weight_decay, momentum, lr, dampening, nesterov,
             maximize):
    """Fused :func:`disttorch.optim.sgd.sgd`; returns the momentum buffers, or None when the
    arrays cannot take the fused path."""
    if not params or not fusable(params[0]) or not _all_float32_contiguous(params, grads):
        return None
    buffers = list(momentum_buffers) if momentum != 0 else []
    first_step = bool(buffers) and all(b is None for b in buffers)
    if buffers and not first_step and any(b is None for b in buffers):
        return None
    if first_step:
        buffers = [get_array_module(p).empty_like(p) for p in params]
    if buffers and not _all_float32_contiguous(buffers):
        return None
    kernel = raw_kernel(_SGD, "sgd_multi_tensor")
    launch_multi_tensor(kernel, [params, grads, buffers or params], [
        np.float32(lr), np.float32(weight_decay), np.float32(momentum), np.float32(dampening),
        np.int32(nesterov), np.int32(maximize), np.int32(first_step)])
    return buffers


def adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, *, beta1, beta2, lr, weight_decay, eps,
              maximize, decoupled_weight_decay):
    """Fused :func:`disttorch.optim.adam.adam` without amsgrad; False when the arrays cannot
    take the fused path (then nothing was changed). ``steps`` are host 0-d arrays."""
    if not params or not fusable(params[0]):
        return False
    if not _all_float32_contiguous(params, grads, exp_avgs, exp_avg_sqs):
        return False
    step = float(steps[0]) + 1
    if any(float(s) + 1 != step for s in steps):
        return False
    for s in steps:
        s += 1
    kernel = raw_kernel(_ADAM, "adam_multi_tensor")
    launch_multi_tensor(kernel, [params, grads, exp_avgs, exp_avg_sqs], [
        np.float32(lr), np.float32(beta1), np.float32(beta2), np.float32(eps),
        np.float32(weight_decay), np.float32(1 - beta1 ** step),
        np.float32((1 - beta2 ** step) ** 0.5), np.int32(decoupled_weight_decay),
        np.int32(maximize)])
    return True
