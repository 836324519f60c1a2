"""``disttorch.save`` and ``disttorch.load``: checkpoints that load without executing code.

Two formats, both zip archives of uncompressed members:

* ``"disttorch"`` (the default): ``disttorch-checkpoint/header.msgpack``, a msgpack document
  that describes the saved object as typed nodes (containers, numbers, strings, tensors by
  index) and each tensor as (storage, offset, shape, stride, dtype, requires_grad), followed
  by ``disttorch-checkpoint/storages/<key>``, the raw little-endian bytes of each storage.
* ``"torch"``: PyTorch's own format, read and written by :mod:`disttorch._torch_zip`, so
  checkpoints move both ways between disttorch and PyTorch.

Saving to a path is atomic: the archive is written to a temporary file in the same
directory, flushed and fsynced, renamed over the target, and the directory is fsynced; a
crash mid-save leaves the previous file intact.
"""
import collections
import io
import os
import secrets
import zipfile

import msgpack
import numpy as np

from . import _dtype
from ._checkpoint_storage import (CheckpointError, StorageTable, dtype_by_name, is_parameter,
                                  location_of, restore, view_of_storage)
from ._device import device as _device_cls
from ._torch_zip import _write_array, is_torch_archive, load_torch_archive, save_torch_archive
from .tensor import Size, Tensor

__all__ = ["save", "load", "CheckpointError"]

_PREFIX = "disttorch-checkpoint/"
_HEADER = _PREFIX + "header.msgpack"
_FORMAT_NAME = "disttorch-checkpoint"
_FORMAT_VERSION = 1
_NUMPY_KINDS = "biufc"  # numpy dtypes a checkpoint may hold: never object arrays


def save(obj, f, pickle_module=None, pickle_protocol=2, *, format="disttorch"):
    r"""Save an object to a file.

    Supported objects: tensors (and ``nn.Parameter``), numpy arrays and scalars, ``None``,
    bools, ints, floats, complex numbers, strings, bytes, dtypes, devices, ``Size``, and
    lists, tuples, sets, dicts and ``OrderedDict``\ s of these (state dicts, optimizer state
    dicts, whole training checkpoints). Tensors keep their dtype, shape, ``requires_grad`` and
    device; tensors sharing memory (views, or one tensor saved twice) share it again after
    :func:`load`. Arbitrary Python objects (e.g. a whole ``nn.Module``) are refused with a
    ``TypeError``: save their ``state_dict()`` instead.

    Args:
        obj: the object to save.
        f: a path (``str`` or ``os.PathLike``), written atomically, or a binary file object.
        pickle_module: must be ``None``; disttorch checkpoints are not pickles.
        pickle_protocol: accepted for compatibility with ``torch.save`` and ignored.
        format (str): ``"disttorch"`` (default) or ``"torch"``, PyTorch's zip format, which
            ``torch.load(f, weights_only=True)`` reads (numpy values are not allowed there).

    Example::

        >>> disttorch.save({"model": model.state_dict(), "optim": opt.state_dict()}, "ckpt.pt")
        >>> disttorch.save(model.state_dict(), "for_pytorch.pt", format="torch")
    """
    if pickle_module is not None:
        raise TypeError("disttorch.save does not pickle: pickle_module must be None")
    if format == "disttorch":
        write = lambda stream: _save_disttorch(obj, stream)  # noqa: E731
    elif format == "torch":
        stem = "archive"
        if isinstance(f, (str, os.PathLike)):
            stem = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
        write = lambda stream: save_torch_archive(obj, stream, stem)  # noqa: E731
    else:
        raise ValueError(f"disttorch.save: unknown format {format!r}, expected 'disttorch' or "
                         "'torch'")
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(os.fspath(f), write)
    else:
        write(f)


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None):
    r"""Load an object saved by :func:`save` or by ``torch.save``.

    Loading never executes code from the file: disttorch checkpoints are schema-described
    data, and PyTorch checkpoints go through an unpickler that admits only the globals a
    state dict needs (tensors, parameters, ``OrderedDict``, dtypes, devices, ``Size``) and
    raises :class:`pickle.UnpicklingError` naming any other global. This is PyTorch's
    ``weights_only=True``; ``weights_only=False`` is accepted but loads the same way.

    Args:
        f: a path (``str`` or ``os.PathLike``) or a binary file object.
        map_location: where to put tensors: ``None`` (where they were saved), a device or
            device string for all of them, a dict mapping saved locations to new ones
            (``{"cuda:1": "cuda:0"}``), or a callable ``fn(tensor, location)`` called with each
            tensor on the CPU and its saved location string, returning the tensor to use (or
            ``None`` for the default placement).
        pickle_module: must be ``None``.
        weights_only (bool): accepted for compatibility; loading is always weights-only.
        mmap: accepted for compatibility; the file is read into memory.

    Raises:
        CheckpointError: (a ``RuntimeError``) the file is truncated, corrupted, or not a
            checkpoint; the message names the file.
        pickle.UnpicklingError: a PyTorch checkpoint holds objects other than weights.
    """
    if pickle_module is not None:
        raise TypeError("disttorch.load does not unpickle arbitrary objects: pickle_module must "
                        "be None")
    if isinstance(f, (str, os.PathLike)):
        name = os.fspath(f)
        with open(name, "rb") as stream:
            return _load_stream(stream, name, map_location)
    name = getattr(f, "name", None) or f"<{type(f).__name__} object>"
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load_stream(f, str(name), map_location)


