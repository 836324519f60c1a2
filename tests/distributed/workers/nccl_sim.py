"""A multi-process stand-in for ``cupy.cuda.nccl`` on CPU machines, for workers run under mpiexec.

``install()`` puts every worker on the simulated CUDA device (``disttorch.cuda._simulated``, one
simulated GPU per rank of the machine) and gives it a ``cupy.cuda.nccl`` whose communicators do
the collectives for real, between the processes, over MPI. The real NCCL's contract is enforced,
so that the ``nccl`` backend's multi-rank mistakes fail here rather than on a GPU cluster:

- ``NcclCommunicator(ndev, commId, rank)`` takes CuPy 14's 128-byte id and meets the other
  ``ndev - 1`` ranks that pass the same id; two ranks on one device are refused, as NCCL refuses
  them ("Duplicate GPU detected");
- every call must come from the communicator's device (NCCL runs on the stream of the device it
  was created on) and name a stream;
- each collective first checks that every rank called the same collective with the same count,
  data type, operation and root (NCCL itself would hang or corrupt memory), then moves the bytes
  at the device pointers it was given: counts are elements, roots and peers are ranks of the
  communicator;
- ``send``/``recv`` inside ``groupStart()``/``groupEnd()`` run when the group ends, as NCCL's
  grouped point-to-point calls do; a communicator that was aborted or destroyed refuses work.

The simulated device is synchronous, so a collective has run when its call returns.
"""
import ctypes
import os
import sys
import tempfile
import time
import types

import numpy as np
from mpi4py import MPI

_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
           6: np.float16, 7: np.float32, 8: np.float64}
try:
    import ml_dtypes
    _DTYPES[9] = ml_dtypes.bfloat16
except ImportError:
    pass
_REDUCE = {0: np.add.reduce, 1: np.multiply.reduce, 2: np.maximum.reduce, 3: np.minimum.reduce}
_AVG = 4


class NcclError(RuntimeError):
    """``cupy_backends.cuda.libs.nccl.NcclError``."""


class _State:
    group_depth = 0
    pending = []        # the grouped send/recv calls: (comm, kind, array, peer)
    calls = []          # (collective name, communicator size), for the tests to read


