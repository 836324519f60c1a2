"""PyTorch's checkpoint format (the zip written by ``torch.save``), read and written without
importing torch and without executing code.

The archive holds ``<prefix>/data.pkl`` (a pickle of the object whose tensors refer to
storages by persistent id), ``<prefix>/data/<key>`` (the raw little-endian bytes of each
storage), ``<prefix>/byteorder`` and ``<prefix>/version``. Reading uses an unpickler whose
``find_class`` admits only the handful of globals a state dict needs, mapped to our own
functions (what torch's ``weights_only=True`` admits); writing emits the pickle opcodes
directly, so no torch module has to exist to name its globals.
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from . import _dtype
from ._checkpoint_storage import (CheckpointError, StorageTable, dtype_by_name, is_parameter,
                                  location_of, restore, view_of_storage)
from ._device import device as _device_cls
from .tensor import Size, Tensor

__all__ = ["is_torch_archive", "load_torch_archive", "save_torch_archive"]

# torch's typed storage class name for each dtype.
_STORAGE_NAMES = {
    "float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage", "int64": "LongStorage", "int32": "IntStorage",
    "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage",
    "complex64": "ComplexFloatStorage", "complex128": "ComplexDoubleStorage",
}
_DTYPE_OF_STORAGE = {v: k for k, v in _STORAGE_NAMES.items()}
_DTYPE_OF_STORAGE["UntypedStorage"] = "uint8"


def is_torch_archive(names):
    return any(n.endswith("/data.pkl") for n in names)


# ------------------------------------------------------------------------------ reading
class _StorageType:
    """What ``torch.FloatStorage`` and friends unpickle to: just the dtype name."""

    def __init__(self, dtype_name):
        self.dtype_name = dtype_name


class _Storage:
    def __init__(self, array, location):
        self.array = array
        self.location = location


class _Loaded:
    """A tensor rebuilt by the unpickler, before ``map_location`` places it."""

    def __init__(self, array, location, requires_grad, is_parameter=False):
        self.array = array
        self.location = location
        self.requires_grad = requires_grad
        self.is_parameter = is_parameter


def _codecs_encode(text, encoding="utf-8"):
    # Protocol-2 pickles spell bytes as _codecs.encode(str, "latin1").
    return text.encode(encoding)


def _get_layout(name):
    if name != "torch.strided":
        raise pickle.UnpicklingError(f"only strided tensors can be loaded, not layout {name}")
    return name


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data, archive, prefix, filename, byteorder):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._filename = filename
        self._byteorder = byteorder
        self._storages = {}

    def find_class(self, module, name):
        if module == "__builtin__":
            module = "builtins"
        target = _allowed_global(module, name, self._filename)
        if target is None:
            raise pickle.UnpicklingError(
                f"Unsupported global: GLOBAL {module}.{name} is not allowed when loading "
                f"{self._filename}: disttorch.load only rebuilds tensors, containers, numbers and "
                "strings, and never runs code stored in a checkpoint.")
        return target

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"{self._filename}: unsupported persistent id {pid!r}")
        _, storage_type, key, location, _ = pid
        if key not in self._storages:
            name = f"{self._prefix}data/{key}"
            try:
                raw = bytearray(self._archive.read(name))
            except KeyError:
                raise CheckpointError(f"{self._filename}: storage {name} is missing") from None
            np_dtype = dtype_by_name(storage_type.dtype_name, self._filename).np_dtype
            if self._byteorder == "big":
                array = np.frombuffer(raw, dtype=np_dtype.newbyteorder(">")).astype(np_dtype)
                raw = bytearray(array.tobytes())
            self._storages[key] = _Storage(np.frombuffer(raw, dtype=np.uint8), str(location))
        storage = self._storages[key]
        return (storage, storage_type.dtype_name)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    (store, dtype_name) = storage
    np_dtype = _dtype._BY_NAME[dtype_name].np_dtype
    array = view_of_storage(store.array, np_dtype, storage_offset, size, stride, "checkpoint")
    return _Loaded(array, store.location, bool(requires_grad))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, *state):
    return _Loaded(data.array, data.location, bool(requires_grad), is_parameter=True)


def _allowed_global(module, name, filename):
    if module == "torch._utils":
        return {"_rebuild_tensor_v2": _rebuild_tensor_v2, "_rebuild_tensor": _rebuild_tensor,
                "_rebuild_parameter": _rebuild_parameter,
                "_rebuild_parameter_with_state": _rebuild_parameter}.get(name)
    if module == "torch":
        if name in _DTYPE_OF_STORAGE:
            return _StorageType(_DTYPE_OF_STORAGE[name])
        if name in _dtype._BY_NAME or name in ("float", "double", "half", "long", "int"):
            return getattr(_dtype, name)
        return {"device": _device_cls, "Size": Size}.get(name)
    if module == "torch.serialization" and name == "_get_layout":
        return _get_layout
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "builtins" and name in ("set", "frozenset", "complex", "slice"):
        return {"set": set, "frozenset": frozenset, "complex": complex, "slice": slice}[name]
    if module == "_codecs" and name == "encode":
        return _codecs_encode
    return None


def load_torch_archive(archive, names, filename, map_location):
    """Load the object of a torch zip checkpoint opened as ``archive``."""
    pkl = next(n for n in names if n.endswith("/data.pkl"))
    prefix = pkl[: -len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()
    unpickler = _RestrictedUnpickler(archive.read(pkl), archive, prefix, filename, byteorder)
    obj = unpickler.load()
    return _place(obj, map_location, {})


def _place(obj, map_location, memo):
    # Turn the unpickler's _Loaded placeholders into Tensors, keeping shared objects shared.
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, _Loaded):
        result = restore(obj.array, obj.location, map_location, obj.requires_grad,
                         obj.is_parameter)
    elif isinstance(obj, dict):
        result = type(obj)((k, _place(v, map_location, memo)) for k, v in obj.items())
        metadata = getattr(obj, "_metadata", None)
        if metadata is not None:        # a state dict's per-module versions (pickle BUILD)
            result._metadata = _place(metadata, map_location, memo)
    elif isinstance(obj, list):
        result = [_place(v, map_location, memo) for v in obj]
    elif isinstance(obj, tuple) and not isinstance(obj, Size):
        result = tuple(_place(v, map_location, memo) for v in obj)
    else:
        return obj
    memo[id(obj)] = result
    return result


# ------------------------------------------------------------------------------ writing
class _PickleWriter:
    """Emits the protocol-2 pickle opcodes torch writes for a state dict."""

    def __init__(self, storages, path):
        self.out = io.BytesIO()
        self.storages = storages
        self.path = path
        self._active = set()
        self._memo = {}
        self._keep_alive = []

    def dump(self, obj):
        self.out.write(b"\x80\x02")
        self.write(obj, "obj")
        self.out.write(b".")
        return self.out.getvalue()

    def _global(self, module, name):
        self.out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def _str(self, text):
        data = text.encode("utf-8", "surrogatepass")
        self.out.write(b"X" + struct.pack("<I", len(data)) + data)

    def _tuple(self, items, where):
        self.out.write(b"(")
        for i, item in enumerate(items):
            self.write(item, f"{where}[{i}]")
        self.out.write(b"t")

    def write(self, obj, where):
        out = self.out
        if obj is None:
            out.write(b"N")
        elif obj is True or obj is False:
            out.write(b"\x88" if obj else b"\x89")
        elif isinstance(obj, int):
            if -(2 ** 31) <= obj < 2 ** 31:
                out.write(b"J" + struct.pack("<i", obj))
            else:
                data = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                out.write(b"\x8a" + bytes([len(data)]) + data)
        elif isinstance(obj, float):
            out.write(b"G" + struct.pack(">d", obj))
        elif isinstance(obj, complex):
            self._global("__builtin__", "complex")
            self._tuple((obj.real, obj.imag), where)
            out.write(b"R")
        elif isinstance(obj, str):
            self._str(obj)
        elif isinstance(obj, bytes):
            self._global("_codecs", "encode")
            self._tuple((obj.decode("latin1"), "latin1"), where)
            out.write(b"R")
        elif isinstance(obj, Tensor):
            self._tensor(obj, where)
        elif isinstance(obj, _dtype.dtype):
            self._global("torch", obj.name)
        elif isinstance(obj, _device_cls):
            self._global("torch", "device")
            self._tuple((str(obj),), where)
            out.write(b"R")
        elif isinstance(obj, (list, tuple, dict, set, frozenset)):
            self._container(obj, where)
        else:
            raise TypeError(f"disttorch.save(format='torch') cannot save an object of type "
                            f"{type(obj).__name__} at {where}")

    def _container(self, obj, where):
        if id(obj) in self._active:
            raise ValueError(f"disttorch.save: {where} contains itself (a cyclic reference)")
        self._active.add(id(obj))
        out = self.out
        if isinstance(obj, Size):
            self._global("torch", "Size")
            self._tuple((tuple(obj),), where)
            out.write(b"R")
        elif isinstance(obj, tuple):
            self._tuple(obj, where)
        elif isinstance(obj, list):
            out.write(b"](")
            for i, item in enumerate(obj):
                self.write(item, f"{where}[{i}]")
            out.write(b"e")
        elif isinstance(obj, (set, frozenset)):
            self._global("__builtin__", type(obj).__name__)
            out.write(b"(](")
            for item in obj:
                self.write(item, f"{where} item")
            out.write(b"etR")
        else:
            if isinstance(obj, collections.OrderedDict):
                self._global("collections", "OrderedDict")
                out.write(b")R")
            elif type(obj) is dict:
                out.write(b"}")
            else:
                raise TypeError(f"disttorch.save(format='torch') cannot save an object of type "
                                f"{type(obj).__name__} at {where}")
            out.write(b"(")
            for key, value in obj.items():
                self.write(key, f"{where} key")
                self.write(value, f"{where}[{key!r}]")
            out.write(b"u")
            metadata = getattr(obj, "_metadata", None)
            if isinstance(obj, collections.OrderedDict) and metadata is not None:
                # as pickle stores the attribute of torch's state dicts: BUILD with its __dict__
                out.write(b"}(")
                self.write("_metadata", f"{where}._metadata key")
                self.write(metadata, f"{where}._metadata")
                out.write(b"ub")
        self._active.discard(id(obj))

    def _tensor(self, tensor, where):
        # The same tensor object saved twice is one object again after loading (pickle memo).
        memo_index = self._memo.get(id(tensor))
        if memo_index is not None:
            self.out.write(b"j" + struct.pack("<I", memo_index))
            return
        self._write_tensor(tensor, where)
        memo_index = len(self._memo)
        self._memo[id(tensor)] = memo_index
        self._keep_alive.append(tensor)
        self.out.write(b"r" + struct.pack("<I", memo_index))

    def _write_tensor(self, tensor, where):
        array = tensor._data
        dtype_name = _dtype.from_numpy_dtype(array.dtype).name
        key, offset, strides = self.storages.add(array, location_of(array))
        parameter = is_parameter(tensor)
        out = self.out
        if parameter:
            self._global("torch._utils", "_rebuild_parameter")
            out.write(b"(")
        self._global("torch._utils", "_rebuild_tensor_v2")
        out.write(b"((")
        self._str("storage")
        self._global("torch", _STORAGE_NAMES[dtype_name])
        self._str(str(key))
        self._str(self.storages.storages[key][1])
        root = self.storages.storages[key][0]
        self.write(root.nbytes // array.dtype.itemsize, where)
        out.write(b"tQ")
        self.write(offset, where)
        self.write(tuple(array.shape), where)
        self.write(strides, where)
        self.write(False if parameter else tensor._requires_grad, where)
        self._global("collections", "OrderedDict")
        out.write(b")Rt")
        out.write(b"R")
        if parameter:
            self.write(tensor._requires_grad, where)
            self._global("collections", "OrderedDict")
            out.write(b")RtR")


def save_torch_archive(obj, stream, name="archive"):
    """Write ``obj`` to the binary stream as a zip that ``torch.load`` reads."""
    storages = StorageTable(same_dtype=True)
    pickled = _PickleWriter(storages, name).dump(obj)
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/data.pkl", pickled)
        archive.writestr(f"{name}/.format_version", b"1")
        archive.writestr(f"{name}/byteorder", b"little")
        for key, (root, _) in enumerate(storages.storages):
            _write_array(archive, f"{name}/data/{key}", root)
        archive.writestr(f"{name}/version", b"3\n")


def _write_array(archive, name, array):
    """Write the bytes of a C-contiguous array as one stored zip member, without a copy."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = array.nbytes
    with archive.open(info, "w") as member:
        if array.nbytes:
            # a byte view, not memoryview(array).cast: the buffer protocol has no format
            # for ml_dtypes' bfloat16 (nor the float8 types)
            member.write(memoryview(array.reshape(-1).view(np.uint8)))
