"""disttorch.multiprocessing and Tensor.share_memory_: shared CPU memory across processes
(in process through multiprocessing's pickler, and across real spawned processes), and
spawn's process watching, with PyTorch's messages."""
import gc
import os
import pickle
import signal
import sys
import time
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import disttorch
import disttorch.multiprocessing as mp
from tests.ops.harness import requires_torch


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


def _roundtrip(obj):
    """What another process would receive: multiprocessing's pickler both ways (the file
    descriptor travels through multiprocessing's resource sharer, here to this process)."""
    return ForkingPickler.loads(ForkingPickler.dumps(obj))


# ------------------------------------------------------------------- share_memory_
@pytest.mark.parametrize("dtype", [disttorch.float32, disttorch.float64, disttorch.int64,
                                   disttorch.bool, disttorch.bfloat16, disttorch.complex64,
                                   disttorch.uint8])
def test_share_memory_keeps_values_and_dtype(dtype):
    source = disttorch.arange(12).reshape(3, 4).to(dtype)
    t = source.clone()
    assert not t.is_shared()
    assert t.share_memory_() is t
    assert t.is_shared() and t.dtype == dtype
    assert disttorch.equal(t, source)
    # already shared: nothing moves
    data = t._data
    t.share_memory_()
    assert t._data is data


def test_share_memory_of_scalars_empty_and_non_contiguous_tensors():
    s = disttorch.tensor(3.5).share_memory_()
    assert s.is_shared() and s.shape == () and s.item() == 3.5
    e = disttorch.empty(0, 4).share_memory_()
    assert e.is_shared() and e.shape == (0, 4)
    # a transposed numpy array as a tensor's own memory: values and shape survive the move
    t = disttorch.from_numpy(np.arange(6.0).reshape(2, 3).T.copy(order="K"))
    expected = t.tolist()
    t.share_memory_()
    assert t.tolist() == expected


def test_share_memory_of_a_view_moves_the_tensor_it_views():
    base = disttorch.arange(12.0)
    row = base.view(3, 4)[1]
    row.share_memory_()
    assert base.is_shared() and row.is_shared()
    row += 100
    assert base.tolist()[4:8] == [104.0, 105.0, 106.0, 107.0]
    assert base.tolist()[:4] == [0.0, 1.0, 2.0, 3.0]


def test_a_view_older_than_its_shared_base_is_refused():
    base = disttorch.arange(6.0)
    stale = base[2:]
    base.share_memory_()
    with pytest.raises(RuntimeError, match="view made before the tensor it views moved"):
        stale.share_memory_()


def test_module_share_memory_shares_parameters_buffers_and_grads():
    model = disttorch.nn.Sequential(disttorch.nn.Linear(3, 2), disttorch.nn.BatchNorm1d(2))
    model(disttorch.randn(4, 3)).sum().backward()
    weight = model[0].weight
    model.share_memory()
    assert model[0].weight is weight       # optimizers holding the parameter keep working
    assert all(p.is_shared() for p in model.parameters())
    assert all(b.is_shared() for b in model.buffers())
    assert all(p.grad.is_shared() for p in model.parameters())


def test_cuda_tensors_count_as_shared():
    # (the simulated device: a GPU tensor is shared between processes through CUDA IPC in
    # PyTorch, so share_memory_ leaves it alone)
    from disttorch.cuda import _simulated
    with _simulated.simulate():
        t = disttorch.ones(2, device="cuda")
        assert t.is_shared() and t.share_memory_() is t


# ------------------------------------------------------------------ the pickler
def test_pickling_through_multiprocessing_shares_the_memory():
    t = disttorch.zeros(2, 3)
    received = _roundtrip(t)
    # sending moved the sender's tensor to shared memory, as PyTorch does
    assert t.is_shared() and received.is_shared()
    received[0, 1] = 7.0
    assert t[0, 1].item() == 7.0
    t[1] = 2.0
    assert received[1].tolist() == [2.0, 2.0, 2.0]
    # a view travels as a view of the same memory
    column = _roundtrip(t[:, 1])
    column += 1
    assert t[:, 1].tolist() == [8.0, 3.0]


def test_pickled_parameters_and_requires_grad_survive():
    p = disttorch.nn.Parameter(disttorch.ones(3))
    q = _roundtrip(p)
    assert type(q) is disttorch.nn.Parameter and q.requires_grad
    leaf = _roundtrip(disttorch.ones(2, requires_grad=True))
    assert leaf.requires_grad and leaf.is_leaf
    frozen = _roundtrip(disttorch.nn.Parameter(disttorch.ones(2), requires_grad=False))
    assert not frozen.requires_grad


