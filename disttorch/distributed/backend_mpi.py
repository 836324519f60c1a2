"""The ``mpi`` backend (also serving the name ``gloo``): collectives through mpi4py.

Contiguous numpy tensors are handed to MPI without copies. Every collective is started
non-blocking and completed by polling against the group's deadline, so a collective that
never completes raises an error naming it, its sequence number and the ranks that had not
joined, instead of hanging.
"""
import os
import threading
import time

import numpy as np

from .._backend import to_numpy, is_cuda_array
from ._work import Work
from .process_group import (ProcessGroup, ReduceOp, DistTimeoutError, DistBackendError,
                            DebugLevel, get_debug_level)


def _mpi():
    from mpi4py import MPI
    return MPI


_NEEDS_WIDENING = {"float16", "bfloat16"}


def _mpi_op(op, dtype_kind):
    MPI = _mpi()
    if dtype_kind == "b":
        # logical reductions on a uint8 view: or for SUM/MAX, and for PRODUCT/MIN
        return {ReduceOp.SUM: MPI.MAX, ReduceOp.MAX: MPI.MAX, ReduceOp.BOR: MPI.MAX,
                ReduceOp.PRODUCT: MPI.MIN, ReduceOp.MIN: MPI.MIN, ReduceOp.BAND: MPI.MIN}[op]
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
             ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
             ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}
    try:
        return table[op]
    except KeyError:
        raise ValueError(f"unsupported reduce op {op!r}") from None


class _Buffer:
    """A contiguous host array for a tensor, written back after the collective if it was a copy."""

    __slots__ = ("tensor", "array", "copied")

    def __init__(self, tensor, for_reduction=False):
        data = tensor._data
        host = to_numpy(data) if is_cuda_array(data) else data
        array = host
        if for_reduction and host.dtype.name in _NEEDS_WIDENING:
            array = host.astype(np.float32)
        elif host.dtype.kind == "b":
            array = host.view(np.uint8)
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        self.tensor = tensor
        self.array = array
        self.copied = array is not data and not (host.dtype.kind == "b" and array.base is data)

    def write_back(self):
        t = self.tensor
        if self.copied:
            result = self.array.view(np.bool_) if t._data.dtype.kind == "b" else self.array
            if is_cuda_array(t._data):
                from .._backend import get_array_module
                t._data[...] = get_array_module(t._data).asarray(result)
            else:
                t._data[...] = result
        t._vc[0] += 1


class JoinBoard:
    """Each rank's latest collective sequence number, readable by the others after a timeout.

    Ranks on one node share a memory window and read each other directly (no MPI progress
    needed from a stuck peer); ranks on other nodes are read through one-sided MPI, each in its
    own thread with a deadline. Writing is a plain local store on the collective's fast path.
    """

    def __init__(self, comm):
        MPI = _mpi()
        self.comm = comm
        self.node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.shared = MPI.Win.Allocate_shared(16, disp_unit=8, comm=self.node)
        self.local = np.frombuffer(self.shared.tomemory(), dtype=np.int64, count=2)
        self.local[:] = 0
        node_ranks = list(range(self.node.Get_size()))
        in_group = MPI.Group.Translate_ranks(self.node.Get_group(), node_ranks, comm.Get_group())
        self.peers = {}
        for node_rank, group_rank in zip(node_ranks, in_group):
            buf, _ = self.shared.Shared_query(node_rank)
            self.peers[group_rank] = np.frombuffer(buf, dtype=np.int64, count=2)
        self.remote = MPI.Win.Create(self.local, disp_unit=8, comm=comm) \
            if len(self.peers) < comm.Get_size() else None

    def enter(self, seq, name_id):
        self.local[0] = seq
        self.local[1] = name_id

    def read_all(self, deadline_s=5.0):
        """Return ``[(seq, name_id)]`` per rank, or None for ranks that could not be read."""
        result = [None] * self.comm.Get_size()
        for r, view in self.peers.items():
            result[r] = (int(view[0]), int(view[1]))
        remote = [r for r in range(len(result)) if r not in self.peers]
        threads = [threading.Thread(target=self._read_remote, args=(r, result), daemon=True)
                   for r in remote]
        for t in threads:
            t.start()
        end = time.monotonic() + deadline_s
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))
        return result

    def _read_remote(self, r, result):
        MPI = _mpi()
        buf = np.zeros(2, np.int64)
        self.remote.Lock(r, MPI.LOCK_SHARED)
        self.remote.Get(buf, r)
        self.remote.Unlock(r)
        result[r] = (int(buf[0]), int(buf[1]))

    def free(self):
        try:
            if self.remote is not None:
                self.remote.Free()
            self.shared.Free()
            self.node.Free()
        except Exception:  # MPI may already be finalised at interpreter exit
            pass


