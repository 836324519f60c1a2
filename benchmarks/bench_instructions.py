"""Per-op overhead as instruction counts (Valgrind's Callgrind), disttorch vs torch.

    python benchmarks/bench_instructions.py [--number 200]

Wall time of a microsecond-scale op on a shared, noisy machine moves by tens of percent from
run to run; the instructions it executes do not (the same count from process to process). Each
framework's statements run in one interpreter under Callgrind
(``disttorch.utils.benchmark.callgrind.collect_statements``): setup and warmup are not
counted, and the loop's own cost (the same loop around ``pass``) is subtracted. The counts
are per op, on small tensors, so they measure the framework's dispatch, not the arithmetic.

Importing torch under Valgrind takes about two minutes; disttorch about fifteen seconds.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from disttorch.utils.benchmark.callgrind import collect_statements  # noqa: E402

SETUP = """
x = torch.ones(16)
y = torch.ones(16)
w = torch.ones(16, requires_grad=True)
a = torch.ones(8, 8)
b = torch.ones(8, 8)
linear = torch.nn.Linear(8, 8)
inp = torch.ones(4, 8)
"""

# (label, statement): each run once per loop iteration
STATEMENTS = [
    ("x + y (16 floats)", "x + y"),
    ("x * 2.0 (tensor-scalar)", "x * 2.0"),
    ("x.relu()", "x.relu()"),
    ("x.sum()", "x.sum()"),
    ("a @ b (8x8)", "a @ b"),
    ("x[3:9] (view)", "x[3:9]"),
    ("(w * w).sum().backward()", "(w * w).sum().backward()"),
    ("linear(inp) (no grad)", "with torch.no_grad():\n    linear(inp)"),
]


def measure(library, number):
    """``{label: instructions per run}`` for one framework (``None``: disttorch)."""
    globals_ = {} if library is None else {"torch": library}
    stats = collect_statements([stmt for _, stmt in STATEMENTS], SETUP, globals_,
                               number=number)
    results = {}
    for label, stmt in STATEMENTS:
        s = stats[stmt]
        results[label] = (s.counts() - s.baseline_exclusive_stats.sum()) / number
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200, help="runs of each statement")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    try:
        import torch
    except ImportError:
        sys.exit("torch is needed for the comparison: pip install torch==2.13.0")
    ours = measure(None, args.number)
    theirs = measure(torch, args.number)
    print("\n## Per-op instructions (Callgrind; lower is better)\n")
    print("| Op | disttorch | torch | ratio |")
    print("|---|---:|---:|---:|")
    for label, _ in STATEMENTS:
        print(f"| {label} | {ours[label]:,.0f} | {theirs[label]:,.0f} | "
              f"{ours[label] / theirs[label]:.2f} |")


if __name__ == "__main__":
    main()