def _view(ptr, count, datatype):
    """The ``count`` elements of ``datatype`` at device pointer ``ptr``, as a writable array."""
    if not isinstance(ptr, int) or ptr == 0:
        raise NcclError(f"invalid device pointer {ptr!r}")
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise NcclError(f"invalid count {count!r}")
    try:
        dtype = np.dtype(_DTYPES[datatype])
    except KeyError:
        raise NcclError(f"invalid data type {datatype!r}") from None
    if count == 0:
        return np.empty(0, dtype)
    raw = (ctypes.c_char * (int(count) * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


def _device():
    from disttorch.cuda import _simulated
    return _simulated._Runtime.getDevice()


def _rendezvous(comm_id, ndev, rank):
    """The world ranks of the communicator named by ``comm_id``, in NCCL rank order, and their
    devices; met through files named by the id (the id is all the members share)."""
    root = os.environ.get("DISTTORCH_NCCL_SIM_DIR") or tempfile.gettempdir()
    folder = os.path.join(root, "nccl-sim-" + comm_id.hex()[:40])
    os.makedirs(folder, exist_ok=True)
    me = MPI.COMM_WORLD.Get_rank()
    path = os.path.join(folder, str(rank))
    if os.path.exists(path):
        raise NcclError(f"two ranks of one communicator claim rank {rank}")
    with open(path + ".tmp", "w") as f:
        f.write(f"{me} {_device()} {os.uname().nodename}")
    os.replace(path + ".tmp", path)
    end = time.monotonic() + 60
    while True:
        names = [n for n in os.listdir(folder) if not n.endswith(".tmp")]
        if len(names) >= ndev:
            break
        if time.monotonic() > end:
            raise NcclError(f"ncclCommInitRank: only {len(names)} of {ndev} ranks joined in 60 s")
        time.sleep(0.002)
    members = {}
    for name in names:
        with open(os.path.join(folder, name)) as f:
            world, device, node = f.read().split()
        members[int(name)] = (int(world), int(device), node)
    if sorted(members) != list(range(ndev)):
        raise NcclError(f"ncclCommInitRank: ranks {sorted(members)} joined a communicator of "
                        f"{ndev}")
    return [members[r] for r in range(ndev)], folder


class NcclCommunicator:
    """``cupy.cuda.nccl.NcclCommunicator(ndev, commId, rank)`` over MPI."""

    def __init__(self, ndev, commId, rank):
        if not isinstance(commId, bytes):
            raise TypeError(f"Argument 'commId' has incorrect type (expected bytes, got "
                            f"{type(commId).__name__})")
        if len(commId) != 128:
            raise NcclError(f"invalid unique id of {len(commId)} bytes")
        if not 0 <= rank < ndev:
            raise NcclError(f"ncclCommInitRank: invalid rank {rank} for {ndev} ranks")
        self.device = _device()
        members, folder = _rendezvous(commId, ndev, rank)
        seen = {}
        for r, (_, device, node) in enumerate(members):
            if (node, device) in seen:
                raise NcclError(f"ncclCommInitRank: Duplicate GPU detected: rank {seen[node, device]} "
                                f"and rank {r} both on cuda:{device}")
            seen[node, device] = r
        world = MPI.COMM_WORLD
        group = world.Get_group().Incl([w for w, _, _ in members])
        self.comm = world.Create_group(group)
        self.comm.Barrier()  # every member has read the files
        if rank == 0:
            for name in os.listdir(folder):
                os.unlink(os.path.join(folder, name))
            os.rmdir(folder)
        self.ndev, self._rank = ndev, rank
        self.aborted = self.destroyed = False

    # -- what every call checks
    def _check(self, stream):
        if self.aborted or self.destroyed:
            raise NcclError("invalid usage: the communicator was "
                            f"{'aborted' if self.aborted else 'destroyed'}")
        if _device() != self.device:
            raise NcclError(f"the communicator lives on cuda:{self.device}, but was called with "
                            f"cuda:{_device()} current")
        if not isinstance(stream, int):
            raise TypeError(f"stream must be a stream pointer (int), got {type(stream).__name__}")

    def _agree(self, *signature):
        """Every rank called the same collective with the same arguments (NCCL assumes it)."""
        _State.calls.append((signature[0], self.ndev))
        seen = self.comm.allgather(signature)
        if any(s != signature for s in seen):
            raise NcclError(f"ranks disagree on the collective: {seen}")

    def _reduce(self, parts, op):
        stacked = np.stack(parts)
        if op == _AVG:
            total = np.add.reduce(stacked, dtype=np.float64 if stacked.dtype.kind != "f"
                                  else stacked.dtype)
            return (total / self.ndev).astype(stacked.dtype) if stacked.dtype.kind == "f" \
                else (total // self.ndev).astype(stacked.dtype)
        try:
            return _REDUCE[op](stacked)
        except KeyError:
            raise NcclError(f"invalid reduction {op!r}") from None

    def _gather(self, array):
        return [np.frombuffer(b, array.dtype) for b in self.comm.allgather(array.tobytes())]

    # -- collectives
    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        self._check(stream)
        self._agree("allReduce", count, datatype, op)
        send = _view(sendbuf, count, datatype)
        _view(recvbuf, count, datatype)[...] = self._reduce(self._gather(send), op)

    def reduce(self, sendbuf, recvbuf, count, datatype, op, root, stream):
        self._check(stream)
        self._agree("reduce", count, datatype, op, root)
        result = self._reduce(self._gather(_view(sendbuf, count, datatype)), op)
        if self._rank == root:
            _view(recvbuf, count, datatype)[...] = result

    def bcast(self, buff, count, datatype, root, stream):
        self._check(stream)
        self._agree("bcast", count, datatype, root)
        buf = _view(buff, count, datatype)
        buf[...] = np.frombuffer(self.comm.bcast(buf.tobytes(), root=root), buf.dtype)

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        self._check(stream)
        self._agree("broadcast", count, datatype, root)
        send = _view(sendbuf, count, datatype) if self._rank == root else None
        data = self.comm.bcast(send.tobytes() if send is not None else None, root=root)
        _view(recvbuf, count, datatype)[...] = np.frombuffer(data, _view(recvbuf, 0, datatype)
                                                             .dtype)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        self._check(stream)
        self._agree("allGather", count, datatype)
        parts = self._gather(_view(sendbuf, count, datatype))
        _view(recvbuf, count * self.ndev, datatype)[...] = np.concatenate(parts)

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):
        self._check(stream)
        self._agree("reduceScatter", recvcount, datatype, op)
        total = self._reduce(self._gather(_view(sendbuf, recvcount * self.ndev, datatype)), op)
        start = self._rank * recvcount
        _view(recvbuf, recvcount, datatype)[...] = total[start:start + recvcount]

    def send(self, sendbuf, count, datatype, peer, stream):
        self._p2p("send", sendbuf, count, datatype, peer, stream)

    def recv(self, recvbuf, count, datatype, peer, stream):
        self._p2p("recv", recvbuf, count, datatype, peer, stream)

    def _p2p(self, kind, ptr, count, datatype, peer, stream):
        self._check(stream)
        if not 0 <= peer < self.ndev:
            raise NcclError(f"{kind}: invalid peer {peer} for {self.ndev} ranks")
        _State.pending.append((self, kind, _view(ptr, count, datatype), peer))
        if _State.group_depth == 0:
            _run_pending()

    # -- life cycle
    def check_async_error(self):
        return None

    def abort(self):
        self.aborted = True

    def destroy(self):
        self.destroyed = True

    def rank_id(self):
        return self._rank

    def size(self):
        return self.ndev

    def device_id(self):
        return self.device


def _run_pending():
    """Run the grouped sends and receives: each communicator's in order, matched by peer."""
    pending, _State.pending = _State.pending, []
    requests, inbox = [], []
    for comm, kind, array, peer in pending:
        _State.calls.append((kind, comm.ndev))
        if kind == "send":
            if peer == comm._rank:
                inbox.append((comm, array.copy()))
            else:
                requests.append(comm.comm.Isend(array.view(np.uint8), dest=peer, tag=11))
    for comm, kind, array, peer in pending:
        if kind != "recv":
            continue
        if peer == comm._rank:
            match = next(i for i, (c, _) in enumerate(inbox) if c is comm)
            array[...] = inbox.pop(match)[1]
        else:
            requests.append(comm.comm.Irecv(array.view(np.uint8), source=peer, tag=11))
    MPI.Request.Waitall(requests)


def groupStart():
    _State.group_depth += 1


def groupEnd():
    if _State.group_depth == 0:
        raise NcclError("groupEnd without groupStart")
    _State.group_depth -= 1
    if _State.group_depth == 0:
        _run_pending()


def calls():
    """``(name, communicator size)`` of every call this process made, in order."""
    return list(_State.calls)


def get_unique_id():
    return os.urandom(128)


def prepare(backend):
    """Set a worker up for ``backend``; returns its tensors' device. "nccl": :func:`install`,
    tensors on ``"cuda"``; "nccl-to-rank": the same GPUs, but the worker never calls
    ``set_device`` and puts its tensors on ``cuda:RANK`` (PyTorch's DDP tutorial:
    ``model.to(rank)``), so device 0 stays current on every rank."""
    if backend == "nccl":
        install()
        return "cuda"
    if backend == "nccl-to-rank":
        install(select=False)
        return f"cuda:{MPI.COMM_WORLD.Get_rank()}"
    return "cpu"


def install(local_rank=None, select=True):
    """Run this worker on a simulated GPU of its own (``cuda:local_rank``, default its MPI rank;
    made current unless ``select`` is False) with the stand-in NCCL; returns the stand-in
    module."""
    from disttorch import _backend
    from disttorch.cuda import _simulated
    from disttorch.distributed import backend_nccl
    world = MPI.COMM_WORLD
    _backend.cupy_module()  # settle the real CuPy (or None) before the stand-in shadows it
    # (kept: a collected context manager would leave the simulation)
    _State.simulation = _simulated.simulate(device_count=world.Get_size())
    _State.simulation.__enter__()
    nccl = types.ModuleType("cupy.cuda.nccl")
    nccl.available = True
    nccl.NcclError = NcclError
    nccl.NcclCommunicator = NcclCommunicator
    nccl.get_unique_id = get_unique_id
    nccl.groupStart, nccl.groupEnd = groupStart, groupEnd
    cuda = types.ModuleType("cupy.cuda")
    cuda.nccl = nccl
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda
    sys.modules.update({"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.nccl": nccl})
    backend_nccl.nccl_unavailable_reason = lambda: None
    import disttorch
    if select:
        disttorch.cuda.set_device(world.Get_rank() if local_rank is None else local_rank)
    return nccl
