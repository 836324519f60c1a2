"""The ``nccl`` backend: collectives on CUDA tensors through ``cupy.cuda.nccl``.

The communicator is created on the first collective, once the worker has chosen its device
(``disttorch.cuda.set_device(local_rank)``), or at once on ``device_id``'s device when
``init_process_group(device_id=...)`` names one; rank 0's NCCL unique id reaches the others
through MPI. Collectives are queued on a dedicated communication stream that first waits for
the work already queued on the caller's stream, so DDP's bucket all-reduces overlap the rest of
backward; ``Work.wait()`` makes the caller's stream wait for the collective without blocking the
host. Object collectives, ``barrier`` and error reporting go through the MPI group of the same
ranks.

Errors and timeouts follow PyTorch's NCCL watchdog: a thread per group polls its collectives'
CUDA events (a non-blocking query) and the communicator's asynchronous error state; a
collective that has not completed within the group's timeout, or an asynchronous NCCL error,
aborts the communicator (``ncclCommAbort``, which also releases the GPU kernels stuck in it) and
the error is raised by the next ``wait()`` or collective on the group. Blocking waits
(``Work.wait(timeout)``, ``Work.synchronize()``, ``is_completed()``, ``barrier`` and
``TORCH_NCCL_BLOCKING_WAIT=1``) poll the same state on the caller's thread.
"""
import os
import sys
import threading
import time

import numpy as np

from .._backend import cupy_module, is_cuda_array, is_real_cupy
from ._work import Work
from .backend_mpi import ProcessGroupMPI
from .process_group import ProcessGroup, ReduceOp, DistBackendError, DistTimeoutError

# ncclDataType_t and ncclRedOp_t (nccl.h); CuPy exposes only some of them by name.
_NCCL_DTYPES = {"int8": 0, "uint8": 1, "bool": 1, "int32": 2, "uint32": 3, "int64": 4,
                "uint64": 5, "float16": 6, "float32": 7, "float64": 8, "bfloat16": 9}
_NCCL_OPS = {ReduceOp.SUM: 0, ReduceOp.PRODUCT: 1, ReduceOp.MAX: 2, ReduceOp.MIN: 3,
             ReduceOp.AVG: 4}
# bool tensors reduce as uint8: any for SUM/MAX/BOR, all for PRODUCT/MIN/BAND
_BOOL_OPS = {ReduceOp.SUM: 2, ReduceOp.MAX: 2, ReduceOp.BOR: 2, ReduceOp.PRODUCT: 3,
             ReduceOp.MIN: 3, ReduceOp.BAND: 3}
_UNIQUE_ID_BYTES = 128  # NCCL_UNIQUE_ID_BYTES
_WATCHDOG_INTERVAL_S = 0.1  # how often the watchdog polls (PyTorch's watchdog: 100 ms)
_NO_GPU = ("backend 'nccl' needs CuPy and a CUDA GPU, and none was found on this machine; use "
           "backend='gloo' (or 'mpi') for CPU tensors")


def nccl_unavailable_reason():
    """None when the ``nccl`` backend can run here, else why it cannot (an error message)."""
    from .. import cuda
    cp = cupy_module()
    if cp is None or not is_real_cupy(cp) or not cuda.is_available():
        return _NO_GPU
    try:
        from cupy.cuda import nccl
    except Exception as exc:  # a CuPy build without its NCCL module
        return (f"backend 'nccl' is unavailable: NCCL is unavailable in this CuPy build (importing "
                f"cupy.cuda.nccl failed: {exc}); install NCCL for CuPy's CUDA version (e.g. pip "
                f"install nvidia-nccl-cu12) or use backend='gloo' (or 'mpi')")
    if not getattr(nccl, "available", False):
        return ("backend 'nccl' is unavailable: NCCL is unavailable in this CuPy build "
                "(cupy.cuda.nccl.available is False: libnccl was not found); install NCCL for "
                "CuPy's CUDA version (e.g. pip install nvidia-nccl-cu12) or use backend='gloo' "
                "(or 'mpi')")
    return None


