"""Subgroups on a backend of their own (run under mpiexec on simulated GPUs):

    mixed_backends.py nccl   an NCCL world with a gloo subgroup for CPU tensors
    mixed_backends.py gloo   a gloo world with an NCCL subgroup for GPU tensors
"""
import sys

import disttorch as torch
import disttorch.distributed as dist
import nccl_sim

WORLD = sys.argv[1]
nccl_sim.prepare("nccl")            # every rank on its own simulated GPU, the stand-in NCCL
dist.init_process_group(WORLD)
rank, world = dist.get_rank(), dist.get_world_size()
other = "gloo" if WORLD == "nccl" else "nccl"
sub = dist.new_group(backend=other)
assert dist.get_backend() == WORLD and dist.get_backend(sub) == other, dist.get_backend(sub)
cpu = torch.full((3,), float(rank + 1))
gpu = torch.full((3,), float(rank + 1), device="cuda")
total = float(sum(range(1, world + 1)))
if other == "gloo":
    dist.all_reduce(cpu, group=sub)                 # CPU tensors on the gloo subgroup
    dist.all_reduce(gpu)                            # and GPU tensors on the NCCL world
else:
    dist.all_reduce(gpu, group=sub)
    dist.all_reduce(cpu)
assert cpu.tolist() == [total] * 3 and gpu.cpu().tolist() == [total] * 3, (cpu, gpu)
objects = [None] * world
dist.all_gather_object(objects, {"rank": rank}, group=sub)
assert [o["rank"] for o in objects] == list(range(world))
dist.destroy_process_group()
print(f"rank {rank}: mixed backends ok")
