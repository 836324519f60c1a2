import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import disttorch
from disttorch.utils import data

from .conftest import assert_same, cut_short_epochs

pytestmark = pytest.mark.timeout(60)


def _tensors(n=50):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
    y = np.arange(n, dtype=np.int64) % 7
    return x, y


def _both(n=50):
    x, y = _tensors(n)
    return (data.TensorDataset(disttorch.from_numpy(x), disttorch.from_numpy(y)),
            tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))


class DictDataset:
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return {"x": np.full(3, i, dtype=np.float64), "i": i, "name": f"s{i}"}

    def __len__(self):
        return self.n


@pytest.mark.parametrize("kwargs", [dict(batch_size=8), dict(batch_size=8, drop_last=True),
                                    dict(batch_size=1), dict(batch_size=None)])
def test_sequential_batches_match_torch(kwargs):
    ours, theirs = _both()
    ours_batches = list(data.DataLoader(ours, **kwargs))
    theirs_batches = list(tud.DataLoader(theirs, **kwargs))
    assert len(ours_batches) == len(theirs_batches) == len(data.DataLoader(ours, **kwargs))
    for a, b in zip(ours_batches, theirs_batches):
        assert_same(a, b)


def test_dict_samples_and_batch_sampler_match_torch():
    batches = [[3, 1], [0, 7, 2], [5]]
    ours = list(data.DataLoader(DictDataset(8), batch_sampler=batches))
    theirs = list(tud.DataLoader(DictDataset(8), batch_sampler=batches))
    for a, b in zip(ours, theirs):
        assert_same(a, b)


def test_subset_of_tensor_dataset_matches_torch():
    ours, theirs = _both()
    indices = [5, 3, 40, 2, 9, 11, 0]
    a = list(data.DataLoader(data.Subset(ours, indices), batch_size=3))
    b = list(tud.DataLoader(tud.Subset(theirs, indices), batch_size=3))
    for x, y in zip(a, b):
        assert_same(x, y)


def test_distributed_sampler_loader_matches_torch():
    ours, theirs = _both(21)
    for rank in range(3):
        a = list(data.DataLoader(ours, batch_size=2, sampler=data.DistributedSampler(
            ours, 3, rank, shuffle=False)))
        b = list(tud.DataLoader(theirs, batch_size=2, sampler=tud.DistributedSampler(
            theirs, 3, rank, shuffle=False)))
        for x, y in zip(a, b):
            assert_same(x, y)


def test_custom_collate_and_shuffle_is_a_permutation():
    ours, _ = _both()
    loader = data.DataLoader(ours, batch_size=10, shuffle=True,
                             collate_fn=lambda samples: [int(s[1]) for s in samples])
    seen = [i for batch in loader for i in batch]
    assert sorted(seen) == sorted(int(v) for v in ours.tensors[1].numpy())


