"""Report progress forever (until stopped): for the SIGTERM test."""

import time

from mpi4py import MPI

from launcher import worker

MPI.COMM_WORLD.Barrier()
print("started", flush=True)
for step in range(100000):
    worker.report_progress(step=step)
    time.sleep(0.05)
