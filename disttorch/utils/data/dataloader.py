"""``DataLoader``: batches from a dataset, in this process or in worker processes.

Beyond PyTorch: batches of a :class:`TensorDataset` are gathered with one indexing
copy, worker batches arrive through shared memory without pickling, worker failures
never hang the main process, and ``state_dict()``/``load_state_dict()`` resume an
epoch where it stopped.
"""
import multiprocessing

from ._collate import default_collate, default_convert
from ._iterator import _Progress, _SingleProcessIter
from ._pool import _MultiProcessIter
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader"]


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
            and from which each iterator's base seed of the workers is drawn.
        prefetch_factor (int, optional): number of batches loaded in advance by each
            worker (default: ``2`` with workers, ``None`` without).
        persistent_workers (bool, optional): if ``True``, the workers are kept alive
            between epochs (default: ``False``).
        pin_memory_device (str, optional): accepted for compatibility; batches are pinned
            for the current CUDA device.
        in_order (bool, optional): if ``False``, batches from workers are yielded as soon
            as they are ready rather than in sampler order (default: ``True``). Such a
            loader cannot save its position mid-epoch.

    Random numbers, as PyTorch draws them: creating an iterator opens the sampler's
    iterator and draws a base seed from ``generator`` (the default generator when None);
    the sampler draws when its first indices are asked for (at once with workers, which
    are sent ``prefetch_factor * num_workers`` batches ahead). Worker ``i`` seeds
    ``random`` and disttorch's default generator with ``base_seed + i`` and NumPy's
    global generator from ``base_seed`` and ``i`` (PyTorch's ``_generate_state``), so a
    transform in a worker draws PyTorch's numbers. Persistent workers keep their streams
    and their seed from one epoch to the next: the base seed is drawn only when the
    iterator is created. Batches come back in sampler order whatever the number of
    workers.
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
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
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
        self.in_order = in_order
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
        progress = self._progress
        if (not self.in_order and self.num_workers > 0 and progress.batches
                and not progress.finished):
            raise RuntimeError("DataLoader.state_dict(): this loader yields batches out of "
                               "order (in_order=False), so the samples seen so far are not a "
                               "prefix of the epoch and the position cannot be resumed; use "
                               "in_order=True, or save at the end of an epoch")
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
