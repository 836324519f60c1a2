"""dist.breakpoint: rank 0 stops in pdb (commands from stdin), rank 1 waits for it; with skip,
the first calls pass."""
import disttorch.distributed as dist

dist.init_process_group("gloo")
rank = dist.get_rank()
secret = 41 + rank
for i in range(3):
    dist.breakpoint(rank=0, skip=2)   # stops on the third pass only
print(f"rank {rank} passed the breakpoint", flush=True)
dist.destroy_process_group()
