"""Quickstart: an MLP learns the handwritten digits shipped in examples/data (no download).

    python examples/quickstart_mlp.py                    # ~20 s on 2 CPU cores
    python examples/quickstart_mlp.py --profile          # also: time per op for 5 steps
    python examples/quickstart_mlp.py --tensorboard      # also: TensorBoard event files

A ``Dataset``, a ``DataLoader``, a train/evaluate loop with accuracy, a progress bar, metrics
in ``RUN_DIR/metrics.jsonl``, curves in ``RUN_DIR/curves.png`` (with matplotlib) and a
checkpoint that is loaded back into a fresh model at the end. Written exactly as for PyTorch:
replace the first import with ``import torch`` and it runs there too.
"""
import argparse
import os

import numpy as np

import disttorch as torch
from disttorch import nn
from disttorch.utils.data import DataLoader, Dataset
from disttorch.utils.progress import MetricsLog, ProgressBar, plot_metrics

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.npz")
TARGET_ACCURACY = 0.95


class Digits(Dataset):
    """The UCI handwritten digits: 64 pixel intensities in [0, 1] and a label 0..9.

    Args:
        train (bool): the training split (80%) or the test split (20%).
        seed (int): the seed of the split.
    """

    def __init__(self, train, seed=0):
        with np.load(DATA) as archive:
            images = archive["images"].reshape(-1, 64).astype(np.float32) / 16.0
            labels = archive["labels"].astype(np.int64)
        order = np.random.default_rng(seed).permutation(len(labels))
        n_test = len(labels) // 5
        index = order[n_test:] if train else order[:n_test]
        self.images = torch.from_numpy(images[index])
        self.labels = torch.from_numpy(labels[index])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / total


def profile_steps(model, loader, loss_fn, optimizer, steps=5):
    from disttorch.profiler import profile, record_function

    with profile() as prof:
        for step, (x, y) in enumerate(loader):
            with record_function("train_step"):
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
            if step + 1 == steps:
                break
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--run-dir", default="runs/quickstart")
    p.add_argument("--profile", action="store_true", help="print time per op for 5 steps")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard events to RUN_DIR/tb (pip install tensorboard)")
    args = p.parse_args()

    torch.manual_seed(0)
    train_loader = DataLoader(Digits(train=True), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(Digits(train=False), batch_size=256)
    model = mlp()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.profile:
        profile_steps(model, train_loader, loss_fn, optimizer)
    writer = None
    if args.tensorboard:
        from disttorch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(os.path.join(args.run_dir, "tb"))

    metrics_path = os.path.join(args.run_dir, "metrics.jsonl")
    log = MetricsLog(metrics_path, mode="w")
    for epoch in range(args.epochs):
        bar = ProgressBar(train_loader, desc=f"epoch {epoch}", epoch=epoch)
        for x, y in bar:
            optimizer.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            bar.log(samples=len(y), loss=loss.item(),
                    accuracy=(logits.argmax(dim=1) == y).float().mean().item())
        test_accuracy = evaluate(model, test_loader)
        record = {**bar.summary(), "test_accuracy": test_accuracy}
        log.write(epoch=epoch, **record)
        print(f"epoch {epoch}: loss {record['loss']:.4f}  train accuracy "
              f"{record['accuracy']:.3f}  test accuracy {test_accuracy:.3f}  "
              f"{record['samples_per_s']:.0f} samples/s", flush=True)
        if writer is not None:
            writer.add_scalars("loss", {"train": record["loss"]}, epoch)
            writer.add_scalars("accuracy", {"train": record["accuracy"],
                                            "test": test_accuracy}, epoch)
            writer.add_histogram("first_layer.weight", model[0].weight, epoch)
    log.close()
    if writer is not None:
        writer.close()

    checkpoint = os.path.join(args.run_dir, "mlp.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": args.epochs - 1}, checkpoint)
    restored = mlp()
    restored.load_state_dict(torch.load(checkpoint)["model"])
    reloaded_accuracy = evaluate(restored, test_loader)
    print(f"checkpoint {checkpoint} reloaded: test accuracy {reloaded_accuracy:.3f}")
    try:
        print(f"curves: {plot_metrics(metrics_path, os.path.join(args.run_dir, 'curves.png'))}")
    except ImportError as exc:
        print(f"no curves plotted: {exc}")
    reached = "reached" if reloaded_accuracy >= TARGET_ACCURACY else "NOT reached"
    print(f"final test accuracy {reloaded_accuracy:.3f} (target {TARGET_ACCURACY}: {reached})")


if __name__ == "__main__":
    main()