_NAMES = ["allreduce", "broadcast", "reduce", "allgather", "allgather_into_tensor", "gather",
          "scatter", "reduce_scatter", "reduce_scatter_tensor", "alltoall", "alltoall_single",
          "send", "recv", "barrier", "broadcast_bytes", "allgather_bytes", "check"]


class MPIWork(Work):
    """An asynchronous MPI operation: its requests were started when it was issued; it
    completes when waited on or polled (``is_completed``, ``ProcessGroupMPI.poll``)."""

    def __init__(self, group, requests, finish, name, seq, statuses=None):
        super().__init__(f"{name} (collective #{seq})", timeout=group.timeout)
        self.group = group
        self.requests = requests if isinstance(requests, list) else [requests]
        self.finish_fn = finish
        self.name = name
        self.seq = seq
        self.statuses = statuses

    def _complete(self):
        try:
            self._result = self.finish_fn() if self.finish_fn is not None else None
            error = None
        except Exception as exc:  # delivered to whoever waits
            error = exc
        self._finish(error)

    def _poll(self):
        if self._done.is_set():
            return True
        if _mpi().Request.Testall(self.requests, self.statuses):
            self._complete()
            return True
        return False

    def is_completed(self):
        return self._poll()

    def wait(self, timeout=None):
        """Wait (at most ``timeout``, default the group's) and re-raise any error."""
        if not self._done.is_set():
            if timeout is not None:
                seconds = getattr(timeout, "total_seconds", lambda: timeout)()
                end = time.monotonic() + seconds
                while not self._poll():
                    if time.monotonic() > end:
                        raise RuntimeError(f"Work.wait() timed out after {seconds} s waiting for "
                                           f"{self.description}")
            else:
                self.group._wait(self.requests, self.name, self.seq, self.statuses)
                self._complete()
        if self._exception is not None:
            raise self._exception
        return True


