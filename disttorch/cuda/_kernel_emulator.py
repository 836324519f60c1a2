"""Runs the fused kernels' CUDA source on the CPU, so their values are tested without a GPU.

A test aid for ``simulate(fused_kernels="run")``: the kernel source is compiled by the host's
C++ compiler behind a small prelude that supplies CUDA's built-ins, and each launch runs every
block of the grid in turn, each block's threads as coroutines (``ucontext``) on one OS thread.
A thread runs until it reaches ``__syncthreads()`` or returns; a barrier round ends when every
live thread of the block got there, so shared-memory reductions behave as on the device, and a
block's threads interleave at each barrier the way a GPU may. A source without barriers runs
each thread as a plain call. Dynamic shared memory starts
filled with NaN bytes, so a read before the first write shows up in the values.

What it supports is what our kernels use: ``__shared__`` (static and ``extern``),
``__syncthreads``, ``atomicAdd``, ``atomicCAS``, ``__int_as_float``/``__float_as_int``, single-precision math
(``expf``, ``rsqrtf``, ...), and the two inline-PTX half conversions. Anything else fails to
compile here, loudly, which is the point: a kernel that this emulator cannot run needs a GPU
test. Warp-level primitives (shuffles, votes) are not emulated.

Float results can differ from the device in the last bits: the host's ``expf`` is not CUDA's.
"""
import atexit
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading

import numpy as np

from ._sim_kernels import signature

__all__ = ["available", "compile_kernel", "EmulatorError"]

