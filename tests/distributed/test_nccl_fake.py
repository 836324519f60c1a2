"""The Python side of the ``nccl`` backend on CPU: a fake ``cupy.cuda.nccl`` over the simulated
CUDA device.

The fake keeps CuPy's real signatures (``cupy_backends/cuda/libs/nccl.pyx``): ``get_unique_id()``
returns a tuple of 128 C chars (signed: -128..127), ``NcclCommunicator(ndev, commId, rank)``
takes that tuple back, and ``check_async_error()`` raises ``NcclError``. Arrays, streams and
``.data.ptr`` come from :mod:`disttorch.cuda._simulated`; the collective's CUDA event is a fake
whose ``done`` stays False while the fake NCCL is told to hang (until the communicator is
aborted, as ``ncclCommAbort`` releases stuck kernels).
"""
import ctypes
import datetime
import sys
import time
import types

import numpy as np
import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _simulated
from disttorch.distributed import backend_nccl
from disttorch.distributed.process_group import DistBackendError, DistTimeoutError

# an id with negative chars, as NCCL's (a sockaddr and a random magic) usually has
UNIQUE_ID = tuple([2, 0, -97, 31, -128, 127, -1, 0] + [(7 * i) % 256 - 128 for i in range(120)])


class FakeNcclError(RuntimeError):
    pass


class FakeState:
    """What the fake NCCL library did, and how it should misbehave."""

    def __init__(self):
        self.hang = False  # collectives enqueued while True never complete (until abort)
        self.aborted = False
        self.async_error = None
        self.comms = []
        self.calls = []
        self.events = []

    def release(self):
        """Let every hung collective complete."""
        self.hang = False
        for event in self.events:
            event.hung = False


def make_fake_nccl(state, unique_id=UNIQUE_ID, char_signed=True):
    """CuPy 13's NCCL module: the unique id is a tuple of C chars (``unique_id`` bytes: 14's)."""
    nccl = types.ModuleType("cupy.cuda.nccl")
    nccl.available = True
    nccl.NcclError = FakeNcclError
    nccl.get_unique_id = lambda: unique_id
    nccl.groupStart = lambda: state.calls.append(("groupStart",))
    nccl.groupEnd = lambda: state.calls.append(("groupEnd",))
    low, high = (-128, 127) if char_signed else (0, 255)

    class NcclCommunicator:
        def __init__(self, ndev, commId, rank):
            expected = type(unique_id)
            if not isinstance(commId, expected):
                raise TypeError(f"Argument 'commId' has incorrect type (expected "
                                f"{expected.__name__}, got {type(commId).__name__})")
            assert len(commId) == 128
            for c in commId if expected is tuple else ():
                if not isinstance(c, int):
                    raise TypeError("an integer is required")
                if not low <= c <= high:
                    raise OverflowError(f"value {c} out of range for C char")
            self.ndev, self.comm_id, self.rank = ndev, commId, rank
            self.destroyed = False
            state.comms.append(self)

        def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
            state.calls.append(("allReduce", sendbuf, recvbuf, count, datatype, op, stream))
            if datatype == 7 and op == 0 and self.ndev == 2:  # float32 sum: the peer adds ones
                array = np.ctypeslib.as_array((ctypes.c_float * count).from_address(recvbuf))
                array += 1.0

        def bcast(self, buff, count, datatype, root, stream):
            state.calls.append(("bcast", buff, count, datatype, root, stream))

        def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
            state.calls.append(("reduceScatter", sendbuf, recvbuf, recvcount, datatype, op,
                                stream))

        def check_async_error(self):
            if state.async_error is not None:
                raise FakeNcclError(state.async_error)

        def abort(self):
            state.aborted = True

        def destroy(self):
            self.destroyed = True

    nccl.NcclCommunicator = NcclCommunicator
    return nccl


class FakeEvent:
    """``cupy.cuda.Event`` whose ``done`` follows the fake NCCL's hang flag."""

    state = None

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.hung = False

    def record(self, stream=None):
        self.hung = FakeEvent.state.hang
        FakeEvent.state.events.append(self)

    @property
    def done(self):
        return not self.hung or FakeEvent.state.aborted

    def synchronize(self):
        assert self.done, "a host synchronisation on a hung collective would never return"


