import collections
import gc
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import disttorch
from disttorch.utils import data

from .conftest import cut_short_epochs

pytestmark = pytest.mark.timeout(60)

Pair = collections.namedtuple("Pair", ["image", "label"])


class Augmented(data.Dataset):
    """A per-sample numpy transform drawing from the worker's random streams."""

    def __init__(self, n=64):
        self.images = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)

    def __getitem__(self, i):
        return self.images[i] / 10.0, i

    def __len__(self):
        return len(self.images)


class RandomDraws(data.Dataset):
    def __getitem__(self, i):
        return np.array([random.random(), np.random.rand(), float(disttorch.rand(1).item())])

    def __len__(self):
        return 16


class Mixed(data.Dataset):
    def __getitem__(self, i):
        record = np.zeros(2, dtype=[("a", "<i4"), ("b", ">f8")])
        record["a"] = i
        return {"big": np.full((64, 300), i, dtype=np.float32), "name": f"s{i}",
                "swapped": np.full(3, i, dtype=">f8"), "record": record,
                "pair": Pair(np.int16(i), [i, float(i)]), "obj": {i}}

    def __len__(self):
        return 12


def _flat(batches, key=1):
    return [int(v) for b in batches for v in b[key].tolist()]


def test_two_workers_give_the_same_batches_in_the_same_order_as_none():
    dataset = Augmented()

    def run(num_workers):
        loader = data.DataLoader(dataset, batch_size=5, shuffle=True, num_workers=num_workers,
                                 generator=disttorch.Generator().manual_seed(4))
        return [[t.numpy().copy() for t in batch] for batch in loader]

    main, workers = run(0), run(2)
    assert sorted(_flat(main)) == sorted(_flat(workers)) == list(range(64))
    assert len(main) == len(workers)
    for a, b in zip(main, workers):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert [len(b[1]) for b in run(2)] == [len(b[1]) for b in workers]


def test_fast_path_through_workers_and_held_batches_stay_intact():
    x = np.random.default_rng(0).standard_normal((300, 129)).astype(np.float32)
    y = np.arange(300)
    dataset = data.TensorDataset(disttorch.from_numpy(x), disttorch.from_numpy(y))
    loader = data.DataLoader(dataset, batch_size=32, shuffle=True, num_workers=2,
                             generator=disttorch.Generator().manual_seed(0))
    held = list(loader)
    for images, labels in held:
        np.testing.assert_array_equal(images.numpy(), x[labels.numpy()])
    assert sorted(_flat(held)) == list(range(300))


def _collate_with_sets(samples):
    batch = data.default_collate([{k: v for k, v in s.items() if k not in ("obj", "record")}
                                  for s in samples])
    batch["obj"] = [s["obj"] for s in samples]
    batch["record"] = np.stack([s["record"] for s in samples])
    return batch


def test_large_arrays_arrive_as_shared_memory_views_small_ones_as_copies():
    from disttorch.utils.data._shm import _Lease

    def in_shared_memory(array):
        while array is not None and not isinstance(array, _Lease):
            array = array.base if isinstance(array, np.ndarray) else None
        return array is not None

    batch = next(iter(data.DataLoader(Mixed(), batch_size=4, num_workers=1,
                                      collate_fn=_collate_with_sets)))
    assert in_shared_memory(batch["big"]._data)
    assert not in_shared_memory(batch["pair"].image._data)


def test_unpicklable_dataset_with_spawn_raises_and_cleans_up():
    class Local(data.Dataset):
        def __getitem__(self, i):
            return i

        def __len__(self):
            return 2

    with pytest.raises(Exception, match="pickle|Can't get local object"):
        iter(data.DataLoader(Local(), num_workers=1, multiprocessing_context="spawn"))


