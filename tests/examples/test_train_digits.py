"""The README's main job: the digits example, in one process and on two MPI ranks with resume."""
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_digits.py")


def _run(cmd, tmp_path, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                          env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_single_process_learns(tmp_path):
    out = _run([sys.executable, SCRIPT, "--epochs", "3"], tmp_path)
    accuracy = float(out.strip().splitlines()[-1].split()[3])
    assert accuracy > 0.9, out
    records = [json.loads(line) for line in open(tmp_path / "runs/digits/metrics.jsonl")]
    assert [r["epoch"] for r in records] == [0, 1, 2]


def test_two_ranks_resume_from_checkpoint(tmp_path):
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if mpiexec is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    first = _run([mpiexec, "-n", "2", sys.executable, SCRIPT, "--epochs", "2"], tmp_path)
    assert "on 2 worker(s)" in first
    second = _run([mpiexec, "-n", "2", sys.executable, SCRIPT, "--epochs", "3"], tmp_path)
    assert "resumed from runs/digits/checkpoint.pt at epoch 2" in second
    assert "epoch 0:" not in second and "epoch 2:" in second


@pytest.mark.parametrize("simulate", ["1", "run"], ids=["generic-paths", "emulated-kernels"])
def test_device_cuda_on_the_simulated_device_learns_and_resumes(simulate, tmp_path, monkeypatch):
    # the --device cuda plumbing (model, batches, evaluation, checkpoint map_location) on the
    # simulated device; a real GPU runs the same path through CuPy. With "run" the fused
    # kernels (cross-entropy, optimizer) compute on the CPU emulator
    if simulate == "run":
        from disttorch.cuda import _kernel_emulator
        if not _kernel_emulator.available():
            pytest.skip("no C++ compiler to run the fused kernels on the CPU emulator")
    monkeypatch.setenv("DISTTORCH_SIMULATE_CUDA", simulate)
    out = _run([sys.executable, SCRIPT, "--device", "cuda", "--epochs", "2"], tmp_path)
    assert "on 1 worker(s)" in out
    out = _run([sys.executable, SCRIPT, "--device", "cuda", "--epochs", "3"], tmp_path)
    assert "resumed from runs/digits/checkpoint.pt at epoch 2" in out
    assert float(out.strip().splitlines()[-1].split()[3]) > 0.8, out
