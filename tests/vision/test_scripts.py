"""The classic image-training scripts (MNIST with LeNet, CIFAR-10 with a ResNet, data-parallel
CIFAR-10 under mpiexec), written for torch + torchvision with only the imports swapped, run
end to end on small dataset files."""
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import disttorch
from disttorch.vision import models
from tests.vision.test_datasets import make_cifar10, make_mnist

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_mnist_lenet_script(tmp_path):
    make_mnist(tmp_path, n_train=12, n_test=6, compress=True)
    out = run([sys.executable, os.path.join(SCRIPTS, "train_mnist.py"), "--root", str(tmp_path)])
    assert "epoch 0 train loss" in out and "correct" in out and "/6" in out


def test_cifar_resnet_script_with_workers(tmp_path):
    make_cifar10(tmp_path, per_batch=4)
    checkpoint = tmp_path / "resnet18.pt"
    out = run([sys.executable, os.path.join(SCRIPTS, "train_cifar.py"), "--root", str(tmp_path),
               "--checkpoint", str(checkpoint)])
    assert "epoch 0 loss" in out and "test accuracy" in out
    model = models.resnet18(num_classes=10)
    model.load_state_dict(disttorch.load(checkpoint))
    assert np.isfinite(model.fc.weight.detach().numpy()).all()


def test_data_parallel_cifar_script(tmp_path):
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                           + os.environ.get("PATH", ""))
    if mpiexec is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    make_cifar10(tmp_path, per_batch=2)
    before = set(glob.glob("/dev/shm/mpich_shm_*"))
    try:
        out = run([mpiexec, "-n", "2", sys.executable, os.path.join(SCRIPTS, "ddp_cifar.py"),
                   "--root", str(tmp_path)])
    finally:
        # MPICH leaves its shared-memory segments behind when a rank is killed
        for path in set(glob.glob("/dev/shm/mpich_shm_*")) - before:
            os.unlink(path)
    assert "ranks 2 samples [5, 5] same weights True" in out