def test_mixed_samples_and_namedtuples_through_workers():
    main = list(data.DataLoader(Mixed(), batch_size=4, collate_fn=_collate_with_sets))
    workers = list(data.DataLoader(Mixed(), batch_size=4, num_workers=2,
                                   collate_fn=_collate_with_sets))
    for a, b in zip(main, workers):
        np.testing.assert_array_equal(a["big"].numpy(), b["big"].numpy())
        assert a["name"] == b["name"] and a["obj"] == b["obj"]
        assert b["record"].dtype == a["record"].dtype
        np.testing.assert_array_equal(a["record"], b["record"])
        np.testing.assert_array_equal(a["swapped"].numpy(), b["swapped"].numpy())
        assert type(b["pair"]) is Pair
        np.testing.assert_array_equal(a["pair"].image.numpy(), b["pair"].image.numpy())


def test_batch_size_none_and_custom_collate_with_workers():
    items = list(data.DataLoader(Augmented(6), batch_size=None, num_workers=2))
    assert [int(i) for _, i in items] == list(range(6))
    joined = list(data.DataLoader(Augmented(6), batch_size=3, num_workers=2,
                                  collate_fn=lambda s: "-".join(str(i) for _, i in s)))
    assert joined == ["0-1-2", "3-4-5"]


def test_worker_seeds_are_distinct_and_reproducible():
    def run(seed):
        loader = data.DataLoader(RandomDraws(), batch_size=2, num_workers=2,
                                 generator=disttorch.Generator().manual_seed(seed))
        return [batch.numpy().copy() for batch in loader]

    first = run(0)
    worker0, worker1 = first[0::2], first[1::2]
    for column in range(3):
        values_0 = {v for b in worker0 for v in b[:, column]}
        values_1 = {v for b in worker1 for v in b[:, column]}
        assert not values_0 & values_1
    for a, b in zip(first, run(0)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.concatenate(first), np.concatenate(run(1)))


def test_worker_info_and_init_fn_shard_an_iterable_dataset():
    class Stream(data.IterableDataset):
        def __iter__(self):
            info = data.get_worker_info()
            return iter(range(info.id, 20, info.num_workers))

    def init(worker_id):
        info = data.get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        with pytest.raises(RuntimeError, match="Cannot assign attributes"):
            info.id = 5

    batches = list(data.DataLoader(Stream(), batch_size=3, num_workers=2, worker_init_fn=init))
    assert sorted(v for b in batches for v in b.tolist()) == list(range(20))
    assert batches[0].tolist() == [0, 2, 4] and batches[1].tolist() == [1, 3, 5]


class Failing(data.Dataset):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return i

    def __len__(self):
        return 10


def test_worker_exception_is_reraised_with_worker_id_and_traceback():
    loader = data.DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError,
                       match=r"Caught ValueError in DataLoader worker process 0") as info:
        list(loader)
    assert "bad sample 5" in str(info.value) and "__getitem__" in str(info.value)


def test_worker_init_fn_exception_is_reraised():
    def init(worker_id):
        raise KeyError("no such resource")

    with pytest.raises(KeyError, match="in DataLoader worker process"):
        list(data.DataLoader(Failing(), num_workers=1, worker_init_fn=init))


class Suicidal(data.Dataset):
    def __getitem__(self, i):
        if i == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return i

    def __len__(self):
        return 8


def test_worker_killed_by_signal_raises_naming_it():
    loader = data.DataLoader(Suicidal(), batch_size=1, num_workers=2)
    with pytest.raises(RuntimeError, match=r"DataLoader worker 1 \(pid \d+\) is killed by signal"
                                           r": Killed \(SIGKILL\)"):
        list(loader)


class Slow(data.Dataset):
    def __getitem__(self, i):
        time.sleep(30 if i == 2 else 0)
        return i

    def __len__(self):
        return 4


def test_timeout_raises_instead_of_waiting():
    loader = data.DataLoader(Slow(), num_workers=1, timeout=2)
    iterator = iter(loader)
    assert [next(iterator).item() for _ in range(2)] == [0, 1]
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 2 seconds"):
        next(iterator)


