"""Every example runs with tiny settings and prints what it reached; the launcher restarts the
digits job after an injected crash and it resumes from its checkpoint."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def _run(args, tmp_path, timeout=120, env=None):
    env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                          env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _example(name, *args):
    return [sys.executable, os.path.join(EXAMPLES, name), *args]


def test_quickstart_mlp(tmp_path):
    out = _run(_example("quickstart_mlp.py", "--epochs", "3", "--profile"), tmp_path)
    assert "Self CPU %" in out and "train_step" in out
    assert "checkpoint runs/quickstart/mlp.pt reloaded" in out
    accuracy = float(out.splitlines()[-1].split()[3])
    assert accuracy > 0.85, out
    records = [json.loads(line) for line in open(tmp_path / "runs/quickstart/metrics.jsonl")]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    assert {"loss", "accuracy", "test_accuracy", "samples_per_s"} <= set(records[0])


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                    reason="tensorboard is not installed (pip install tensorboard)")
def test_quickstart_mlp_tensorboard(tmp_path):
    _run(_example("quickstart_mlp.py", "--epochs", "1", "--tensorboard"), tmp_path)
    assert any(name.startswith("events.out.tfevents")
               for name in os.listdir(tmp_path / "runs/quickstart/tb/accuracy_test"))


def test_char_lm_trains_and_samples(tmp_path):
    out = _run(_example("char_lm.py", "--steps", "40", "--eval-every", "20",
                        "--sample-length", "40"), tmp_path)
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    assert len(steps) == 2
    first, last = (float(line.split()[6]) for line in (steps[0], steps[-1]))
    assert last < first, out
    sample = out.split("sample:\n")[1].split("\nfinal validation")[0]
    assert sample.startswith("disttorch ") and len(sample) == len("disttorch ") + 40


def test_custom_function(tmp_path):
    out = _run(_example("custom_function.py", "--epochs", "2"), tmp_path)
    assert "gradcheck Swish: True" in out
    assert "Swish gradient matches autograd's: True" in out
    assert float(out.splitlines()[-1].split()[4]) > 0.8, out


@pytest.mark.skipif(importlib.util.find_spec("disttorch.amp") is None,
                    reason="disttorch.amp is not available")
@pytest.mark.parametrize("dtype", ["auto", "float32"])
def test_mixed_precision(tmp_path, dtype):
    out = _run(_example("mixed_precision.py", "--epochs", "1", "--dtype", dtype), tmp_path)
    name = out.splitlines()[-1].split()[0]
    assert name in ("bfloat16", "float16", "float32")
    assert float(out.splitlines()[-1].split()[3]) > 0.7, out


def test_plots_written(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    _run(_example("quickstart_mlp.py", "--epochs", "1"), tmp_path)
    assert (tmp_path / "runs/quickstart/curves.png").stat().st_size > 1000


def test_launcher_restarts_and_resumes(tmp_path):
    launcher = shutil.which("disttorch-run", path=os.path.dirname(sys.executable))
    if launcher is None:
        pytest.skip("disttorch-run is not installed (pip install -e .)")
    out = _run([launcher, "--nproc-per-node", "2", "--max-restarts", "1",
                os.path.join(EXAMPLES, "train_digits.py"), "--epochs", "2",
                "--crash-at-step", "30"], tmp_path, timeout=240)
    assert "resumed from runs/digits/checkpoint.pt at epoch 1" in out
    assert "final test accuracy" in out and "on 2 worker(s)" in out


def test_ddp_tutorial_pattern_with_spawn_trains_and_checkpoints(tmp_path):
    out = _run(_example("ddp_spawn_digits.py", "--world-size", "2", "--epochs", "3"), tmp_path)
    lines = out.splitlines()
    assert "over 1438 samples on 2 ranks" in lines[0], out
    losses = [float(line.split()[4]) for line in lines[:3]]
    assert losses[2] < losses[0] / 2, out
    assert float(lines[-1].split()[-1]) > 0.85, out
    assert (tmp_path / "ddp_spawn_digits.pt").exists()


def test_hogwild_workers_train_the_parents_shared_model(tmp_path):
    out = _run(_example("hogwild_digits.py", "--processes", "2", "--epochs", "3"), tmp_path)
    assert "2 processes, 138 steps in all, shared parameters: True" in out, out
    before, after = (float(v) for v in out.splitlines()[-1].split()[2::2])
    # the parent never trained: only the workers' writes to the shared pages can do this
    assert before < 0.3 and after > 0.9, out
