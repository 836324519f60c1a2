"""DDP's bucket unpack: the all-reduced flat bucket is copied into every parameter's gradient
with one multi-tensor kernel instead of one copy per parameter."""
import numpy as np

from . import fusable, launch_multi_tensor, raw_kernel

__all__ = ["copy_into"]

_COPY = r"""
extern "C" __global__ void copy_multi_tensor(
        const long long* targets, const long long* sources, const long long* sizes) {
    const int t = blockIdx.y;
    float* target = reinterpret_cast<float*>(targets[t]);
    const float* source = reinterpret_cast<const float*>(sources[t]);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < sizes[t];
         i += (long long)blockDim.x * gridDim.x) {
        target[i] = source[i];
    }
}
"""

SOURCES = {"copy_multi_tensor": _COPY}


def copy_into(targets, sources):
    """Copy each array of ``sources`` into the same-sized array of ``targets`` in one launch;
    False (nothing copied) unless all are contiguous float32 CuPy arrays."""
    if not targets or not fusable(targets[0]):
        return False
    if not all(a.dtype == np.float32 and a.flags.c_contiguous for a in targets + sources):
        return False
    launch_multi_tensor(raw_kernel(_COPY, "copy_multi_tensor"), [targets, sources], [])
    return True