class Control:
    """The MPI control group's part the NCCL group uses: rank, size, the id broadcast."""

    def __init__(self, rank=0, size=1, root_payload=None):
        self._rank, self._size = rank, size
        self.global_ranks = list(range(size))
        self.root_payload = root_payload
        self.broadcasts = []
        self.closed = False

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def broadcast_bytes(self, payload, src):
        self.broadcasts.append((payload, src))
        return payload if self._rank == src else self.root_payload

    def shutdown(self):
        self.closed = True


def _install(monkeypatch, nccl):
    cuda = types.ModuleType("cupy.cuda")
    if nccl is not None:
        cuda.nccl = nccl
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cuda)
    if nccl is None:  # ``from cupy.cuda import nccl`` raises ImportError
        monkeypatch.delitem(sys.modules, "cupy.cuda.nccl", raising=False)
    else:
        monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", nccl)


@pytest.fixture
def fake(monkeypatch):
    """The simulated device, a fake ``cupy.cuda.nccl`` and fake events; yields the state."""
    _backend.cupy_module()  # load the real CuPy (or None) before the fake shadows it
    state = FakeState()
    state.nccl = make_fake_nccl(state)
    _install(monkeypatch, state.nccl)
    monkeypatch.setattr(FakeEvent, "state", state)
    monkeypatch.setattr(_simulated.cuda, "Event", FakeEvent)
    monkeypatch.setattr(backend_nccl, "_WATCHDOG_INTERVAL_S", 0.01, raising=False)
    groups = []

    def group(rank=0, size=1, timeout=datetime.timedelta(minutes=30), **kwargs):
        root = bytes(b & 0xFF for b in UNIQUE_ID)  # what rank 0 broadcasts
        pg = backend_nccl.ProcessGroupNCCL(None, timeout, control=Control(rank, size, root),
                                           **kwargs)
        groups.append(pg)
        return pg
    state.group = group
    with _simulated.simulate():
        yield state
        for pg in groups:
            pg.shutdown()
            assert getattr(pg, "_watchdog", None) is None


def _eventually(predicate, seconds=5.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


# ------------------------------------------------------------------ the unique id


def test_unique_id_round_trips_through_bytes():
    every = tuple(range(-128, 128))
    payload = backend_nccl._encode_unique_id(every)
    assert isinstance(payload, bytes) and list(payload[:2]) == [128, 129]
    assert backend_nccl._decode_unique_id(payload) == every
    unsigned = tuple(range(256))  # where C char is unsigned, CuPy hands out 0..255
    assert backend_nccl._encode_unique_id(unsigned) == bytes(range(256))
    assert backend_nccl._decode_unique_id(bytes(range(256)), signed=False) == unsigned


@pytest.mark.parametrize("rank", [0, 1])
def test_communicator_gets_the_signed_tuple(fake, rank):
    pg = fake.group(rank=rank, size=2)
    comm = pg._communicator()
    assert comm.comm_id == UNIQUE_ID and comm.ndev == 2 and comm.rank == rank
    sent, src = pg.control.broadcasts[0]
    assert src == 0
    assert sent == (bytes(b & 0xFF for b in UNIQUE_ID) if rank == 0 else b"")
    assert pg._communicator() is comm and len(fake.comms) == 1
    assert pg._watchdog is not None and pg._watchdog.daemon


def test_unsigned_char_platforms_get_0_to_255(fake, monkeypatch):
    unsigned = tuple(b & 0xFF for b in UNIQUE_ID)
    fake.nccl = make_fake_nccl(fake, unique_id=unsigned, char_signed=False)
    _install(monkeypatch, fake.nccl)
    comm = fake.group()._communicator()
    assert comm.comm_id == unsigned


def test_cupy14_bytes_id_goes_back_as_bytes(fake, monkeypatch):
    as_bytes = bytes(b & 0xFF for b in UNIQUE_ID)
    fake.nccl = make_fake_nccl(fake, unique_id=as_bytes)
    _install(monkeypatch, fake.nccl)
    pg = fake.group(rank=0, size=2)
    comm = pg._communicator()
    assert comm.comm_id == as_bytes and pg.control.broadcasts[0] == (as_bytes, 0)
    # rank 1 gets the bytes over the control plane and hands CuPy 14 bytes too
    pg = fake.group(rank=1, size=2)
    pg.control.root_payload = as_bytes
    assert pg._communicator().comm_id == as_bytes


def test_rank0_without_an_id_fails_every_rank(fake):
    def broken():
        raise FakeNcclError("NCCL_ERROR_SYSTEM_ERROR: no socket interface found")
    fake.nccl.get_unique_id = broken
    with pytest.raises(DistBackendError, match="could not create a unique id on rank 0"):
        fake.group()._communicator()
    pg = fake.group(rank=1, size=2)
    pg.control.root_payload = b""  # what rank 0 broadcast
    with pytest.raises(DistBackendError, match="sent a unique id of 0 bytes, not 128"):
        pg._communicator()


def test_device_id_creates_the_communicator_eagerly(fake):
    pg = fake.group(device_id=disttorch.device("cuda:0"))
    assert len(fake.comms) == 1 and pg._device == 0
    fake.group(device_id=0)
    fake.group(device_id="cuda")
    assert len(fake.comms) == 3
    with pytest.raises(ValueError, match="binds to a CUDA device"):
        fake.group(device_id="cpu")


# ------------------------------------------------------------------ collectives


def test_all_reduce_goes_through_the_communicator(fake):
    pg = fake.group(rank=0, size=2)
    x = disttorch.arange(4.0, device="cuda")
    assert pg.allreduce(x) is None
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(4.0) + 1)  # the peer's ones
    name, send, recv, count, dtype, op, stream = fake.calls[-1]
    assert (name, send, recv, count, dtype, op) == \
        ("allReduce", x._data.data.ptr, x._data.data.ptr, 4, 7, 0)
    assert stream == pg._stream.ptr != 0
    work = pg.broadcast(x, 0, async_op=True)
    assert fake.calls[-1][0] == "bcast"
    assert work.wait() is True and work.is_completed() and work.is_success()
    assert work.exception() is None and work.description == "broadcast (collective #2)"
    seen = []
    chained = work.get_future().then(lambda fut: seen.append(fut.value()) or "done")
    # CUDA futures complete when enqueued; the value is the list of tensors, as PyTorch's
    assert seen == [[x]] and work.result() == [x] and chained.wait() == "done"
    assert _eventually(lambda: not pg._inflight)  # the watchdog forgot the finished ones


