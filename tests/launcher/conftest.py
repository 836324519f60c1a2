"""Fixtures for launcher tests: run disttorch-run and leave nothing behind."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from launcher import procs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")
MARK = "DISTTORCH_TEST_MARK"


def processes_with_mark(mark):
    """PIDs of live processes whose environment carries ``MARK=mark``."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def pytest_configure(config):
    config.addinivalue_line("markers", "mpi: starts real MPI jobs (mpiexec, srun, disttorch-run)")


class Launcher:
    """Starts ``python -m launcher`` with a unique environment mark, and cleans up."""

    python = sys.executable

    def __init__(self, tmp_path):
        self.mark = uuid.uuid4().hex
        self.tmp_path = tmp_path
        self.procs = []
        self.shm_before = procs.shm_snapshot()
        self.started_at = time.time()

    def env(self, **extra):
        environ = dict(os.environ)
        environ.pop("OMP_NUM_THREADS", None)
        environ.update({MARK: self.mark, "PYTHONPATH": REPO, "PYTHONUNBUFFERED": "1"})
        environ.update({key: str(value) for key, value in extra.items()})
        return environ

    def start(self, *args, env=None, **popen):
        proc = subprocess.Popen([sys.executable, "-m", "launcher", *map(str, args)], cwd=REPO,
                                env=self.env(**(env or {})), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, **popen)
        self.procs.append(proc)
        return proc

    def run(self, *args, env=None, timeout=60):
        proc = self.start(*args, env=env)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(), err.decode()

    def leftovers(self):
        return [pid for pid in processes_with_mark(self.mark) if pid != os.getpid()]

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        procs.remove_leaked_shm(self.shm_before, self.started_at)


@pytest.fixture
def launcher(tmp_path):
    """A :class:`Launcher`; kills whatever the test started, even when it fails."""
    runner = Launcher(tmp_path)
    try:
        yield runner
    finally:
        runner.cleanup()


def script(name):
    """Path of a worker script under tests/launcher/scripts."""
    return os.path.join(SCRIPTS, name)
