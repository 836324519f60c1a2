"""All-reduce bandwidth and DDP scaling, disttorch vs raw mpi4py / torch (gloo) in one run.

    python benchmarks/bench_distributed.py            # launches its own mpiexec runs

1. All-reduce (2 ranks, float32, 4 KB .. 64 MB): ``disttorch.distributed.all_reduce`` vs raw
   ``mpi4py`` ``Allreduce`` on the same buffers, alternating; GB/s and the ratio.
2. DDP on the MLP workload (784-1024-1024-10, batch 64 per rank, SGD momentum, one thread per
   rank): samples/s on 1 and 2 ranks, scaling = 2-rank / 1-rank throughput, for disttorch DDP
   and torch DDP over gloo.
"""
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _mpiexec():
    return shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                        os.environ.get("PATH", ""))


def _launch(n, mode, extra=()):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    cmd = [_mpiexec(), "-n", str(n), sys.executable, os.path.abspath(__file__), "--worker", mode,
           *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        sys.exit(f"{mode} on {n} ranks failed:\n{out.stdout}\n{out.stderr}")
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    sys.exit(f"no result from {mode}:\n{out.stdout}\n{out.stderr}")


# ------------------------------------------------------------------ workers
def _allreduce_worker():
    import numpy as np
    from mpi4py import MPI
    import disttorch
    import disttorch.distributed as dist
    dist.init_process_group("gloo")
    comm = MPI.COMM_WORLD
    results = []
    for size in [4 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]:
        n = size // 4
        a = np.ones(n, np.float32)
        t = disttorch.from_numpy(np.ones(n, np.float32))
        reps = max(3, min(200, (256 << 20) // size))
        ours, raw = [], []
        for _ in range(5):
            comm.Barrier()
            start = time.perf_counter()
            for _ in range(reps):
                comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
            raw.append((time.perf_counter() - start) / reps)
            comm.Barrier()
            start = time.perf_counter()
            for _ in range(reps):
                dist.all_reduce(t)
            ours.append((time.perf_counter() - start) / reps)
        results.append([size, float(np.median(ours)), float(np.median(raw))])
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps(results))
    dist.destroy_process_group()


def _mlp(lib, rng):
    import numpy as np
    sizes = [784, 1024, 1024, 10]
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        lin = lib.nn.Linear(i, o)
        with lib.no_grad():
            lin.weight.copy_(lib.from_numpy((rng.standard_normal((o, i)) / np.sqrt(i))
                                            .astype(np.float32)))
        layers += [lin, lib.nn.ReLU()]
    return lib.nn.Sequential(*layers[:-1])


def _ddp_worker(framework, steps=30, batch=64):
    import numpy as np
    rng = np.random.default_rng(0)
    if framework == "torch":
        import torch as lib
        import torch.distributed as tdist
        rank, world = int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"])
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("BENCH_PORT", "29533"))
        lib.set_num_threads(1)
        tdist.init_process_group("gloo")
        from torch.nn.parallel import DistributedDataParallel as DDP
    else:
        import disttorch as lib
        import disttorch.distributed as tdist
        tdist.init_process_group("gloo")
        from disttorch.nn.parallel import DistributedDataParallel as DDP
        rank, world = tdist.get_rank(), tdist.get_world_size()
    model = _mlp(lib, rng)
    model = DDP(model) if world > 1 else model
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = lib.from_numpy(rng.standard_normal((batch, 784)).astype(np.float32))
    y = lib.from_numpy(rng.integers(0, 10, batch).astype(np.int64))
    loss_fn = lib.nn.CrossEntropyLoss()
    times = []
    for step in range(steps):
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    step_time = float(np.median(times[5:]))
    if rank == 0:
        print("RESULT " + json.dumps({"samples_per_s": batch * world / step_time,
                                      "step_ms": step_time * 1e3}))
    tdist.destroy_process_group()


def main():
    if _mpiexec() is None:
        sys.exit("mpiexec not found: pip install mpich")
    print("All-reduce, 2 ranks, float32 (disttorch.distributed vs raw mpi4py Allreduce)")
    print(f"{'size':>10} {'disttorch GB/s':>15} {'mpi4py GB/s':>12} {'ratio':>7}")
    for size, ours, raw in _launch(2, "allreduce"):
        label = f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
        print(f"{label:>10} {size / ours / 1e9:>15.2f} {size / raw / 1e9:>12.2f} {raw / ours:>7.2f}")
    print("\nDDP scaling on the MLP (batch 64 per rank, one thread per rank)")
    print(f"{'framework':<10} {'1 rank samples/s':>17} {'2 ranks samples/s':>18} {'scaling':>8}")
    for framework in ("disttorch", "torch"):
        one = _launch(1, "ddp", [framework])
        two = _launch(2, "ddp", [framework])
        print(f"{framework:<10} {one['samples_per_s']:>17.0f} {two['samples_per_s']:>18.0f} "
              f"{two['samples_per_s'] / one['samples_per_s']:>8.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        if sys.argv[2] == "allreduce":
            _allreduce_worker()
        else:
            _ddp_worker(sys.argv[3])
    else:
        main()
