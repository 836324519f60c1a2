"""Debug mode: ranks calling a collective with different shapes get a report naming them.

    debug_mismatch.py [set-in-code]   (set-in-code: DETAIL through set_debug_level, not the env)
"""
import sys

import disttorch as torch
import disttorch.distributed as dist

if sys.argv[1:] == ["set-in-code"]:
    dist.set_debug_level(dist.DebugLevel.DETAIL)
dist.init_process_group("gloo")
rank = dist.get_rank()
try:
    dist.all_reduce(torch.ones(2 + rank))
except dist.DistBackendError as exc:
    print(f"MISMATCH rank {rank}: {exc}", flush=True)
dist.destroy_process_group()
