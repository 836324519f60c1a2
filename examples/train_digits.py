"""Data-parallel CNN on handwritten digits: the same script runs three ways.

    python examples/train_digits.py                                # one process
    disttorch-run --nproc-per-node 2 examples/train_digits.py      # two workers, the launcher
    mpiexec -n 2 python examples/train_digits.py                   # two workers, plain MPI

It checkpoints every epoch (atomically, rank 0) and resumes from the checkpoint after a
restart; ``--crash-at-step N`` makes rank 1 fail once at step N to show it:

    disttorch-run --nproc-per-node 2 --max-restarts 1 examples/train_digits.py --crash-at-step 30

On GPUs, ``--device cuda`` puts each worker on its own GPU (its local rank) and moves the
gradients over NCCL (the MPI backend where CuPy has no NCCL):

    disttorch-run --nproc-per-node 8 examples/train_digits.py --device cuda
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import disttorch as torch
import disttorch.distributed as dist
from disttorch import nn
from disttorch.nn.parallel import DistributedDataParallel as DDP
from disttorch.utils.data import DataLoader
from disttorch.utils.data.distributed import DistributedSampler
from disttorch.utils.progress import ProgressBar, plot_metrics

from digits_data import digits

_LAUNCHED_BY = ("RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS")
# the node-local rank as each launcher names it: disttorch-run/torchrun, Open MPI, MPICH, SLURM
_LOCAL_RANK = ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID")
TARGET_ACCURACY = 0.95


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
                                        nn.Dropout(0.1), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32, help="per worker")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--run-dir", default="runs/digits")
    p.add_argument("--crash-at-step", type=int, default=-1,
                   help="rank 1 (or 0 alone) exits with an error once at this global step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: one GPU per worker (its local rank), NCCL between them")
    return p.parse_args()


def setup(device):
    """``(rank, world size, device)``; a process group only when a launcher started us."""
    if device.type == "cuda":
        local = next((int(os.environ[k]) for k in _LOCAL_RANK if k in os.environ), 0)
        torch.cuda.set_device(local % torch.cuda.device_count())
        device = torch.device("cuda", torch.cuda.current_device())
    if any(k in os.environ for k in _LAUNCHED_BY) or "--distributed" in sys.argv:
        backend = "nccl" if device.type == "cuda" and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend)
        return dist.get_rank(), dist.get_world_size(), device
    return 0, 1, device


def evaluate(model, loader, world, device):
    model.eval()
    correct = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            correct += torch.tensor([(model(x).argmax(1) == y).sum().item(), len(y)],
                                    dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(correct)
    model.train()
    return correct[0].item() / correct[1].item()


def main():
    args = parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device (CuPy and an NVIDIA GPU are needed)")
    rank, world, device = setup(torch.device(args.device))
    torch.manual_seed(args.seed)
    train_set, test_set = digits()
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler,
                        pin_memory=device.type == "cuda")
    test_loader = DataLoader(test_set, batch_size=256,
                             sampler=DistributedSampler(test_set, world, rank, shuffle=False))
    model = Net().to(device)
    ddp = DDP(model) if world > 1 else model
    optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()

    os.makedirs(args.run_dir, exist_ok=True)
    checkpoint = os.path.join(args.run_dir, "checkpoint.pt")
    start_epoch = 0
    if os.path.exists(checkpoint):
        state = torch.load(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"] + 1
        if rank == 0:
            print(f"resumed from {checkpoint} at epoch {start_epoch}", flush=True)
            if start_epoch >= args.epochs:
                print(f"{args.run_dir} has finished {args.epochs} epochs already: pass a "
                      f"larger --epochs to continue, or another --run-dir to start over",
                      flush=True)
    restarted = int(os.environ.get("DISTTORCH_RESTART_COUNT", "0")) > 0
    metrics = open(os.path.join(args.run_dir, "metrics.jsonl"), "a") if rank == 0 else None

    step = start_epoch * len(loader)
    for epoch in range(start_epoch, args.epochs):
        sampler.set_epoch(epoch)
        bar = ProgressBar(loader, desc=f"epoch {epoch}", epoch=epoch, world_size=world)
        for x, y in bar:
            if step == args.crash_at_step and rank == min(1, world - 1) and not restarted:
                raise SystemExit(f"rank {rank}: injected crash at step {step}")
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad()
            logits = ddp(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            bar.log(samples=len(y), loss=loss.item(),
                    accuracy=(logits.argmax(1) == y).float().mean().item())
            step += 1
        scheduler.step()
        accuracy = evaluate(ddp, test_loader, world, device)
        if rank == 0:
            summary = bar.summary()
            record = {"epoch": epoch, "loss": summary["loss"],
                      "train_accuracy": summary["accuracy"], "test_accuracy": accuracy,
                      "samples_per_s": summary["samples_per_s"]}
            print(f"epoch {epoch}: loss {record['loss']:.4f}  test accuracy {accuracy:.3f}  "
                  f"{record['samples_per_s']:.0f} samples/s", flush=True)
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "epoch": epoch}, checkpoint)
    if rank == 0 and start_epoch < args.epochs:
        try:
            curves = plot_metrics(metrics.name, os.path.join(args.run_dir, "curves.png"),
                                  title=f"digits CNN, {world} worker(s)")
            print(f"curves: {curves}", flush=True)
        except ImportError as exc:
            print(f"no curves plotted: {exc}", flush=True)
        reached = "reached" if accuracy >= TARGET_ACCURACY else "NOT reached"
        print(f"final test accuracy {accuracy:.3f} on {world} worker(s) "
              f"(target {TARGET_ACCURACY}: {reached})")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
