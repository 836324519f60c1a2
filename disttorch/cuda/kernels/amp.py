"""The GradScaler's unscale: one multi-tensor kernel multiplies every float32 gradient by
``1 / scale`` in place and raises a device flag on any inf or NaN (no host synchronisation)."""
import numpy as np

from ..._backend import cupy_module
from . import fusable, launch_multi_tensor, raw_kernel

__all__ = ["unscale_and_check"]

_UNSCALE = r"""
extern "C" __global__ void unscale_and_check(
        const long long* grads, const long long* sizes, const float* inv_scale,
        float* found_inf) {
    const int t = blockIdx.y;
    float* g = reinterpret_cast<float*>(grads[t]);
    const float inv = inv_scale[0];
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < sizes[t];
         i += (long long)blockDim.x * gridDim.x) {
        const float value = g[i] * inv;
        g[i] = value;
        if (!isfinite(value)) found_inf[0] = 1.0f;
    }
}
"""

SOURCES = {"unscale_and_check": _UNSCALE}


def unscale_and_check(grads, scale):
    """Unscale the float32 CuPy arrays ``grads`` in place by the device scalar ``scale``;
    return a one-element device array that is nonzero when a gradient is not finite, or None
    when the fused path does not apply (nothing was changed then)."""
    if not grads or not fusable(grads[0]):
        return None
    if not all(g.dtype == np.float32 and g.flags.c_contiguous for g in grads):
        return None
    cupy = cupy_module()
    inv_scale = (1.0 / scale).astype(np.float32).reshape(1)
    found_inf = cupy.zeros(1, np.float32)
    launch_multi_tensor(raw_kernel(_UNSCALE, "unscale_and_check"), [grads],
                        [inv_scale, found_inf])
    return found_inf