def test_argument_errors():
    ours, _ = _both()
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        data.DataLoader(ours, shuffle=True, sampler=data.SequentialSampler(ours))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        data.DataLoader(ours, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        data.DataLoader(ours, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        data.DataLoader(ours, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        data.DataLoader(ours, prefetch_factor=2)
    with pytest.raises(ValueError, match="multiprocessing_context option should specify"):
        data.DataLoader(ours, num_workers=1, multiprocessing_context="nope")
    loader = data.DataLoader(ours)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3


def test_iterable_dataset_in_main_process():
    class Stream(data.IterableDataset):
        def __iter__(self):
            assert data.get_worker_info() is None
            return iter(range(7))

        def __len__(self):
            return 7

    batches = [b.tolist() for b in data.DataLoader(Stream(), batch_size=3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(data.DataLoader(Stream(), batch_size=3)) == 3
    assert len(data.DataLoader(Stream(), batch_size=3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        data.DataLoader(Stream(), shuffle=True)


def test_pin_memory_without_cuda_warns_and_passes_batches_through():
    ours, _ = _both(10)
    if disttorch.cuda.is_available():
        pytest.skip("CUDA present: pinning is exercised instead")
    with pytest.warns(UserWarning, match="pin_memory"):
        batches = list(data.DataLoader(ours, batch_size=5, pin_memory=True))
    assert len(batches) == 2


def _epoch(loader):
    return [[t.numpy().copy() for t in batch] for batch in loader]


def _assert_batches_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("num_workers,persistent", [(0, False), (2, False), (2, True)])
def test_resume_mid_epoch_yields_exactly_the_unseen_batches(shuffle, num_workers, persistent):
    ours, _ = _both(45)

    def make(seed):
        return data.DataLoader(ours, batch_size=4, shuffle=shuffle, num_workers=num_workers,
                               persistent_workers=persistent,
                               generator=disttorch.Generator().manual_seed(seed))

    reference = make(1)
    _epoch(reference)
    second_epoch = _epoch(reference)
    loader = make(1)
    _epoch(loader)
    iterator = iter(loader)
    head = [[t.numpy().copy() for t in next(iterator)] for _ in range(5)]
    state = loader.state_dict()
    del iterator
    assert state["epoch"] == 1 and state["batches_yielded"] == 5 and state["samples_yielded"] == 20
    resumed = make(99)
    resumed.load_state_dict(state)
    tail = _epoch(resumed)
    _assert_batches_equal(head + tail, second_epoch)
    assert resumed.state_dict()["finished"] and resumed.state_dict()["epoch"] == 1


def test_resume_with_a_custom_batch_sampler_fast_forwards():
    ours, _ = _both(20)
    batches = [[i, i + 1] for i in range(0, 20, 2)]
    loader = data.DataLoader(ours, batch_sampler=batches)
    iterator = iter(loader)
    next(iterator), next(iterator), next(iterator)
    resumed = data.DataLoader(ours, batch_sampler=batches)
    resumed.load_state_dict(loader.state_dict())
    assert [b[1].tolist() for b in resumed] == [[y for y in ours.tensors[1].numpy()[b]]
                                                 for b in batches[3:]]


class Stream(data.IterableDataset):
    def __iter__(self):
        info = data.get_worker_info()
        if info is None:
            return iter(range(10))
        return iter(range(info.id, 10, info.num_workers))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_iterable_dataset_replays_and_discards(num_workers):
    def batches(loader):
        return [b.tolist() for b in loader]

    reference = batches(data.DataLoader(Stream(), batch_size=2, num_workers=num_workers))
    loader = data.DataLoader(Stream(), batch_size=2, num_workers=num_workers)
    iterator = iter(loader)
    next(iterator)
    next(iterator)
    resumed = data.DataLoader(Stream(), batch_size=2, num_workers=num_workers)
    resumed.load_state_dict(loader.state_dict())
    del iterator
    assert batches(resumed) == reference[2:]


def test_state_dict_of_a_fresh_or_just_loaded_loader():
    ours, _ = _both(8)
    fresh = data.DataLoader(ours, batch_size=4)
    assert fresh.state_dict()["epoch"] == 0 and fresh.state_dict()["batches_yielded"] == 0
    iterator = iter(data.DataLoader(ours, batch_size=4))
    source = iterator._progress
    next(iterator)
    state = source.state()
    loaded = data.DataLoader(ours, batch_size=4)
    loaded.load_state_dict(state)
    assert loaded.state_dict() == state
    fresh.load_state_dict(fresh.state_dict())
    assert len(list(fresh)) == 2


class Keyed:
    def __getitem__(self, key):
        return {"key": key, "value": np.full(2, len(key), dtype=np.int32)}


@pytest.mark.parametrize("num_workers", [0, 2])
def test_non_integer_and_numpy_indices_reach_the_dataset(num_workers):
    keyed = list(data.DataLoader(Keyed(), batch_sampler=[["a", "bb"], ["ccc"]],
                                 num_workers=num_workers))
    assert keyed[0]["key"] == ["a", "bb"] and keyed[1]["value"].tolist() == [[3, 3]]
    ours, _ = _both(10)
    numpy_batches = [np.array([3, 1], dtype=np.int32), np.array([7], dtype=np.int64)]
    got = [b[1].tolist() for b in data.DataLoader(ours, batch_sampler=numpy_batches,
                                                   num_workers=num_workers)]
    assert got == [[3, 1], [0]]
    single = [b[1].item() for b in data.DataLoader(ours, batch_size=None, num_workers=num_workers,
                                                    sampler=[np.int64(4), 2])]
    assert single == [4, 2]


def test_loader_state_before_iterating_and_after_an_epoch():
    ours, _ = _both(8)
    loader = data.DataLoader(ours, batch_size=4, shuffle=True)
    assert loader.state_dict()["batches_yielded"] == 0
    list(loader)
    finished = loader.state_dict()
    assert finished["finished"] and finished["epoch"] == 0
    fresh = data.DataLoader(ours, batch_size=4, shuffle=True)
    fresh.load_state_dict(finished)
    assert len(list(fresh)) == 2 and fresh.state_dict()["epoch"] == 1


@pytest.mark.parametrize("shuffle", [False, True])
def test_elastic_resume_2_to_3_ranks_sees_every_sample_once(shuffle):
    n = 50
    x = np.arange(n, dtype=np.int64)
    dataset = data.TensorDataset(disttorch.from_numpy(x))

    def loaders(replicas):
        return [data.DataLoader(dataset, batch_size=3, sampler=data.DistributedSampler(
            dataset, replicas, rank, shuffle=shuffle, seed=11)) for rank in range(replicas)]

    old = loaders(2)
    iterators = [iter(loader) for loader in old]
    seen = [v for it in iterators for _ in range(4) for v in next(it)[0].tolist()]
    states = [loader.state_dict() for loader in old]
    assert states[0]["sampler"] == states[1]["sampler"]
    assert states[0]["sampler"]["start"] == 24
    new = loaders(3)
    for loader in new:
        loader.load_state_dict(states[0])
    rest = [v for loader in new for batch in loader for v in batch[0].tolist()]
    assert len(rest) == 3 * len(new[0].sampler)
    assert set(seen + rest) == set(range(n))
    assert len(seen + rest) - n < 3, "only PyTorch's padding may repeat samples"


def test_progress_is_reported_to_the_launcher(monkeypatch):
    from launcher import worker
    calls = []
    monkeypatch.setattr(worker, "is_launched", lambda: True)
    monkeypatch.setattr(worker, "report_progress", lambda **kw: calls.append(kw))
    ours, _ = _both(12)
    with warnings.catch_warnings():
        list(data.DataLoader(ours, batch_size=4))
    assert [c["step"] for c in calls] == [1, 2, 3] and calls[-1]["epoch"] == 0


KINDS = ["shuffle", "shuffle drop_last", "num_samples", "replacement", "subset", "weighted",
         "batch_sampler", "unbatched"]


@pytest.mark.parametrize("cut", [None, 1, 3], ids=["whole", "cut1", "cut3"])
@pytest.mark.parametrize("use_generator", [True, False], ids=["generator", "default"])
@pytest.mark.parametrize("kind", KINDS)
def test_epochs_cut_short_draw_as_torch(kind, use_generator, cut):
    """Base seed at ``iter()``, each chunk of the pass when its first index is asked for."""
    assert cut_short_epochs(disttorch, kind, use_generator, cut) == \
        cut_short_epochs(torch, kind, use_generator, cut)


class EagerSampler:
    """Draws its order in ``__iter__`` itself (no generator function)."""

    def __init__(self, lib):
        self.lib = lib

    def __iter__(self):
        return iter(self.lib.randperm(6).tolist())

    def __len__(self):
        return 6


def test_a_sampler_drawing_in_iter_is_opened_before_the_base_seed():
    def run(lib):
        lib.manual_seed(3)
        loader = lib.utils.data.DataLoader(list(range(6)), batch_size=2,
                                           sampler=EagerSampler(lib))
        return [[b.tolist() for b in loader] for _ in range(2)], lib.rand(2).tolist()

    assert run(disttorch) == run(torch)


def test_an_iterable_dataset_is_opened_with_the_loader_iterator():
    def run(lib):
        class Stream(lib.utils.data.IterableDataset):
            def __iter__(self):
                return iter(lib.randperm(5).tolist())

        lib.manual_seed(4)
        iterator = iter(lib.utils.data.DataLoader(Stream(), batch_size=2))
        between = lib.rand(1).tolist()
        return between, [b.tolist() for b in iterator]

    assert run(disttorch) == run(torch)


def _lazy_loader(kind, seed, num_workers, persistent):
    generator = disttorch.Generator().manual_seed(seed)
    dataset = list(range(7))
    kwargs = dict(num_workers=num_workers, persistent_workers=persistent, generator=generator)
    if kind == "num_samples":
        kwargs.update(batch_size=3, sampler=data.RandomSampler(dataset, num_samples=20,
                                                               generator=generator))
    elif kind == "replacement":
        kwargs.update(batch_size=5, sampler=data.RandomSampler(
            dataset, replacement=True, num_samples=75, generator=generator))
    else:
        kwargs.update(batch_size=2, sampler=data.SubsetRandomSampler([1, 3, 5, 6, 0],
                                                                     generator=generator))
    return data.DataLoader(dataset, **kwargs), generator


@pytest.mark.parametrize("interleave", [False, True], ids=["alone", "interleaved"])
@pytest.mark.parametrize("kind", ["num_samples", "replacement", "subset"])
@pytest.mark.parametrize("num_workers,persistent", [(0, False), (2, False), (2, True)])
@pytest.mark.parametrize("saved_after", [1, 2, 3])
def test_resume_of_a_pass_drawn_in_chunks(kind, num_workers, persistent, saved_after,
                                          interleave):
    """Saved mid-pass, with chunks drawn before the save (replayed) and after it (drawn from
    the restored generator), and other draws from the generator between chunks: the rest of
    the epoch and the next epoch are those of the run that was not interrupted."""
    loader, generator = _lazy_loader(kind, 1, num_workers, persistent)
    list(loader)
    iterator = iter(loader)
    for _ in range(saved_after):
        next(iterator)
        if interleave:
            disttorch.rand(1, generator=generator)
    state = loader.state_dict()
    rest = [b.tolist() for b in iterator]
    following = [b.tolist() for b in loader]
    del iterator
    resumed, _ = _lazy_loader(kind, 99, num_workers, persistent)
    resumed.load_state_dict(state)
    assert [b.tolist() for b in resumed] == rest
    assert [b.tolist() for b in resumed] == following
    del loader, resumed
