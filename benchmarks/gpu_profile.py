"""Where a disttorch training step spends its time on the GPU (a diagnosis aid, not a benchmark).

    python benchmarks/gpu_profile.py [workload ...]     (mlp, cnn, transformer, transformer-amp)

For each workload: the synchronised step time, the host time to enqueue one step (no sync), the
same two for torch eager, the host's and the device's time per step measured apart (the steps
queued behind a kernel that keeps the GPU busy), and a cProfile of disttorch's steps (top functions by own time and by
cumulative time). A step whose enqueue time is close to its synchronised time is bound by
Python, not by the GPU.
"""
import cProfile
import io
import pstats
import sys
import time


sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpu_check  # noqa: E402


def make_step(lib, kind):
    amp = kind.endswith("-amp")
    return gpu_check.make_step(lib, kind[:-4] if amp else kind, amp)


def timings(lib, step, steps=20):
    for _ in range(5):
        step()
    lib.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    enqueue = (time.perf_counter() - start) / steps
    lib.cuda.synchronize()
    synced = (time.perf_counter() - start) / steps
    return synced * 1e3, enqueue * 1e3


_SPIN = r"""
extern "C" __global__ void spin(const unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns);
}
"""


def host_and_device(lib, step, steps=2, spin_ms=150):
    """Host and device milliseconds per step, apart: a one-thread kernel keeps the GPU busy for
    ``spin_ms`` while the host enqueues ``steps`` steps behind it, so the host's time is its own
    (no waiting on the GPU) and the events around the steps time the device's work with no idle
    gaps. A host time near ``spin_ms / steps`` means something in the step waited for the GPU (a
    hidden synchronisation: a copy to the host, a free that syncs, ...; or CUDA's queue of
    pending launches, about a thousand deep, filled up: hence two steps only)."""
    import cupy
    spin = cupy.RawKernel(_SPIN, "spin")
    for _ in range(3):
        step()
    lib.cuda.synchronize()
    start_event, end_event = cupy.cuda.Event(), cupy.cuda.Event()
    spin((1,), (1,), (cupy.uint64(spin_ms * 1_000_000),))
    start_event.record()
    begin = time.perf_counter()
    for _ in range(steps):
        step()
    host = (time.perf_counter() - begin) * 1e3 / steps
    end_event.record()
    end_event.synchronize()
    device = cupy.cuda.get_elapsed_time(start_event, end_event) / steps
    blocked = host * steps > 0.8 * spin_ms
    return host, device, blocked


def blocking_calls(step, spin_ms=300, threshold_ms=20):
    """The calls inside one step that waited for the GPU: the step runs behind a ``spin_ms``
    kernel under a profile hook, and every call (Python or C) that took over ``threshold_ms``
    with no such call inside it is reported with where it was made. ``[]``: nothing waited."""
    import cupy
    spin = cupy.RawKernel(_SPIN, "spin")
    for _ in range(3):
        step()
    cupy.cuda.Device().synchronize()
    spin((1,), (1,), (cupy.uint64(spin_ms * 1_000_000),))
    found = slow_leaves(step, threshold_ms)
    cupy.cuda.Device().synchronize()
    return found


def slow_leaves(call, threshold_ms):
    """Run ``call`` under a profile hook: the calls that took over ``threshold_ms`` with no
    such call inside them, ``(ms, name, where called)``, slowest first (six at most)."""
    stack, found = [], []

    def hook(frame, event, arg):
        if event in ("call", "c_call"):
            name = (arg.__qualname__ if event == "c_call" and hasattr(arg, "__qualname__")
                    else frame.f_code.co_name)
            where = frame.f_back if event == "call" else frame
            stack.append([name, f"{where.f_code.co_filename}:{where.f_lineno}" if where else "?",
                          time.perf_counter(), False])
        elif event in ("return", "c_return", "c_exception") and stack:
            name, where, begin, has_slow_child = stack.pop()
            took = (time.perf_counter() - begin) * 1e3
            if took > threshold_ms:
                if not has_slow_child:
                    found.append((took, name, where))
                if stack:
                    stack[-1][3] = True

    sys.setprofile(hook)
    try:
        call()
    finally:
        sys.setprofile(None)
    return sorted(found, reverse=True)[:6]


