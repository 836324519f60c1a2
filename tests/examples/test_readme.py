"""The README's Python snippets run, and every file its commands name exists."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_python_snippet_runs(index, tmp_path):
    proc = subprocess.run([sys.executable, "-c", SNIPPETS[index]], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, SNIPPETS[index] + proc.stderr


def test_training_loop_snippet_learns(tmp_path):
    loop = next(s for s in SNIPPETS if "DataLoader" in s)
    out = subprocess.run([sys.executable, "-c", loop], cwd=tmp_path, text=True,
                         capture_output=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    assert float(out.split("accuracy")[1]) > 0.9, out
    assert (tmp_path / "model.pt").exists()


def test_named_files_exist():
    paths = set(re.findall(r"(?:examples|cluster|benchmarks)/[\w./-]+\.(?:py|sbatch|example|png|md)",
                           README))
    assert paths
    missing = sorted(p for p in paths if not os.path.exists(os.path.join(ROOT, p))
                     and not p.startswith("benchmarks/results/"))
    assert not missing, missing


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_python_snippet_runs_on_torch(index, tmp_path):
    pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")
    source = SNIPPETS[index].replace("disttorch", "torch")
    proc = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, source + proc.stderr
