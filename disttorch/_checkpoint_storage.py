"""Storages shared by both checkpoint formats: which tensors share memory, how a tensor is
rebuilt as a view of a loaded storage, and where ``map_location`` puts it.

A storage is the flat memory a tensor views: numpy's root array of the view chain. Saving
each storage once and every tensor as (storage, offset, shape, strides) keeps views and the
same tensor saved twice sharing memory after loading, as torch does.
"""
import sys

import numpy as np

from . import _dtype
from ._backend import is_cuda_array, to_numpy
from ._device import device as _device_cls
from .tensor import Tensor, _new


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read: truncated, corrupted, or not a checkpoint."""


class StorageTable:
    """Assigns storage keys to the memory of the tensors being saved.

    ``add(array, location)`` returns ``(key, element_offset, element_strides)`` of ``array``
    within its storage; ``storages[key]`` is ``(root_array, location)``, the root being a
    C-contiguous array whose bytes are written once.
    """

    def __init__(self, same_dtype=False):
        # torch storages are typed: a view with another dtype than its root gets its own copy.
        self.same_dtype = same_dtype
        self.storages = []
        self._key_of_root = {}

    def add(self, array, location):
        if is_cuda_array(array):
            array = to_numpy(array)
        view = _view_in_root(array, self.same_dtype)
        if view is None:
            root = np.ascontiguousarray(array)
            if root.dtype.byteorder == ">":
                root = root.astype(root.dtype.newbyteorder("<"))
            offset, strides = 0, _contiguous_strides(array.shape)
        else:
            root, offset, strides = view
        key = self._key_of_root.get(id(root))
        if key is None:
            key = len(self.storages)
            self._key_of_root[id(root)] = key
            self.storages.append((root, location))
        return key, offset, strides


def _contiguous_strides(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _view_in_root(array, same_dtype):
    """``(root, element_offset, element_strides)`` if ``array`` is a plain view of a
    contiguous little-endian root array, else None (the caller saves a copy)."""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    if root is array or root.size == 0 or array.size == 0:
        return None
    itemsize = array.dtype.itemsize
    if (not root.flags.c_contiguous or root.dtype.byteorder == ">"
            or array.dtype.byteorder == ">" or (same_dtype and root.dtype != array.dtype)):
        return None
    byte_offset = array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if byte_offset % itemsize or any(s % itemsize or s < 0 for s in array.strides):
        return None
    offset = byte_offset // itemsize
    strides = tuple(s // itemsize for s in array.strides)
    end = byte_offset + itemsize * (1 + sum((n - 1) * s for n, s in zip(array.shape, strides)))
    if byte_offset < 0 or end > root.nbytes:
        return None
    return root, offset, strides


def view_of_storage(storage, np_dtype, offset, shape, strides, filename):
    """The array of ``shape``/``strides`` (in elements) at element ``offset`` of the uint8
    array ``storage``, sharing its memory; raises CheckpointError if it does not fit."""
    np_dtype = np.dtype(np_dtype)
    itemsize = np_dtype.itemsize
    shape, strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)
    if offset < 0 or any(n < 0 for n in shape) or len(shape) != len(strides):
        raise CheckpointError(f"{filename}: invalid tensor layout (offset {offset}, shape {shape}, "
                              f"stride {strides})")
    if 0 in shape:
        return np.empty(shape, dtype=np_dtype)
    lowest = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    highest = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
    if lowest < 0 or (highest + 1) * itemsize > storage.nbytes:
        raise CheckpointError(f"{filename}: a tensor of shape {list(shape)} at offset {offset} "
                              f"does not fit in its storage of {storage.nbytes} bytes (the file "
                              "is truncated or corrupted)")
    return np.ndarray(shape, dtype=np_dtype, buffer=storage, offset=offset * itemsize,
                      strides=tuple(s * itemsize for s in strides))


def is_parameter(tensor):
    """Whether ``tensor`` is an ``nn.Parameter``, without importing ``disttorch.nn`` (if it
    was never imported, no Parameter exists)."""
    module = sys.modules.get("disttorch.nn.parameter")
    return module is not None and isinstance(tensor, module.Parameter)


def location_of(array):
    return "cpu" if not is_cuda_array(array) else f"cuda:{array.device.id}"


def restore(array, location, map_location, requires_grad, is_parameter):
    """Build the loaded Tensor (or Parameter) from a CPU array saved at ``location``."""
    tensor = _new(array)
    if callable(map_location) and not isinstance(map_location, (str, _device_cls)):
        mapped = map_location(tensor, location)
        if mapped is not None:
            tensor = mapped if isinstance(mapped, Tensor) else _new(np.asarray(mapped))
        else:
            tensor = _to_location(tensor, location)
    else:
        if isinstance(map_location, dict):
            target = map_location.get(location, location)
        elif map_location is None:
            target = location
        else:
            target = map_location
        tensor = _to_location(tensor, str(_device_cls(target)) if not isinstance(target, str)
                              else target)
    if is_parameter:
        from .nn.parameter import Parameter
        return Parameter(tensor, requires_grad)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _to_location(tensor, location):
    dev = _device_cls(location)
    if dev.type == "cpu":
        return tensor
    if dev.type == "cuda":
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but "
                "disttorch.cuda.is_available() is False. If you are running on a CPU-only machine, please use disttorch.load "
                "with map_location=disttorch.device('cpu') to map your storages to the CPU.")
        return tensor.to(dev)
    raise RuntimeError(f"don't know how to restore data location of {location}")


def dtype_by_name(name, filename):
    dtype = _dtype._BY_NAME.get(name)
    if dtype is None:
        if name == "bfloat16":
            raise CheckpointError(f"{filename}: bfloat16 tensors need the ml_dtypes package "
                                  "(pip install ml_dtypes)")
        raise CheckpointError(f"{filename}: unknown tensor dtype {name!r}")
    return dtype
