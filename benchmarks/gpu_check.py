"""GPU benchmarks: the same training step in disttorch and in torch eager on CUDA, and NCCL.

Run by ``benchmarks/gpu_check.sh``; prints one line per workload::

    mlp          disttorch   1.234 ms/step   torch   0.456 ms/step   ratio 2.71x (aim 1.5x)

Workloads (float32 unless named): MLP 784-1024-1024-10, batch 128, SGD with momentum; CNN with
two convolutions on 28x28, batch 64, Adam; 2-layer transformer LM, d_model 128, sequence 64,
batch 32, AdamW; the transformer again under float16 autocast with a GradScaler; and an NCCL
all-reduce with one rank at several sizes.
"""
import argparse
import sys
import time
import traceback

import numpy as np

AIMS = {"mlp": 1.5, "cnn": 2.0, "transformer": 1.5, "transformer-amp": 1.5}
VOCAB = 1000


def build(lib, kind):
    """Model, optimizer factory and batch maker for one workload, written once for both libs."""
    nn = lib.nn
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                              nn.ReLU(), nn.Linear(1024, 10))
        return model, lambda p: lib.optim.SGD(p, lr=0.01, momentum=0.9), \
            lambda rng: (rng.standard_normal((128, 1, 28, 28)), rng.integers(0, 10, 128))
    if kind == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                              nn.Linear(128, 10))
        return model, lambda p: lib.optim.Adam(p, lr=1e-3), \
            lambda rng: (rng.standard_normal((64, 1, 28, 28)), rng.integers(0, 10, 64))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 128)
            self.position = nn.Parameter(lib.zeros(64, 128))
            layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2)
            self.head = nn.Linear(128, VOCAB)

        def forward(self, tokens):
            mask = nn.Transformer.generate_square_subsequent_mask(64, device=tokens.device)
            h = self.embed(tokens) + self.position
            return self.head(self.encoder(h, mask=mask, is_causal=True)).reshape(-1, VOCAB)

    return LM(), lambda p: lib.optim.AdamW(p, lr=1e-3, weight_decay=0.01), \
        lambda rng: (rng.integers(0, VOCAB, (32, 64)), rng.integers(0, VOCAB, 32 * 64))


def make_step(lib, kind, amp=False):
    """A training step (returns its loss) on fixed batches, for ``lib`` (disttorch or torch)."""
    lib.manual_seed(0)
    model, make_optimizer, make_batch = build(lib, kind)
    model = model.to("cuda")
    optimizer = make_optimizer(model.parameters())
    scaler = lib.amp.GradScaler("cuda") if amp else None
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(4):
        x, y = make_batch(rng)
        x = lib.from_numpy(x.astype(np.float32) if x.dtype.kind == "f" else x).to("cuda")
        batches.append((x, lib.from_numpy(y).to("cuda")))
    loss_fn = lib.nn.functional.cross_entropy
    count = [0]

    def step():
        x, y = batches[count[0] % len(batches)]
        count[0] += 1
        optimizer.zero_grad(set_to_none=True)
        if amp:
            with lib.autocast("cuda", dtype=lib.float16):
                loss = loss_fn(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        return loss
    return step


def time_round(lib, step, steps):
    """Milliseconds per step over ``steps`` steps, device-synchronised at both ends."""
    lib.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    lib.cuda.synchronize()
    return (time.perf_counter() - start) / steps * 1e3, loss


def peak_mib(lib, step):
    # two more steps, outside the timing
    lib.cuda.reset_peak_memory_stats()
    for _ in range(2):
        step()
    lib.cuda.synchronize()
    return lib.cuda.max_memory_allocated() / 2 ** 20


def bench_workload(kind, steps, warmup, rounds):
    """Alternating rounds of the two frameworks (the machine is shared): medians and ratio."""
    import disttorch
    import torch
    amp = kind.endswith("-amp")
    base = kind[:-4] if amp else kind
    libs = {"disttorch": disttorch, "torch": torch}
    step_fns = {name: make_step(lib, base, amp) for name, lib in libs.items()}
    for name, lib in libs.items():
        # peak tracking on for every timed step, as PyTorch's allocator always has it (ours
        # costs a memory hook from the first peak query on; see cuda/_peak_memory.py)
        lib.cuda.reset_peak_memory_stats()
        time_round(lib, step_fns[name], warmup)
    times = {name: [] for name in libs}
    losses = {}
    for _ in range(rounds):
        for name, lib in libs.items():
            ms, loss = time_round(lib, step_fns[name], steps)
            times[name].append(ms)
            losses[name] = float(loss.detach().cpu())
    ours, theirs = (float(np.median(times[name])) for name in libs)
    mems = [peak_mib(lib, step_fns[name]) for name, lib in libs.items()]
    ratio = ours / theirs
    verdict = "ok" if ratio <= AIMS[kind] else "over"
    print(f"{kind:16s} disttorch {ours:8.3f} ms/step   torch {theirs:8.3f} ms/step   "
          f"ratio {ratio:5.2f}x (aim {AIMS[kind]}x: {verdict})   loss {losses['disttorch']:.4f} "
          f"vs {losses['torch']:.4f}   peak MiB {mems[0]:.0f} vs {mems[1]:.0f}   "
          f"(median of {rounds} alternating rounds of {steps} steps)", flush=True)


def bench_nccl(sizes_mib, iterations):
    import disttorch
    import disttorch.distributed as dist
    disttorch.cuda.set_device(0)
    dist.init_process_group("nccl")
    try:
        for mib in sizes_mib:
            x = disttorch.ones(mib * 2 ** 18, device="cuda")
            dist.all_reduce(x)
            disttorch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(iterations):
                dist.all_reduce(x)
            disttorch.cuda.synchronize()
            seconds = (time.perf_counter() - start) / iterations
            ok = float(x[0].cpu()) == 1.0
            print(f"nccl all_reduce  1 rank {mib:4d} MiB   {seconds * 1e3:8.3f} ms   "
                  f"{mib / 1024 / seconds:7.1f} GiB/s   values {'ok' if ok else 'WRONG'}",
                  flush=True)
            if not ok:
                raise AssertionError("all_reduce with one rank changed the values")
    finally:
        dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per framework")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="workloads to run (default: all)")
    parser.add_argument("--budget", type=float, default=180.0,
                        help="seconds after which the remaining workloads are skipped")
    args = parser.parse_args()
    import disttorch
    if not disttorch.cuda.is_available():
        print("gpu_check.py: no CUDA device (disttorch.cuda.is_available() is False)")
        return 2
    print(f"device: {disttorch.cuda.get_device_name()}", flush=True)
    failures = 0
    started = time.perf_counter()
    for kind in args.only or ["nccl", "mlp", "cnn", "transformer", "transformer-amp"]:
        if time.perf_counter() - started > args.budget:
            failures += 1
            print(f"{kind}: SKIPPED (past the {args.budget:.0f} s budget)", flush=True)
            continue
        try:
            if kind == "nccl":
                bench_nccl([1, 16, 64], 20)
            else:
                bench_workload(kind, args.steps, args.warmup, args.rounds)
        except Exception:
            failures += 1
            print(f"{kind}: FAILED", flush=True)
            traceback.print_exc(file=sys.stdout)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
