"""Shared benchmark helpers: alternate the two frameworks, report medians and ratios."""
import statistics
import time


def timeit(fn, repeat, number=1):
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def alternate(workloads, rounds, repeat, number=1):
    """Run each ``{name: fn}`` in turn, ``rounds`` times; return ``{name: median seconds}``.

    Alternating keeps slow drifts of a shared machine from favouring one framework.
    """
    samples = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, fn in workloads.items():
            samples[name].append(timeit(fn, repeat, number))
    return {name: statistics.median(v) for name, v in samples.items()}


def print_table(title, rows, unit="ms", scale=1e3):
    """``rows``: list of (label, disttorch_seconds, torch_seconds)."""
    print(f"\n{title}")
    print(f"{'workload':<40} {'disttorch':>12} {'torch':>12} {'ratio':>7}")
    for label, ours, theirs in rows:
        ratio = ours / theirs if theirs else float("nan")
        print(f"{label:<40} {ours * scale:>10.3f}{unit:>2} {theirs * scale:>10.3f}{unit:>2} {ratio:>7.2f}")
