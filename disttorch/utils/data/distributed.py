"""``DistributedSampler``: one shard of the dataset per rank, resumable across world sizes."""
import math

import numpy as np

from .sampler import _ResumableSampler

__all__ = ["DistributedSampler"]


def _process_group_info():
    """``(world_size, rank)`` of the default process group, with PyTorch's error when
    there is none (``disttorch.distributed`` may not be importable yet)."""
    try:
        from ... import distributed as dist
        is_initialized = dist.is_initialized
    except (ImportError, AttributeError):
        is_initialized = None
    if is_initialized is None or not is_initialized():
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return dist.get_world_size(), dist.get_rank()


class DistributedSampler(_ResumableSampler):
    r"""Sampler that restricts data loading to a subset of the dataset, one per rank.

    Each process passes a ``DistributedSampler`` as the DataLoader's sampler and loads
    the subset exclusive to it. Unless ``drop_last`` is set, indices are padded (repeating
    the first ones) so that every rank gets the same number.

    Call :meth:`set_epoch` at the beginning of each epoch **before** creating the
    DataLoader iterator; otherwise the same ordering is used in every epoch.

    Beyond PyTorch, :meth:`state_dict` records how far the epoch went and
    :meth:`load_state_dict` continues it, also with a different ``num_replicas``: the
    samples no rank has consumed are re-sharded over the new ranks, so each sample of
    the epoch is seen once (apart from the padding). The saved position assumes all
    ranks consumed the same number of samples, as in synchronous data-parallel training.

    Args:
        dataset: dataset used for sampling.
        num_replicas (int, optional): number of processes participating in distributed
            training. By default the world size of the default process group.
        rank (int, optional): rank of the current process within ``num_replicas``. By
            default the rank of the current process.
        shuffle (bool, optional): if ``True`` (default), the indices are shuffled.
        seed (int, optional): random seed used to shuffle; must be identical across all
            processes. Default: ``0``.
        drop_last (bool, optional): if ``True``, the tail of the data is dropped to make
            it evenly divisible across replicas; if ``False``, indices are padded.

    Example::

        >>> sampler = DistributedSampler(dataset) if is_distributed else None
        >>> loader = DataLoader(dataset, shuffle=(sampler is None), sampler=sampler)
        >>> for epoch in range(start_epoch, n_epochs):
        ...     if is_distributed:
        ...         sampler.set_epoch(epoch)
        ...     train(loader)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            world_size, group_rank = _process_group_info()
            num_replicas = world_size if num_replicas is None else num_replicas
            rank = group_rank if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = seed
        self._start = 0

    @property
    def num_samples(self):
        return self._shard_length(len(self.dataset) - self._current_start())

    def _current_start(self):
        """Where the pending pass (after a load) or else the current pass begins."""
        if self._start or self._pass_key is None:
            return self._start
        return self._pass_key["start"]

    @property
    def total_size(self):
        return self.num_samples * self.num_replicas

    def _shard_length(self, remaining):
        if self.drop_last and remaining % self.num_replicas != 0:
            return math.ceil((remaining - self.num_replicas) / self.num_replicas)
        return math.ceil(remaining / self.num_replicas)

    def _epoch_order(self, epoch):
        n = len(self.dataset)
        if self.shuffle:
            from ...ops.random import Generator
            from ... import randperm
            generator = Generator()
            generator.manual_seed(self.seed + epoch)
            return randperm(n, generator=generator)._data
        return np.arange(n, dtype=np.int64)

    def _draw_pass(self):
        return {"epoch": self.epoch, "start": self._start}

    def _order(self, key):
        indices = self._epoch_order(key["epoch"])[key["start"]:]
        num_samples = self._shard_length(len(indices))
        total_size = num_samples * self.num_replicas
        if not self.drop_last:
            padding_size = total_size - len(indices)
            if padding_size <= len(indices):
                indices = np.concatenate([indices, indices[:padding_size]])
            else:
                repeats = math.ceil(padding_size / len(indices))
                indices = np.concatenate([indices, np.tile(indices, repeats)[:padding_size]])
        else:
            indices = indices[:total_size]
        return indices[self.rank:total_size:self.num_replicas]

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        r"""Set the epoch for this sampler.

        When :attr:`shuffle=True`, this ensures all replicas use a different random
        ordering for each epoch. A position loaded with :meth:`load_state_dict` for
        another epoch is discarded.

        Args:
            epoch (int): epoch number.
        """
        if epoch != self.epoch:
            self._start = 0
            self._pass_key = None
        self.epoch = epoch

    def _start_pass(self):
        order = super()._start_pass()
        # A loaded position applies to one pass; later passes of the epoch are whole.
        self._start = 0
        return order

    def _state_at(self, consumed):
        key = self._pass_key or {"epoch": self.epoch, "start": self._start}
        start = min(key["start"] + int(consumed) * self.num_replicas, len(self.dataset))
        return {"epoch": key["epoch"], "start": start, "seed": self.seed,
                "shuffle": self.shuffle, "dataset_length": len(self.dataset)}

    def state_dict(self):
        r"""The position in the current epoch, valid for any number of replicas.

        Returns a dict with ``epoch``, ``start`` (how many samples of the epoch's
        permutation all ranks together have consumed), ``seed``, ``shuffle`` and
        ``dataset_length``.
        """
        return self._state_at(self._yielded)

    def load_state_dict(self, state_dict):
        r"""Continue the saved epoch: the next ``__iter__`` yields this rank's share of
        the samples not consumed yet, re-sharded over this sampler's ``num_replicas``."""
        if state_dict["dataset_length"] != len(self.dataset):
            raise ValueError("DistributedSampler.load_state_dict: the state was saved for a "
                             f"dataset of length {state_dict['dataset_length']}, this "
                             f"sampler's dataset has length {len(self.dataset)}")
        if state_dict["seed"] != self.seed or state_dict["shuffle"] != self.shuffle:
            raise ValueError("DistributedSampler.load_state_dict: the state was saved with "
                             f"seed={state_dict['seed']}, shuffle={state_dict['shuffle']}; "
                             f"this sampler has seed={self.seed}, shuffle={self.shuffle}")
        self.epoch = state_dict["epoch"]
        self._start = state_dict["start"]