def test_garbage_collected_loader_stops_its_workers():
    loader = data.DataLoader(Augmented(), batch_size=4, num_workers=2, persistent_workers=True)
    iterator = iter(loader)
    next(iterator)
    processes = list(iterator._workers)
    assert all(p.is_alive() for p in processes)
    del iterator, loader
    gc.collect()
    assert not any(p.is_alive() for p in processes)


def test_abandoned_iterator_stops_its_workers():
    iterator = iter(data.DataLoader(Slow(), num_workers=2))
    next(iterator)
    processes = list(iterator._workers)
    del iterator
    assert not any(p.is_alive() for p in processes)


def test_persistent_workers_across_epochs_and_an_early_break():
    loader = data.DataLoader(RandomDraws(), batch_size=2, num_workers=2, persistent_workers=True,
                             generator=disttorch.Generator().manual_seed(0))
    first = [b.numpy().copy() for b in loader]
    pids = [p.pid for p in loader._iterator._workers]
    for batch in loader:
        break
    second = [b.numpy().copy() for b in loader]
    assert [p.pid for p in loader._iterator._workers] == pids
    assert len(first) == len(second) == 8
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    reference = data.DataLoader(RandomDraws(), batch_size=2, num_workers=2,
                                generator=disttorch.Generator().manual_seed(0))
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(first, reference))
    del loader


def _rss_private_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty"))


class PythonLists(data.Dataset):
    def __init__(self):
        self.rows = [[float(i), float(i) * 2, str(i)] for i in range(20000)]

    def __getitem__(self, i):
        row = self.rows[i]
        return np.array(row[:2], dtype=np.float32)

    def __len__(self):
        return len(self.rows)


def test_memory_stays_flat_over_epochs_with_persistent_workers_and_python_lists():
    loader = data.DataLoader(PythonLists(), batch_size=500, shuffle=True, num_workers=2,
                             persistent_workers=True)
    list(loader)
    list(loader)
    pids = [p.pid for p in loader._iterator._workers]
    workers_before = [_rss_private_kib(pid) for pid in pids]
    for _ in range(4):
        for _ in loader:
            pass
    workers_after = [_rss_private_kib(pid) for pid in pids]
    # Slots are reused: a few per worker (prefetched batches plus the one being consumed).
    assert len(loader._iterator._slots.maps) <= 2 * (loader.prefetch_factor + 2)
    for before, after in zip(workers_before, workers_after):
        assert after - before < 2048, (workers_before, workers_after)


_CHILD = textwrap.dedent("""
    import signal, sys, time
    # Ctrl-C as in a terminal whatever the test runner left: a child inherits an ignored or
    # blocked SIGINT, and then Python installs no KeyboardInterrupt handler
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    from disttorch.utils import data

    class Slow(data.Dataset):
        def __getitem__(self, i):
            time.sleep(0.05)
            return np.full(1000, i)
        def __len__(self):
            return 10 ** 6

    loader = data.DataLoader(Slow(), batch_size=2, num_workers=2, persistent_workers=True)
    try:
        iterator = iter(loader)
        next(iterator)
        print(" ".join(str(p.pid) for p in iterator._workers), flush=True)
        for _ in iterator:
            time.sleep(float(sys.argv[1]))
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise
""")


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _run_child(body_sleep=0.0):
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(body_sleep)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                 os.path.dirname(os.path.abspath(__file__))))))
    pids = [int(p) for p in child.stdout.readline().split()]
    assert len(pids) == 2, child.stderr.read()
    return child, pids


