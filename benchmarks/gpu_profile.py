"""Where a disttorch training step spends its time on the GPU (a diagnosis aid, not a benchmark).

    python benchmarks/gpu_profile.py [workload ...]     (mlp, cnn, transformer, transformer-amp)

For each workload: the synchronised step time, the host time to enqueue one step (no sync), the
same two for torch eager, and a cProfile of disttorch's steps (top functions by own time and by
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
    for name, c, d, t in rows:
        print(f"op {name:22s} cupy {_per_call_us(c):7.1f} us   disttorch {_per_call_us(d):7.1f} us"
              f"   torch {_per_call_us(t):7.1f} us", flush=True)
        cupy.cuda.Device().synchronize()


def main():
    import disttorch
    import torch
    op_overheads()
    kinds = sys.argv[1:] or ["transformer", "cnn"]
    for kind in kinds:
        ours = make_step(disttorch, kind)
        theirs = make_step(torch, kind)
        o_sync, o_enq = timings(disttorch, ours)
        t_sync, t_enq = timings(torch, theirs)
        print(f"== {kind}: disttorch {o_sync:.3f} ms/step (host enqueue {o_enq:.3f} ms), torch "
              f"{t_sync:.3f} ms/step (host enqueue {t_enq:.3f} ms)", flush=True)
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


if __name__ == "__main__":
    main()
