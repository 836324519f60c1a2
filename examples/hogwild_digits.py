"""Hogwild training on handwritten digits: several processes update one model in shared memory.

    python examples/hogwild_digits.py --processes 2 --epochs 3

``model.share_memory()`` moves the parameters into shared memory; ``mp.spawn`` starts the
workers, each of which receives the same model (its parameters arrive as views of the shared
pages, not copies), trains on its own shard of the data with its own optimizer, and writes its
updates straight into the shared parameters without locks (Recht et al., 2011). The parent
then evaluates the model it never trained itself.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import disttorch as torch
import disttorch.multiprocessing as mp
from disttorch import nn
from disttorch.utils.data import DataLoader, Subset

from digits_data import digits


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(),
                                    nn.Linear(128, 10))

    def forward(self, x):
        return self.layers(x)


def train(rank, model, args, steps):
    """One worker: its shard of the training set, its own SGD over the shared parameters."""
    torch.manual_seed(args.seed + rank)
    train_set, _ = digits(seed=args.seed)
    shard = Subset(train_set, range(rank, len(train_set), args.processes))
    loader = DataLoader(shard, batch_size=args.batch_size, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            loss_fn(model(images), labels).backward()
            optimizer.step()
            with steps.get_lock():
                steps.value += 1


def accuracy(model, dataset):
    images, labels = dataset.tensors
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    model = Net()
    model.share_memory()
    _, test_set = digits(seed=args.seed)
    before = accuracy(model, test_set)
    steps = mp.get_context("spawn").Value("i", 0)
    mp.spawn(train, args=(model, args, steps), nprocs=args.processes)
    after = accuracy(model, test_set)
    print(f"{args.processes} processes, {steps.value} steps in all, shared parameters: "
          f"{all(p.is_shared() for p in model.parameters())}")
    print(f"test accuracy {before:.3f} -> {after:.3f}")


if __name__ == "__main__":
    main()
