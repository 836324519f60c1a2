"""Every benchmark of the project, disttorch against torch, in one invocation.

    python -m benchmarks                 # ~5 minutes on 2 cores, from the repository root
    python -m benchmarks --quick         # ~2-3 minutes, fewer repetitions
    python -m benchmarks --update-readme # also replace the table in README.md
    python -m benchmarks --only training # some sections only

Writes ``benchmarks/results/report.md`` (a Markdown table: each figure for both frameworks
and the ratio disttorch / torch), ``report.json`` (the same rows) and ``report.png`` (the
relative cost of each benchmark, on a log scale: above 1, disttorch is slower or uses more).

Sections: import time; autograd per-op overhead; convolution forward/backward; optimizer
steps; a ResNet-18 training step; the four training workloads (MLP, CNN,
transformer LM, LSTM) at one and two threads, step time and peak memory, each in a fresh
process per framework; DataLoader throughput; all-reduce bandwidth against raw mpi4py; DDP
scaling against torch's DDP over gloo; launcher start-up against torchrun. On request
(``--only instructions``), per-op instruction counts under Valgrind's Callgrind.

The machine is shared and noisy: the frameworks alternate, each figure is a median, and
every measurement of the training workloads runs in its own process (so peak memory is the
process's own ``ru_maxrss``).
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
FRAMEWORKS = ("disttorch", "torch")
WORKLOADS = ("mlp", "cnn", "transformer", "lstm")
WORKLOAD_LABELS = {
    "mlp": "MLP 784-1024-1024-10, batch 128, SGD momentum",
    "cnn": "CNN 2 conv 28x28, batch 64, Adam",
    "transformer": "Transformer LM d128 2 layers seq 64, batch 32, AdamW",
    "lstm": "LSTM hidden 128 seq 32, batch 32, SGD",
}
README_BEGIN = "<!-- benchmarks:begin -->"
README_END = "<!-- benchmarks:end -->"


# ---------------------------------------------------------------- worker side
def _import(framework):
    if framework == "torch":
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        return torch
    import disttorch
    return disttorch


def _build(lib, workload, rng):
    """A model, an optimizer, a batch and a loss function for ``workload`` in ``lib``."""
    import numpy as np
    nn = lib.nn
    lib.manual_seed(0)
    if workload == "mlp":
        model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                              nn.Linear(1024, 10))
        x = rng.standard_normal((128, 784)).astype(np.float32)
        y = rng.integers(0, 10, 128)
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        return model, opt, lib.from_numpy(x), lib.from_numpy(y), nn.functional.cross_entropy
    if workload == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 14 * 14, 10))
        x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        return model, opt, lib.from_numpy(x), lib.from_numpy(y), nn.functional.cross_entropy
    if workload == "transformer":
        vocab, seq = 96, 64

        class LM(nn.Module):
            def __init__(self):
                super().__init__()
                self.token = nn.Embedding(vocab, 128)
                self.position = nn.Parameter(lib.randn(seq, 128) * 0.02)
                layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.1,
                                                   batch_first=True)
                self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.head = nn.Linear(128, vocab)
                self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq))

            def forward(self, tokens):
                h = self.encoder(self.token(tokens) + self.position, mask=self.mask,
                                 is_causal=True)
                return self.head(h).reshape(-1, vocab)
        tokens = rng.integers(0, vocab, (32, seq + 1))
        model = LM()
        opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
        return (model, opt, lib.from_numpy(tokens[:, :-1].copy()),
                lib.from_numpy(tokens[:, 1:].reshape(-1).copy()), nn.functional.cross_entropy)

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(64, 128)

        def forward(self, x):
            return self.lstm(x)[0]
    x = rng.standard_normal((32, 32, 64)).astype(np.float32)
    y = rng.standard_normal((32, 32, 128)).astype(np.float32)
    model = Recurrent()
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    return model, opt, lib.from_numpy(x), lib.from_numpy(y), nn.functional.mse_loss


def _train_worker(framework, workload, steps):
    import numpy as np
    lib = _import(framework)
    model, opt, x, y, loss_fn = _build(lib, workload, np.random.default_rng(0))
    model.train()
    times = []
    for step in range(steps + 2):
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - start)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"step_s": statistics.median(times), "max_rss_mb": rss_kb / 1024}


def _overhead_worker(framework, rounds):
    from benchmarks.bench_autograd import chain_workload
    lib = _import(framework)
    run, n_ops = chain_workload(lib, 400), 400
    run()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(10):
            run()
        samples.append((time.perf_counter() - start) / 10 / n_ops)
    return {"per_op_s": statistics.median(samples)}


def _loader_worker(framework, samples, repeat):
    import numpy as np
    from benchmarks.bench_dataloader import NormaliseFlip, best_rate
    lib = _import(framework)
    data = lib.utils.data
    rng = np.random.default_rng(0)
    images = rng.random((samples, 784), dtype=np.float32)
    labels = rng.integers(0, 10, samples)
    datasets = {"tensor": data.TensorDataset(lib.from_numpy(images), lib.from_numpy(labels)),
                "transform": NormaliseFlip(images.reshape(-1, 28, 28), labels)}
    out = {}
    for name, dataset in datasets.items():
        for workers in (0, 2):
            out[f"{name} workers={workers}"] = best_rate(lambda: data.DataLoader(
                dataset, batch_size=128, shuffle=True, num_workers=workers), repeat)
    return out


def _both_worker(kind, rounds):
    """Convolution, ResNet-18 or optimizer steps, both frameworks alternating in this one
    process."""
    import numpy as np
    import torch

    import disttorch
    from benchmarks._common import alternate
    torch.set_num_threads(1)
    out = {}
    if kind == "conv":
        from benchmarks.bench_conv import conv_workload
        for label, backward in (("forward", False), ("forward + backward", True)):
            out[label] = alternate({"disttorch": conv_workload(disttorch, "cpu", backward),
                                    "torch": conv_workload(torch, "cpu", backward)},
                                   rounds, repeat=3)
        return out
    if kind == "resnet":
        from benchmarks.bench_resnet import step_workload, torch_resnet18
        from disttorch.vision import models
        ours = models.resnet18(num_classes=10)
        theirs = torch_resnet18("auto", False) or torch_resnet18("rebuild", False)
        theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                for k, v in ours.state_dict().items()})
        out["train step"] = alternate({"disttorch": step_workload(disttorch, ours, "cpu", True),
                                       "torch": step_workload(torch, theirs, "cpu", True)},
                                      rounds, repeat=2)
        return out
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(1_000_000).astype(np.float32) for _ in range(4)]
    for name, kwargs in (("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=1e-3)),
                         ("AdamW", dict(lr=1e-3))):
        steps = {}
        for lib in (disttorch, torch):
            params = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
            for p in params:
                p.grad = lib.ones_like(p)
            optimizer = getattr(lib.optim, name)(params, **kwargs)
            optimizer.step()
            steps[lib.__name__] = optimizer.step
        out[name] = alternate(steps, rounds, repeat=5)
    return out


def _worker_main(argv):
    kind, framework, *rest = argv
    if kind == "train":
        result = _train_worker(framework, rest[0], int(rest[1]))
    elif kind == "overhead":
        result = _overhead_worker(framework, int(rest[0]))
    elif kind in ("conv", "optim", "resnet"):
        result = _both_worker(kind, int(rest[0]))
    else:
        result = _loader_worker(framework, int(rest[0]), int(rest[1]))
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- driver side
def _worker(args, threads=1, timeout=900):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--worker", *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"benchmark worker {args} failed (exit {proc.returncode}):\n"
                       f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def _row(section, workload, unit, ours, theirs, better="lower"):
    return {"section": section, "workload": workload, "unit": unit, "disttorch": ours,
            "torch": theirs, "ratio": ours / theirs if theirs else float("nan"), "better": better}


def _alternating(measure, rounds):
    """``{framework: [value per round]}``, the frameworks taking turns each round."""
    samples = {f: [] for f in FRAMEWORKS}
    for _ in range(rounds):
        for framework in FRAMEWORKS:
            samples[framework].append(measure(framework))
    return samples


def bench_import(rounds):
    def measure(framework):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {framework}"], cwd=ROOT, check=True,
                       env=dict(os.environ, PYTHONPATH=ROOT))
        return time.perf_counter() - start
    baseline = statistics.median(
        _timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        for _ in range(rounds))
    samples = _alternating(measure, rounds)
    ours, theirs = (statistics.median(samples[f]) - baseline for f in FRAMEWORKS)
    return [_row("Start-up", "import time (interpreter start subtracted)", "ms", ours * 1e3,
                 theirs * 1e3)]


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_overhead(rounds):
    samples = _alternating(lambda f: _worker(["overhead", f, 5])["per_op_s"], rounds)
    ours, theirs = (statistics.median(samples[f]) for f in FRAMEWORKS)
    return [_row("Autograd", "elementwise op on 16 elements, forward + backward", "us/op",
                 ours * 1e6, theirs * 1e6)]


def bench_instructions(number):
    """Per-op instruction counts under Callgrind (deterministic, unlike the wall times):
    opt-in (``--only instructions``), as importing torch under Valgrind takes minutes."""
    import shutil
    if shutil.which("valgrind") is None:
        print("  skipped: valgrind is not installed")
        return []
    import torch
    from benchmarks.bench_instructions import STATEMENTS, measure
    ours, theirs = measure(None, number), measure(torch, number)
    return [_row("Instructions (Callgrind)", label, "instr/op", ours[label], theirs[label])
            for label, _ in STATEMENTS]


def bench_conv(rounds):
    result = _worker(["conv", "both", rounds])
    return [_row("Convolution", f"conv2d 1->32->64 3x3, batch 64, 28x28, {label}, 1 thread",
                 "ms", t["disttorch"] * 1e3, t["torch"] * 1e3) for label, t in result.items()]


def bench_resnet(rounds):
    result = _worker(["resnet", "both", rounds])
    return [_row("ResNet-18 (disttorch.vision)", "train step, batch 32, 3x32x32, SGD, 1 thread",
                 "ms", result["train step"]["disttorch"] * 1e3,
                 result["train step"]["torch"] * 1e3)]


def bench_optim(rounds):
    result = _worker(["optim", "both", rounds])
    return [_row("Optimizer step", f"{name}, 4 x 1M float32 parameters, 1 thread", "ms",
                 t["disttorch"] * 1e3, t["torch"] * 1e3) for name, t in result.items()]


def bench_training(rounds, steps):
    rows = []
    for workload in WORKLOADS:
        for threads in (1, 2):
            samples = _alternating(
                lambda f: _worker(["train", f, workload, steps], threads=threads), rounds)
            step = {f: statistics.median(r["step_s"] for r in samples[f]) for f in FRAMEWORKS}
            rss = {f: max(r["max_rss_mb"] for r in samples[f]) for f in FRAMEWORKS}
            label = f"{WORKLOAD_LABELS[workload]}, {threads} thread{'s' * (threads > 1)}"
            rows.append(_row("Training step", label, "ms", step["disttorch"] * 1e3,
                             step["torch"] * 1e3))
            if threads == 1:
                rows.append(_row("Peak memory", WORKLOAD_LABELS[workload], "MB",
                                 rss["disttorch"], rss["torch"]))
            print(f"  {label}: {step['disttorch'] * 1e3:.1f} ms vs {step['torch'] * 1e3:.1f} ms",
                  flush=True)
    return rows


def bench_loader(samples, repeat):
    results = {f: _worker(["loader", f, samples, repeat]) for f in FRAMEWORKS}
    return [_row("DataLoader", f"{name}, batch 128", "samples/s", results["disttorch"][name],
                 results["torch"][name], better="higher") for name in results["torch"]]


def bench_distributed():
    from benchmarks.bench_distributed import _launch, _mpiexec
    if _mpiexec() is None:
        raise RuntimeError("mpiexec not found: pip install mpich")
    rows = []
    for size, ours, raw in _launch(2, "allreduce"):
        if size in (64 << 10, 4 << 20, 64 << 20):
            label = f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
            rows.append(_row("All-reduce, 2 ranks (vs raw mpi4py)", f"float32 {label}", "GB/s",
                             size / ours / 1e9, size / raw / 1e9, better="higher"))
    rate = {}
    for framework in FRAMEWORKS:
        rate[framework] = [_launch(n, "ddp", [framework])["samples_per_s"] for n in (1, 2)]
    rows.append(_row("DDP (vs torch DDP over gloo)", "MLP batch 64/rank, 2 ranks", "samples/s",
                     rate["disttorch"][1], rate["torch"][1], better="higher"))
    rows.append(_row("DDP (vs torch DDP over gloo)", "MLP scaling 1 -> 2 ranks", "x",
                     rate["disttorch"][1] / rate["disttorch"][0],
                     rate["torch"][1] / rate["torch"][0], better="higher"))
    return rows


def bench_launcher(rounds):
    from benchmarks.bench_launcher import time_to_first_step
    samples = {"disttorch-run": [], "torchrun": []}
    for _ in range(rounds):
        for name in samples:
            samples[name].append(time_to_first_step(name, "collective"))
    ours, theirs = (statistics.median(samples[n]) for n in samples)
    return [_row("Launcher (vs torchrun)", "2 workers, start to first collective", "s", ours,
                 theirs)]


# ---------------------------------------------------------------- report
def _fmt(value):
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def markdown_table(rows):
    lines = ["| Benchmark | Workload | disttorch | torch | ratio |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        arrow = "lower is better" if r["better"] == "lower" else "higher is better"
        lines.append(f"| {r['section']} | {r['workload']} | {_fmt(r['disttorch'])} {r['unit']} | "
                     f"{_fmt(r['torch'])} {r['unit']} | {r['ratio']:.2f} ({arrow}) |")
    return "\n".join(lines)


def machine():
    import numpy
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, torch {torch_version}")


def write_chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        return None
    labels = [f"{r['section']}: {r['workload']}" for r in rows]
    cost = [r["ratio"] if r["better"] == "lower" else 1 / r["ratio"] for r in rows]
    figure, axes = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.2), dpi=100)
    colors = ["tab:green" if c <= 1 else "tab:orange" if c <= 3 else "tab:red" for c in cost]
    # bars grow from 1 (parity): left when disttorch costs less, right when more
    axes.barh(range(len(rows)), [c - 1 for c in cost], left=1, color=colors)
    axes.set_yticks(range(len(rows)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)
             if min(cost) / 2 <= t <= max(cost) * 2]
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel("relative cost, disttorch / torch (time or memory; inverse for throughput)")
    axes.set_title("disttorch vs torch (CPU)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def update_readme(table):
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < 0:
        raise RuntimeError(f"README.md has no {README_BEGIN} ... {README_END} block to replace")
    text = text[:begin + len(README_BEGIN)] + "\n" + table + "\n" + text[end:]
    with open(path, "w") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (~2-3 minutes)")
    parser.add_argument("--out", default=RESULTS, help="directory for report.md/.json/.png")
    parser.add_argument("--only", nargs="+", choices=["import", "overhead", "conv", "optim",
                                                      "resnet", "training", "loader",
                                                      "distributed", "launcher",
                                                      "instructions"],
                        help="run only these sections (instructions: only when named)")
    parser.add_argument("--update-readme", action="store_true",
                        help="replace the benchmark table in README.md")
    args = parser.parse_args(argv)
    rounds = 2 if args.quick else 3
    sections = {
        "import": lambda: bench_import(3 if args.quick else 5),
        "overhead": lambda: bench_overhead(rounds),
        "conv": lambda: bench_conv(rounds),
        "optim": lambda: bench_optim(rounds),
        "resnet": lambda: bench_resnet(rounds),
        "training": lambda: bench_training(1 if args.quick else 3, 5 if args.quick else 10),
        "loader": lambda: bench_loader(20000 if args.quick else 60000, 2 if args.quick else 3),
        "distributed": bench_distributed,
        "launcher": lambda: bench_launcher(rounds),
        "instructions": lambda: bench_instructions(100 if args.quick else 200),
    }
    rows = []
    started = time.perf_counter()
    for name, run in sections.items():
        if args.only and name not in args.only or not args.only and name == "instructions":
            continue
        print(f"[{time.perf_counter() - started:6.0f} s] {name}", flush=True)
        rows += run()
    elapsed = time.perf_counter() - started
    table = markdown_table(rows)
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    os.makedirs(args.out, exist_ok=True)
    chart = write_chart(rows, os.path.join(args.out, "report.png"))
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(f"# disttorch vs torch\n\nMachine: {machine()}.\n"
                f"Generated by `{command}` in {elapsed / 60:.1f} minutes "
                f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).\n"
                f"Ratio = disttorch / torch; medians of alternating runs.\n\n{table}\n")
        if chart:
            f.write("\n![relative cost](report.png)\n")
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump({"machine": machine(), "command": command, "rows": rows}, f, indent=1)
    if args.update_readme:
        update_readme(table)
    print(f"\n{table}\n\nwrote {os.path.join(args.out, 'report.md')}"
          + (f" and {chart}" if chart else " (no chart: pip install matplotlib)")
          + f" in {elapsed / 60:.1f} minutes")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
    else:
        main()