def nccl_available():
    """True when CuPy (not the simulated device) runs on a GPU and has its NCCL bindings."""
    try:
        return nccl_unavailable_reason() is None
    except Exception:
        return False


def _encode_unique_id(unique_id):
    """CuPy's unique id as the 128 bytes that travel to the other ranks.

    CuPy 14 hands out ``bytes``; CuPy 13 a tuple of 128 C ``char`` values (-128..127 where
    ``char`` is signed, 0..255 where it is not).
    """
    if isinstance(unique_id, (bytes, bytearray)):
        return bytes(unique_id)
    return bytes(int(b) & 0xFF for b in unique_id)


def _decode_unique_id(payload, signed=True):
    """The tuple CuPy 13's ``NcclCommunicator`` takes back from :func:`_encode_unique_id`."""
    if signed:
        return tuple(b - 256 if b > 127 else b for b in payload)
    return tuple(payload)


def _new_communicator(nccl, size, payload, rank):
    # Each refusal below is CuPy's argument conversion, raised before ncclCommInitRank runs, so
    # the next form is safe to try: bytes (CuPy 14), then CuPy 13's signed-char tuple, then its
    # unsigned one (aarch64, ppc64le).
    try:
        return nccl.NcclCommunicator(size, bytes(payload), rank)
    except TypeError as exc:
        if "commId" not in str(exc) and "bytes" not in str(exc):
            raise
    try:
        return nccl.NcclCommunicator(size, _decode_unique_id(payload), rank)
    except OverflowError:
        return nccl.NcclCommunicator(size, _decode_unique_id(payload, signed=False), rank)


def _device_index(device_id):
    """The CUDA device index ``init_process_group(device_id=...)`` names (None: current)."""
    from .._device import device
    if isinstance(device_id, int) and not isinstance(device_id, bool):
        return device_id
    dev = device(device_id)
    if dev.type != "cuda":
        raise ValueError(f"the nccl backend binds to a CUDA device, got device_id={device_id!r}")
    return dev.index


def _blocking_wait():
    value = os.environ.get("TORCH_NCCL_BLOCKING_WAIT", os.environ.get("NCCL_BLOCKING_WAIT", ""))
    return value.strip().lower() in ("1", "true", "yes", "on")


def _seconds(timeout):
    return None if timeout is None else getattr(timeout, "total_seconds", lambda: timeout)()


def _nccl_dtype(array):
    try:
        return _NCCL_DTYPES[array.dtype.name]
    except KeyError:
        raise TypeError(f"NCCL does not support tensors of dtype {array.dtype.name}") from None


def _nccl_op(op, array):
    table = _BOOL_OPS if array.dtype.kind == "b" else _NCCL_OPS
    try:
        return table[op]
    except KeyError:
        raise ValueError(f"Cannot use ReduceOp.{op} with NCCL") from None


def _first_device(tensors):
    """The CUDA device of the first tensor in ``tensors`` (a list, or anything else: None)."""
    if isinstance(tensors, (list, tuple)):
        for t in tensors:
            data = getattr(t, "_data", None)
            if data is not None and is_cuda_array(data):
                return data.device.id
    return None


def _device_data(tensor, name):
    data = tensor._data
    if not is_cuda_array(data):
        raise ValueError(f"Tensors must be CUDA and dense: {name} got a tensor on {tensor.device}")
    if not data.flags.c_contiguous:
        raise ValueError(f"Tensors must be contiguous: {name} got a non-contiguous tensor")
    return data


