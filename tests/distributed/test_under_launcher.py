"""disttorch.distributed under disttorch-run: DDP equality, and hang reports naming the collective."""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _launcher():
    exe = shutil.which("disttorch-run", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("disttorch-run is not installed (pip install -e .)")
    return exe


def _run(args, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([_launcher(), *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_ddp_script_under_the_launcher():
    proc = _run(["--nproc-per-node", "2", os.path.join(HERE, "workers", "ddp.py"), "sgd"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "rank 0 sgd ok" in out and "rank 1 sgd ok" in out


@pytest.mark.timeout(120)
def test_hang_report_names_the_collective():
    proc = _run(["--nproc-per-node", "2", "--hang-timeout", "3", "--max-restarts", "0",
                 os.path.join(HERE, "workers", "stuck_collective.py")], timeout=100)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "hung" in out, out
    assert "allreduce #4" in out, out
