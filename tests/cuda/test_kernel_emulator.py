"""The CPU emulator of CUDA kernels (``disttorch.cuda._kernel_emulator``) behaves like a GPU on
what our kernels rely on: thread and block indices, barriers between threads that share memory,
uninitialised shared memory, half-precision conversions, and a clear refusal of what it cannot
run."""
import numpy as np
import pytest

from disttorch.cuda import _kernel_emulator as emulator

pytestmark = pytest.mark.skipif(not emulator.available(),
                                reason="no C++ compiler to run kernels on the CPU emulator")


class _Buffer:
    """A host array passed like a device array (the emulator reads ``.data.ptr``)."""

    def __init__(self, array):
        self.array = np.ascontiguousarray(array)
        self.data = type("Pointer", (), {"ptr": self.array.ctypes.data})()


def test_indices_cover_the_grid_and_block():
    source = r"""
extern "C" __global__ void where(int* out) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    const int threads = blockDim.x * blockDim.y * blockDim.z;
    out[block * threads + thread] = block * 1000 + thread;
}"""
    out = _Buffer(np.full(2 * 3 * 2 * 4 * 2 * 3, -1, np.int32))
    emulator.compile_kernel(source, "where")((2, 3, 2), (4, 2, 3), (out,))
    blocks, threads = np.divmod(np.arange(out.array.size), 24)
    np.testing.assert_array_equal(out.array, blocks * 1000 + threads)


def test_barriers_order_shared_memory_between_threads():
    # each thread reads the value its neighbour wrote before the barrier, twice over: without
    # the barriers (or with a wrong interleaving) the reads would see the NaN fill or old values
    source = r"""
extern "C" __global__ void rotate(const float* x, float* y, const int n) {
    extern __shared__ float shared[];
    const int t = threadIdx.x;
    shared[t] = x[blockIdx.x * n + t];
    __syncthreads();
    const float neighbour = shared[(t + 1) % n];
    __syncthreads();
    shared[t] = neighbour * 2.0f;
    __syncthreads();
    y[blockIdx.x * n + t] = shared[(t + 1) % n];
}"""
    x = np.arange(3 * 64, dtype=np.float32)
    y = _Buffer(np.zeros_like(x))
    emulator.compile_kernel(source, "rotate")((3,), (64,), (_Buffer(x), y, np.int32(64)),
                                              64 * 4)
    expected = 2 * np.roll(x.reshape(3, 64), -2, axis=1).ravel()
    np.testing.assert_array_equal(y.array, expected)


def test_a_missing_barrier_shows():
    # thread 0 reads its neighbour's slot before that thread has run: on the emulator, as on a
    # GPU, nothing orders the two, and the slot still holds the NaN fill
    source = r"""
extern "C" __global__ void racy(float* y) {
    extern __shared__ float shared[];
    shared[threadIdx.x] = 1.0f;
    y[threadIdx.x] = shared[(threadIdx.x + 1) % blockDim.x];
}"""
    y = _Buffer(np.zeros(32, np.float32))
    emulator.compile_kernel(source, "racy")((1,), (32,), (y,), 32 * 4)
    assert np.isnan(y.array[0])


def test_static_shared_arrays_and_atomics():
    source = r"""
extern "C" __global__ void block_sums(const float* x, float* total, float* per_block) {
    __shared__ float partial[128];
    partial[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        per_block[blockIdx.x] = partial[0];
        atomicAdd(total, partial[0]);
    }
}"""
    x = np.arange(4 * 128, dtype=np.float32)
    total, per_block = _Buffer(np.zeros(1, np.float32)), _Buffer(np.zeros(4, np.float32))
    emulator.compile_kernel(source, "block_sums")((4,), (128,), (_Buffer(x), total, per_block))
    np.testing.assert_array_equal(per_block.array, x.reshape(4, 128).sum(1))
    assert total.array[0] == x.sum()


_HALF = r"""
typedef unsigned short fp16_t;
extern "C" __global__ void widen(const fp16_t* h, float* f, const int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { float v; asm("cvt.f32.f16 %0, %1;" : "=f"(v) : "h"(h[i])); f[i] = v; }
}
extern "C" __global__ void narrow(const float* f, fp16_t* h, const int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { fp16_t v; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(v) : "f"(f[i])); h[i] = v; }
}
"""


def test_half_conversions_round_like_numpy():
    bits = np.arange(1 << 16, dtype=np.uint16)
    widened = _Buffer(np.zeros(bits.size, np.float32))
    grid = ((bits.size + 255) // 256,)
    emulator.compile_kernel(_HALF, "widen")(grid, (256,), (_Buffer(bits), widened,
                                                          np.int32(bits.size)))
    np.testing.assert_array_equal(widened.array, bits.view(np.float16).astype(np.float32))
    rng = np.random.default_rng(0)
    # every half, the midpoints between neighbours (ties to even), random floats, overflow
    halves = bits.view(np.float16).astype(np.float32)
    finite = np.sort(halves[np.isfinite(halves)])
    values = np.concatenate([halves, (finite[1:] + finite[:-1]) / 2,
                             rng.standard_normal(20000).astype(np.float32) * 10.0 ** rng.
                             integers(-9, 6, 20000).astype(np.float32),
                             np.float32([65504, 65519.9, 65520, 1e6, -1e6, 2 ** -25, 2 ** -26,
                                         3 * 2 ** -26, -0.0])])
    narrowed = _Buffer(np.zeros(values.size, np.uint16))
    grid = ((values.size + 255) // 256,)
    emulator.compile_kernel(_HALF, "narrow")(grid, (256,), (_Buffer(values), narrowed,
                                                           np.int32(values.size)))
    expected = values.astype(np.float16)
    got = narrowed.array.view(np.float16)
    same = (got.view(np.uint16) == expected.view(np.uint16)) | (np.isnan(got) & np.isnan(expected))
    assert same.all(), values[~same][:10]


@pytest.mark.parametrize("body,message", [
    ('asm("trap;");', "inline PTX"),
    ("float v = __shfl_xor_sync(0xffffffff, 1.0f, 1);", "warp-level"),
    ("undeclared_function();", "does not compile"),
    # NVRTC has no C headers: their macros fail there, so they fail here too
    ("y[0] = INFINITY;", "does not compile"),
    ("y[0] = NAN;", "does not compile"),
    ("y[0] = M_PI;", "does not compile"),
])
def test_what_it_cannot_run_is_refused(body, message):
    source = f'extern "C" __global__ void k(float* y) {{ {body} }}'
    with pytest.raises(emulator.EmulatorError, match=message):
        emulator.compile_kernel(source, "k")
