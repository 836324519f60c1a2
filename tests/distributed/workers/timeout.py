"""Rank 1 skips the second collective: the others must time out naming rank 1."""
import datetime
import sys
import time

import disttorch as torch
import disttorch.distributed as dist

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=float(sys.argv[1])))
rank = dist.get_rank()
dist.all_reduce(torch.ones(1))
if rank == 1:
    time.sleep(float(sys.argv[1]) * 4)
    sys.exit(0)
try:
    dist.all_reduce(torch.ones(1))
except dist.DistTimeoutError as exc:
    print(f"TIMEOUT rank {rank}: {exc}", flush=True)
    raise SystemExit(3)
