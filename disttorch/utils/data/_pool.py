"""The DataLoader's iterator over worker processes.

Tasks go round-robin to the workers (at most ``prefetch_factor`` per worker in flight)
and results are yielded in task order, so the batches are those of ``num_workers=0``.
While waiting, the main process watches the result pipes and the workers' process
sentinels together: a dead worker is noticed at once, never waited on.
"""
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
import weakref

import numpy as np

from . import _shm
from ._iterator import _BaseIter, _batch_size_of
from ._worker import decode, pack, unpack, worker_loop

_WAIT_S = 0.5
_JOIN_S = 1.0
_iterator_ids = itertools.count()


def _shutdown_workers(processes, connections, prefix):
    """Stop every worker (asking first, then killing) and remove its segments."""
    for connection in connections:
        try:
            connection.send_bytes(pack({"op": "stop"}))
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _JOIN_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    for connection in connections:
        connection.close()
    _shm.unlink_prefix(prefix)


def _encode_index(index, batched):
    """A batch of integer indices as int64 bytes, a single integer as an int, anything
    else (keys of a dict-like dataset, say) pickled."""
    if batched:
        array = np.asarray(index)
        if array.ndim == 1 and (array.dtype.kind in "iu" or array.size == 0):
            return {"idx": array.astype(np.int64, copy=False).tobytes()}
    elif isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        return {"idx": int(index)}
    return {"idx": None, "pickled": pickle.dumps(index)}


class _WorkerError(Exception):
    """Carries a worker's failure from where it is received to where it is raised."""


class _KeyErrorMessage(str):
    """A message whose repr is itself: ``str(KeyError(m))`` is ``repr(m)``, which would
    print the traceback on one line, quoted, with escaped newlines."""

    __slots__ = ()

    def __repr__(self):
        return self


def _raise_worker_error(error):
    """Raise a worker's exception here as PyTorch re-raises it: same type, the message
    naming the worker followed by the worker's traceback."""
    message = (f"Caught {error['name']} in DataLoader worker process {error['worker']}.\n"
               f"Original {error['traceback']}")
    exc_type = None
    if error["type"] is not None:
        try:
            exc_type = pickle.loads(error["type"])
        except Exception:
            exc_type = None
    if exc_type is None:
        raise RuntimeError(message)
    if exc_type is KeyError:
        message = _KeyErrorMessage(message)
    elif getattr(exc_type, "message", None):
        # exceptions whose first argument is not their message but that take it by name
        raise exc_type(message=message)
    try:
        exc = exc_type(message)
    except Exception:
        raise RuntimeError(message) from None
    raise exc


