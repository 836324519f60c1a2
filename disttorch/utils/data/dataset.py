"""Datasets: the map-style and iterable base classes and the combinators built on them."""
import bisect
import math
import warnings

import numpy as np

from ...tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]


class Dataset:
    r"""An abstract class representing a map-style dataset: ``dataset[i]`` is sample ``i``.

    Subclasses override :meth:`__getitem__` and usually ``__len__`` (which samplers
    and :class:`~disttorch.utils.data.DataLoader` use). ``dataset_a + dataset_b`` gives
    a :class:`ConcatDataset`.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    r"""An iterable dataset: subclasses implement ``__iter__``.

    With ``num_workers > 0`` every worker holds a copy of the dataset; use
    :func:`~disttorch.utils.data.get_worker_info` inside ``__iter__`` to give each worker
    its own shard, or every sample is produced once per worker.

    Example::

        >>> class Range(IterableDataset):
        ...     def __init__(self, start, end):
        ...         self.start, self.end = start, end
        ...     def __iter__(self):
        ...         info = get_worker_info()
        ...         if info is None:
        ...             return iter(range(self.start, self.end))
        ...         return iter(range(self.start + info.id, self.end, info.num_workers))
    """

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    r"""Dataset wrapping tensors: sample ``i`` is ``tuple(t[i] for t in tensors)``.

    Args:
        *tensors (Tensor): tensors that have the same size of the first dimension.

    With the default collate function the :class:`DataLoader` gathers a whole batch
    from each tensor with one fancy-indexing copy instead of stacking samples.
    """

    def __init__(self, *tensors):
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].size(0)

    def _batch_source(self):
        """``(arrays, index_map)`` a batch is gathered from; None when not on the CPU."""
        arrays = [t._data for t in self.tensors]
        return (arrays, None) if all(type(a) is np.ndarray for a in arrays) else None


class StackDataset(Dataset):
    r"""Dataset stacking several datasets of the same length sample by sample.

    Args:
        *args (Dataset): datasets whose samples form a tuple.
        **kwargs (Dataset): datasets whose samples form a dict.

    Example::

        >>> images = ImageDataset()
        >>> texts = TextDataset()
        >>> StackDataset(images, texts)[0]              # (image, text)
        >>> StackDataset(image=images, text=texts)[0]   # {"image": ..., "text": ...}
    """

    def __init__(self, *args, **kwargs):
        if args:
            if kwargs:
                raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                                 "``kwargs``) like input/output, but both types are given.")
            self._length = len(args[0])
            if any(self._length != len(dataset) for dataset in args):
                raise ValueError("Size mismatch between datasets")
            self.datasets = args
        elif kwargs:
            tmp = list(kwargs.values())
            self._length = len(tmp[0])
            if any(self._length != len(dataset) for dataset in tmp):
                raise ValueError("Size mismatch between datasets")
            self.datasets = kwargs
        else:
            raise ValueError("At least one dataset should be passed")

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __len__(self):
        return self._length


class ConcatDataset(Dataset):
    r"""Dataset as a concatenation of multiple map-style datasets.

    Args:
        datasets (sequence): the datasets to concatenate.
    """

    @staticmethod
    def cumsum(sequence):
        r, s = [], 0
        for e in sequence:
            s += len(e)
            r.append(s)
        return r

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    r"""Dataset chaining several :class:`IterableDataset` one after the other.

    Args:
        datasets (iterable of IterableDataset): datasets to chain.
    """

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset):
    r"""Subset of a dataset at the given indices.

    Args:
        dataset (Dataset): the whole dataset.
        indices (sequence): indices in the whole set selected for the subset.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[idx] for idx in indices])
        return [self.dataset[self.indices[idx]] for idx in indices]

    def __len__(self):
        return len(self.indices)

    def _batch_source(self):
        """The batch source of a Subset of a TensorDataset: the inner one, indices mapped."""
        inner = getattr(self.dataset, "_batch_source", None)
        source = inner() if inner is not None else None
        if source is None:
            return None
        arrays, index_map = source
        index = np.asarray(self.indices._data if isinstance(self.indices, Tensor) else
                           self.indices, dtype=np.int64)
        return arrays, index if index_map is None else index_map[index]


def random_split(dataset, lengths, generator=None):
    r"""Randomly split a dataset into non-overlapping new datasets of given lengths.

    If the lengths are fractions that sum to 1, the lengths are computed as
    ``floor(frac * len(dataset))`` and the remainder is spread round-robin.

    Args:
        dataset (Dataset): dataset to be split.
        lengths (sequence): lengths or fractions of the splits.
        generator (Generator): generator used for the random permutation.

    Example::

        >>> random_split(range(10), [3, 7], generator=disttorch.Generator().manual_seed(42))
        >>> random_split(range(30), [0.3, 0.3, 0.4])
    """
    from ... import randperm
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(len(dataset) * frac)))
        remainder = len(dataset) - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.")
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    indices = randperm(sum(lengths), generator=generator).tolist()
    splits, offset = [], 0
    for length in lengths:
        splits.append(Subset(dataset, indices[offset:offset + length]))
        offset += length
    return splits