def test_temporaries_live_until_the_collective_has_run(fake):
    # reduce_scatter of a list concatenates it into a temporary that only NCCL reads, on its
    # own stream: freed at once, the pool could hand it to the caller's stream while NCCL reads
    pg = fake.group()
    out = disttorch.zeros(4, device="cuda")
    parts = [disttorch.ones(4, device="cuda")]
    before = disttorch.cuda.memory_allocated()
    fake.hang = True
    work = pg.reduce_scatter(out, parts, async_op=True)
    assert fake.calls[-1][0] == "reduceScatter"
    assert disttorch.cuda.memory_allocated() == before + 16  # held while NCCL has not run
    fake.release()
    assert _eventually(lambda: work.is_completed())
    assert disttorch.cuda.memory_allocated() == before


def test_wait_without_timeout_is_a_stream_wait(fake):
    pg = fake.group()
    fake.hang = True
    work = pg.allreduce(disttorch.ones(2, device="cuda"), async_op=True)
    assert work.wait() is True  # the host does not block on a running collective
    assert not work.is_completed() and work.exception() is None
    fake.release()
    assert work.is_completed() and work.is_success()


def test_explicit_wait_timeout_aborts_the_communicator(fake):
    pg = fake.group()
    fake.hang = True
    work = pg.allreduce(disttorch.ones(2, device="cuda"), async_op=True)
    with pytest.raises(RuntimeError, match=r"Work.wait\(\) timed out after 0.05 s waiting for "
                                           r"all_reduce \(collective #1\) on rank 0"):
        work.wait(datetime.timedelta(seconds=0.05))
    assert fake.aborted
    assert work.is_completed() and not work.is_success()
    with pytest.raises(DistBackendError, match="NCCL all_reduce cannot run on rank 0: the "
                                               "communicator of group 'world' was aborted"):
        pg.allreduce(disttorch.ones(2, device="cuda"))


def test_watchdog_times_out_a_hung_collective(fake, capfd):
    pg = fake.group(timeout=datetime.timedelta(seconds=0.2))
    fake.hang = True
    grads = disttorch.ones(3, device="cuda")
    future = pg.allreduce(grads, async_op=True).get_future()  # as DDP's buckets
    later = pg.broadcast(grads, 0, async_op=True)
    assert future.wait() == [grads]  # the end-of-iteration wait: no host block
    assert _eventually(lambda: fake.aborted)
    with pytest.raises(DistTimeoutError, match=r"all_reduce \(collective #1\) on rank 0 timed "
                                               r"out after 0.2 s. The NCCL communicator of "
                                               r"group 'world' was aborted"):
        future.wait()
    with pytest.raises(DistBackendError, match=r"broadcast \(collective #2\) did not complete"):
        later.wait()
    assert "disttorch NCCL watchdog: all_reduce (collective #1)" in capfd.readouterr().err
    with pytest.raises(DistBackendError, match="was aborted after an earlier failure: "
                                               r"all_reduce \(collective #1\)"):
        pg.allreduce(grads)


