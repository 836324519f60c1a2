"""The process hydra starts for each rank of a group made by ``disttorch.multiprocessing.spawn``.

It starts the worker, handing on hydra's PMI descriptor so that the worker is this MPI rank,
tells the parent the worker's pid, passes the parent's signals on to it and reports how it
ended. The parent, not hydra, decides what happens to the group when a worker fails, so this
process always exits 0. Run by path with only the standard library: no disttorch import, so a
rank costs one light process beside its worker (``launcher.procs``, installed with disttorch,
is standard library too).
"""
import os
import signal
import subprocess
import sys
from multiprocessing.connection import Client, wait

from launcher.procs import die_with_parent

ADDRESS = "DISTTORCH_SPAWN_ADDRESS"
AUTHKEY = "DISTTORCH_SPAWN_AUTHKEY"
WORKER_CODE = "from disttorch.multiprocessing._mpi_spawn import worker_main; worker_main()"

def _worker_preexec():
    die_with_parent()
    for signum in (signal.SIGUSR1, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)


def main():
    die_with_parent()
    # hydra (with -disable-auto-cleanup) signals SIGUSR1 to the processes it started as other
    # ranks end; the parent decides the group's fate, and SIGUSR1 would kill this process
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    # Ctrl-C reaches the worker itself (from the terminal, or forwarded by hydra)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() == 1:       # hydra died before the line above took effect
        return 0
    environ = os.environ
    rank = int(environ["PMI_RANK"])
    conn = Client(environ[ADDRESS], authkey=bytes.fromhex(environ[AUTHKEY]))
    pmi_fd = environ.get("PMI_FD")
    worker = subprocess.Popen([sys.executable, "-c", WORKER_CODE], stdin=subprocess.DEVNULL,
                              pass_fds=(int(pmi_fd),) if pmi_fd else (),
                              preexec_fn=_worker_preexec)
    conn.send(("started", rank, worker.pid))
    exited = os.pidfd_open(worker.pid)
    while True:
        ready = wait([conn, exited])
        if exited in ready:
            code = worker.wait()
            try:
                conn.send(("exit", code))
            except OSError:
                pass
            return 0
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            # the parent is gone: nobody is left to report to
            worker.kill()
            worker.wait()
            return 0
        if kind == "signal":
            worker.send_signal(value)


if __name__ == "__main__":
    sys.exit(main())
