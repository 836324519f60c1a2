"""The ``nccl`` backend: collectives on CUDA tensors through ``cupy.cuda.nccl``.

The communicator is created on the first collective, once the worker has chosen its device
(``disttorch.cuda.set_device(local_rank)``); rank 0's NCCL unique id reaches the others through
MPI. Collectives are queued on a dedicated communication stream that first waits for the work
already queued on the caller's stream, so DDP's bucket all-reduces overlap the rest of backward;
``Work.wait()`` makes the caller's stream wait for the collective without blocking the host.
Object collectives, ``barrier`` and error reporting go through the MPI group of the same ranks.
"""
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


def nccl_available():
    """True when CuPy (not the simulated device) runs on a GPU and has its NCCL bindings."""
    from .. import cuda
    cp = cupy_module()
    if not (cuda.is_available() and is_real_cupy(cp)):
        return False
    try:
        from cupy.cuda import nccl
        return bool(nccl.available)
    except Exception:  # CuPy without NCCL bindings
        return False


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


def _device_data(tensor, name):
    data = tensor._data
    if not is_cuda_array(data):
        raise ValueError(f"Tensors must be CUDA and dense: {name} got a tensor on {tensor.device}")
    if not data.flags.c_contiguous:
        raise ValueError(f"Tensors must be contiguous: {name} got a non-contiguous tensor")
    return data


class _NcclWork(Work):
    """An enqueued collective: ``wait()`` orders the caller's stream after it (no host block);
    ``synchronize()`` blocks the host until it has run, at most the group's timeout."""

    def __init__(self, description, result, event, timeout, on_timeout):
        super().__init__(description, result, timeout, on_timeout)
        self._event = event
        self._finish()

    def wait(self, timeout=None):
        cupy_module().cuda.get_current_stream().wait_event(self._event)
        return True

    def is_completed(self):
        return bool(self._event.done)

    def synchronize(self):
        limit = self._timeout.total_seconds() if self._timeout is not None else None
        start = time.monotonic()
        while not self._event.done:
            if limit is not None and time.monotonic() - start > limit:
                raise self._on_timeout()
            time.sleep(1e-4)


class ProcessGroupNCCL(ProcessGroup):
    """A process group whose collectives run on CUDA tensors over NCCL."""

    backend_name = "nccl"

    def __init__(self, comm, timeout, global_ranks=None, name="world", control=None):
        if control is None:
            ranks = list(range(comm.Get_size())) if global_ranks is None else list(global_ranks)
            control = ProcessGroupMPI(comm, timeout, ranks, name)
        self.control = control
        self.global_ranks = control.global_ranks
        self.timeout = timeout
        self.name = name
        self._comm = None
        self._stream = None
        self._seq = 0

    def rank(self):
        return self.control.rank()

    def size(self):
        return self.control.size()

    # -------------------------------------------------------------- communicator
    def _communicator(self):
        if self._comm is None:
            cp = cupy_module()
            from cupy.cuda import nccl
            unique_id = self.control.broadcast_bytes(
                bytes(nccl.get_unique_id()) if self.rank() == 0 else b"", 0)
            try:
                self._comm = nccl.NcclCommunicator(self.size(), unique_id, self.rank())
            except Exception as exc:
                raise DistBackendError(
                    f"NCCL communicator creation failed on rank {self.rank()} (device "
                    f"cuda:{cp.cuda.runtime.getDevice()}): {exc}. Each rank needs its own GPU: "
                    f"call disttorch.cuda.set_device(local_rank) before the first collective."
                ) from exc
            self._stream = cp.cuda.Stream(non_blocking=True)
        return self._comm

    def _launch(self, name, issue, result):
        """Run ``issue(comm, stream_ptr)`` on the communication stream after the caller's work."""
        cp = cupy_module()
        comm = self._communicator()
        self._seq += 1
        seq = self._seq
        caller = cp.cuda.get_current_stream()
        self._stream.wait_event(caller.record())
        try:
            issue(comm, self._stream.ptr)
        except Exception as exc:
            raise DistBackendError(f"NCCL {name} (collective #{seq}) failed on rank "
                                   f"{self.rank()}: {exc}") from exc
        event = self._stream.record()
        return _NcclWork(f"{name} #{seq}", result, event, self.timeout,
                         lambda: self._timeout_error(name, seq))

    def _timeout_error(self, name, seq):
        return DistTimeoutError(f"NCCL {name} (collective #{seq}) of group '{self.name}' did not "
                                f"complete within {self.timeout} on rank {self.rank()}: a rank "
                                "has not joined it, or a GPU is stuck")

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
            data.data.ptr, data.data.ptr, data.size, dtype, nccl_op, s), tensor)
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def broadcast(self, tensor, src, async_op=False):
        data = _device_data(tensor, "broadcast")
        work = self._launch("broadcast", lambda c, s: c.bcast(
            data.data.ptr, data.size, _nccl_dtype(data), src, s), tensor)
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def reduce(self, tensor, dst, op=ReduceOp.SUM, async_op=False):
        data = _device_data(tensor, "reduce")
        dtype, nccl_op = _nccl_dtype(data), _nccl_op(op, data)
        work = self._launch("reduce", lambda c, s: c.reduce(
            data.data.ptr, data.data.ptr, data.size, dtype, nccl_op, dst, s), tensor)
        tensor._vc[0] += 1
        return self._finish(work, async_op)

    def allgather_into_tensor(self, output, tensor, async_op=False):
        out, data = _device_data(output, "all_gather_into_tensor"), \
            _device_data(tensor, "all_gather_into_tensor")
        if out.size != data.size * self.size():
            raise ValueError(f"all_gather_into_tensor: output has {out.size} elements, expected "
                             f"{data.size} x {self.size()} ranks")
        work = self._launch("all_gather", lambda c, s: c.allGather(
            data.data.ptr, out.data.ptr, data.size, _nccl_dtype(data), s), output)
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
            data.data.ptr, out.data.ptr, out.size, dtype, nccl_op, s), output)
        output._vc[0] += 1
        return self._finish(work, async_op)

    def reduce_scatter(self, output, input_list, op=ReduceOp.SUM, async_op=False):
        cp = cupy_module()
        flat = cp.concatenate([_device_data(t, "reduce_scatter").reshape(-1) for t in input_list])
        out = _device_data(output, "reduce_scatter")
        dtype, nccl_op = _nccl_dtype(out), _nccl_op(op, out)
        work = self._launch("reduce_scatter", lambda c, s: c.reduceScatter(
            flat.data.ptr, out.data.ptr, out.size, dtype, nccl_op, s), output)
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
        work = self._grouped("recv", [(src, None, _device_data(tensor, "recv"))], src)
        tensor._vc[0] += 1
        return self._finish(work, async_op)

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
        return ProcessGroupNCCL(None, timeout, name=name, control=control)

    def shutdown(self):
        if self._comm is not None:
            self._stream.synchronize()
            self._comm.destroy()
            self._comm = None
        self.control.shutdown()
