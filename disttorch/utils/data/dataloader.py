"""``DataLoader``: batches from a dataset, in this process or in worker processes.

Beyond PyTorch: batches of a :class:`TensorDataset` are gathered with one indexing
copy, worker batches arrive through shared memory without pickling, worker failures
never hang the main process, and ``state_dict()``/``load_state_dict()`` resume an
epoch where it stopped.
"""
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
import warnings
import weakref

import numpy as np

from ...tensor import Tensor, _new
from . import _shm
from ._collate import default_collate, default_convert
from ._worker import Fetcher, decode, pack, unpack, worker_loop
from .dataset import IterableDataset
from .sampler import (BatchSampler, RandomSampler, SequentialSampler, _ResumableSampler,
                      _draw_seed)

__all__ = ["DataLoader"]

_WAIT_S = 0.5
_JOIN_S = 1.0
_iterator_ids = itertools.count()


class DataLoader:
    r"""Combines a dataset and a sampler, and provides an iterable over the given dataset.

    Supports map-style and iterable-style datasets, single- or multi-process loading,
    customizing loading order and optional automatic batching (collation).

    Args:
        dataset (Dataset): dataset from which to load the data.
        batch_size (int, optional): how many samples per batch to load (default: ``1``).
        shuffle (bool, optional): set to ``True`` to have the data reshuffled at every
            epoch (default: ``False``).
        sampler (Sampler or Iterable, optional): defines the strategy to draw samples
            from the dataset. If specified, :attr:`shuffle` must not be specified.
        batch_sampler (Sampler or Iterable, optional): like :attr:`sampler`, but returns
            a batch of indices at a time. Mutually exclusive with :attr:`batch_size`,
            :attr:`shuffle`, :attr:`sampler`, and :attr:`drop_last`.
        num_workers (int, optional): how many subprocesses to use for data loading.
            ``0`` means that the data will be loaded in the main process (default: ``0``).
        collate_fn (Callable, optional): merges a list of samples to form a mini-batch.
        pin_memory (bool, optional): if ``True``, batches are copied into page-locked
            memory before being returned when CUDA is available (a no-op with a warning
            otherwise).
        drop_last (bool, optional): set to ``True`` to drop the last incomplete batch.
        timeout (numeric, optional): if positive, the timeout value for collecting a batch
            from workers (default: ``0``).
        worker_init_fn (Callable, optional): called with the worker id in each worker
            after seeding and before data loading.
        multiprocessing_context (str or multiprocessing.context.BaseContext, optional):
            start method of the workers (default: ``"fork"`` where available).
        generator (Generator, optional): the generator ``RandomSampler`` uses for indices
            and from which each epoch's base seed of the workers is drawn.
        prefetch_factor (int, optional): number of batches loaded in advance by each
            worker (default: ``2`` with workers, ``None`` without).
        persistent_workers (bool, optional): if ``True``, the workers are kept alive
            between epochs (default: ``False``).

    Worker processes: each worker seeds ``random``, NumPy's global generator and
    disttorch's default generator from the epoch's base seed, its worker id and the
    epoch number, so two workers never share a random stream and a seeded run is
    reproducible. Batches come back in sampler order whatever the number of workers.
    An exception in a worker is raised here with its worker id and traceback; a worker
    that dies raises an error naming it and the signal.

    Batches from workers are views of shared memory that stays reserved for them until
    every tensor of the batch has been garbage-collected (see ``_shm``).

    Resuming: :meth:`state_dict` returns the position in the current epoch (epoch,
    samples consumed, seeds); after :meth:`load_state_dict` the next iteration yields
    exactly the batches that had not been seen. An :class:`IterableDataset` resumes by
    replaying and discarding the consumed batches.
    """

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context

        if isinstance(dataset, IterableDataset):
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = None
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None
        self._progress = _Progress()
        self._next_epoch = 0
        self._resume = None
        self._initialized = True

    def __setattr__(self, name, value):
        if self._initialized and name in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                          "dataset", "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got num_workers="
                                 f"{self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            elif not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    @property
    def _auto_collation(self):
        if isinstance(self.dataset, IterableDataset):
            return self.batch_size is not None
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or not self._iterator._finalizer.alive:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _MultiProcessIter(self)

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)
            if self.batch_size is not None:
                length = (length // self.batch_size if self.drop_last
                          else -(-length // self.batch_size))
            return length
        return len(self._index_sampler)

    def state_dict(self):
        r"""The loader's position: ``epoch``, ``batches_yielded``, ``samples_yielded``,
        ``base_seed``, the sampler's position (``sampler``) and ``finished`` (the epoch
        ran to its end). Plain Python values; save it with the checkpoint."""
        if self._resume is not None:
            return dict(self._resume)
        if self._progress.base_seed is None:
            return {"epoch": self._next_epoch, "batches_yielded": 0, "samples_yielded": 0,
                    "base_seed": None, "sampler": None, "finished": False}
        return self._progress.state()

    def load_state_dict(self, state_dict):
        r"""Continue from a :meth:`state_dict`: the next iteration yields the batches of
        that epoch not yet seen (or the next epoch when it had finished)."""
        if state_dict.get("finished"):
            self._next_epoch = state_dict["epoch"] + 1
            self._resume = None
        else:
            self._next_epoch = state_dict["epoch"]
            self._resume = dict(state_dict)

    def _take_resume(self):
        resume, self._resume = self._resume, None
        return resume


class _Progress:
    """How far the current epoch went; shared by a loader and its iterator."""

    def __init__(self):
        self.start = None
        self.epoch = 0
        self.base_seed = None
        self.batches = 0
        self.samples = 0
        self.new_samples = 0
        self.finished = False
        self.sampler = None

    def begin(self, epoch, base_seed, resume, sampler):
        self.start = resume
        self.epoch, self.base_seed, self.sampler = epoch, base_seed, sampler
        self.batches = resume["batches_yielded"] if resume else 0
        self.samples = resume["samples_yielded"] if resume else 0
        self.new_samples = 0
        self.finished = False

    def state(self):
        if self.new_samples == 0 and not self.finished and self.batches == 0:
            return {"epoch": self.epoch, "batches_yielded": 0, "samples_yielded": 0,
                    "base_seed": self.base_seed, "sampler": None, "finished": False}
        if self.new_samples == 0 and not self.finished and self.start is not None:
            return dict(self.start)
        sampler = self.sampler
        sampler_state = (sampler._state_at(sampler._pass_start + self.new_samples)
                         if sampler is not None else None)
        return {"epoch": self.epoch, "batches_yielded": self.batches,
                "samples_yielded": self.samples, "base_seed": self.base_seed,
                "sampler": sampler_state, "finished": self.finished}


def _resumable_sampler(loader):
    sampler = loader._index_sampler
    if isinstance(sampler, BatchSampler):
        sampler = sampler.sampler
    return sampler if isinstance(sampler, _ResumableSampler) else None


def _progress_reporter():
    try:
        from launcher import worker
        launched = worker.is_launched()
    except (ImportError, AttributeError):
        return None
    return worker.report_progress if launched else None


def _pin(obj, cupyx):
    if isinstance(obj, Tensor) and type(obj._data) is np.ndarray:
        pinned = cupyx.empty_pinned(obj._data.shape, obj._data.dtype)
        pinned[...] = obj._data
        return _new(pinned)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_pin(item, cupyx) for item in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pin(item, cupyx) for item in obj)
    if isinstance(obj, dict):
        return {key: _pin(value, cupyx) for key, value in obj.items()}
    return obj


class _BaseIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._iterable = isinstance(loader.dataset, IterableDataset)
        self._auto_collation = loader._auto_collation
        self._index_sampler = loader._index_sampler
        self._progress = loader._progress
        self._timeout = loader.timeout
        self._fetcher = Fetcher(loader.dataset, self._iterable, loader._auto_collation,
                                loader.collate_fn, loader.batch_size, loader.drop_last)
        self._cupyx = None
        if loader.pin_memory:
            from ... import cuda
            if cuda.is_available():
                import cupyx
                self._cupyx = cupyx
            else:
                warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                              "then device pinned memory won't be used.")
        self._report = _progress_reporter()
        self._start_epoch(loader)

    def _start_epoch(self, loader):
        resume = loader._take_resume()
        epoch = loader._next_epoch
        loader._next_epoch = epoch + 1
        if resume and resume.get("base_seed") is not None:
            self._base_seed = resume["base_seed"]
        else:
            self._base_seed = _draw_seed(loader.generator)
        self._epoch = epoch
        self._discard = 0
        sampler = _resumable_sampler(loader)
        if resume and resume.get("sampler") is not None and sampler is not None:
            sampler.load_state_dict(resume["sampler"])
        elif resume:
            self._discard = resume["batches_yielded"]
        self._progress.begin(epoch, self._base_seed, resume, sampler)
        self._indices = None
        if not self._iterable:
            sampler_ = self._index_sampler
            self._indices = (sampler_._batches() if isinstance(sampler_, BatchSampler)
                             else iter(sampler_))
            # Samplers that cannot resume are fast-forwarded; no data is loaded for them.
            for _ in range(self._discard):
                next(self._indices, None)
            if self._discard:
                self._discard = 0
        self._started_at = time.monotonic()

    def __iter__(self):
        return self

    def _deliver(self, batch, size):
        progress = self._progress
        progress.batches += 1
        progress.samples += size
        progress.new_samples += size
        if self._cupyx is not None:
            batch = _pin(batch, self._cupyx)
        if self._report is not None:
            elapsed = time.monotonic() - self._started_at
            self._report(epoch=self._epoch, step=progress.batches,
                         samples_per_s=progress.new_samples / elapsed if elapsed > 0 else None)
        return batch

    def _finish(self):
        self._progress.finished = True


