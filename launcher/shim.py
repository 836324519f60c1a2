"""Rank supervisor: the program the MPI process manager starts for every rank.

``python -m launcher.shim -- COMMAND...`` sets the torchrun variables of its
rank, runs COMMAND as the worker (passing on the MPI process manager's PMI
descriptor so the worker joins the MPI world), prefixes its output with the
rank, tees it to per-rank log files, and reports to the control plane how
the worker ended (exit code or signal and its last lines of output). On a
``stop`` from the launcher it stops the worker: SIGTERM, then SIGKILL after
the grace period.
"""

import collections
import os
import signal
import socket
import subprocess
import sys
import threading

from launcher import env as envvars
from launcher import procs
from launcher.client import ControlClient, ControlPlaneError

_TAIL_LINES = 20


class _Stream:
    """Copies one output pipe of the worker line by line to its destinations."""

    def __init__(self, pipe, console, prefix, log_path, tail, tail_lock):
        self.pipe = pipe
        self.console = console
        self.prefix = prefix.encode()
        self.log = open(log_path, "ab") if log_path else None
        self.tail = tail
        self.tail_lock = tail_lock
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self):
        for line in iter(self.pipe.readline, b""):
            if not line.endswith(b"\n"):
                line += b"\n"
            if self.console is not None:
                # One write per line keeps lines of different ranks whole.
                self.console.write(self.prefix + line)
                self.console.flush()
            if self.log is not None:
                self.log.write(line)
                self.log.flush()
            with self.tail_lock:
                self.tail.append(line.decode(errors="replace").rstrip("\n")[:512])
        if self.log is not None:
            self.log.close()


class Supervisor:
    """Runs and watches one worker; see the module docstring."""

    def __init__(self, command, environ):
        self.command = command
        self.environ = environ
        self.rank = int(environ["PMI_RANK"])
        self.world_size = int(environ["PMI_SIZE"])
        self.nproc = int(environ[envvars.NPROC_PER_NODE])
        self.local_rank = self.rank % self.nproc
        self.restart = int(environ.get(envvars.RESTART_COUNT, "0"))
        self.stop_requested = threading.Event()
        self.signalled = False
        self.grace = float(environ.get(envvars.STOP_GRACE, "10"))
        self.worker = None
        self.tail = collections.deque(maxlen=_TAIL_LINES)
        self.tail_lock = threading.Lock()
        self.client = ControlClient(
            environ[envvars.CONTROL_ENDPOINT], environ[envvars.SECRET].encode(),
            {"role": "shim", "job": environ.get(envvars.JOB_ID, ""), "restart": self.restart,
             "host": socket.gethostname(), "pid": os.getpid(), "rank": self.rank},
            heartbeat_interval=float(environ.get(envvars.HEARTBEAT_INTERVAL, "1")),
            on_message=self._on_message,
            server_timeout=float(environ.get(envvars.HEARTBEAT_TIMEOUT, "30")),
            on_lost=lambda: self.request_stop(2.0))

    def _on_message(self, msg_type, body):
        if msg_type == "stop":
            self.request_stop(body["grace"])

    def request_stop(self, grace):
        """Stop the worker: SIGTERM, then SIGKILL after ``grace`` seconds (thread-safe)."""
        self.grace = grace
        self.stop_requested.set()

    def run(self):
        """Start the worker, wait for it (or for a stop), report; returns the exit status."""
        self.client.connect(timeout=60)
        worker_env = dict(self.environ)
        worker_env.update(envvars.worker_environment(self.rank, self.world_size, self.nproc, self.environ))
        pmi_fd = self.environ.get("PMI_FD")
        self.worker = subprocess.Popen(
            self.command, env=worker_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(int(pmi_fd),) if pmi_fd else (), start_new_session=True,
            preexec_fn=procs.die_with_parent)
        streams = self._streams()
        threading.Thread(target=self._wait_worker, daemon=True).start()
        # Signal handlers only set a flag: setting an Event from one could
        # deadlock on the lock the interrupted wait() holds.
        while not self.stop_requested.wait(0.1) and not self.signalled:
            pass
        stopped_shm = set()
        if self.worker.poll() is None:
            # MPI keeps its segments until MPI_Finalize, which a stopped worker never reaches.
            stopped_shm = procs.shm_mapped_by(self.worker.pid)
            procs.terminate_group(self.worker.pid, self.grace, lambda: self.worker.poll() is None)
        returncode = self.worker.wait()
        procs.remove_unused(stopped_shm)
        for stream in streams:
            stream.thread.join(timeout=2)
        with self.tail_lock:
            tail = list(self.tail)
        signum = -returncode if returncode < 0 else None
        self.client.send("exit", {"rank": self.rank, "returncode": None if signum else returncode,
                                  "signal": signum, "tail": tail})
        self.client.close()
        return 128 + signum if signum else returncode

    def _wait_worker(self):
        self.worker.wait()
        self.stop_requested.set()

    def _streams(self):
        redirects = envvars.parse_std_spec(self.environ.get(envvars.REDIRECTS, "0"), "--redirects")(self.local_rank)
        tee = envvars.parse_std_spec(self.environ.get(envvars.TEE, "0"), "--tee")(self.local_rank)
        shown = envvars.parse_ranks_filter(self.environ.get(envvars.LOCAL_RANKS_FILTER))
        log_dir = self.environ.get(envvars.LOG_DIR)
        if log_dir:
            log_dir = os.path.join(log_dir, f"attempt_{self.restart}", str(self.rank))
            os.makedirs(log_dir, exist_ok=True)
        streams = []
        for bit, name, pipe, console in ((1, "stdout", self.worker.stdout, sys.stdout.buffer),
                                         (2, "stderr", self.worker.stderr, sys.stderr.buffer)):
            to_file = log_dir and (redirects | tee) & bit
            on_console = not redirects & bit and (shown is None or self.local_rank in shown)
            streams.append(_Stream(pipe, console if on_console else None, f"[rank{self.rank}]: ",
                                   os.path.join(log_dir, f"{name}.log") if to_file else None,
                                   self.tail, self.tail_lock))
        return streams


def main(argv=None):
    """Entry point: ``python -m launcher.shim -- COMMAND...``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("launcher.shim: no worker command given (expected: -- COMMAND...)")
    # Die with the MPI proxy that started us; our SIGTERM handler then stops the worker.
    procs.die_with_parent(signal.SIGTERM)
    supervisor = Supervisor(argv, os.environ)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: setattr(supervisor, "signalled", True))
    # hydra (with -disable-auto-cleanup) signals SIGUSR1 to the processes it
    # started when another one ends; this supervisor learns of failures from
    # the launcher instead, and SIGUSR1 would otherwise kill it.
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        sys.exit(supervisor.run())
    except ControlPlaneError as exc:
        sys.exit(f"launcher.shim (rank {supervisor.rank}): {exc}")


if __name__ == "__main__":
    main()