def with_peak_tracking(lib, step):
    """The synchronised step time with disttorch's peak-memory hook installed (the first peak
    query installs it; PyTorch's allocator tracks peaks always), then the hook removed again."""
    from disttorch import cuda
    lib.cuda.reset_peak_memory_stats()
    try:
        return timings(lib, step)[0]
    finally:
        if cuda._hook is not None:
            cuda._hook.__exit__()
            cuda._hook = None


def _cublas_rows(cupy):
    """One cuBLAS gemmEx (2048x128 by 128x384, float16 and float32) called straight through
    CuPy's binding, and CuPy's handle lookup alone: whether a GEMM's host time is CuPy's or
    cuBLAS's own. The cupy column is the raw call; disttorch and torch run their matmul."""
    import numpy as np
    import disttorch
    import torch
    from cupy_backends.cuda.api import runtime
    from cupy_backends.cuda.libs import cublas
    rows = []
    one, zero = np.array(1, np.float32), np.array(0, np.float32)
    m, n, k = 384, 2048, 128
    for dtype, code in (("float32", runtime.CUDA_R_32F), ("float16", runtime.CUDA_R_16F)):
        a, b, c = cupy.ones((k, m), dtype), cupy.ones((n, k), dtype), cupy.empty((n, m), dtype)

        def raw(a=a, b=b, c=c, code=code):
            cublas.gemmEx(cupy.cuda.device.get_cublas_handle(), 0, 0, m, n, k, one.ctypes.data,
                          a.data.ptr, code, m, b.data.ptr, code, k, zero.ctypes.data,
                          c.data.ptr, code, m, cublas.CUBLAS_COMPUTE_32F,
                          cublas.CUBLAS_GEMM_DEFAULT_TENSOR_OP)
        x_d = disttorch.ones(n, k, dtype=getattr(disttorch, dtype), device="cuda")
        w_d = disttorch.ones(k, m, dtype=getattr(disttorch, dtype), device="cuda")
        x_t = torch.ones(n, k, dtype=getattr(torch, dtype), device="cuda")
        w_t = torch.ones(k, m, dtype=getattr(torch, dtype), device="cuda")
        rows.append((f"raw gemmEx {dtype}", raw, lambda x=x_d, w=w_d: x @ w,
                     lambda x=x_t, w=w_t: x @ w))
    rows.append(("get_cublas_handle", cupy.cuda.device.get_cublas_handle, lambda: None,
                 lambda: None))
    return rows


def cublas_experiments():
    """Why a GEMM costs CuPy ~46 us of host time against torch's ~12 (H200, 2026-11-27): the
    same gemmEx through a cuBLAS handle of our own (ctypes; its stream and a 32 MiB workspace set
    once), then CuPy's matmul after giving CuPy's handle that workspace. cuBLAS resets a handle's
    workspace on every cublasSetStream; if CuPy sets the stream per call and cuBLAS then
    allocates scratch per call, the first row is fast and the second not."""
    import ctypes
    import numpy as np
    import cupy
    from cupy_backends.cuda.api import runtime
    from cupy_backends.cuda.libs import cublas
    cupy.cuda.device.get_cublas_handle()   # CuPy's handle exists (its library is loaded)
    path = next((line.split()[-1] for line in open("/proc/self/maps")
                 if "libcublas.so" in line and "Lt" not in line), None)
    if path is None:
        print("op cublas experiments: libcublas not found in /proc/self/maps", flush=True)
        return
    lib = ctypes.CDLL(path)
    handle = ctypes.c_void_p()
    if lib.cublasCreate_v2(ctypes.byref(handle)):
        print("op cublas experiments: cublasCreate failed", flush=True)
        return
    workspace = cupy.empty(32 << 20, cupy.uint8)
    lib.cublasSetStream_v2(handle, ctypes.c_void_p(cupy.cuda.get_current_stream().ptr))
    lib.cublasSetWorkspace_v2(handle, ctypes.c_void_p(workspace.data.ptr),
                              ctypes.c_size_t(32 << 20))
    gemm = lib.cublasGemmEx
    gemm.restype = ctypes.c_int
    p, i = ctypes.c_void_p, ctypes.c_int
    gemm.argtypes = [p, i, i, i, i, i, p, p, i, i, p, i, i, p, p, i, i, i, i]
    one, zero = np.array(1, np.float32), np.array(0, np.float32)
    m, n, k = 384, 2048, 128
    for dtype, code in (("float32", runtime.CUDA_R_32F), ("float16", runtime.CUDA_R_16F)):
        a, b, c = cupy.ones((k, m), dtype), cupy.ones((n, k), dtype), cupy.empty((n, m), dtype)
        args = (handle, 0, 0, m, n, k, one.ctypes.data, a.data.ptr, code, m, b.data.ptr, code, k,
                zero.ctypes.data, c.data.ptr, code, m, cublas.CUBLAS_COMPUTE_32F,
                cublas.CUBLAS_GEMM_DEFAULT_TENSOR_OP)
        status = gemm(*args)
        cupy.cuda.Device().synchronize()
        ok = "ok" if status == 0 and float(c[0, 0]) == k else f"status {status}, c {float(c[0, 0])}"
        print(f"op gemmEx {dtype} own handle (ctypes): {_per_call_us(lambda: gemm(*args)):7.1f} us"
              f"   ({ok})", flush=True)
    x, w = cupy.ones((2048, 128), cupy.float32), cupy.ones((128, 384), cupy.float32)
    before = _per_call_us(lambda: x @ w)
    lib.cublasSetWorkspace_v2(ctypes.c_void_p(cupy.cuda.device.get_cublas_handle()),
                              ctypes.c_void_p(workspace.data.ptr), ctypes.c_size_t(32 << 20))
    after = _per_call_us(lambda: x @ w)
    print(f"op cupy matmul float32: {before:7.1f} us, after a workspace on CuPy's handle "
          f"{after:7.1f} us", flush=True)
    lib.cublasDestroy_v2(handle)


