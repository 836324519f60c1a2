"""Allreduce a few MiB across the world (for checking which link carries MPI traffic)."""

import sys

import numpy as np
from mpi4py import MPI

from launcher import worker

comm = MPI.COMM_WORLD
mebibytes = int(sys.argv[1]) if len(sys.argv) > 1 else 4
data = np.full(mebibytes * 2 ** 20 // 8, comm.rank + 1.0)
result = np.empty_like(data)
for step in range(4):
    with worker.collective("Allreduce"):
        comm.Allreduce(data, result)
    worker.report_progress(step=step + 1)
expected = comm.size * (comm.size + 1) / 2
print(f"allreduce ok={bool(np.all(result == expected))} size={comm.size} mib={mebibytes}", flush=True)