def _wait_gone(pids, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    return all(_gone(p) for p in pids)


def _child_segments(pid):
    from disttorch.utils.data import _shm
    return [n for n in os.listdir(_shm._SHM_DIR) if n.startswith(f"dtdl_{pid}_")]


@pytest.mark.parametrize("body_sleep", [0.0, 0.5], ids=["in-next", "in-loop-body"])
def test_ctrl_c_stops_every_worker_and_leaves_no_segments(body_sleep):
    child, pids = _run_child(body_sleep)
    time.sleep(0.1)
    os.killpg(child.pid, signal.SIGINT)
    try:
        out, err = child.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)   # a failed run leaves no process behind
        child.communicate()
        raise
    assert "interrupted" in out and "KeyboardInterrupt" in err, (out, err)
    assert _wait_gone(pids)
    assert not _child_segments(child.pid)


def test_killed_main_process_leaves_no_orphan_workers():
    child, pids = _run_child()
    child.kill()
    child.communicate(timeout=20)
    assert _wait_gone(pids), "workers outlived their main process"
    assert not _child_segments(child.pid)


def test_spawn_context_is_honoured():
    loader = data.DataLoader(Augmented(8), batch_size=4, num_workers=1,
                             multiprocessing_context="spawn")
    assert _flat(list(loader)) == list(range(8))


class Stream(data.IterableDataset):
    def __iter__(self):
        info = data.get_worker_info()
        return iter(range(info.id, 9, info.num_workers))


def test_persistent_iterable_workers_restart_their_streams_each_epoch():
    loader = data.DataLoader(Stream(), batch_size=2, num_workers=2, persistent_workers=True)
    first = sorted(v for b in loader for v in b.tolist())
    for _ in loader:
        break
    again = sorted(v for b in loader for v in b.tolist())
    assert first == again == list(range(9))
    del loader


def test_iterator_after_a_worker_error_is_exhausted():
    iterator = iter(data.DataLoader(Failing(), batch_size=2, num_workers=1))
    with pytest.raises(ValueError):
        list(iterator)
    assert next(iterator, "done") == "done"


def test_out_of_order_loading_yields_every_batch_and_refuses_to_save_mid_epoch():
    loader = data.DataLoader(Augmented(40), batch_size=4, num_workers=2, in_order=False)
    iterator = iter(loader)
    first = next(iterator)
    with pytest.raises(RuntimeError, match="in_order=False"):
        loader.state_dict()
    rest = list(iterator)
    assert sorted(_flat([first] + rest)) == list(range(40))
    assert loader.state_dict()["finished"]


def test_persistent_worker_killed_between_epochs_is_named_at_the_next_epoch():
    loader = data.DataLoader(Augmented(8), batch_size=4, num_workers=2, persistent_workers=True)
    list(loader)
    victim = loader._iterator._workers[1]
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(10)
    with pytest.raises(RuntimeError, match=r"DataLoader worker 1 \(pid \d+\) is killed by signal"):
        list(loader)
    assert not any(p.is_alive() for p in loader._iterator._workers)
    assert _flat(list(loader)) == list(range(8)), "a new pool serves the next epoch"
    del loader


@pytest.mark.parametrize("cut", [None, 1], ids=["whole", "cut1"])
@pytest.mark.parametrize("use_generator", [True, False], ids=["generator", "default"])
@pytest.mark.parametrize("kind,persistent", [("shuffle", False), ("shuffle", True),
                                             ("num_samples", False), ("num_samples", True),
                                             ("replacement", False), ("batch_sampler", False)])
def test_epochs_with_workers_draw_as_torch(kind, persistent, use_generator, cut):
    """The sampler is advanced ``prefetch_factor * num_workers`` batches ahead when the
    iterator is created, then by one batch per batch yielded; a persistent iterator draws
    its base seed once."""
    assert cut_short_epochs(disttorch, kind, use_generator, cut, 2, persistent) == \
        cut_short_epochs(torch, kind, use_generator, cut, 2, persistent)


