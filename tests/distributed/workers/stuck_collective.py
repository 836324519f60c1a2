"""Rank 1 stops calling collectives; rank 0 waits in all_reduce (run under disttorch-run)."""
import time

import disttorch as torch
import disttorch.distributed as dist
from launcher import worker

dist.init_process_group("gloo")
rank = dist.get_rank()
for step in range(3):
    worker.report_progress(epoch=0, step=step)
    dist.all_reduce(torch.ones(1))
if rank == 1:
    time.sleep(600)
dist.all_reduce(torch.ones(1))
