import glob
import os
import shutil
import subprocess
import sys

import pytest

WORKERS = os.path.join(os.path.dirname(__file__), "workers")


def _mpiexec():
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                       os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    return exe


@pytest.fixture
def mpirun():
    """Run ``tests/distributed/workers/<script>`` under ``mpiexec -n N``; clean /dev/shm after."""
    before = set(glob.glob("/dev/shm/mpich_shm_*"))
    procs = []

    def run(script, n, *args, timeout=120, env=None, check=True):
        cmd = [_mpiexec(), "-n", str(n), sys.executable, os.path.join(WORKERS, script), *args]
        full_env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
        full_env["PYTHONPATH"] = os.pathsep.join(
            [os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
             full_env.get("PYTHONPATH", "")])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
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
