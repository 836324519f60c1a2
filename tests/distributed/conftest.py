import glob
import os
import shutil
import signal
import subprocess
import sys
import warnings

import pytest

WORKERS = os.path.join(os.path.dirname(__file__), "workers")


def _mpiexec():
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                       os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    return exe


def _run_once(cmd, env, timeout):
    """Run ``cmd`` in its own session; None if it timed out (the whole tree is killed)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture
def mpirun():
    """Run ``tests/distributed/workers/<script>`` under ``mpiexec -n N``; clean /dev/shm after."""
    before = set(glob.glob("/dev/shm/mpich_shm_*"))
    procs = []

    def run(script, n, *args, timeout=60, env=None, check=True):
        cmd = [_mpiexec(), "-n", str(n), sys.executable, os.path.join(WORKERS, script), *args]
        full_env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
        full_env["PYTHONPATH"] = os.pathsep.join(
            [os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
             full_env.get("PYTHONPATH", "")])
        proc = _run_once(cmd, full_env, timeout)
        if proc is None:
            # A start-up hang inside MPICH on an oversubscribed machine (about 1 launch in 150
            # under heavy load, before any output): retry once rather than fail the suite.
            warnings.warn(f"{script} -n {n}: MPI start-up hung, retrying once")
            proc = _run_once(cmd, full_env, timeout)
            if proc is None:
                raise AssertionError(f"{script} -n {n} did not finish within {timeout} s (twice)")
        procs.append(proc)
        if check and proc.returncode != 0:
            raise AssertionError(f"{script} -n {n} failed ({proc.returncode}):\n{proc.stdout}\n"
                                 f"{proc.stderr}")
        return proc

    yield run
    for path in set(glob.glob("/dev/shm/mpich_shm_*")) - before:
        try:
            os.unlink(path)
        except OSError:
            pass
