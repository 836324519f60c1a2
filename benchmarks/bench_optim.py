"""Optimizer step time, disttorch vs torch (CPU), on the same parameters and gradients.

Usage: python benchmarks/bench_optim.py [--params 8] [--numel 1000000] [--steps 20]

Prints, per optimizer, the median step time of each library and their ratio. Also times
``disttorch.save``/``load`` of a state dict of the same size against ``torch.save``/``load``.
"""
import argparse
import io
import statistics
import time

import numpy as np
import torch

import disttorch

CONFIGS = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=1e-3)),
    ("AdamW", dict(lr=1e-3, amsgrad=True)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True)),
    ("Adagrad", dict(lr=1e-2)),
    ("Adamax", dict(lr=1e-3)),
    ("NAdam", dict(lr=1e-3)),
    ("RAdam", dict(lr=1e-3)),
    ("Adadelta", dict(lr=1.0)),
    ("Rprop", dict(lr=1e-2)),
    ("ASGD", dict(lr=1e-2, t0=1)),
]


def _median_step(optimizer, steps):
    optimizer.step()  # creates the state outside the timed steps
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _median(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=8)
    parser.add_argument("--numel", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(args.numel).astype(np.float32) for _ in range(args.params)]
    grads = [rng.standard_normal(args.numel).astype(np.float32) for _ in range(args.params)]

    print(f"{args.params} params x {args.numel} float32, median of {args.steps} steps")
    print(f"{'optimizer':34s} {'torch ms':>9s} {'disttorch ms':>13s} {'ratio':>6s}")
    for name, kwargs in CONFIGS:
        results = []
        for lib in (torch, disttorch):
            params = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
            for p, g in zip(params, grads):
                p.grad = lib.tensor(g)
            results.append(_median_step(getattr(lib.optim, name)(params, **kwargs), args.steps))
        label = name + "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
        print(f"{label:34s} {results[0] * 1e3:9.2f} {results[1] * 1e3:13.2f} "
              f"{results[1] / results[0]:6.2f}")

    state = {f"layer{i}.weight": a for i, a in enumerate(arrays)}
    for fmt in ("disttorch", "torch"):
        timings = []
        for lib, kwargs in ((torch, {}), (disttorch, {"format": fmt})):
            tensors = {k: lib.tensor(v) for k, v in state.items()}
            timings.append(_median(lambda: lib.save(tensors, io.BytesIO(), **kwargs)))
            buffer = io.BytesIO()
            lib.save(tensors, buffer, **kwargs)
            data = buffer.getvalue()
            timings.append(_median(lambda: lib.load(io.BytesIO(data))))
        print(f"save/load ({fmt} format): torch {timings[0] * 1e3:.1f}/{timings[1] * 1e3:.1f} ms, "
              f"disttorch {timings[2] * 1e3:.1f}/{timings[3] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