# ------------------------------------------------------------------------- atomic writes
def _atomic_write(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory,
                             f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open's mode goes through the umask, so the result has the permissions open() gives.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------- disttorch format
class _Encoder:
    """Turns an object into header nodes, collecting tensors and storages on the way."""

    def __init__(self):
        self.storages = StorageTable()
        self.tensors = []
        self._index_of = {}
        self._keep_alive = []
        self._active = set()

    def node(self, obj, where):
        if obj is None:
            return ["none"]
        if obj is True or obj is False:
            return ["bool", obj]
        if isinstance(obj, int):
            return ["int", obj] if -2 ** 63 <= obj < 2 ** 64 else ["bigint", str(obj)]
        if isinstance(obj, float):
            return ["float", obj]
        if isinstance(obj, complex):
            return ["complex", obj.real, obj.imag]
        if isinstance(obj, str):
            return ["str", obj]
        if isinstance(obj, (bytes, bytearray)):
            return ["bytes", bytes(obj)]
        if isinstance(obj, (Tensor, np.ndarray)):
            return ["tensor", self._tensor(obj, where)]
        if isinstance(obj, np.generic):
            self._check_numpy_dtype(obj.dtype, where)
            return ["npscalar", obj.dtype.str, obj.tobytes()]
        if isinstance(obj, _dtype.dtype):
            return ["dtype", obj.name]
        if isinstance(obj, _device_cls):
            return ["device", str(obj)]
        if isinstance(obj, (list, tuple, dict, set, frozenset)):
            return self._container(obj, where)
        raise TypeError(f"disttorch.save cannot save an object of type {type(obj).__qualname__} "
                        f"at {where}: only tensors, numpy arrays, numbers, strings, bytes, None, "
                        "dtypes, devices and lists/tuples/sets/dicts of them can be saved (save a "
                        "module's state_dict() rather than the module)")

    def _container(self, obj, where):
        if id(obj) in self._active:
            raise ValueError(f"disttorch.save: {where} contains itself (a cyclic reference)")
        self._active.add(id(obj))
        try:
            if isinstance(obj, dict):
                if type(obj) not in (dict, collections.OrderedDict):
                    raise TypeError(f"disttorch.save cannot save a {type(obj).__qualname__} at "
                                    f"{where}: convert it to a dict")
                tag = "odict" if isinstance(obj, collections.OrderedDict) else "dict"
                node = [tag, [[self.node(k, f"{where} key"), self.node(v, f"{where}[{k!r}]")]
                              for k, v in obj.items()]]
                metadata = getattr(obj, "_metadata", None)
                if tag == "odict" and metadata is not None:
                    # a state dict's per-module versions, as torch keeps them
                    node.append(self.node(metadata, f"{where}._metadata"))
                return node
            tag = {Size: "size", tuple: "tuple", list: "list", set: "set",
                   frozenset: "frozenset"}.get(type(obj))
            if tag is None:
                raise TypeError(f"disttorch.save cannot save a {type(obj).__qualname__} at "
                                f"{where}: convert it to a list or tuple")
            return [tag, [self.node(v, f"{where}[{i}]") for i, v in enumerate(obj)]]
        finally:
            self._active.discard(id(obj))

    @staticmethod
    def _check_numpy_dtype(np_dtype, where):
        if np_dtype.kind not in _NUMPY_KINDS:
            raise TypeError(f"disttorch.save cannot save numpy dtype {np_dtype} at {where}")

    def _tensor(self, obj, where):
        index = self._index_of.get(id(obj))
        if index is not None:
            return index
        if isinstance(obj, np.ndarray):
            self._check_numpy_dtype(obj.dtype, where)
            array, entry = obj, {"numpy": obj.dtype.newbyteorder("<").str}
        else:
            from .nn.parameter import is_lazy
            if is_lazy(obj):
                raise TypeError(f"disttorch.save cannot save the uninitialized {type(obj).__name__} "
                                f"at {where}: run a forward pass (or load a state dict) to "
                                f"initialize the lazy module first")
            array = obj._data
            entry = {"dtype": _dtype.from_numpy_dtype(array.dtype).name,
                     "requires_grad": obj._requires_grad,
                     "parameter": is_parameter(obj)}
        key, offset, strides = self.storages.add(array, location_of(array))
        entry.update(storage=key, offset=offset, shape=list(array.shape), stride=list(strides))
        index = len(self.tensors)
        self.tensors.append(entry)
        self._index_of[id(obj)] = index
        self._keep_alive.append(obj)
        return index


def _save_disttorch(obj, stream):
    encoder = _Encoder()
    root = encoder.node(obj, "obj")
    header = {"format": _FORMAT_NAME, "version": _FORMAT_VERSION, "root": root,
              "tensors": encoder.tensors,
              "storages": [{"nbytes": int(array.nbytes), "location": location}
                           for array, location in encoder.storages.storages]}
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr(_HEADER, msgpack.packb(header, use_bin_type=True))
        for key, (array, _) in enumerate(encoder.storages.storages):
            _write_array(archive, f"{_PREFIX}storages/{key}", array)


class _Decoder:
    def __init__(self, archive, header, filename, map_location):
        self.archive = archive
        self.header = header
        self.filename = filename
        self.map_location = map_location
        self._storages = {}
        self._tensors = {}

    def _storage(self, key):
        if key not in self._storages:
            entry = self.header["storages"][key]
            data = bytearray(self.archive.read(f"{_PREFIX}storages/{key}"))
            if len(data) != entry["nbytes"]:
                raise CheckpointError(f"{self.filename}: storage {key} has {len(data)} bytes, "
                                      f"expected {entry['nbytes']}")
            self._storages[key] = (np.frombuffer(data, dtype=np.uint8), entry["location"])
        return self._storages[key]

    def _tensor(self, index):
        if index not in self._tensors:
            entry = self.header["tensors"][index]
            storage, location = self._storage(entry["storage"])
            if "numpy" in entry:
                np_dtype = np.dtype(entry["numpy"])
                if np_dtype.kind not in _NUMPY_KINDS:
                    raise CheckpointError(f"{self.filename}: invalid numpy dtype {np_dtype}")
            else:
                np_dtype = dtype_by_name(entry["dtype"], self.filename).np_dtype
            array = view_of_storage(storage, np_dtype, entry["offset"], entry["shape"],
                                    entry["stride"], self.filename)
            if "numpy" in entry:
                value = array
            else:
                value = restore(array, location, self.map_location, entry["requires_grad"],
                                entry["parameter"])
            self._tensors[index] = value
        return self._tensors[index]

    def node(self, node):
        tag = node[0]
        if tag in ("none", "bool", "int", "float", "str", "bytes"):
            return None if tag == "none" else node[1]
        if tag == "tensor":
            return self._tensor(node[1])
        if tag in ("dict", "odict"):
            items = ((self.node(k), self.node(v)) for k, v in node[1])
            if tag == "dict":
                return dict(items)
            result = collections.OrderedDict(items)
            if len(node) > 2:
                result._metadata = self.node(node[2])
            return result
        if tag in _SEQUENCES:
            return _SEQUENCES[tag](self.node(v) for v in node[1])
        if tag == "bigint":
            return int(node[1])
        if tag == "complex":
            return complex(node[1], node[2])
        if tag == "npscalar":
            np_dtype = np.dtype(node[1])
            if np_dtype.kind not in _NUMPY_KINDS:
                raise CheckpointError(f"{self.filename}: invalid numpy dtype {np_dtype}")
            return np.frombuffer(node[2], dtype=np_dtype)[0]
        if tag == "dtype":
            return dtype_by_name(node[1], self.filename)
        if tag == "device":
            return _device_cls(node[1])
        raise CheckpointError(f"{self.filename}: unknown node type {tag!r} in the header")


_SEQUENCES = {"list": list, "tuple": tuple, "size": Size, "set": set, "frozenset": frozenset}


def _load_disttorch(archive, filename, map_location):
    header = msgpack.unpackb(archive.read(_HEADER), raw=False)
    if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
        raise CheckpointError(f"{filename}: not a disttorch checkpoint header")
    if header.get("version") != _FORMAT_VERSION:
        raise CheckpointError(f"{filename}: checkpoint format version {header.get('version')} is "
                              f"not supported by this disttorch (it reads version "
                              f"{_FORMAT_VERSION})")
    return _Decoder(archive, header, filename, map_location).node(header["root"])


# --------------------------------------------------------------------------- loading
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, IndexError,
                TypeError, ValueError, OSError, msgpack.UnpackException)


def _load_stream(stream, filename, map_location):
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CheckpointError(
            f"{filename} is not a readable checkpoint (truncated, corrupted, or not written by "
            f"disttorch.save or torch.save; torch's legacy non-zip format is not supported): "
            f"{exc}") from exc
    with archive:
        names = archive.namelist()
        try:
            if _HEADER in names:
                return _load_disttorch(archive, filename, map_location)
            if is_torch_archive(names):
                return load_torch_archive(archive, names, filename, map_location)
        except CheckpointError:
            raise
        except _READ_ERRORS as exc:
            raise CheckpointError(f"{filename} is truncated or corrupted: "
                                  f"{type(exc).__name__}: {exc}") from exc
    raise CheckpointError(f"{filename} is a zip archive but not a checkpoint (it has neither "
                          f"{_HEADER} nor a torch data.pkl)")
