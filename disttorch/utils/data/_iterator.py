"""The DataLoader's iterators: what they share, and the one loading in this process."""
import time
import warnings

import numpy as np

from ...tensor import Tensor, _new
from ._worker import Fetcher
from .dataset import IterableDataset
from .sampler import BatchSampler, _ResumableSampler, _draw_seed


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
                from ..._backend import cupy_module, cupyx_module
                self._cupyx = cupyx_module(cupy_module())
            else:
                warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                              "then device pinned memory won't be used.")
        self._report = _progress_reporter()
        self._start_epoch(loader)

    def _start_epoch(self, loader, draw_seed=True):
        """Begin an epoch: PyTorch's iterator opens the sampler's iterator, then draws the
        workers' base seed from the loader's generator (a persistent iterator keeps the
        seed it drew when it was created: ``draw_seed=False``)."""
        resume = loader._take_resume()
        epoch = loader._next_epoch
        loader._next_epoch = epoch + 1
        self._epoch = epoch
        self._discard = 0
        sampler = _resumable_sampler(loader)
        if resume and resume.get("sampler") is not None and sampler is not None:
            sampler.load_state_dict(resume["sampler"])
        elif resume:
            self._discard = resume["batches_yielded"]
        self._open_indices()
        if resume and resume.get("base_seed") is not None:
            self._base_seed = resume["base_seed"]
        elif draw_seed or getattr(self, "_base_seed", None) is None:
            self._base_seed = _draw_seed(loader.generator)
        self._progress.begin(epoch, self._base_seed, resume, sampler)
        self._started_at = time.monotonic()

    def _open_indices(self):
        """A new iterator over the index sampler: nothing is drawn until it is advanced
        (for our samplers; a user's sampler may draw in ``__iter__``, as in PyTorch)."""
        self._indices = None
        if not self._iterable:
            sampler = self._index_sampler
            self._indices = (sampler._batches() if isinstance(sampler, BatchSampler)
                             else iter(sampler))

    def _fast_forward(self):
        """Skip the batches a resumed epoch had yielded, for samplers that cannot resume:
        their indices are drawn, no data is loaded for them."""
        if self._iterable or not self._discard:
            return
        for _ in range(self._discard):
            next(self._indices, None)
        self._discard = 0

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
    def __init__(self, loader):
        super().__init__(loader)
        self._fast_forward()
        if self._iterable:
            # PyTorch's fetcher opens the dataset's iterator with the loader's iterator
            self._fetcher.open()

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
