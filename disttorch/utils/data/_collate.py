"""``default_collate`` and ``default_convert``: samples to batched tensors.

In a worker process every array a batch is stacked into comes from the batch's shared
memory block (see ``_worker``), so the main process receives it without a copy.
"""
import collections.abc
import copy
import re

import numpy as np

from ... import _dtype
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


def _promoted(dtypes):
    """The dtype arrays of ``dtypes`` stack into: PyTorch's promotion (int32 with float32
    is float32, not numpy's float64), in native byte order."""
    dtypes = [np.dtype(d).newbyteorder("=") for d in dtypes]
    first = dtypes[0]
    if all(d == first for d in dtypes):
        return first
    result = _dtype.from_numpy_dtype(first)
    for d in dtypes[1:]:
        result = _dtype.promote_types(result, _dtype.from_numpy_dtype(d))
    return _dtype.to_numpy_dtype(result)


def _stack(arrays):
    first = arrays[0]
    if any(type(a) is not np.ndarray for a in arrays):
        return get_array_module(first).stack(arrays)
    for i, a in enumerate(arrays):
        if a.shape != first.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first.shape)} at entry 0 and {list(a.shape)} at entry {i}")
    out = _empty((len(arrays),) + first.shape, _promoted([a.dtype for a in arrays]))
    np.stack(arrays, out=out)
    return out


def _from_values(values, dtype):
    out = _empty((len(values),), dtype)
    out[:] = values
    return out


def _number_dtype(values):
    """The dtype ``torch.tensor(values)`` infers for a list of numbers: each NumPy scalar's
    own, int64 for ints, the default dtype for floats (its complex one for complex),
    promoted together."""
    result = None
    for value in values:
        if isinstance(value, np.generic):
            kind = _dtype.from_numpy_dtype(value.dtype)
        elif isinstance(value, bool):
            kind = _dtype.bool
        elif isinstance(value, int):
            kind = _dtype.int64
        elif isinstance(value, float):
            kind = _dtype.get_default_dtype()
        elif isinstance(value, complex):
            kind = _dtype.as_dtype(complex)
        else:
            raise TypeError(f"new(): invalid data type '{type(value).__name__}'")
        result = kind if result is None else _dtype.promote_types(result, kind)
    return _dtype.to_numpy_dtype(result)


def _is_numpy_type(elem_type):
    return elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_",
                                                                         "string_")


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def default_collate(batch):
    r"""Take in a batch of data and put the elements within the batch into a tensor
    with an additional outer dimension (the batch size).

    The exact output type is a :class:`~disttorch.Tensor`, a sequence of tensors, a
    collection of tensors, or left unchanged, depending on the input type (as PyTorch's,
    which dispatches on the batch's first element):

    * :class:`~disttorch.Tensor` -> stacked :class:`~disttorch.Tensor`
    * NumPy arrays -> stacked :class:`~disttorch.Tensor`
    * NumPy numeric scalars, int, bool -> :class:`~disttorch.Tensor` of the dtype
      ``tensor(batch)`` infers (int64 for ints, the default dtype with floats among them)
    * float -> float64 :class:`~disttorch.Tensor`
    * str, bytes -> unchanged (the batch as it is: a tuple of the strings of a field of
      tuple or list samples)
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
        >>> default_collate([("hello", 1), ("world", 0)])
        [('hello', 'world'), tensor([1, 0])]
        >>> default_collate([{"A": 0, "B": 1}, {"A": 100, "B": 100}])
        {'A': tensor([  0, 100]), 'B': tensor([  1, 100])}
    """
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return _new(_stack([t._data for t in batch]))
    if isinstance(elem, np.ndarray):
        if _STRING_OR_OBJECT_DTYPE.search(elem.dtype.str) is not None:
            raise TypeError(_ERROR_FORMAT.format(elem.dtype))
        return _new(_stack([np.asarray(b) for b in batch]))
    if isinstance(elem, (np.bool_, np.number)):
        return _new(_from_values(batch, _number_dtype(batch)))
    if isinstance(elem, float):
        return _new(_from_values(batch, np.float64))
    if isinstance(elem, int):
        return _new(_from_values(batch, _number_dtype(batch)))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                # the mapping's own type may carry more than its items: update a copy
                clone = copy.copy(elem)
                clone.update(collated)
                return clone
            return elem_type(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return elem_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # each field's batch is the tuple zip gives, so strings stay a tuple
        transposed = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, field in enumerate(transposed):
                    clone[i] = field
                return clone
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