class _NcclWork(Work):
    """An enqueued collective.

    ``wait()`` orders the caller's stream after it without blocking the host, and raises the
    error the watchdog (or a blocking wait) recorded for it or its communicator.
    ``wait(timeout)``, ``synchronize()`` (the group's timeout) and ``is_completed()`` poll its
    CUDA event and the communicator's asynchronous error state on the caller's thread."""

    def __init__(self, group, name, seq, result, event):
        super().__init__(f"{name} (collective #{seq})", result, group.timeout)
        self._group = group
        self.name = name
        self.seq = seq
        self._event = event
        self._started = time.monotonic()
        self._gpu_done = False
        self._failure = None
        self._future = None
        self._keep = None

    def _poll(self):
        """True once the collective has run or failed; never blocks the host."""
        if self._gpu_done or self._failure is not None:
            return True
        group = self._group
        if group._error is not None or group._check_async_error(self):
            group._fail(self, None)  # records the communicator's failure for this work
            return True
        if self._event.done:
            self._gpu_done = True
            self._keep = None
            return True
        return False

    def _expired(self, now):
        limit = _seconds(self._timeout)
        return limit is not None and now - self._started > limit

    def _raise_failure(self):
        if self._failure is None and self._group._error is not None:
            self._group._fail(self, None)
        if self._failure is not None:
            raise self._failure

    def _block(self, seconds=None):
        """Block the host until the collective has run: at most ``seconds`` (an explicit
        ``wait(timeout)``), else the group's timeout counted from when it was enqueued. A
        collective still running then is failed and its communicator aborted."""
        end = None if seconds is None else time.monotonic() + seconds
        pause = 1e-5
        while not self._poll():
            now = time.monotonic()
            if end is not None and now > end:
                self._group._fail(self, RuntimeError(
                    f"Work.wait() timed out after {seconds} s waiting for {self.description} "
                    f"on rank {self._group._global_rank()}; the NCCL communicator of group "
                    f"'{self._group.name}' was aborted"))
            elif end is None and self._expired(now):
                self._group._fail(self, self._group._timeout_error(self))
            else:
                time.sleep(pause)
                pause = min(2 * pause, 1e-3)
        self._raise_failure()

    def wait(self, timeout=None):
        """Without ``timeout``: make the current stream wait for the collective (the host does
        not block unless ``TORCH_NCCL_BLOCKING_WAIT=1``); with one: block at most that long."""
        self._raise_failure()
        if timeout is not None:
            self._block(_seconds(timeout))
        elif self._group._blocking_wait:
            self._block()
        elif not self._gpu_done:
            cupy_module().cuda.get_current_stream().wait_event(self._event)
        return True

    def is_completed(self):
        return self._poll()

    def is_success(self):
        return self._poll() and self._failure is None

    def exception(self):
        self._poll()
        return self._failure

    def synchronize(self):
        """Block the host until the collective has run, at most the group's timeout."""
        self._raise_failure()
        self._block()

    def get_future(self):
        # complete as soon as the collective is enqueued, as PyTorch's CUDA futures are: a
        # callback runs at once, and wait() orders the caller's stream after the collective
        if self._future is None:
            self._future = _NcclFutureWork(self)
        return self._future.get_future()


class _NcclFutureWork(Work):
    """What ``get_future()`` of an NCCL collective stands on: complete from the start, its
    ``wait()`` is the collective's (a stream wait that raises a recorded failure)."""

    def __init__(self, work):
        super().__init__(work.description, work._result)
        self._work = work
        self._finish()

    def wait(self, timeout=None):
        return self._work.wait(timeout)