class _MultiProcessIter(_BaseIter):
    def __init__(self, loader):
        self._num_workers = loader.num_workers
        self._prefetch = max(1, loader.prefetch_factor)
        self._persistent = loader.persistent_workers
        self._in_order = loader.in_order
        super().__init__(loader)
        context = loader.multiprocessing_context
        if context is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
        forked = context.get_start_method() == "fork"
        self._prefix = f"dtdl_{os.getpid()}_{next(_iterator_ids)}_"
        self._slots = _shm.MainSlots()
        self._workers, self._connections = [], []
        self._finalizer = weakref.finalize(self, _shutdown_workers, self._workers,
                                           self._connections, self._prefix)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._tasks = {}
        self._stale = set()
        self._outstanding = 0
        try:
            for worker_id in range(self._num_workers):
                parent_end, child_end = context.Pipe()
                self._connections.append(parent_end)
                process = context.Process(
                    target=worker_loop, daemon=True,
                    args=(child_end, list(self._connections) if forked else [], worker_id,
                          self._num_workers, self._fetcher, self._base_seed,
                          loader.worker_init_fn, f"{self._prefix}{worker_id}_"))
                try:
                    process.start()
                finally:
                    child_end.close()
                self._workers.append(process)
            # PyTorch opens the sampler's iterator a second time here (its first reset),
            # which a sampler drawing in ``__iter__`` itself sees
            self._open_indices()
            self._fast_forward()
            self._begin_tasks()
        except BaseException:
            self._finalizer()
            raise

    def _begin_tasks(self):
        self._results = {}
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        self._indices_done = False
        self._try_put()

    def _reset(self, loader):
        # Tasks of the abandoned epoch still in flight are dropped when they arrive.
        self._stale.update(seq for seq in self._tasks if seq not in self._results)
        self._tasks = {seq: self._tasks[seq] for seq in self._stale}
        self._rcvd_idx = self._send_idx
        try:
            seed = self._base_seed
            # The workers keep their random streams across epochs, as PyTorch's do; only a
            # resumed epoch with its own base seed reseeds them.
            self._start_epoch(loader, draw_seed=False)
            for worker_id in range(self._num_workers):
                message = {"op": "epoch", "free": self._slots.take_released(worker_id)}
                if self._base_seed != seed:
                    message["seed"] = self._base_seed
                self._send(worker_id, message)
            self._fast_forward()
            self._begin_tasks()
        except BaseException:
            self._finalizer()
            raise

    def _send(self, worker_id, message):
        try:
            self._connections[worker_id].send_bytes(pack(message))
        except OSError:
            self._worker_died(worker_id)

    def _try_put(self):
        # As PyTorch: ``prefetch_factor * num_workers`` batches ahead of the one yielded
        # (tasks of an abandoned epoch aside), so the sampler is advanced, and draws from
        # its generator, at the same batches whatever the timing of the workers.
        ahead = self._prefetch * self._num_workers
        while self._send_idx - self._rcvd_idx < ahead and not self._indices_done:
            if not any(self._active):
                return
            worker_id = next(self._worker_cycle)
            while not self._active[worker_id]:
                worker_id = next(self._worker_cycle)
            if self._iterable:
                indices, size = None, None
            else:
                try:
                    indices = next(self._indices)
                except StopIteration:
                    self._indices_done = True
                    return
                size = _batch_size_of(indices, self._auto_collation)
            message = {"op": "task", "seq": self._send_idx,
                       "free": self._slots.take_released(worker_id)}
            if not self._iterable:
                message.update(_encode_index(indices, self._auto_collation))
            self._send(worker_id, message)
            self._tasks[self._send_idx] = (worker_id, size)
            self._send_idx += 1
            self._outstanding += 1

    def __next__(self):
        if not self._finalizer.alive:
            raise StopIteration
        try:
            return self._next()
        except StopIteration:
            self._finish()
            if not self._persistent:
                self._finalizer()
            raise
        except BaseException:
            self._finalizer()
            raise

    def _next(self):
        waited_since = time.monotonic()
        while True:
            if self._rcvd_idx == self._send_idx:
                self._try_put()
                if self._rcvd_idx == self._send_idx:
                    if not self._outstanding:
                        raise StopIteration
                    # Only an abandoned epoch's tasks are in flight: they hold the slots.
                    self._receive(waited_since)
                    continue
            seq = self._rcvd_idx if self._in_order else min(self._results, default=None)
            if seq not in self._results:
                self._receive(waited_since)
                continue
            reply = self._results.pop(seq)
            self._rcvd_idx += 1
            _, size = self._tasks.pop(seq)
            self._try_put()
            if reply is None:
                continue
            if isinstance(reply, _WorkerError):
                _raise_worker_error(reply.args[0])
            if self._discard:
                self._discard -= 1
                continue
            return self._deliver(reply, size if size is not None else
                                 (self._fetcher.batch_size or 1))

    def _receive(self, waited_since):
        connections = {}
        sentinels = {}
        for worker_id, (process, connection) in enumerate(zip(self._workers,
                                                              self._connections)):
            connections[connection] = worker_id
            sentinels[process.sentinel] = worker_id
        wait_s = _WAIT_S
        if self._timeout > 0:
            wait_s = min(wait_s, max(0.0, waited_since + self._timeout - time.monotonic()))
        ready = multiprocessing.connection.wait(list(connections) + list(sentinels), wait_s)
        if not ready and self._timeout > 0 and (time.monotonic() - waited_since
                                                >= self._timeout):
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        for obj in ready:
            if obj in connections:
                self._drain(connections[obj])
        for obj in ready:
            if obj in sentinels:
                self._drain(sentinels[obj])
                self._worker_died(sentinels[obj])

    def _drain(self, worker_id):
        connection = self._connections[worker_id]
        try:
            while connection.poll():
                self._handle(worker_id, unpack(connection.recv_bytes()))
        except (EOFError, OSError):
            self._worker_died(worker_id)

    def _worker_died(self, worker_id):
        # A worker that failed sends its exception before exiting; a send to it can fail
        # before that report is read, and the report, not the exit, is the error to raise.
        connection = self._connections[worker_id]
        try:
            while connection.poll():
                self._handle(worker_id, unpack(connection.recv_bytes()))
        except (EOFError, OSError):
            pass
        process = self._workers[worker_id]
        process.join(_JOIN_S)
        code = process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = f"is killed by signal: {signal.strsignal(-code)} ({name})"
        else:
            reason = f"exited unexpectedly with exit code {code}"
        raise RuntimeError(f"DataLoader worker {worker_id} (pid {process.pid}) {reason}. "
                           "See the worker's output above for its last messages.")

    def _handle(self, worker_id, reply):
        seq = reply["seq"]
        if seq is None:
            _raise_worker_error(reply["error"])
        stale = seq in self._stale
        if "error" in reply:
            result = _WorkerError(reply["error"])
        elif reply.get("end"):
            if not stale:
                self._active[worker_id] = False
            result = None
        elif reply["slot"] is None:
            result = decode(reply["tree"], None)
        else:
            lease = self._slots.lease(worker_id, reply["slot"], reply["seg"], reply["size"])
            offsets = reply["offsets"]
            result = decode(reply["tree"], lambda index, dtype, shape:
                            _shm.view(lease, offsets[index], dtype, shape))
        self._outstanding -= 1
        if stale:
            self._stale.discard(seq)
            self._tasks.pop(seq, None)
            return
        self._results[seq] = result