def test_persistent_workers_draw_the_base_seed_once():
    def epochs(lib):
        loader = lib.utils.data.DataLoader(range(6), batch_size=6, shuffle=True, num_workers=1,
                                           persistent_workers=True,
                                           generator=lib.Generator().manual_seed(0))
        return [batch.tolist() for _ in range(3) for batch in loader]

    assert epochs(disttorch) == epochs(torch)
    assert epochs(disttorch)[1] == [0, 5, 4, 1, 2, 3]


class SeedReport:
    """What a worker's random streams give, as torch or disttorch sees them."""

    def __init__(self, lib):
        self.lib = lib

    def __getitem__(self, i):
        lib = self.lib
        return {"initial_seed": lib.initial_seed(), "info_seed": data.get_worker_info().seed
                if lib is disttorch else tud.get_worker_info().seed,
                "random": random.random(), "numpy": float(np.random.rand()),
                "numpy int": int(np.random.randint(0, 2 ** 31)), "rand": lib.rand(3)}

    def __len__(self):
        return 6


def _seed_reports(lib, persistent=False):
    loader = lib.utils.data.DataLoader(SeedReport(lib), batch_size=None, num_workers=2,
                                       persistent_workers=persistent,
                                       generator=lib.Generator().manual_seed(0))
    return [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in sample.items()}
            for _ in range(2) for sample in loader]


@pytest.mark.parametrize("persistent", [False, True])
def test_worker_random_streams_are_torchs(persistent):
    ours, theirs = _seed_reports(disttorch, persistent), _seed_reports(torch, persistent)
    assert ours == theirs
    assert [r["initial_seed"] for r in ours[:2]] == [900450186894289455, 900450186894289456]
    assert all(r["info_seed"] == r["initial_seed"] for r in ours)


@pytest.mark.parametrize("base_seed", [0, 1, 900450186894289455, 2 ** 32, 2 ** 63 - 1])
@pytest.mark.parametrize("worker_id", [0, 1, 7])
def test_numpy_worker_seed_is_torchs_generate_state(base_seed, worker_id):
    from torch.utils.data._utils.worker import _generate_state
    from disttorch.utils.data._worker import numpy_seed
    assert numpy_seed(base_seed, worker_id).tolist() == _generate_state(base_seed, worker_id)


class MissingKey(data.Dataset):
    def __getitem__(self, i):
        return {}["missing"]

    def __len__(self):
        return 2


def test_worker_key_error_message_is_readable_as_torchs():
    with pytest.raises(KeyError) as info:
        list(data.DataLoader(MissingKey(), num_workers=1))
    message = str(info.value)
    with pytest.raises(KeyError) as torch_info:
        list(tud.DataLoader(MissingKey(), num_workers=1))
    expected = str(torch_info.value)
    head = ("Caught KeyError in DataLoader worker process 0.\n"
            "Original Traceback (most recent call last):\n")
    assert message.startswith(head) and expected.startswith(head)
    assert message.endswith("KeyError: 'missing'\n") and expected.endswith(message[-40:])
    assert message == info.value.args[0], "str() of the KeyError must not be a repr"


class NamedMessage(Exception):
    message = "takes its message by name"

    def __init__(self, *, message):
        super().__init__(message)


class TwoArguments(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


class RaisesThese(data.Dataset):
    def __init__(self, error):
        self.error = error

    def __getitem__(self, i):
        raise self.error

    def __len__(self):
        return 2


@pytest.mark.parametrize("error,raised", [(NamedMessage(message="boom"), NamedMessage),
                                          (TwoArguments(1, 2), RuntimeError)])
def test_worker_exceptions_that_take_other_arguments(error, raised):
    with pytest.raises(raised, match=r"^Caught \w+ in DataLoader worker process 0\.\n"
                                     r"Original Traceback") as info:
        list(data.DataLoader(RaisesThese(error), num_workers=1))
    assert type(info.value) is raised
    with pytest.raises(raised):
        list(tud.DataLoader(RaisesThese(error), num_workers=1))
