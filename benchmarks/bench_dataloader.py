"""DataLoader throughput: disttorch against torch, in one invocation.

Two workloads, each at ``num_workers`` 0 and 2, one shuffled epoch per run (worker
start-up included, as a training loop sees it), best of ``--repeat`` runs:

* ``tensor``: a 60,000 x 784 float32 ``TensorDataset`` with int64 labels, batch 128;
* ``transform``: a map-style dataset whose ``__getitem__`` normalises a 28 x 28 image
  and flips it at random with NumPy, batch 128.

Usage::

    python benchmarks/bench_dataloader.py [--repeat 3] [--samples 60000]

Prints samples/s for both libraries and disttorch's ratio to torch.
"""
import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.utils.data as torch_data  # noqa: E402

import disttorch  # noqa: E402
from disttorch.utils import data as dt_data  # noqa: E402


class NormaliseFlip:
    """Map-style images dataset with a per-sample NumPy transform; usable by both libraries
    (it returns NumPy arrays and ints, which both default collates accept)."""

    def __init__(self, images, labels):
        self.images = images
        self.labels = labels
        self.mean = float(images.mean())
        self.std = float(images.std())

    def __getitem__(self, index):
        image = (self.images[index] - self.mean) / self.std
        if np.random.rand() < 0.5:
            image = image[:, ::-1].copy()
        return image, int(self.labels[index])

    def __len__(self):
        return len(self.images)


def one_epoch(loader):
    start = time.perf_counter()
    samples = 0
    for images, labels in loader:
        samples += len(labels)
    return samples / (time.perf_counter() - start)


def best_rate(make_loader, repeat):
    return max(one_epoch(make_loader()) for _ in range(repeat))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    images = rng.random((args.samples, 784), dtype=np.float32)
    labels = rng.integers(0, 10, args.samples)
    workloads = {
        "tensor": (
            dt_data.TensorDataset(disttorch.from_numpy(images), disttorch.from_numpy(labels)),
            torch_data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))),
        "transform": (NormaliseFlip(images.reshape(-1, 28, 28), labels),) * 2,
    }
    print(f"{os.cpu_count()} CPUs, torch {torch.__version__}, numpy {np.__version__}, "
          f"batch {args.batch_size}, best of {args.repeat} epochs")
    print(f"{'workload':<10} {'workers':>7} {'torch samples/s':>16} {'disttorch samples/s':>20} "
          f"{'ratio':>6}")
    for name, (ours, theirs) in workloads.items():
        for workers in (0, 2):
            torch_rate = best_rate(lambda: torch_data.DataLoader(
                theirs, batch_size=args.batch_size, shuffle=True, num_workers=workers),
                args.repeat)
            our_rate = best_rate(lambda: dt_data.DataLoader(
                ours, batch_size=args.batch_size, shuffle=True, num_workers=workers),
                args.repeat)
            print(f"{name:<10} {workers:>7} {torch_rate:>16,.0f} {our_rate:>20,.0f} "
                  f"{our_rate / torch_rate:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
