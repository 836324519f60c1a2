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


def _loader_for(lib, kind, generator, num_workers, persistent):
    data = lib.utils.data
    dataset = list(range(7))
    kwargs = {"num_workers": num_workers, "generator": generator}
    if persistent:
        kwargs["persistent_workers"] = True
    if kind == "shuffle":
        kwargs.update(batch_size=2, shuffle=True)
    elif kind == "shuffle drop_last":
        kwargs.update(batch_size=2, shuffle=True, drop_last=True)
    elif kind == "num_samples":       # three permutations, the last one cut
        kwargs.update(batch_size=3, sampler=data.RandomSampler(dataset, num_samples=16,
                                                               generator=generator))
    elif kind == "replacement":       # randint chunks of 32
        kwargs.update(batch_size=5, sampler=data.RandomSampler(
            dataset, replacement=True, num_samples=70, generator=generator))
    elif kind == "subset":
        kwargs.update(batch_size=2, sampler=data.SubsetRandomSampler([1, 3, 5, 6, 0],
                                                                     generator=generator))
    elif kind == "weighted":
        kwargs.update(batch_size=2, sampler=data.WeightedRandomSampler(
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 9, generator=generator))
    elif kind == "batch_sampler":
        kwargs.update(batch_sampler=data.BatchSampler(
            data.RandomSampler(dataset, generator=generator), 3, False))
    elif kind == "unbatched":
        kwargs.update(batch_size=None, shuffle=True)
    else:
        raise ValueError(kind)
    return data.DataLoader(dataset, **kwargs)


def cut_short_epochs(lib, kind, use_generator, cut, num_workers=0, persistent=False):
    """Three epochs of a seeded loader, each stopped after ``cut`` batches (None: run to the
    end), then what the generators give next: the draws the loader made, epoch by epoch."""
    lib.manual_seed(11)
    generator = lib.Generator().manual_seed(0) if use_generator else None
    loader = _loader_for(lib, kind, generator, num_workers, persistent)
    seen = []
    for _ in range(3):
        for count, batch in enumerate(loader, 1):
            seen.append(batch.tolist() if hasattr(batch, "tolist") else batch)
            if count == cut:
                break
    seen.append(lib.rand(2).tolist())
    if generator is not None:
        seen.append(lib.rand(2, generator=generator).tolist())
    del loader
    return seen