class ProcessGroupMPI(ProcessGroup):
    """A process group over an MPI communicator."""

    backend_name = "mpi"

    def __init__(self, comm, timeout, global_ranks, name="world"):
        self.comm = comm
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self.timeout = timeout
        self.global_ranks = list(global_ranks)
        self.seq = 0
        self.pending = []
        self.board = JoinBoard(comm)
        self.debug = get_debug_level() == DebugLevel.DETAIL or \
            os.environ.get("DISTTORCH_DEBUG", "").upper() == "DETAIL"
        self.seq_lock = threading.Lock()
        self.launcher = None
        if "DISTTORCH_CONTROL_ENDPOINT" in os.environ:
            try:
                from launcher import worker
                self.launcher = worker
            except ImportError:  # disttorch installed without its launcher package
                self.launcher = None

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    # ----------------------------------------------------------------- machinery
    def _next_seq(self):
        with self.seq_lock:
            self.seq += 1
            return self.seq

    def _run(self, name, start, finish, async_op, signature=None):
        """Start ``start() -> request(s)`` now, on the caller's thread (so every rank starts
        its collectives in program order); a synchronous call then waits against the deadline
        and runs ``finish()``, an asynchronous one returns a Work that does so when waited on
        or polled."""
        seq = self._next_seq()
        self.board.enter(seq, _NAMES.index(name))
        if self.debug and signature is not None:
            self._check_signature(name, seq, signature)
        if async_op:
            work = MPIWork(self, start(), finish, name, seq)
            self.pending.append(work)
            return work
        if self.launcher is not None:
            # under disttorch-run: a hang report names the collective this rank is in
            with self.launcher.collective(f"{name} #{seq}"):
                self._wait(start(), name, seq)
        else:
            self._wait(start(), name, seq)
        return finish() if finish is not None else None

    def poll(self):
        """Let MPI progress the outstanding asynchronous operations (DDP calls this while
        backward runs, so bucket all-reduces advance without a busy-waiting thread)."""
        if self.pending:
            self.pending = [w for w in self.pending if not w._poll()]

    def _wait(self, requests, name, seq, statuses=None):
        MPI = _mpi()
        if not isinstance(requests, list):
            requests = [requests]
        deadline = time.monotonic() + self.timeout.total_seconds()
        spins = 0
        # Poll without sleeping, as MPI's own blocking calls do: MPICH moves large messages
        # through shared memory only while it is being polled.
        while True:
            try:
                if MPI.Request.Testall(requests, statuses):
                    return
            except MPI.Exception as exc:
                raise self._transport_error(name, seq, exc, statuses) from exc
            spins += 1
            if spins % 256 == 0 and time.monotonic() > deadline:
                _after_timeout()
                raise self._timeout_error(name, seq)

    def _transport_error(self, name, seq, exc, statuses):
        MPI = _mpi()
        what = f"{name} (collective #{seq})" if name not in ("send", "recv") else name
        me = self.global_ranks[self._rank]
        code = exc.Get_error_class()
        if code == MPI.ERR_IN_STATUS:  # the request's own error is in its status
            codes = [st.Get_error() for st in statuses or []]
            code = next((MPI.Get_error_class(c) for c in codes if c != MPI.SUCCESS), code)
        if code == MPI.ERR_TRUNCATE:
            return DistBackendError(
                f"{what} on rank {me} failed: a message from another rank was longer than this "
                f"rank's tensor. The ranks passed tensors of different sizes or dtypes (set "
                f"TORCH_DISTRIBUTED_DEBUG=DETAIL to compare the collectives' arguments)")
        return DistBackendError(f"{what} on rank {me} failed in MPI: {MPI.Get_error_string(code)}")

    def _timeout_error(self, name, seq):
        board = self.board.read_all()
        missing = []
        for r, entry in enumerate(board):
            if entry is None:
                missing.append(f"{self.global_ranks[r]} (unreachable)")
            elif entry[0] < seq:
                last = _NAMES[entry[1]] if 0 < entry[0] else "none"
                missing.append(f"{self.global_ranks[r]} (last joined collective #{entry[0]}: {last})")
        who = ", ".join(missing) if missing else "none (all ranks joined; the transport stalled)"
        return DistTimeoutError(
            f"{name} (collective #{seq}) on rank {self.global_ranks[self._rank]} timed out after "
            f"{self.timeout.total_seconds():g} s. Ranks that had not joined: {who}.")

    def _check_signature(self, name, seq, signature):
        """Debug mode: every rank must call the same collective with the same shapes/dtypes."""
        from ._objects import dumps, loads
        mine = [name, signature]
        payload = dumps(mine)
        everyone = [loads(p) for p in self._allgather_bytes_now(payload, seq)]
        for r, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                raise DistBackendError(
                    f"collective #{seq} mismatch: rank {self.global_ranks[0]} called "
                    f"{everyone[0][0]} with {everyone[0][1]}, rank {self.global_ranks[r]} called "
                    f"{theirs[0]} with {theirs[1]}")

    def _allgather_bytes_now(self, payload, seq):
        MPI = _mpi()
        length = np.array([len(payload)], np.int64)
        lengths = np.zeros(self._size, np.int64)
        self._wait(self.comm.Iallgather(length, lengths), "allgather_bytes", seq)
        counts = lengths.astype(np.int64)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out = np.empty(int(counts.sum()), np.uint8)
        send = np.frombuffer(payload, np.uint8)
        self._wait(self.comm.Iallgatherv(send, [out, counts, displs, MPI.BYTE]),
                   "allgather_bytes", seq)
        return [out[d:d + c].tobytes() for d, c in zip(displs, counts)]

    @staticmethod
    def _sig(*tensors):
        return [[list(t._data.shape), t._data.dtype.str] for t in tensors]

    # --------------------------------------------------------------- collectives
    def allreduce(self, tensor, op=ReduceOp.SUM, async_op=False):
        MPI = _mpi()
        buf = _Buffer(tensor, for_reduction=True)
        if op == ReduceOp.AVG and buf.array.dtype.kind not in "fc":
            raise ValueError("ReduceOp.AVG needs a floating point tensor")
        mpi_op = _mpi_op(op, tensor._data.dtype.kind)

        def start():
            return self.comm.Iallreduce(MPI.IN_PLACE, buf.array, mpi_op)

        def finish():
            if op == ReduceOp.AVG:
                buf.array /= self._size
            buf.write_back()
            return [tensor]
        return self._run("allreduce", start, finish, async_op, self._sig(tensor) + [str(op)])

    def broadcast(self, tensor, src, async_op=False):
        buf = _Buffer(tensor)
        def finish():
            buf.write_back()
            return [tensor]
        return self._run("broadcast", lambda: self.comm.Ibcast(buf.array, root=src), finish,
                         async_op, self._sig(tensor) + [src])

    def reduce(self, tensor, dst, op=ReduceOp.SUM, async_op=False):
        MPI = _mpi()
        buf = _Buffer(tensor, for_reduction=True)
        mpi_op = _mpi_op(op, tensor._data.dtype.kind)

        def start():
            if self._rank == dst:
                return self.comm.Ireduce(MPI.IN_PLACE, buf.array, mpi_op, root=dst)
            return self.comm.Ireduce(buf.array, None, mpi_op, root=dst)

        def finish():
            if self._rank == dst:
                if op == ReduceOp.AVG:
                    buf.array /= self._size
                buf.write_back()
            return [tensor]
        return self._run("reduce", start, finish, async_op, self._sig(tensor) + [dst, str(op)])

    def allgather_into_tensor(self, output, tensor, async_op=False):
        send = _Buffer(tensor)
        recv = _Buffer(output)
        return self._run("allgather_into_tensor",
                         lambda: self.comm.Iallgather(send.array, recv.array),
                         recv.write_back, async_op, self._sig(tensor))

    def allgather(self, output_tensors, tensor, async_op=False):
        send = _Buffer(tensor)
        staging = np.empty((self._size,) + send.array.shape, send.array.dtype)

        def finish():
            for k, out in enumerate(output_tensors):
                _assign(out, staging[k])
        return self._run("allgather", lambda: self.comm.Iallgather(send.array, staging), finish,
                         async_op, self._sig(tensor))

    def gather(self, tensor, gather_list, dst, async_op=False):
        send = _Buffer(tensor)
        staging = np.empty((self._size,) + send.array.shape, send.array.dtype) \
            if self._rank == dst else None

        def finish():
            if self._rank == dst:
                for k, out in enumerate(gather_list):
                    _assign(out, staging[k])
        return self._run("gather", lambda: self.comm.Igather(send.array, staging, root=dst),
                         finish, async_op, self._sig(tensor) + [dst])

    def scatter(self, tensor, scatter_list, src, async_op=False):
        recv = _Buffer(tensor)
        staging = None
        if self._rank == src:
            staging = np.ascontiguousarray(np.stack([_host(t) for t in scatter_list]))
            if recv.array.dtype.kind != "b" and staging.dtype != recv.array.dtype:
                staging = staging.astype(recv.array.dtype)
            if staging.dtype.kind == "b":
                staging = staging.view(np.uint8)
        return self._run("scatter", lambda: self.comm.Iscatter(staging, recv.array, root=src),
                         recv.write_back, async_op, self._sig(tensor) + [src])

    def reduce_scatter_tensor(self, output, input, op=ReduceOp.SUM, async_op=False):
        send = _Buffer(input, for_reduction=True)
        recv = _Buffer(output, for_reduction=True)
        mpi_op = _mpi_op(op, input._data.dtype.kind)

        def finish():
            if op == ReduceOp.AVG:
                recv.array /= self._size
            recv.write_back()
        return self._run("reduce_scatter_tensor",
                         lambda: self.comm.Ireduce_scatter_block(send.array, recv.array, mpi_op),
                         finish, async_op, self._sig(input) + [str(op)])

    def reduce_scatter(self, output, input_list, op=ReduceOp.SUM, async_op=False):
        from ..tensor import _new
        stacked = _new(np.ascontiguousarray(np.stack([_host(t) for t in input_list])))
        return self.reduce_scatter_tensor(output, stacked, op, async_op)

    def _alltoall_parts(self, output, input, output_split_sizes, input_split_sizes):
        MPI = _mpi()
        send = _Buffer(input)
        recv = _Buffer(output)
        row_in = int(np.prod(send.array.shape[1:])) if send.array.ndim > 1 else 1
        row_out = int(np.prod(recv.array.shape[1:])) if recv.array.ndim > 1 else 1
        if output_split_sizes is None and input_split_sizes is None:
            return (lambda: self.comm.Ialltoall(send.array, recv.array)), recv.write_back
        n_in = send.array.shape[0] if send.array.ndim else 1
        n_out = recv.array.shape[0] if recv.array.ndim else 1
        sc = np.array(input_split_sizes or [n_in // self._size] * self._size) * row_in
        rc = np.array(output_split_sizes or [n_out // self._size] * self._size) * row_out
        sd = np.concatenate([[0], np.cumsum(sc)[:-1]])
        rd = np.concatenate([[0], np.cumsum(rc)[:-1]])
        dtype = MPI._typedict[send.array.dtype.char]
        return (lambda: self.comm.Ialltoallv([send.array, sc, sd, dtype],
                                             [recv.array, rc, rd, dtype])), recv.write_back

    def alltoall_single(self, output, input, output_split_sizes=None, input_split_sizes=None,
                        async_op=False):
        start, finish = self._alltoall_parts(output, input, output_split_sizes, input_split_sizes)
        return self._run("alltoall_single", start, finish, async_op, self._sig(input, output))

    def alltoall(self, output_list, input_list, async_op=False):
        from ..tensor import _new
        sizes_in = [t.shape[0] if t.ndim else 1 for t in input_list]
        sizes_out = [t.shape[0] if t.ndim else 1 for t in output_list]
        flat_in = _new(np.ascontiguousarray(np.concatenate([_host(t).reshape(-1, *t.shape[1:])
                                                            for t in input_list])))
        flat_out = _new(np.empty((sum(sizes_out),) + tuple(output_list[0].shape[1:]),
                                 flat_in._data.dtype))
        start, write_back = self._alltoall_parts(flat_out, flat_in, sizes_out, sizes_in)

        def finish():
            write_back()
            offset = 0
            for t, n in zip(output_list, sizes_out):
                _assign(t, flat_out._data[offset:offset + n].reshape(t.shape))
                offset += n
        return self._run("alltoall", start, finish, async_op, self._sig(flat_in, flat_out))

    def send(self, tensor, dst, tag=0, async_op=False):
        buf = _Buffer(tensor)
        return self._p2p("send", lambda: self.comm.Isend(buf.array, dest=dst, tag=tag), None,
                         async_op)

    def recv(self, tensor, src=None, tag=0, async_op=False):
        MPI = _mpi()
        buf = _Buffer(tensor)
        statuses = [MPI.Status()]
        source = MPI.ANY_SOURCE if src is None else src
        tag = MPI.ANY_TAG if tag is None else tag

        def finish():
            buf.write_back()
            return self.global_ranks[statuses[0].Get_source()]
        return self._p2p("recv", lambda: self.comm.Irecv(buf.array, source=source, tag=tag),
                         finish, async_op, statuses)

    def _p2p(self, name, start, finish, async_op, statuses=None):
        # Point-to-point traffic does not take part in the collective sequence numbering.
        if async_op:
            work = MPIWork(self, start(), finish, name, self.seq, statuses)
            self.pending.append(work)
            return work
        self._wait(start(), name, self.seq, statuses)
        return finish() if finish is not None else None

    def barrier(self, async_op=False):
        return self._run("barrier", lambda: self.comm.Ibarrier(), None, async_op, [])

    def broadcast_bytes(self, payload, src):
        seq = self._next_seq()
        self.board.enter(seq, _NAMES.index("broadcast_bytes"))
        length = np.array([len(payload) if self._rank == src else 0], np.int64)
        self._wait(self.comm.Ibcast(length, root=src), "broadcast_bytes", seq)
        data = np.frombuffer(payload, np.uint8).copy() if self._rank == src else \
            np.empty(int(length[0]), np.uint8)
        self._wait(self.comm.Ibcast(data, root=src), "broadcast_bytes", seq)
        return data.tobytes()

    def allgather_bytes(self, payload):
        seq = self._next_seq()
        self.board.enter(seq, _NAMES.index("allgather_bytes"))
        return self._allgather_bytes_now(payload, seq)

    def split(self, ranks, timeout, name):
        """A subgroup of this group's ``ranks`` (group ranks); None on non-members."""
        group = self.comm.Get_group().Incl(list(ranks))
        comm = self.comm.Create_group(group) if self._rank in ranks else None
        group.Free()
        if comm is None:
            return None
        return ProcessGroupMPI(comm, timeout, [self.global_ranks[r] for r in ranks], name)

    def shutdown(self):
        for work in self.pending:
            work.wait()
        self.pending = []
        self.board.free()
        if self.comm is not _mpi().COMM_WORLD:
            try:
                self.comm.Free()
            except Exception:  # finalised already
                pass


_timed_out = []


def _after_timeout():
    """A timed-out collective stays pending inside MPI, and MPI_Finalize would then hang or
    crash at exit: leave without it (the job has failed; the launcher restarts it)."""
    if _timed_out:
        return
    _timed_out.append(True)
    import atexit
    import sys

    def leave():
        sys.stdout.flush()
        sys.stderr.flush()
        print("disttorch: a collective timed out; exiting without MPI_Finalize", file=sys.stderr)
        os._exit(1)
    atexit.register(leave)


def _host(t):
    return to_numpy(t._data)


def _assign(t, values):
    if is_cuda_array(t._data):
        from .._backend import get_array_module
        t._data[...] = get_array_module(t._data).asarray(values)
    else:
        t._data[...] = values.view(np.bool_) if t._data.dtype.kind == "b" and \
            values.dtype == np.uint8 else values
    t._vc[0] += 1
