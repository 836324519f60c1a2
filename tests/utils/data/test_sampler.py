import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch.utils.data as tud

import disttorch
from disttorch.utils import data
from disttorch.utils.data.distributed import DistributedSampler


def test_sequential_and_batch_sampler_match_torch():
    for drop_last in (False, True):
        ours = data.BatchSampler(data.SequentialSampler(range(10)), 3, drop_last)
        theirs = tud.BatchSampler(tud.SequentialSampler(range(10)), 3, drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_batch_sampler_over_plain_iterable():
    assert list(data.BatchSampler([5, 4, 3, 2, 1], 2, False)) == [[5, 4], [3, 2], [1]]


def test_sampler_validation_messages():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        data.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        data.BatchSampler(range(3), 1, 0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        data.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        data.RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        data.WeightedRandomSampler([[1.0]], 1)


def test_random_sampler_is_a_seeded_permutation():
    first = list(data.RandomSampler(range(50), generator=disttorch.Generator().manual_seed(3)))
    again = list(data.RandomSampler(range(50), generator=disttorch.Generator().manual_seed(3)))
    assert first == again and sorted(first) == list(range(50)) and first != list(range(50))
    sampler = data.RandomSampler(range(50))
    assert list(sampler) != list(sampler)


def test_random_sampler_num_samples_and_replacement():
    sampler = data.RandomSampler(range(4), num_samples=10)
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 10
    assert sorted(drawn[:8]) == sorted(list(range(4)) * 2)
    with_replacement = list(data.RandomSampler(range(4), replacement=True, num_samples=100))
    assert len(with_replacement) == 100 and set(with_replacement) <= set(range(4))


def test_subset_and_weighted_samplers():
    subset = list(data.SubsetRandomSampler([7, 3, 9]))
    assert sorted(subset) == [3, 7, 9]
    weighted = list(data.WeightedRandomSampler([0.0, 1.0, 0.0, 1.0], 50))
    assert len(weighted) == 50 and set(weighted) <= {1, 3}
    unique = list(data.WeightedRandomSampler([1.0, 1.0, 1.0, 0.5], 4, replacement=False))
    assert sorted(unique) == [0, 1, 2, 3]


@pytest.mark.parametrize("sampler_fn", [
    lambda: data.SequentialSampler(range(20)),
    lambda: data.RandomSampler(range(20)),
    lambda: data.RandomSampler(range(20), replacement=True, num_samples=30),
    lambda: data.SubsetRandomSampler(list(range(0, 40, 2))),
    lambda: data.WeightedRandomSampler(np.linspace(0.1, 1.0, 20), 25),
])
def test_sampler_state_dict_resumes_the_pass(sampler_fn):
    sampler = sampler_fn()
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(7)]
    state = sampler.state_dict()
    tail = list(iterator)
    fresh = sampler_fn()
    fresh.load_state_dict(state)
    assert list(fresh) == tail
    assert len(head) == 7


@pytest.mark.parametrize("make", [
    lambda g: data.RandomSampler(range(9), num_samples=20, generator=g),
    lambda g: data.RandomSampler(range(9), replacement=True, num_samples=70, generator=g),
    lambda g: data.SubsetRandomSampler([3, 1, 4, 1, 5, 9], generator=g),
], ids=["permutations", "replacement", "subset"])
def test_a_state_saved_before_passes_were_drawn_lazily_still_resumes(make):
    """Earlier states name the generator state the whole pass was drawn from at once."""
    generator = disttorch.Generator().manual_seed(5)
    before = bytes(generator.get_state()._data)
    whole = list(make(generator))
    after = bytes(generator.get_state()._data)
    old_state = {"pass": {"state": before}, "consumed": 7, "generator": after}
    resumed = make(disttorch.Generator())
    resumed.load_state_dict(old_state)
    assert list(resumed) == whole[7:]
    assert bytes(resumed.generator.get_state()._data) == after


def test_a_saved_position_is_small_and_names_the_chunks_drawn():
    generator = disttorch.Generator().manual_seed(1)
    sampler = data.RandomSampler(range(10), num_samples=25, generator=generator)
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(12)]
    state = sampler.state_dict()
    assert state["pass"]["drawn"] == 2 and [c for c, _ in state["pass"]["marks"]] == [0]
    rest = list(iterator)
    resumed = data.RandomSampler(range(10), num_samples=25, generator=disttorch.Generator())
    resumed.load_state_dict(state)
    assert list(resumed) == rest and len(head + rest) == 25
    assert resumed.generator.get_state().tolist() == generator.get_state().tolist()


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 4, False),
                                                  (12, 4, False), (11, 2, True)])
