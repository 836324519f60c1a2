"""Data-parallel CIFAR-10 as a torch + torchvision DDP script is written (run under mpiexec or
disttorch-run): each rank trains on its shard; afterwards every rank holds the same weights.

    mpiexec -n 2 python ddp_cifar.py --root DATA
"""
import argparse

import disttorch as torch
import disttorch.distributed as dist
import disttorch.nn as nn
import disttorch.vision as torchvision
import disttorch.vision.transforms as transforms
from disttorch.nn.parallel import DistributedDataParallel as DDP
from disttorch.utils.data.distributed import DistributedSampler

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(rank)  # different initial weights: DDP broadcasts rank 0's

transform = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                transforms.RandomHorizontalFlip(), transforms.ToTensor()])
dataset = torchvision.datasets.CIFAR10(args.root, train=True, transform=transform)
sampler = DistributedSampler(dataset)
loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=1)
model = DDP(torchvision.models.resnet18(num_classes=10, cifar_stem=True))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
seen = 0
for epoch in range(args.epochs):
    sampler.set_epoch(epoch)
    for inputs, targets in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
        seen += len(targets)

checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
checksums = [torch.zeros_like(checksum) for _ in range(world)]
dist.all_gather(checksums, checksum)
counts = [None] * world
dist.all_gather_object(counts, seen)
if rank == 0:
    same = all(torch.equal(c, checksums[0]) for c in checksums)
    print(f"ranks {world} samples {counts} same weights {same}")
dist.destroy_process_group()
