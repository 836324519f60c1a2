"""PyTorch's DDP tutorial, as written: one script, ``mp.spawn`` starts the ranks, each calls
``init_process_group`` with its rank and trains its shard of the digits through
``DistributedDataParallel``.

    python examples/ddp_spawn_digits.py --world-size 2 --epochs 5

``disttorch.multiprocessing.spawn``'s processes are an MPI world on this node, so no launcher is
needed. Rank 0 saves a checkpoint; the parent reloads it and evaluates it.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import disttorch as torch
import disttorch.distributed as dist
import disttorch.multiprocessing as mp
from disttorch import nn
from disttorch.nn.parallel import DistributedDataParallel as DDP
from disttorch.utils.data import DataLoader
from disttorch.utils.data.distributed import DistributedSampler

from digits_data import digits


def make_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def train(rank, world_size, args):
    os.environ.setdefault("MASTER_ADDR", "localhost")
    os.environ.setdefault("MASTER_PORT", "12355")
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(args.seed)
    train_set, _ = digits(seed=args.seed)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    model = DDP(make_model())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        total = torch.zeros(2)
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item() * len(labels), len(labels)])
        dist.all_reduce(total)
        if rank == 0:
            print(f"epoch {epoch}: mean loss {total[0].item() / total[1].item():.4f} over "
                  f"{int(total[1].item())} samples on {world_size} ranks", flush=True)
    if rank == 0:
        torch.save(model.module.state_dict(), args.checkpoint)
    dist.barrier()          # nobody leaves before the checkpoint is written
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="ddp_spawn_digits.pt")
    args = parser.parse_args()
    mp.spawn(train, args=(args.world_size, args), nprocs=args.world_size, join=True)
    model = make_model()
    model.load_state_dict(torch.load(args.checkpoint))
    _, test_set = digits(seed=args.seed)
    images, labels = test_set.tensors
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    print(f"test accuracy of the checkpoint: {accuracy:.3f}")


if __name__ == "__main__":
    main()