_PRELUDE = r"""
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <type_traits>
#include <ucontext.h>
using std::isfinite; using std::isnan; using std::isinf; using std::signbit;
// NVRTC compiles without the C headers: their macros must not work here either
#undef INFINITY
#undef NAN
#undef HUGE_VAL
#undef HUGE_VALF
#undef M_PI
#undef M_E
#undef M_SQRT2
#undef FLT_MAX
#undef DBL_MAX

struct dim3 { unsigned int x, y, z; };
// external linkage: the compiler must assume a call to __syncthreads() may change them
extern "C" { dim3 threadIdx, blockIdx, blockDim, gridDim; }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)

static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
static inline double __longlong_as_double(long long i) {
    double d; std::memcpy(&d, &i, 8); return d;
}
static inline long long __double_as_longlong(double d) {
    long long i; std::memcpy(&i, &d, 8); return i;
}
// CUDA's min/max overloads (integer and floating, mixed types promoted)
template <typename A, typename B>
static inline typename std::common_type<A, B>::type min(A a, B b) { return b < a ? b : a; }
template <typename A, typename B>
static inline typename std::common_type<A, B>::type max(A a, B b) { return a < b ? b : a; }
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
// glibc declares __expf and __logf itself
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
template <typename T> static inline T atomicAdd(T* address, T value) {
    const T old = *address;  // one OS thread: a read-modify-write is never interleaved
    *address = old + value;
    return old;
}
template <typename T> static inline T atomicCAS(T* address, T compare, T value) {
    const T old = *address;
    if (old == compare) *address = value;
    return old;
}
template <typename T> static inline T atomicMax(T* address, T value) {
    const T old = *address;
    if (value > old) *address = value;
    return old;
}

// IEEE half <-> float, round to nearest even (what cvt.f32.f16 and cvt.rn.f16.f32 do)
static inline float __emu_half_to_float(unsigned short h) {
    const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float value;
    if (exponent == 0) value = std::ldexp((float)mantissa, -24);
    else if (exponent == 31) value = __int_as_float(mantissa ? 0x7fc00000 : 0x7f800000);
    else value = std::ldexp((float)(mantissa + 1024), exponent - 25);
    return sign ? -value : value;
}
static inline unsigned short __emu_float_to_half(float f) {
    const unsigned short sign = std::signbit(f) ? 0x8000 : 0;
    if (std::isnan(f)) return 0x7e00;
    const double a = std::fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00;
    if (a < std::ldexp(1.0, -14)) return sign | (unsigned short)std::nearbyint(a * 16777216.0);
    int e2;
    std::frexp(a, &e2);
    int exponent = e2 - 1;
    double q = std::nearbyint(std::ldexp(a, 10 - exponent));
    if (q == 2048.0) { q = 1024.0; exponent += 1; }
    if (exponent > 15) return sign | 0x7c00;
    return sign | (unsigned short)(((exponent + 15) << 10) | ((int)q - 1024));
}

// -- the block scheduler: one coroutine per thread, switched at __syncthreads()
static ucontext_t __emu_scheduler;
static ucontext_t* __emu_threads = nullptr;
static char* __emu_stacks = nullptr;
static unsigned char* __emu_done = nullptr;
static unsigned char* __emu_shared = nullptr;
static int __emu_current = 0;
static void (*__emu_entry)(void**) = nullptr;
static void** __emu_arguments = nullptr;
static const size_t __emu_stack_size = 64 * 1024;

extern "C" void __syncthreads() {
    swapcontext(&__emu_threads[__emu_current], &__emu_scheduler);
}

static void __emu_thread_main() {
    __emu_entry(__emu_arguments);
    __emu_done[__emu_current] = 1;
}

static void __emu_set_thread(int t) {
    __emu_current = t;
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// returns 0, or 1 when a block's threads could not be set up; without barriers (a kernel that
// never calls __syncthreads) each thread is a plain call, one after the other
extern "C" int dtemu_launch(void (*entry)(void**), void** arguments, const unsigned int* grid,
                            const unsigned int* block, size_t shared_bytes, int barriers) {
    const int n = (int)(block[0] * block[1] * block[2]);
    if (!barriers) {
        gridDim = {grid[0], grid[1], grid[2]};
        blockDim = {block[0], block[1], block[2]};
        __emu_shared = new unsigned char[shared_bytes + 16];
        for (unsigned int bz = 0; bz < grid[2]; ++bz)
        for (unsigned int by = 0; by < grid[1]; ++by)
        for (unsigned int bx = 0; bx < grid[0]; ++bx) {
            blockIdx = {bx, by, bz};
            std::memset(__emu_shared, 0xff, shared_bytes + 16);
            for (int t = 0; t < n; ++t) {
                __emu_set_thread(t);
                entry(arguments);
            }
        }
        delete[] __emu_shared;
        return 0;
    }
    __emu_threads = new ucontext_t[n];
    __emu_stacks = (char*)std::malloc(__emu_stack_size * n);
    __emu_done = new unsigned char[n];
    __emu_shared = new unsigned char[shared_bytes + 16];
    if (!__emu_stacks) return 1;
    __emu_entry = entry;
    __emu_arguments = arguments;
    gridDim = {grid[0], grid[1], grid[2]};
    blockDim = {block[0], block[1], block[2]};
    for (unsigned int bz = 0; bz < grid[2]; ++bz)
    for (unsigned int by = 0; by < grid[1]; ++by)
    for (unsigned int bx = 0; bx < grid[0]; ++bx) {
        blockIdx = {bx, by, bz};
        std::memset(__emu_shared, 0xff, shared_bytes + 16);  // NaN until written
        for (int t = 0; t < n; ++t) {
            __emu_done[t] = 0;
            getcontext(&__emu_threads[t]);
            __emu_threads[t].uc_stack.ss_sp = __emu_stacks + __emu_stack_size * t;
            __emu_threads[t].uc_stack.ss_size = __emu_stack_size;
            __emu_threads[t].uc_link = &__emu_scheduler;
            makecontext(&__emu_threads[t], __emu_thread_main, 0);
        }
        for (int live = n; live > 0;) {  // one barrier round per pass
            live = 0;
            for (int t = 0; t < n; ++t) {
                if (__emu_done[t]) continue;
                __emu_set_thread(t);
                swapcontext(&__emu_scheduler, &__emu_threads[t]);
                live += !__emu_done[t];
            }
        }
    }
    delete[] __emu_threads;
    std::free(__emu_stacks);
    delete[] __emu_done;
    delete[] __emu_shared;
    return 0;
}
"""

_EXTERN_SHARED = re.compile(r"extern\s+__shared__\s+([\w ]+?)\s+(\w+)\s*\[\s*\]\s*;")
_HALF_TO_FLOAT = re.compile(
    r'asm\(\s*"cvt\.f32\.f16 %0, %1;"\s*:\s*"=f"\(([^()]+)\)\s*:\s*"h"\(([^()]+)\)\s*\)\s*;')
_FLOAT_TO_HALF = re.compile(
    r'asm\(\s*"cvt\.rn\.f16\.f32 %0, %1;"\s*:\s*"=h"\(([^()]+)\)\s*:\s*"f"\(([^()]+)\)\s*\)\s*;')


class EmulatorError(RuntimeError):
    """The kernel source cannot run on the CPU emulator (or failed to compile there)."""


def _compiler():
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


