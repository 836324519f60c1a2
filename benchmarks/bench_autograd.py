"""Autograd overhead and a GEMM-bound MLP step, disttorch vs torch in one run.

    python benchmarks/bench_autograd.py

1. Per-op overhead: a chain of small elementwise ops (16 elements) forward + backward,
   microseconds per op.
2. MLP step: 784-1024-1024-10, batch 128, forward + backward (matmul-bound).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

import disttorch
from benchmarks._common import alternate, print_table

try:
    import torch
except ImportError:
    sys.exit("torch is needed for the comparison: pip install torch==2.13.0")


def chain_workload(lib, n_ops):
    x = lib.ones(16, requires_grad=True)

    def run():
        y = x
        for _ in range(n_ops // 4):
            y = y * 1.0001
            y = y + 0.0001
            y = y.tanh()
            y = y - 0.0001
        y.backward(lib.ones(16))
    return run


def mlp_workload(lib, batch=128):
    rng = np.random.default_rng(0)
    sizes = [784, 1024, 1024, 10]
    weights = [lib.from_numpy((rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32))
               .requires_grad_() for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [lib.zeros(o, requires_grad=True) for o in sizes[1:]]
    x = lib.from_numpy(rng.standard_normal((batch, 784)).astype(np.float32))
    g = lib.from_numpy(rng.standard_normal((batch, 10)).astype(np.float32))

    def run():
        h = x
        for k, (w, b) in enumerate(zip(weights, biases)):
            h = h.matmul(w.t()) + b
            if k < len(weights) - 1:
                h = h.relu()
        h.backward(g)
        for p in weights + biases:
            p.grad = None
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_ops = 400
    res = alternate({"disttorch": chain_workload(disttorch, n_ops),
                     "torch": chain_workload(torch, n_ops)}, args.rounds, repeat=20)
    rows = [(f"elementwise chain, per op (fwd+bwd)", res["disttorch"] / n_ops, res["torch"] / n_ops)]
    print_table("Autograd per-op overhead (16-element tensors)", rows, unit="us", scale=1e6)
    if hasattr(disttorch.Tensor, "matmul") and hasattr(disttorch.Tensor, "t"):
        res = alternate({"disttorch": mlp_workload(disttorch), "torch": mlp_workload(torch)},
                        args.rounds, repeat=5)
        print_table("MLP 784-1024-1024-10, batch 128, fwd+bwd (1 thread)",
                    [("step", res["disttorch"], res["torch"])])


if __name__ == "__main__":
    main()
