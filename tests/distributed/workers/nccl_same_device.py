"""Two ranks left on one simulated GPU: the nccl backend names the fix (run under mpiexec)."""
import disttorch as torch
import disttorch.distributed as dist
import nccl_sim

nccl_sim.install(local_rank=0)  # every rank on cuda:0: NCCL refuses duplicate GPUs
dist.init_process_group("nccl")
try:
    dist.all_reduce(torch.ones(2, device="cuda"))
except dist.DistBackendError as exc:
    message = str(exc)
    assert "Duplicate GPU detected" in message and "Each rank needs its own GPU" in message, message
    print(f"rank {dist.get_rank()}: refused")