def test_blocking_barrier_times_out(fake, monkeypatch):
    monkeypatch.setattr(backend_nccl, "_WATCHDOG_INTERVAL_S", 60.0)  # the caller polls alone
    pg = fake.group(timeout=datetime.timedelta(seconds=0.1))
    pg._communicator()
    fake.hang = True
    start = time.monotonic()
    with pytest.raises(DistTimeoutError, match=r"barrier \(collective #1\) on rank 0 timed out "
                                               r"after 0.1 s"):
        pg.barrier()
    assert time.monotonic() - start < 5 and fake.aborted


def test_blocking_wait_mode(fake, monkeypatch):
    monkeypatch.setenv("TORCH_NCCL_BLOCKING_WAIT", "1")
    monkeypatch.setattr(backend_nccl, "_WATCHDOG_INTERVAL_S", 60.0)
    pg = fake.group(timeout=datetime.timedelta(seconds=0.1))
    fake.hang = True
    with pytest.raises(DistTimeoutError, match=r"all_reduce \(collective #1\)"):
        pg.allreduce(disttorch.ones(2, device="cuda"))


def test_async_error_is_reported_and_aborts(fake):
    pg = fake.group()
    fake.hang = True
    work = pg.allreduce(disttorch.ones(2, device="cuda"), async_op=True)
    fake.async_error = "NCCL_ERROR_REMOTE_ERROR: remote process exited or there was a network error"
    assert _eventually(lambda: fake.aborted)
    assert work.is_completed() and not work.is_success()
    error = work.exception()
    assert isinstance(error, DistBackendError) and not isinstance(error, DistTimeoutError)
    assert "NCCL all_reduce (collective #1) failed on rank 0: NCCL reported an asynchronous " \
           "error: NCCL_ERROR_REMOTE_ERROR" in str(error)
    assert isinstance(error.__cause__, FakeNcclError)
    with pytest.raises(DistBackendError, match="asynchronous error"):
        work.wait()


def test_async_error_found_by_is_completed(fake, monkeypatch):
    monkeypatch.setattr(backend_nccl, "_WATCHDOG_INTERVAL_S", 60.0)
    pg = fake.group()
    pg.allreduce(disttorch.ones(2, device="cuda"), async_op=True)   # collective #1
    fake.async_error = "NCCL_ERROR_SYSTEM_ERROR: unhandled system error"
    fake.hang = True
    hung = pg.allreduce(disttorch.ones(2, device="cuda"), async_op=True)
    assert hung.is_completed() and fake.aborted
    with pytest.raises(DistBackendError, match=r"all_reduce \(collective #2\) failed on rank 0"):
        hung.synchronize()


def test_shutdown_destroys_the_communicator(fake):
    pg = fake.group()
    pg.allreduce(disttorch.ones(2, device="cuda"))
    comm = pg._comm
    pg.shutdown()
    assert comm.destroyed and pg.control.closed and pg._comm is None and pg._watchdog is None


# ------------------------------------------------------------------ availability


def test_missing_libnccl_is_named(monkeypatch):
    _backend.cupy_module()
    monkeypatch.setattr(backend_nccl, "is_real_cupy", lambda module: True)
    state = FakeState()
    nccl = make_fake_nccl(state)
    nccl.available = False
    _install(monkeypatch, nccl)
    with _simulated.simulate():
        reason = backend_nccl.nccl_unavailable_reason()
        assert "NCCL is unavailable in this CuPy build" in reason and "CUDA GPU" not in reason
        assert backend_nccl.nccl_available() is False
        _install(monkeypatch, None)  # cupy.cuda.nccl does not import
        reason = backend_nccl.nccl_unavailable_reason()
        assert "NCCL is unavailable in this CuPy build (importing cupy.cuda.nccl failed" in reason
        nccl.available = True
        _install(monkeypatch, nccl)
        assert backend_nccl.nccl_unavailable_reason() is None


def test_no_cupy_reason_is_unchanged(monkeypatch):
    monkeypatch.setattr(backend_nccl, "cupy_module", lambda: None)
    assert "needs CuPy and a CUDA GPU" in backend_nccl.nccl_unavailable_reason()
