import gc
import multiprocessing
import os

import numpy as np
import pytest
import torch

import disttorch

from disttorch.utils.data import _shm


def _segments():
    """This process's loader segments (other test runs may share /dev/shm)."""
    prefix = f"dtdl_{os.getpid()}_"
    try:
        return {n for n in os.listdir(_shm._SHM_DIR) if n.startswith(prefix)}
    except OSError:
        return set()


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test must leave no worker process and no shared-memory segment behind."""
    before = _segments()
    yield
    if _segments() - before or multiprocessing.active_children():
        # Loaders caught in reference cycles are collected here; anything still left leaked.
        gc.collect()
    leaked = _segments() - before
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
        child.join()
    for name in leaked:
        _shm.unlink(name)
    assert not children, f"worker processes left running: {children}"
    assert not leaked, f"shared-memory segments leaked: {sorted(leaked)}"


def assert_same(ours, theirs):
    """A disttorch batch equals a torch batch: same containers, dtypes, shapes, values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, disttorch.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours).__name__ == type(theirs).__name__ and list(ours) == list(theirs)
        for key in theirs:
            assert_same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours).__name__ == type(theirs).__name__ and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    else:
        assert ours == theirs
