"""Debug mode: ranks calling a collective with different shapes get a report naming them."""
import disttorch as torch
import disttorch.distributed as dist

dist.init_process_group("gloo")
rank = dist.get_rank()
try:
    dist.all_reduce(torch.ones(2 + rank))
except dist.DistBackendError as exc:
    print(f"MISMATCH rank {rank}: {exc}", flush=True)
dist.destroy_process_group()