@requires_torch
def test_non_leaf_tensors_are_refused_with_torchs_message():
    import torch
    import torch.multiprocessing  # noqa: F401  (registers torch's reductions)
    ours = disttorch.ones(2, requires_grad=True) * 2
    theirs = torch.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError) as expected:
        ForkingPickler.dumps(theirs)
    with pytest.raises(RuntimeError) as actual:
        ForkingPickler.dumps(ours)
    assert str(actual.value) == str(expected.value)
    # detached, it travels
    assert _roundtrip(ours.detach()).tolist() == [2.0, 2.0]


def test_plain_pickle_still_copies():
    t = disttorch.arange(4.0).share_memory_()
    copy = pickle.loads(pickle.dumps(t))
    copy += 1
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0] and not copy.is_shared()


def test_shared_memory_is_released_with_the_last_tensor():
    gc.collect()
    before = _open_fds()
    tensors = [disttorch.ones(1000).share_memory_() for _ in range(20)]
    received = [_roundtrip(t) for t in tensors]
    assert _open_fds() >= before + 20
    del tensors, received
    gc.collect()
    assert _open_fds() == before


def test_sharing_strategies():
    assert mp.get_all_sharing_strategies() == {"file_descriptor"}
    assert mp.get_sharing_strategy() == "file_descriptor"
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(AssertionError, match="invalid sharing strategy 'file_system'"):
        mp.set_sharing_strategy("file_system")


def test_module_exports_multiprocessing_and_spawn():
    import multiprocessing
    assert mp.Queue is multiprocessing.Queue and mp.get_context is multiprocessing.get_context
    assert callable(mp.spawn) and callable(mp.start_processes)
    assert hasattr(disttorch, "multiprocessing") and not hasattr(disttorch, "hub")


# ----------------------------------------------------------------------- spawn
def _train(rank, model, counts, queue, done):
    with disttorch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    counts[rank] = rank + 10
    queue.put(disttorch.full((2,), float(rank)))
    # the receiver takes the memory's descriptor from this process: stay until it has
    done.wait(60)


def _raise_on_one(rank):
    if rank == 1:
        raise ValueError(f"rank {rank} fails")
    time.sleep(60)


def _exit(rank, how):
    if rank == 0:
        if how == "signal":
            os.kill(os.getpid(), signal.SIGKILL)
        sys.exit(3)
    time.sleep(60)


def _sleep(rank, seconds):
    time.sleep(seconds)


@pytest.mark.timeout(120)
def test_spawn_shares_a_model_and_tensors_both_ways():
    model = disttorch.nn.Linear(2, 2)
    model.share_memory()
    before = model.weight.clone()
    counts = disttorch.zeros(3)
    context = mp.get_context("spawn")
    queue, done = context.Queue(), context.Event()
    job = mp.spawn(_train, args=(model, counts, queue, done), nprocs=2, join=False)
    received = sorted(queue.get(timeout=60).tolist() for _ in range(2))
    done.set()
    while not job.join(60):     # one call returns once some process has finished
        pass
    assert received == [[0.0, 0.0], [1.0, 1.0]]
    # each process added 1 to every parameter of the one shared model
    assert disttorch.allclose(model.weight, before + 2)
    assert counts.tolist() == [10.0, 11.0, 0.0]
    assert all(p.exitcode == 0 for p in job.processes)


@pytest.mark.timeout(120)
def test_spawn_raises_the_first_failure_and_stops_the_rest():
    start = time.monotonic()
    with pytest.raises(mp.ProcessRaisedException) as error:
        mp.spawn(_raise_on_one, nprocs=2)
    # the other process was terminated, not waited for (it sleeps 60 s)
    assert time.monotonic() - start < 30
    assert error.value.error_index == 1
    text = str(error.value)
    assert text.startswith("\n\n-- Process 1 terminated with the following error:\n")
    assert "ValueError: rank 1 fails" in text and "Traceback" in text


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how, message, code", [
    ("signal", "process 0 terminated with signal SIGKILL", -9),
    ("exit", "process 0 terminated with exit code 3", 3)])
def test_spawn_reports_exit_codes_and_signals(how, message, code):
    with pytest.raises(mp.ProcessExitedException, match=message) as error:
        mp.start_processes(_exit, args=(how,), nprocs=2, start_method="fork")
    assert error.value.exit_code == code and error.value.error_index == 0
    assert error.value.signal_name == ("SIGKILL" if how == "signal" else None)
    # picklable, with its fields
    again = pickle.loads(pickle.dumps(error.value))
    assert (again.exit_code, again.error_index, str(again)) == (code, 0, str(error.value))


@pytest.mark.timeout(60)
def test_join_with_a_timeout_and_bad_arguments():
    job = mp.start_processes(_sleep, args=(0.5,), nprocs=2, join=False, start_method="fork")
    assert job.join(timeout=0.01) is False
    assert len(job.pids()) == 2
    while not job.join(timeout=10):
        pass
    assert job.join() is True
    with pytest.raises(ValueError, match="nprocs"):
        mp.spawn(_sleep, args=(0,), nprocs=0)
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        mp.spawn(_sleep, args=(0,), nprocs=1, start_method="fork")
