"""Elastic resume under mpiexec: ``elastic.py save PATH`` consumes part of an epoch on
every rank and saves the loader state with ``disttorch.save``; ``elastic.py resume
PATH`` (any world size) finishes the epoch. Rank 0 prints what every rank saw as
``SEEN <json>``."""
import json
import sys

import disttorch
import disttorch.distributed as dist
from disttorch.utils.data import DataLoader, DistributedSampler, TensorDataset

phase, path = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
dataset = TensorDataset(disttorch.arange(50))
sampler = DistributedSampler(dataset, seed=3)
loader = DataLoader(dataset, batch_size=3, sampler=sampler, num_workers=2)
sampler.set_epoch(1)
seen = []
if phase == "save":
    for step, (batch,) in enumerate(loader):
        seen += batch.tolist()
        if step == 3:
            break
    if dist.get_rank() == 0:
        disttorch.save({"loader": loader.state_dict()}, path)
else:
    loader.load_state_dict(disttorch.load(path)["loader"])
    sampler.set_epoch(1)
    for (batch,) in loader:
        seen += batch.tolist()
everyone = [None] * dist.get_world_size()
dist.all_gather_object(everyone, seen)
if dist.get_rank() == 0:
    print("SEEN " + json.dumps(everyone), flush=True)
dist.destroy_process_group()
