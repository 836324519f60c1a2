"""``default_collate`` and ``default_convert``: samples to batched tensors.

In a worker process every array a batch is stacked into comes from the batch's shared
memory block (see ``_worker``), so the main process receives it without a copy.
"""
import collections.abc
import copy
import functools
import re

import numpy as np

from ..._backend import get_array_module
from ...tensor import Tensor, _new

__all__ = ["default_collate", "default_convert"]

_STRING_OR_OBJECT_DTYPE = re.compile(r"[SaUO]")

_ERROR_FORMAT = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                 "lists; found {}")

# Set inside worker processes to allocate batch arrays in shared memory.
_allocator = None


def _empty(shape, dtype):
    if _allocator is None:
        return np.empty(shape, dtype)
    return _allocator(shape, np.dtype(dtype))


def _stack(arrays):
    first = arrays[0]
    if any(type(a) is not np.ndarray for a in arrays):
        return get_array_module(first).stack(arrays)
    for i, a in enumerate(arrays):
        if a.shape != first.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first.shape)} at entry 0 and {list(a.shape)} at entry {i}")
    dtype = functools.reduce(np.promote_types, (a.dtype for a in arrays))
    out = _empty((len(arrays),) + first.shape, dtype)
    np.stack(arrays, out=out)
    return out


def _from_values(values, dtype):
    out = _empty((len(values),), dtype)
    out[:] = values
    return out


def _is_numpy_type(elem_type):
    return elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_",
                                                                         "string_")


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def default_collate(batch):
    r"""Take in a batch of data and put the elements within the batch into a tensor
    with an additional outer dimension (the batch size).

    The exact output type is a :class:`~disttorch.Tensor`, a sequence of tensors, a
    collection of tensors, or left unchanged, depending on the input type:

    * :class:`~disttorch.Tensor` -> stacked :class:`~disttorch.Tensor`
    * NumPy arrays -> stacked :class:`~disttorch.Tensor`
    * float -> float64 :class:`~disttorch.Tensor`; int -> int64 :class:`~disttorch.Tensor`
    * str, bytes -> unchanged (a list)
    * Mapping[K, V_i] -> Mapping[K, default_collate([V_1, V_2, ...])]
    * NamedTuple[V1_i, V2_i, ...] -> NamedTuple[default_collate([V1_1, V1_2, ...]), ...]
    * Sequence[V1_i, V2_i, ...] -> Sequence[default_collate([V1_1, V1_2, ...]), ...]
      (tuples become lists, as in PyTorch)

    In a worker process the batch is stacked directly into shared memory.

    Args:
        batch: a single batch to be collated.

    Examples::

        >>> default_collate([0, 1, 2, 3])
        tensor([0, 1, 2, 3])
        >>> default_collate(["a", "b", "c"])
        ['a', 'b', 'c']
        >>> default_collate([{"A": 0, "B": 1}, {"A": 100, "B": 100}])
        {'A': tensor([  0, 100]), 'B': tensor([  1, 100])}
    """
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return _new(_stack([t._data for t in batch]))
    if _is_numpy_type(elem_type):
        if isinstance(elem, np.ndarray):
            if _STRING_OR_OBJECT_DTYPE.search(elem.dtype.str) is not None:
                raise TypeError(_ERROR_FORMAT.format(elem.dtype))
            return _new(_stack(batch))
        if np.shape(elem) == ():
            return _new(_from_values(batch, functools.reduce(np.promote_types,
                                                             (np.dtype(type(b)) for b in batch))))
    if isinstance(elem, float):
        return _new(_from_values(batch, np.float64))
    if isinstance(elem, bool):
        return _new(_from_values(batch, np.bool_))
    if isinstance(elem, int):
        return _new(_from_values(batch, np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return elem_type(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return elem_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            clone[:] = transposed
            return clone
        try:
            return elem_type(transposed)
        except TypeError:
            return transposed
    raise TypeError(_ERROR_FORMAT.format(elem_type))


def default_convert(data):
    r"""Convert each NumPy array element into a :class:`~disttorch.Tensor`.

    The collate function used when automatic batching is disabled (``batch_size=None``):
    tensors and numbers are left unchanged, NumPy arrays and scalars become tensors,
    and mappings, named tuples and sequences are converted element by element (tuples
    become lists, as in PyTorch).

    Args:
        data: a single data point to be converted.

    Examples::

        >>> default_convert(np.array([0, 1]))
        tensor([0, 1])
        >>> default_convert([np.array([0, 1]), np.array([2, 3])])
        [tensor([0, 1]), tensor([2, 3])]
    """
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if _is_numpy_type(elem_type):
        if isinstance(data, np.ndarray):
            if _STRING_OR_OBJECT_DTYPE.search(data.dtype.str) is not None:
                return data
            return _new(data)
        if np.shape(data) == ():
            return _new(np.asarray(data))
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(converted)
            return clone
        try:
            return elem_type(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            clone[:] = converted
            return clone
        try:
            return elem_type(converted)
        except TypeError:
            return converted
    return data
