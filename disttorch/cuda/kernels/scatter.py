"""Scatter maximum and minimum (``ufunc.at``) on CuPy arrays, exact and NaN-propagating.

CuPy 14's ``cupy.maximum.at`` / ``minimum.at`` are wrong in two ways: its ``atomicMax(double*)``
compares through ``fmaxf``, so float64 results come back rounded to float32, and ``fmaxf``
drops NaN where numpy and PyTorch propagate it; int64 it refuses. Found on the H200:
``scatter_reduce(..., "amax")`` in float64 lost its source gradient, whose winners are found by
equality with the (rounded) result. These kernels take each target's value with a
compare-and-swap loop on the value's bits: a replacement only when the new value wins (ties keep
the value already there, as numpy's sequential ``at`` does) and NaN wins over every number.
"""
import numpy as np

from . import fusable, raw_kernel

__all__ = ["scatter_extreme_"]

_SCATTER = r"""
template <typename T, typename B>
__device__ __forceinline__ T from_bits(B bits) {
    union { B b; T t; } u;
    u.b = bits;
    return u.t;
}

template <typename T, typename B>
__device__ __forceinline__ B to_bits(T value) {
    union { B b; T t; } u;
    u.t = value;
    return u.b;
}

// out[targets[i]] = max (or min) of itself and values[i], for i < n; NaN wins and stays
template <typename T, typename B, bool MAX>
__device__ void scatter_extreme(T* out, const long long* targets, const T* values,
                                const long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        B* address = reinterpret_cast<B*>(out + targets[i]);
        const T v = values[i];
        B seen = *address;
        while (true) {
            const T current = from_bits<T, B>(seen);
            if (!(v != v || (MAX ? v > current : v < current))) break;
            const B prior = atomicCAS(address, seen, to_bits<T, B>(v));
            if (prior == seen) break;
            seen = prior;
        }
    }
}

extern "C" __global__ void scatter_max_f32(float* out, const long long* targets,
                                           const float* values, const long long n) {
    scatter_extreme<float, unsigned int, true>(out, targets, values, n);
}
extern "C" __global__ void scatter_min_f32(float* out, const long long* targets,
                                           const float* values, const long long n) {
    scatter_extreme<float, unsigned int, false>(out, targets, values, n);
}
extern "C" __global__ void scatter_max_f64(double* out, const long long* targets,
                                           const double* values, const long long n) {
    scatter_extreme<double, unsigned long long, true>(out, targets, values, n);
}
extern "C" __global__ void scatter_min_f64(double* out, const long long* targets,
                                           const double* values, const long long n) {
    scatter_extreme<double, unsigned long long, false>(out, targets, values, n);
}
extern "C" __global__ void scatter_max_i64(long long* out, const long long* targets,
                                           const long long* values, const long long n) {
    scatter_extreme<long long, unsigned long long, true>(out, targets, values, n);
}
extern "C" __global__ void scatter_min_i64(long long* out, const long long* targets,
                                           const long long* values, const long long n) {
    scatter_extreme<long long, unsigned long long, false>(out, targets, values, n);
}
"""

SOURCES = {"scatter_extreme": _SCATTER}

# (int32 and the unsigned types CuPy's own atomics get right)
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int64): "i64"}


def scatter_extreme_(out, index, values, name):
    """``getattr(numpy, name).at(out, index, values)`` for ``name`` "maximum" or "minimum" on a
    CuPy ``out`` of float32/float64/int64 in one launch (``values`` broadcast to the
    indexed shape); False (nothing done) where the kernel does not apply."""
    suffix = _SUFFIX.get(out.dtype)
    if suffix is None or not fusable(out):
        return False
    from ..._backend import cupy_module
    cp = cupy_module()
    flat = out if out.flags.c_contiguous else cp.ascontiguousarray(out)
    # the flat position of every indexed element, in the shape the index selects
    targets = cp.arange(out.size, dtype=np.int64).reshape(out.shape)[index]
    values = cp.ascontiguousarray(cp.broadcast_to(cp.asarray(values, dtype=out.dtype),
                                                  targets.shape))
    targets = cp.ascontiguousarray(targets)
    n = targets.size
    if n:
        kind = "max" if name == "maximum" else "min"
        blocks = min(65535, max(1, (n + 255) // 256))
        raw_kernel(_SCATTER, f"scatter_{kind}_{suffix}")((blocks,), (256,),
                                                         (flat, targets, values, np.int64(n)))
    if flat is not out:
        out[...] = flat
    return True