def _batch_size_of(indices, auto_collation):
    return len(indices) if auto_collation else 1


class _SingleProcessIter(_BaseIter):
    def __next__(self):
        fetcher = self._fetcher
        try:
            if self._iterable:
                while self._discard:
                    fetcher.fetch_next()
                    self._discard -= 1
                batch = fetcher.fetch_next()
                size = self._fetcher.batch_size or 1
            else:
                indices = next(self._indices)
                batch = fetcher.fetch(indices)
                size = _batch_size_of(indices, self._auto_collation)
        except StopIteration:
            self._finish()
            raise
        return self._deliver(batch, size)


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


def _raise_worker_error(error):
    message = (f"Caught {error['name']} in DataLoader worker process {error['worker']}.\n"
               f"Original {error['traceback']}")
    exc_type = None
    if error["type"] is not None:
        try:
            exc_type = pickle.loads(error["type"])
        except Exception:
            exc_type = None
    try:
        exc = exc_type(message) if exc_type is not None else RuntimeError(message)
    except Exception:
        exc = RuntimeError(message)
    raise exc


class _MultiProcessIter(_BaseIter):
    def __init__(self, loader):
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._persistent = loader.persistent_workers
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
                          self._num_workers, self._dataset, self._fetcher, self._base_seed,
                          self._epoch, loader.worker_init_fn, f"{self._prefix}{worker_id}_"))
                try:
                    process.start()
                finally:
                    child_end.close()
                self._workers.append(process)
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
        self._start_epoch(loader)
        for worker_id, connection in enumerate(self._connections):
            connection.send_bytes(pack({"op": "epoch", "seed": self._base_seed,
                                        "epoch": self._epoch,
                                        "free": self._slots.take_released(worker_id)}))
        self._begin_tasks()

    def _try_put(self):
        while self._outstanding < self._prefetch * self._num_workers and not self._indices_done:
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
            self._connections[worker_id].send_bytes(pack(message))
            self._tasks[self._send_idx] = (worker_id, size)
            self._send_idx += 1
            self._outstanding += 1

    def __next__(self):
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
            seq = self._rcvd_idx
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
        if "error" in reply:
            result = _WorkerError(reply["error"])
        elif reply.get("end"):
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
        if seq in self._stale:
            self._stale.discard(seq)
            self._tasks.pop(seq, None)
            return
        self._results[seq] = result