def _per_call_us(fn, repeat=2000):
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def op_overheads():
    """Host microseconds per call of small ops (no sync): the floor under every step."""
    import cupy
    import disttorch
    import torch
    a_c = cupy.ones((64, 64), cupy.float32)
    a_d = disttorch.ones(64, 64, device="cuda")
    a_t = torch.ones(64, 64, device="cuda")
    w_d = disttorch.ones(64, 64, device="cuda", requires_grad=True)
    w_t = torch.ones(64, 64, device="cuda", requires_grad=True)
    rows = [
        ("add", lambda: a_c + a_c, lambda: a_d + a_d, lambda: a_t + a_t),
        ("matmul", lambda: a_c @ a_c, lambda: a_d @ a_d, lambda: a_t @ a_t),
        ("sum", lambda: a_c.sum(), lambda: a_d.sum(), lambda: a_t.sum()),
        ("relu (grad graph)", lambda: cupy.maximum(a_c, 0),
         lambda: disttorch.relu(w_d), lambda: torch.relu(w_t)),
        ("linear (grad graph)", lambda: a_c @ a_c.T,
         lambda: disttorch.nn.functional.linear(a_d, w_d),
         lambda: torch.nn.functional.linear(a_t, w_t)),
    ]
    # the transformer's GEMM shapes in both precisions, and autocast's weight cast
    for dtype in ("float32", "float16"):
        x_c, w_c = cupy.ones((2048, 128), dtype), cupy.ones((384, 128), dtype)
        q_c, k_c = cupy.ones((128, 64, 32), dtype), cupy.ones((128, 32, 64), dtype)
        x_d, w_d16 = (disttorch.ones(*a.shape, dtype=getattr(disttorch, dtype), device="cuda")
                      for a in (x_c, w_c))
        q_d, k_d = (disttorch.ones(*a.shape, dtype=getattr(disttorch, dtype), device="cuda")
                    for a in (q_c, k_c))
        x_t, w_t16 = (torch.ones(*a.shape, dtype=getattr(torch, dtype), device="cuda")
                      for a in (x_c, w_c))
        q_t, k_t = (torch.ones(*a.shape, dtype=getattr(torch, dtype), device="cuda")
                    for a in (q_c, k_c))
        rows += [
            (f"mm {dtype} 2048x128x384", lambda x=x_c, w=w_c: x @ w.T,
             lambda x=x_d, w=w_d16: x @ w.T, lambda x=x_t, w=w_t16: x @ w.T),
            (f"bmm {dtype} 128x64x32x64", lambda q=q_c, k=k_c: q @ k,
             lambda q=q_d, k=k_d: q @ k, lambda q=q_t, k=k_t: q @ k),
        ]
    w32_c = cupy.ones((384, 128), cupy.float32)
    w32_d = disttorch.ones(384, 128, device="cuda")
    w32_t = torch.ones(384, 128, device="cuda")
    rows.append(("astype f32->f16", lambda: w32_c.astype(cupy.float16), lambda: w32_d.half(),
                 lambda: w32_t.half()))
    try:    # a diagnosis: its failure must not cost the rest of the profile
        rows += _cublas_rows(cupy)
    except Exception as exc:
        print(f"op raw cuBLAS rows unavailable: {exc!r}", flush=True)
    for name, c, d, t in rows:
        try:
            print(f"op {name:22s} cupy {_per_call_us(c):7.1f} us   disttorch "
                  f"{_per_call_us(d):7.1f} us   torch {_per_call_us(t):7.1f} us", flush=True)
        except Exception as exc:
            print(f"op {name:22s} failed: {exc!r}", flush=True)
        cupy.cuda.Device().synchronize()


