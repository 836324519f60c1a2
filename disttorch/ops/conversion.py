"""dtype casts and device copies (differentiable), and ``Tensor.to``.

``device="cuda"`` without an index means the current device (``disttorch.cuda.set_device``,
``with disttorch.cuda.device(i)``), as in PyTorch.
"""
import contextlib

import numpy as np

from .. import _dtype
from .._backend import is_cuda_array, note_device, to_numpy
from .._device import device as _device
from ..autograd.function import Node
from ..tensor import Tensor

__all__ = []


_UINT8 = np.dtype(np.uint8)


class ToDtype(Node):
    @classmethod
    def name(cls):
        return "ToCopyBackward0"

    def forward(self, x, np_dtype):
        self.src = x.dtype
        if np_dtype == _UINT8 and x.dtype.kind in "fV" and type(x) is not np.ndarray:
            # PyTorch converts floating point to uint8 through int64 on every device, so -1.0
            # wraps to 255 as on the CPU; a GPU's direct conversion saturates it to 0
            return x.astype(np.int64).astype(np_dtype)
        return x.astype(np_dtype)

    def backward(self, g):
        if self.src.kind not in "fcV":
            return None, None
        if isinstance(g, Tensor):
            return ToDtype.apply(g, self.src), None
        return g.astype(self.src), None


def _require_cuda():
    """The CUDA array module; PyTorch's error without CUDA (the first use also applies a seed
    given before it)."""
    from .. import cuda
    return cuda._require()


def _cuda_index(index):
    """The device that ``cuda:index`` names: ``cuda`` (index None) is the current device, as in
    PyTorch. Its generator is seeded on first use, so that ``manual_seed`` reaches it."""
    cp = _require_cuda()
    index = cp.cuda.runtime.getDevice() if index is None else index
    from .. import cuda
    cuda._touch(index)
    return index


@contextlib.contextmanager
def _allocating(index, nbytes):
    """Raise :class:`disttorch.cuda.OutOfMemoryError` for CuPy's out-of-memory error."""
    try:
        yield
    except MemoryError as exc:
        if type(exc).__name__ != "OutOfMemoryError":
            raise
        from .. import cuda
        raise cuda._out_of_memory(exc, nbytes, index) from exc


def _cuda_array(array, index, non_blocking=False):
    """Copy host ``array`` to device ``index`` (None: the current device)."""
    cp = _require_cuda()
    from ..cuda._pinned import to_device
    index = _cuda_index(index)
    note_device(index)
    with cp.cuda.Device(index), _allocating(index, array.nbytes):
        return to_device(array, non_blocking)


def _cuda_filled(shape, dtype, fill, index):
    """A device array made on device ``index`` (None: the current device; ``fill`` None:
    uninitialised): no host copy, which would wait for the stream."""
    cp = _require_cuda()
    index = _cuda_index(index)
    note_device(index)
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    with cp.cuda.Device(index), _allocating(index, nbytes):
        if fill is None:
            return cp.empty(shape, dtype)
        return cp.zeros(shape, dtype) if fill == 0 else cp.full(shape, fill, dtype)


def _move(array, dev, non_blocking=False):
    if dev.type == "cpu":
        return to_numpy(array)
    if dev.type == "cuda":
        index = _cuda_index(dev.index)
        if is_cuda_array(array):
            if array.device.id == index:
                return array
            # CuPy's copy() copies to the current device from any other, device to device
            cp = _require_cuda()
            note_device(index)
            with cp.cuda.Device(index), _allocating(index, array.nbytes):
                return array.copy()
        return _cuda_array(array, index, non_blocking)
    raise RuntimeError(f"unsupported device {dev}")


class ToDevice(Node):
    def forward(self, x, dev, non_blocking=False):
        self.src = "cpu" if type(x) is np.ndarray else f"cuda:{x.device.id}"
        return _move(x, dev, non_blocking)

    def backward(self, g):
        src = _device(self.src)
        if isinstance(g, Tensor):
            return ToDevice.apply(g, src), None, None
        return _move(g, src), None, None


def _current_device(t):
    return "cpu" if type(t._data) is np.ndarray else f"cuda:{t._data.device.id}"


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, _dtype.dtype):
            dt = a
        elif isinstance(a, (str, _device, int)) and not isinstance(a, bool):
            dev = a
        elif a is None:
            continue
        elif isinstance(a, bool):
            continue
        else:
            dt = _dtype.as_dtype(a)
    return (None if dev is None else _device(dev)), dt, copy


def to(self, *args, **kwargs):
    """Return ``self`` on the given device and/or dtype (``self`` itself when nothing changes)."""
    dev, dt, copy = _parse_to(args, dict(kwargs))
    non_blocking = bool(kwargs.get("non_blocking", False))
    out = self
    if dev is not None:
        here = _device(_current_device(self))
        if here.type == "cuda" and dev.type == "cuda" and dev.index is None:
            dev = _device("cuda", _cuda_index(None))  # "cuda": the current device
        same = here.type == dev.type and (here.index == dev.index or dev.type == "cpu")
        if not same:
            out = ToDevice.apply(out, dev, non_blocking)
    if dt is not None:
        dt = _dtype.as_dtype(dt)
        if out._data.dtype != dt.np_dtype:
            out = ToDtype.apply(out, dt.np_dtype)
    if copy and out is self:
        from .shape import clone
        out = clone(self)
    return out
