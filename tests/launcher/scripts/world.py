"""Print this rank's environment contract and an allreduce over the MPI world.

Also meets the other ranks at a control-plane barrier first (a no-op when not
under disttorch-run).
"""

import os

from mpi4py import MPI

from launcher import worker

worker.barrier("start", timeout=60)

names = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
         "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS", "OMP_NUM_THREADS")
comm = MPI.COMM_WORLD
total = comm.allreduce(comm.rank + 1)
print("env " + " ".join(f"{name}={os.environ.get(name)}" for name in names), flush=True)
print(f"mpi rank={comm.rank} size={comm.size} sum={total}", flush=True)