def available():
    """Whether a C++ compiler is at hand to run kernels on the CPU."""
    return _compiler() is not None


def _translate(source):
    """CUDA source -> host C++ (the prelude supplies the rest)."""
    host = _EXTERN_SHARED.sub(r"\1* \2 = reinterpret_cast<\1*>(__emu_shared);", source)
    host = _HALF_TO_FLOAT.sub(r"\1 = __emu_half_to_float(\2);", host)
    host = _FLOAT_TO_HALF.sub(r"\1 = __emu_float_to_half(\2);", host)
    if re.search(r"\basm\s*\(", host):
        raise EmulatorError("the CPU emulator runs no inline PTX besides the f16 conversions")
    if re.search(r"__shfl|__ballot|__any_sync|__all_sync|__activemask", host):
        raise EmulatorError("the CPU emulator has no warp-level primitives")
    # a static __shared__ array is one per block: a static local, shared by the coroutines
    return re.sub(r"\b__shared__\b", "static", host)


def _entry_point(name, params):
    """``extern "C"`` wrapper that unpacks a ``void*`` argument array into the kernel's call."""
    args = []
    for i, p in enumerate(params):
        if p.pointer:
            args.append(f"({p.ctype}*)a[{i}]")
        else:
            args.append(f"*({p.ctype}*)a[{i}]")
    return (f'\nextern "C" void dtemu_entry_{name}(void** a) {{ {name}({", ".join(args)}); }}\n')


class _Cache:
    """Compiled libraries by source digest, in a directory removed at exit."""

    def __init__(self):
        self.lock = threading.Lock()
        self.libraries = {}
        self.directory = None

    def library(self, source):
        digest = hashlib.sha256(source.encode()).hexdigest()[:24]
        with self.lock:
            lib = self.libraries.get(digest)
            if lib is not None:
                return lib
            if self.directory is None:
                self.directory = tempfile.mkdtemp(prefix="disttorch-kernel-emulator-")
                atexit.register(shutil.rmtree, self.directory, True)
            path = os.path.join(self.directory, digest + ".so")
            compiler = _compiler()
            if compiler is None:
                raise EmulatorError("no C++ compiler (c++ or g++) to run kernels on the CPU")
            result = subprocess.run(
                [compiler, "-std=c++17", "-O1", "-shared", "-fPIC", "-w", "-x", "c++", "-",
                 "-o", path], input=source, capture_output=True, text=True)
            if result.returncode:
                raise EmulatorError("the kernel source does not compile for the CPU emulator:\n"
                                    + result.stderr[-4000:])
            lib = ctypes.CDLL(path)
            self.libraries[digest] = lib
            return lib


_cache = _Cache()


class EmulatedKernel:
    """One kernel of a CUDA source, runnable on host memory: ``kernel(grid, block, args,
    shared_mem)`` with ``args`` as ``RawKernel`` takes them (arrays, numpy scalars)."""

    def __init__(self, source, name):
        self.name = name
        self.params = signature(source, name)
        library = _cache.library(_PRELUDE + _translate(source) + _entry_point(name, self.params))
        self._launch = library.dtemu_launch
        self._launch.restype = ctypes.c_int
        self._launch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        # threads need their own stacks only where they wait for each other
        self._barriers = int("__syncthreads" in source)
        self._entry = ctypes.cast(getattr(library, "dtemu_entry_" + name), ctypes.c_void_p)

    def __call__(self, grid, block, args, shared_mem=0):
        keep = []   # scalar buffers stay alive through the launch
        pointers = (ctypes.c_void_p * max(1, len(args)))()
        for i, (param, arg) in enumerate(zip(self.params, args)):
            if param.pointer:
                pointers[i] = None if arg is None else arg.data.ptr
            else:
                buffer = np.array(arg, dtype=param.dtype)
                keep.append(buffer)
                pointers[i] = buffer.ctypes.data
        dims = [np.array(tuple(d) + (1,) * (3 - len(d)), np.uint32) for d in (grid, block)]
        if self._launch(self._entry, ctypes.addressof(pointers), dims[0].ctypes.data,
                        dims[1].ctypes.data, int(shared_mem), self._barriers):
            raise MemoryError(f"kernel {self.name}: no memory for the emulated threads' stacks")


_kernels = {}


def compile_kernel(source, name):
    """The :class:`EmulatedKernel` ``name`` of ``source`` (compiled once per source)."""
    key = (source, name)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = EmulatedKernel(source, name)
    return kernel
