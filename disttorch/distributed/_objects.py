"""Serialising objects for the object collectives: msgpack with tensors, never pickle."""
import msgpack
import numpy as np

_TENSOR = 1
_TUPLE = 2
_NDARRAY = 3


def _default(obj):
    from ..tensor import Tensor
    from .._backend import to_numpy
    if isinstance(obj, Tensor):
        array = np.ascontiguousarray(to_numpy(obj._data))
        header = msgpack.packb([array.dtype.str, list(array.shape), obj.device.type])
        return msgpack.ExtType(_TENSOR, header + array.tobytes())
    if isinstance(obj, np.ndarray):
        array = np.ascontiguousarray(obj)
        header = msgpack.packb([array.dtype.str, list(array.shape), "numpy"])
        return msgpack.ExtType(_NDARRAY, header + array.tobytes())
    if isinstance(obj, tuple):
        return msgpack.ExtType(_TUPLE, dumps(list(obj)))
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"object of type {type(obj).__name__} cannot be sent through the object "
                    "collectives: they carry plain data (None, bool, numbers, str, bytes, lists, "
                    "tuples, dicts) and tensors, serialised with msgpack (never pickle)")


def _ext_hook(code, data):
    if code == _TUPLE:
        return tuple(loads(data))
    if code in (_TENSOR, _NDARRAY):
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(data)
        dtype, shape, device = next(unpacker)
        offset = unpacker.tell()
        array = np.frombuffer(data, dtype=np.dtype(dtype), offset=offset).reshape(shape).copy()
        if code == _NDARRAY:
            return array
        from ..tensor import _new
        t = _new(array)
        return t.to(device) if device != "cpu" else t
    return msgpack.ExtType(code, data)


def dumps(obj):
    """Serialise ``obj`` (plain data and tensors) to bytes."""
    return msgpack.packb(obj, default=_default, strict_types=True, use_bin_type=True)


def loads(data):
    """Inverse of :func:`dumps`."""
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
