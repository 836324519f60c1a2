"""Data-parallel SGD on a tiny linear model with numpy + mpi4py, resumable.

The pattern of a launcher-friendly training script: every rank computes the
gradient of its shard, the gradients are averaged with an allreduce, rank 0
writes a checkpoint after each step (atomically), and a restarted group
resumes from it. Faults can be injected for the launcher tests:

    FAULT=exit|kill|hang  FAULT_RANK=1  FAULT_STEP=5

A fault fires only in the first attempt (TORCHELASTIC_RESTART_COUNT=0), so
the restarted group completes. Usage: train_linear.py CHECKPOINT_DIR [STEPS]
"""

import os
import signal
import sys
import time

import numpy as np
from mpi4py import MPI

from launcher import worker

STEPS_DEFAULT = 20
LEARNING_RATE = 0.1
BATCH = 64


def make_data():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((BATCH, 4))
    targets = inputs @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25
    return inputs, targets


def load(path):
    if os.path.exists(path):
        state = np.load(path)
        return int(state["step"]), state["weights"]
    return 0, np.zeros(5)


def save(path, step, weights):
    tmp = path + ".tmp.npz"
    np.savez(tmp, step=step, weights=weights)
    os.replace(tmp, path)


def inject_fault(rank, step):
    if os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") != "0":
        return
    if int(os.environ.get("FAULT_RANK", "-1")) != rank or int(os.environ.get("FAULT_STEP", "-1")) != step:
        return
    fault = os.environ.get("FAULT")
    print(f"injecting fault {fault} at step {step} t={time.time():.6f}", flush=True)
    if fault == "exit":
        sys.exit(1)
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "hang":
        time.sleep(3600)


def main():
    checkpoint = os.path.join(sys.argv[1], "checkpoint.npz")
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else STEPS_DEFAULT
    comm = MPI.COMM_WORLD
    rank, size = comm.rank, comm.size
    assert int(os.environ["RANK"]) == rank and int(os.environ["WORLD_SIZE"]) == size
    inputs, targets = make_data()
    shard = slice(rank * BATCH // size, (rank + 1) * BATCH // size)
    features = np.hstack([inputs, np.ones((BATCH, 1))])[shard]
    start, weights = load(checkpoint)
    if start:
        print(f"resuming from step {start}", flush=True)
    for step in range(start, steps):
        inject_fault(rank, step)
        error = features @ weights - targets[shard]
        local_grad = features.T @ error * (2.0 / BATCH)
        grad = np.empty_like(local_grad)
        with worker.collective("allreduce"):
            comm.Allreduce(local_grad, grad)
        weights = weights - LEARNING_RATE * grad
        worker.report_progress(epoch=0, step=step + 1, loss=float(np.mean(error ** 2)))
        if rank == 0:
            save(checkpoint, step + 1, weights)
        comm.Barrier()
    if rank == 0:
        print("final weights " + " ".join(f"{w:.10f}" for w in weights), flush=True)


if __name__ == "__main__":
    main()