class ProcessGroupNCCL(ProcessGroup):
    """A process group whose collectives run on CUDA tensors over NCCL."""

    backend_name = "nccl"

    def __init__(self, comm, timeout, global_ranks=None, name="world", control=None,
                 device_id=None):
        if control is None:
            ranks = list(range(comm.Get_size())) if global_ranks is None else list(global_ranks)
            control = ProcessGroupMPI(comm, timeout, ranks, name)
        self.control = control
        self.global_ranks = control.global_ranks
        self.timeout = timeout
        self.name = name
        self._comm = None
        self._stream = None
        self._device = None
        self._seq = 0
        self._lock = threading.Lock()
        self._inflight = []  # enqueued collectives the watchdog has not seen complete
        self._error = None  # the failure that aborted the communicator
        self._watchdog = None
        self._stop = threading.Event()
        self._blocking_wait = _blocking_wait()
        self._bound = device_id is not None
        if device_id is not None:
            self.bind_device(device_id)

    def rank(self):
        return self.control.rank()

    def size(self):
        return self.control.size()

    def _global_rank(self):
        return self.global_ranks[self.rank()]

    # -------------------------------------------------------------- communicator
    def bind_device(self, device_id):
        """Create the communicator now, on ``device_id`` (``init_process_group(device_id=)``);
        its collectives then run on that device whichever device is current."""
        cp = cupy_module()
        index = _device_index(device_id)
        if index is None:
            index = cp.cuda.runtime.getDevice()
        if self._comm is not None:
            if index != self._device:
                raise ValueError(f"the NCCL communicator of group '{self.name}' is already bound "
                                 f"to cuda:{self._device}, not cuda:{index}")
            return
        with cp.cuda.Device(index):
            self._communicator()

    def _communicator(self):
        if self._error is not None:
            raise self._aborted_error("communicator")
        if self._comm is None:
            cp = cupy_module()
            from cupy.cuda import nccl
            device = cp.cuda.runtime.getDevice()
            payload, failure = b"", None
            if self.rank() == 0:
                try:
                    payload = _encode_unique_id(nccl.get_unique_id())
                except Exception as exc:  # the others learn of it from the empty id
                    failure = exc
            payload = self.control.broadcast_bytes(payload, 0)
            if failure is not None:
                raise DistBackendError(f"NCCL could not create a unique id on rank "
                                       f"{self._global_rank()}: {failure}") from failure
            if len(payload) != _UNIQUE_ID_BYTES:
                raise DistBackendError(
                    f"NCCL communicator creation failed on rank {self._global_rank()}: rank 0 of "
                    f"group '{self.name}' sent a unique id of {len(payload)} bytes, not "
                    f"{_UNIQUE_ID_BYTES} (it could not create one)")
            try:
                comm = _new_communicator(nccl, self.size(), payload, self.rank())
            except Exception as exc:
                raise DistBackendError(
                    f"NCCL communicator creation failed on rank {self._global_rank()} (device "
                    f"cuda:{device}): {exc}. Each rank needs its own GPU: call "
                    f"disttorch.cuda.set_device(local_rank) before the first collective, or pass "
                    f"device_id to init_process_group."
                ) from exc
            self._stream = cp.cuda.Stream(non_blocking=True)
            self._device = device
            self._comm = comm
            self._start_watchdog()
        return self._comm

    def _launch(self, name, issue, result):
        """Run ``issue(comm, stream_ptr)`` on the communication stream after the caller's work."""
        cp = cupy_module()
        if self._error is not None:
            raise self._aborted_error(name)
        index = _first_device(result)
        if self._comm is None and index is not None and index != cp.cuda.runtime.getDevice():
            with cp.cuda.Device(index):   # PyTorch binds the communicator to the tensors' GPU
                self._communicator()
        comm = self._communicator()
        if index is not None and index != self._device:
            raise ValueError(f"{name}: the tensors are on cuda:{index} but the NCCL communicator "
                             f"of group '{self.name}' is on cuda:{self._device} (one GPU per "
                             f"rank: keep a rank's tensors on the GPU of its first collective)")
        if cp.cuda.runtime.getDevice() != self._device:
            with cp.cuda.Device(self._device):
                return self._enqueue(cp, comm, name, issue, result)
        return self._enqueue(cp, comm, name, issue, result)

    def _enqueue(self, cp, comm, name, issue, result):
        self._seq += 1
        seq = self._seq
        self._stream.wait_event(cp.cuda.get_current_stream().record())
        try:
            issue(comm, self._stream.ptr)
        except Exception as exc:
            raise DistBackendError(f"NCCL {name} (collective #{seq}) failed on rank "
                                   f"{self._global_rank()}: {exc}") from exc
        event = cp.cuda.Event(disable_timing=True)
        event.record(self._stream)
        work = _NcclWork(self, name, seq, result, event)
        # The arrays the collective reads and writes (held by ``issue``) stay alive until it
        # has run: freed earlier, CuPy's pool would hand their memory to the caller's stream
        # while NCCL still uses it on ours (what PyTorch's NCCL backend uses record_stream for)
        work._keep = issue
        with self._lock:
            self._inflight.append(work)
        return work

    # -------------------------------------------------------------- errors and the watchdog
    def _timeout_error(self, work):
        return DistTimeoutError(
            f"{work.description} on rank {self._global_rank()} timed out after "
            f"{_seconds(self.timeout):g} s. The NCCL communicator of group '{self.name}' was "
            f"aborted: a rank has not joined the collective, or a GPU is stuck")

    def _aborted_error(self, what, verb="cannot run"):
        error = DistBackendError(
            f"NCCL {what} {verb} on rank {self._global_rank()}: the communicator of group "
            f"'{self.name}' was aborted after an earlier failure: {self._error}")
        error.__cause__ = self._error
        return error

    def _check_async_error(self, work):
        """Ask NCCL for an asynchronous error (non-blocking); on one, fail ``work`` with it."""
        comm = self._comm
        if comm is None or self._error is not None:
            return False
        try:
            comm.check_async_error()
        except Exception as exc:
            error = DistBackendError(
                f"NCCL {work.description} failed on rank {self._global_rank()}: NCCL reported an "
                f"asynchronous error: {exc}. The communicator of group '{self.name}' was aborted")
            error.__cause__ = exc
            self._fail(work, error)
            return True
        return False

    def _fail(self, work, error):
        """Record ``error`` as ``work``'s failure and abort the communicator; once it has been
        aborted, a work without its own failure fails with the communicator's."""
        with self._lock:
            first = self._error is None and error is not None
            if first:
                self._error = error
                self._inflight = []
            if work is not None and work._failure is None:
                work._failure = error if first else \
                    self._aborted_error(work.description, "did not complete")
        if first:
            self._stop.set()
            comm = self._comm
            try:
                comm.abort()
            except Exception as exc:  # NCCL before 2.4 has no abort: nothing more to do
                print(f"disttorch: could not abort the NCCL communicator of group "
                      f"'{self.name}': {exc}", file=sys.stderr)
        return first

    def _start_watchdog(self):
        self._watchdog = threading.Thread(target=self._watch_loop, daemon=True,
                                          name=f"disttorch-nccl-watchdog-{self.name}")
        self._watchdog.start()

    def _watch_loop(self):
        try:
            cupy_module().cuda.runtime.setDevice(self._device)  # the thread's current device
        except Exception:
            pass
        while not self._stop.wait(_WATCHDOG_INTERVAL_S):
            try:
                self._watch()
            except Exception as exc:  # keep watching; say why this pass failed
                print(f"disttorch: NCCL watchdog of group '{self.name}': {exc!r}",
                      file=sys.stderr)

    def _watch(self):
        """One watchdog pass: forget the collectives that have run; fail the group on an
        asynchronous NCCL error, or when the oldest pending collective is past its timeout."""
        with self._lock:
            works = list(self._inflight)
        now = time.monotonic()
        for work in works:
            if work._poll():
                if work._failure is not None:
                    self._report(work._failure)
                    return
                continue
            if work._expired(now):
                error = self._timeout_error(work)
                if self._fail(work, error):
                    self._report(error)
                return
            break  # collectives on one stream complete in order
        with self._lock:
            self._inflight = [w for w in self._inflight if not w._gpu_done]

    def _report(self, error):
        print(f"[rank {self._global_rank()}] disttorch NCCL watchdog: {error}", file=sys.stderr)

    def _finish(self, work, async_op):
        if async_op:
            return work
        work.wait()
        return None

    # -------------------------------------------------------------- collectives
    def allreduce(self, tensor, op=ReduceOp.SUM, async_op=False):
        data = _device_data(tensor, "all_reduce")
        dtype, nccl_op = _nccl_dtype(data), _nccl_op(op, data)
        work = self._launch("all_reduce", lambda c, s: c.allReduce(
            data.data.ptr, data.data.ptr, data.size, dtype, nccl_op, s), [tensor])
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def broadcast(self, tensor, src, async_op=False):
        data = _device_data(tensor, "broadcast")
        work = self._launch("broadcast", lambda c, s: c.bcast(
            data.data.ptr, data.size, _nccl_dtype(data), src, s), [tensor])
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def reduce(self, tensor, dst, op=ReduceOp.SUM, async_op=False):
        data = _device_data(tensor, "reduce")
        dtype, nccl_op = _nccl_dtype(data), _nccl_op(op, data)
        work = self._launch("reduce", lambda c, s: c.reduce(
            data.data.ptr, data.data.ptr, data.size, dtype, nccl_op, dst, s), [tensor])
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def allgather_into_tensor(self, output, tensor, async_op=False):
        out, data = _device_data(output, "all_gather_into_tensor"), \
            _device_data(tensor, "all_gather_into_tensor")
        if out.size != data.size * self.size():
            raise ValueError(f"all_gather_into_tensor: output has {out.size} elements, expected "
                             f"{data.size} x {self.size()} ranks")
        work = self._launch("all_gather", lambda c, s: c.allGather(
            data.data.ptr, out.data.ptr, data.size, _nccl_dtype(data), s), [output])
        output._vc[0] += 1
        return self._finish(work, async_op)

    def allgather(self, output_tensors, tensor, async_op=False):
        data = _device_data(tensor, "all_gather")
        flat = cupy_module().empty((self.size(),) + data.shape, data.dtype)
        work = self._launch("all_gather", lambda c, s: c.allGather(
            data.data.ptr, flat.data.ptr, data.size, _nccl_dtype(data), s), output_tensors)
        work.wait()
        for r, t in enumerate(output_tensors):
            t._data[...] = flat[r]
            t._vc[0] += 1
        return self._finish(work, async_op)

    def reduce_scatter_tensor(self, output, input, op=ReduceOp.SUM, async_op=False):
        out, data = _device_data(output, "reduce_scatter_tensor"), \
            _device_data(input, "reduce_scatter_tensor")
        if data.size != out.size * self.size():
            raise ValueError(f"reduce_scatter_tensor: input has {data.size} elements, expected "
                             f"{out.size} x {self.size()} ranks")
        dtype, nccl_op = _nccl_dtype(data), _nccl_op(op, data)
        work = self._launch("reduce_scatter", lambda c, s: c.reduceScatter(
            data.data.ptr, out.data.ptr, out.size, dtype, nccl_op, s), [output])
        output._vc[0] += 1
        return self._finish(work, async_op)

    def reduce_scatter(self, output, input_list, op=ReduceOp.SUM, async_op=False):
        cp = cupy_module()
        flat = cp.concatenate([_device_data(t, "reduce_scatter").reshape(-1) for t in input_list])
        out = _device_data(output, "reduce_scatter")
        dtype, nccl_op = _nccl_dtype(out), _nccl_op(op, out)
        work = self._launch("reduce_scatter", lambda c, s: c.reduceScatter(
            flat.data.ptr, out.data.ptr, out.size, dtype, nccl_op, s), [output])
        output._vc[0] += 1
        return self._finish(work, async_op)

    def _grouped(self, name, pairs, result):
        """Point-to-point sends/receives issued as one NCCL group (``(peer, send, recv)``)."""
        from cupy.cuda import nccl

        def issue(c, s):
            nccl.groupStart()
            try:
                for peer, send, recv in pairs:
                    if send is not None:
                        c.send(send.data.ptr, send.size, _nccl_dtype(send), peer, s)
                    if recv is not None:
                        c.recv(recv.data.ptr, recv.size, _nccl_dtype(recv), peer, s)
            finally:
                nccl.groupEnd()
        return self._launch(name, issue, result)

    def gather(self, tensor, gather_list, dst, async_op=False):
        data = _device_data(tensor, "gather")
        me = self.rank()
        if me == dst:
            pairs = [(r, None, _device_data(t, "gather")) for r, t in enumerate(gather_list)
                     if r != me]
            gather_list[me]._data[...] = data
        else:
            pairs = [(dst, data, None)]
        work = self._grouped("gather", pairs, gather_list)
        for t in gather_list or []:
            t._vc[0] += 1
        return self._finish(work, async_op)

    def scatter(self, tensor, scatter_list, src, async_op=False):
        data = _device_data(tensor, "scatter")
        me = self.rank()
        if me == src:
            pairs = [(r, _device_data(t, "scatter"), None) for r, t in enumerate(scatter_list)
                     if r != me]
            data[...] = scatter_list[me]._data
        else:
            pairs = [(src, None, data)]
        work = self._grouped("scatter", pairs, tensor)
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def alltoall(self, output_list, input_list, async_op=False):
        pairs = [(r, _device_data(i, "all_to_all"), _device_data(o, "all_to_all"))
                 for r, (o, i) in enumerate(zip(output_list, input_list))]
        work = self._grouped("all_to_all", pairs, output_list)
        for t in output_list:
            t._vc[0] += 1
        return self._finish(work, async_op)

    def alltoall_single(self, output, input, output_split_sizes=None, input_split_sizes=None,
                        async_op=False):
        out, data = _device_data(output, "all_to_all_single"), \
            _device_data(input, "all_to_all_single")
        n = self.size()
        out_sizes = output_split_sizes or [out.shape[0] // n] * n
        in_sizes = input_split_sizes or [data.shape[0] // n] * n
        out_off, in_off = np.cumsum([0] + list(out_sizes)), np.cumsum([0] + list(in_sizes))
        pairs = [(r, data[in_off[r]:in_off[r + 1]], out[out_off[r]:out_off[r + 1]])
                 for r in range(n)]
        work = self._grouped("all_to_all_single", pairs, output)
        output._vc[0] += 1
        return self._finish(work, async_op)

    def send(self, tensor, dst, tag=0, async_op=False):
        work = self._grouped("send", [(dst, _device_data(tensor, "send"), None)], None)
        return self._finish(work, async_op)

    def recv(self, tensor, src=None, tag=0, async_op=False):
        if src is None:
            raise ValueError("the NCCL backend does not support recv from any source: pass src")
        sender = self.global_ranks[src]  # what recv returns: the sender's global rank
        work = self._grouped("recv", [(src, None, _device_data(tensor, "recv"))], sender)
        tensor._vc[0] += 1
        if async_op:
            return work
        work.wait()
        return sender

    def batch_p2p(self, ops):
        # one NCCL group: NCCL matches a group's sends and receives as a whole, so pairs that
        # would deadlock one by one (both ranks sending first) complete
        pairs = [(peer, _device_data(t, "batch_isend_irecv"), None) if kind == "send" else
                 (peer, None, _device_data(t, "batch_isend_irecv")) for kind, t, peer, _ in ops]
        received = [t for kind, t, _, _ in ops if kind == "recv"]
        work = self._grouped("batch_isend_irecv", pairs, [t for _, t, _, _ in ops])
        for t in received:
            t._vc[0] += 1
        return [work] * len(ops)

    def barrier(self, async_op=False):
        token = cupy_module().zeros(1, np.float32)
        work = self._launch("barrier", lambda c, s: c.allReduce(
            token.data.ptr, token.data.ptr, 1, _NCCL_DTYPES["float32"], 0, s), None)
        work.synchronize()
        return work if async_op else None

    def broadcast_bytes(self, payload, src):
        return self.control.broadcast_bytes(payload, src)

    def allgather_bytes(self, payload):
        return self.control.allgather_bytes(payload)

    def split(self, ranks, timeout, name):
        control = self.control.split(ranks, timeout, name)
        if control is None:
            return None
        # a group bound to a device (device_id) binds its subgroups to it too, as torch does
        return ProcessGroupNCCL(None, timeout, name=name, control=control,
                                device_id=self._device if self._bound else None)

    def shutdown(self):
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2 * _WATCHDOG_INTERVAL_S + 1.0)
            self._watchdog = None
        if self._comm is not None and self._error is None:
            # let the queued collectives finish (within the timeout) before destroying the
            # communicator; one that cannot is aborted instead of hanging the exit
            with self._lock:
                works = list(self._inflight)
            try:
                for work in works:
                    work._block()
                self._comm.destroy()
            except DistBackendError as exc:
                print(f"[rank {self._global_rank()}] disttorch: shutting down NCCL group "
                      f"'{self.name}': {exc}", file=sys.stderr)
        self._comm = None
        with self._lock:
            self._inflight = []
        self.control.shutdown()
