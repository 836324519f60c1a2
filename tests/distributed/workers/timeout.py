"""Rank 1 skips the second collective: the others must time out naming rank 1."""
import datetime
import faulthandler
import os
import sys
import time

import disttorch as torch
import disttorch.distributed as dist

faulthandler.dump_traceback_later(60, exit=True)  # a hang here must show where it is
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=float(sys.argv[1])))
rank = dist.get_rank()
dist.all_reduce(torch.ones(1))
if rank == 1:
    time.sleep(float(sys.argv[1]) * 4)
    os._exit(0)  # its peers are stuck in a collective: MPI_Finalize would wait for them
try:
    dist.all_reduce(torch.ones(1))
except dist.DistTimeoutError as exc:
    print(f"TIMEOUT rank {rank}: {exc}", flush=True)
    raise SystemExit(3)
