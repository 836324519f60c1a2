"""Rank 1 freezes itself with SIGSTOP after reporting a few steps (a frozen, not a busy, hang)."""

import os
import signal
import time

from mpi4py import MPI

from launcher import worker

comm = MPI.COMM_WORLD
for step in range(1, 1000):
    worker.report_progress(step=step)
    if comm.rank == 1 and step == 3:
        os.kill(os.getpid(), signal.SIGSTOP)
    time.sleep(0.05)