def test_distributed_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tud.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                        drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


def test_distributed_sampler_shuffled_shards_partition_an_epoch():
    shards = [list(DistributedSampler(range(13), 3, r, seed=5)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    flat = sum(shards, [])
    assert set(flat) == set(range(13)) and len(flat) == 15
    again = [list(DistributedSampler(range(13), 3, r, seed=5)) for r in range(3)]
    assert shards == again
    sampler = DistributedSampler(range(13), 3, 0, seed=5)
    sampler.set_epoch(1)
    assert list(sampler) != shards[0]


def test_distributed_sampler_rank_errors():
    with pytest.raises(ValueError,
                       match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=3, rank=-1)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))


def test_distributed_sampler_uses_process_group(monkeypatch):
    import disttorch.distributed as dist
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: 4)
    monkeypatch.setattr(dist, "get_rank", lambda *a, **k: 2)
    sampler = DistributedSampler(range(8), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (4, 2)
    assert list(sampler) == [2, 6]
    assert data.DistributedSampler is DistributedSampler


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_elastic_resume_2_to_3_ranks(shuffle, drop_last):
    n = 23
    old = [DistributedSampler(range(n), 2, r, shuffle=shuffle, seed=7, drop_last=drop_last)
           for r in range(2)]
    for s in old:
        s.set_epoch(3)
    iterators = [iter(s) for s in old]
    consumed = [[next(it) for _ in range(4)] for it in iterators]
    states = [s.state_dict() for s in old]
    assert states[0] == states[1] and states[0]["start"] == 8
    new = [DistributedSampler(range(n), 3, r, shuffle=shuffle, seed=7, drop_last=drop_last)
           for r in range(3)]
    for s in new:
        s.load_state_dict(states[0])
        s.set_epoch(3)
    rest = [list(s) for s in new]
    assert len({len(r) for r in rest}) == 1 and len(rest[0]) == len(new[0])
    seen = sum(consumed, []) + sum(rest, [])
    if drop_last:
        assert len(seen) == len(set(seen))
        assert len(set(seen)) >= n - 3
    else:
        assert set(seen) == set(range(n))
        assert len(seen) - n < 3, "only PyTorch's padding may repeat samples"
    for s in new:
        s.set_epoch(4)
        assert len(list(s)) == len(s) == (n // 3 if drop_last else -(-n // 3))


@pytest.mark.timeout(120)
def test_elastic_resume_under_mpiexec_2_then_3_ranks(tmp_path):
    """Real ranks: 2 ranks save mid-epoch with worker processes, 3 ranks finish it."""
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                           os.environ.get("PATH", ""))
    if mpiexec is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    script = os.path.join(os.path.dirname(__file__), "workers", "elastic.py")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    before = set(glob.glob("/dev/shm/mpich_shm_*"))
    state = str(tmp_path / "checkpoint.pt")
    try:
        seen = []
        for phase, n in (("save", 2), ("resume", 3)):
            proc = subprocess.run([mpiexec, "-n", str(n), sys.executable, script, phase, state],
                                  capture_output=True, text=True, timeout=100, env=env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            line = next(x for x in proc.stdout.splitlines() if x.startswith("SEEN "))
            per_rank = json.loads(line[5:])
            assert len(per_rank) == n and len({len(r) for r in per_rank}) == 1
            seen += sum(per_rank, [])
    finally:
        for path in set(glob.glob("/dev/shm/mpich_shm_*")) - before:
            os.unlink(path)
    assert set(seen) == set(range(50))
    assert len(seen) - 50 < 3, "only PyTorch's padding may repeat samples"
