"""The GradScaler's kernels: one multi-tensor kernel multiplies every float32 gradient by
``1 / scale`` in place and raises a device flag on any inf or NaN, and one single-thread kernel
updates the scale and growth tracker from that flag (PyTorch's ``_amp_update_scale_``), so a
step's loss scaling is two launches and no host synchronisation."""
import numpy as np

from ..._backend import cupy_module
from . import fusable, launch_multi_tensor, raw_kernel

__all__ = ["unscale_and_check", "update_scale"]

_UNSCALE = r"""
extern "C" __global__ void unscale_and_check(
        const long long* grads, const long long* sizes, const float* scale,
        float* found_inf) {
    const int t = blockIdx.y;
    float* g = reinterpret_cast<float*>(grads[t]);
    // PyTorch's inv_scale: the reciprocal in double, rounded once to float
    const float inv = (float)(1.0 / (double)scale[0]);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < sizes[t];
         i += (long long)blockDim.x * gridDim.x) {
        const float value = g[i] * inv;
        g[i] = value;
        if (!isfinite(value)) found_inf[0] = 1.0f;
    }
}
"""

_UPDATE = r"""
// One thread: after a step with inf/NaN gradients the scale backs off and the tracker resets;
// otherwise the tracker counts the step and at growth_interval the scale grows (kept when the
// grown value is not finite) and the tracker restarts. The factors are doubles, as in PyTorch:
// the product is formed in double and rounded once to float.
extern "C" __global__ void update_scale(float* scale, int* growth_tracker,
                                        const float* found_inf, const double growth_factor,
                                        const double backoff_factor, const int growth_interval) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    if (found_inf[0] != 0.0f) {
        scale[0] = (float)((double)scale[0] * backoff_factor);
        growth_tracker[0] = 0;
        return;
    }
    const int successful = growth_tracker[0] + 1;
    if (successful == growth_interval) {
        const float grown = (float)((double)scale[0] * growth_factor);
        if (isfinite(grown)) scale[0] = grown;
        growth_tracker[0] = 0;
    } else {
        growth_tracker[0] = successful;
    }
}
"""

SOURCES = {"unscale_and_check": _UNSCALE, "update_scale": _UPDATE}


def unscale_and_check(grads, scale):
    """Unscale the float32 CuPy arrays ``grads`` in place by the device scalar ``scale``;
    return a one-element device array that is nonzero when a gradient is not finite, or None
    when the fused path does not apply (nothing was changed then)."""
    if not grads or not fusable(grads[0]):
        return None
    if not all(g.dtype == np.float32 and g.flags.c_contiguous for g in grads):
        return None
    if scale.dtype != np.float32:
        return None
    found_inf = cupy_module().zeros(1, np.float32)
    launch_multi_tensor(raw_kernel(_UNSCALE, "unscale_and_check"), [grads], [scale, found_inf])
    return found_inf


def update_scale(scale, growth_tracker, found_inf, growth_factor, backoff_factor,
                 growth_interval):
    """PyTorch's ``_amp_update_scale_`` in one launch on the device arrays ``scale`` (float32,
    one element), ``growth_tracker`` (int32, one element) and ``found_inf`` (float32, nonzero
    after inf/NaN gradients); False (nothing done) when the fused path does not apply."""
    if not (fusable(scale) and scale.dtype == np.float32 and growth_tracker.dtype == np.int32
            and found_inf.dtype == np.float32 and scale.size == growth_tracker.size == 1
            and found_inf.size == 1):
        return False
    raw_kernel(_UPDATE, "update_scale")(
        (1,), (1,), (scale, growth_tracker, found_inf, np.float64(growth_factor),
                     np.float64(backoff_factor), np.int32(growth_interval)))
    return True
