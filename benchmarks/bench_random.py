"""Random sampling, disttorch vs torch (CPU): both draw PyTorch's stream, so the same numbers.

Usage: python benchmarks/bench_random.py [--numel 1000000] [--rounds 7] [--repeat 5]

Prints the median time of each sampler for each library (alternating, one thread) and their
ratio; the values themselves are checked equal in ``tests/test_random_parity.py``.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import disttorch  # noqa: E402
from benchmarks._common import alternate, print_table  # noqa: E402


def workloads(numel):
    shuffle = 60000
    return [
        (f"rand({numel})", lambda L: L.rand(numel)),
        (f"randn({numel})", lambda L: L.randn(numel)),
        (f"randn({numel}, float64)", lambda L: L.randn(numel, dtype=L.float64)),
        (f"randint(0, 10, ({numel},))", lambda L: L.randint(0, 10, (numel,))),
        (f"empty({numel}).uniform_(-1, 1)", lambda L: L.empty(numel).uniform_(-1, 1)),
        (f"dropout(ones({numel}), 0.5)",
         lambda L: L.nn.functional.dropout(L.ones(numel), 0.5)),
        (f"randperm({shuffle})", lambda L: L.randperm(shuffle)),
        ("Linear(1024, 1024) init", lambda L: L.nn.Linear(1024, 1024)),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--numel", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    disttorch.set_num_threads(1)
    rows = []
    for label, fn in workloads(args.numel):
        times = alternate({"disttorch": lambda: fn(disttorch), "torch": lambda: fn(torch)},
                          args.rounds, args.repeat)
        rows.append((label, times["disttorch"], times["torch"]))
    print_table("Random sampling (CPU, 1 thread, median wall clock; identical values)", rows)


if __name__ == "__main__":
    main()
