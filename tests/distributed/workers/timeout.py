"""Rank 1 skips the second collective: the others must time out naming rank 1.

    timeout.py SECONDS              the group's timeout, an all_reduce
    timeout.py SECONDS monitored    a 600 s group timeout, monitored_barrier(timeout=SECONDS)
"""
import datetime
import faulthandler
import os
import sys
import time

import disttorch as torch
import disttorch.distributed as dist

faulthandler.dump_traceback_later(60, exit=True)  # a hang here must show where it is
MONITORED = sys.argv[2:] == ["monitored"]
seconds = datetime.timedelta(seconds=float(sys.argv[1]))
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=600) if MONITORED else seconds)
rank = dist.get_rank()
dist.all_reduce(torch.ones(1))
if rank == 1:
    time.sleep(float(sys.argv[1]) * 4)
    os._exit(0)  # its peers are stuck in a collective: MPI_Finalize would wait for them
try:
    if MONITORED:
        dist.monitored_barrier(timeout=seconds)
    else:
        dist.all_reduce(torch.ones(1))
except dist.DistTimeoutError as exc:
    print(f"TIMEOUT rank {rank}: {exc}", flush=True)
    raise SystemExit(3)