def op_profiles():
    """Where disttorch's host time per small op goes beyond CuPy's own call (the per-op rows
    above: a 64x64 matmul cost 64 us against CuPy's 21 on an H100): cProfile of 2000 calls
    each, the functions with the most own time."""
    import disttorch
    a = disttorch.ones(64, 64, device="cuda")
    for name, call in (("matmul", lambda: a @ a), ("sum", lambda: a.sum()),
                       ("add", lambda: a + a)):
        call()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(2000):
            call()
        profiler.disable()
        disttorch.cuda.synchronize()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(10)
        lines = text.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"-- {name}: own time by function (2000 calls)")
        print("\n".join(line[:150] for line in lines[start:start + 11]), flush=True)


def main():
    import disttorch
    import torch
    op_overheads()
    try:
        op_profiles()
    except Exception as exc:   # a diagnosis: its failure must not cost the rest of the profile
        print(f"op profiles failed: {exc!r}", flush=True)
    kinds = sys.argv[1:] or ["transformer", "cnn"]
    for kind in kinds:
        ours = make_step(disttorch, kind)
        theirs = make_step(torch, kind)
        o_sync, o_enq = timings(disttorch, ours)
        t_sync, t_enq = timings(torch, theirs)
        print(f"== {kind}: disttorch {o_sync:.3f} ms/step (host enqueue {o_enq:.3f} ms), torch "
              f"{t_sync:.3f} ms/step (host enqueue {t_enq:.3f} ms)", flush=True)
        for name, lib, step in (("disttorch", disttorch, ours), ("torch", torch, theirs)):
            try:   # a diagnosis: its failure must not cost the rest of the profile
                host, device, blocked = host_and_device(lib, step)
                print(f"== {kind}: {name} host {host:.3f} ms/step, device {device:.3f} ms/step"
                      + (" (the host waited for the GPU inside the step: a hidden sync)"
                         if blocked else ""), flush=True)
            except Exception as exc:
                print(f"== {kind}: {name} host/device split failed: {exc!r}", flush=True)
        try:
            for took, name, where in blocking_calls(ours):
                print(f"== {kind}: disttorch waited for the GPU {took:.1f} ms in {name} "
                      f"called at {where}", flush=True)
        except Exception as exc:
            print(f"== {kind}: blocking-call search failed: {exc!r}", flush=True)
        print(f"== {kind}: disttorch with peak-memory tracking on "
              f"{with_peak_tracking(disttorch, ours):.3f} ms/step", flush=True)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            ours()
        disttorch.cuda.synchronize()
        profiler.disable()
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats(order).print_stats(28)
            lines = text.getvalue().splitlines()
            start = next(i for i, line in enumerate(lines) if "ncalls" in line)
            print(f"-- by {order} (10 steps)")
            print("\n".join(line[:150] for line in lines[start:start + 29]), flush=True)
    # last: it calls cuBLAS through ctypes, and gives CuPy's handle a workspace
    try:
        cublas_experiments()
    except Exception as exc:   # a diagnosis: its failure must not cost the rest of the profile
        print(f"op cublas experiments failed: {exc!r}", flush=True)


if __name__ == "__main__":
    main()
