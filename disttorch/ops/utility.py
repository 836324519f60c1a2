"""Small top-level functions of PyTorch's namespace: ``unravel_index``, ``frombuffer``,
``view_as_real``/``view_as_complex``, ``typename``, the inter-op thread count, anomaly-mode
switches and ``set_flush_denormal``."""
import builtins
import numbers
import os
import threading
import warnings

import numpy as np

from .. import _dtype
from .._backend import get_array_module
from ..autograd import grad_mode
from ..tensor import Tensor, _new
from ._util import make_view

__all__ = ["unravel_index", "frombuffer", "view_as_real", "view_as_complex", "typename",
           "get_num_interop_threads", "set_num_interop_threads", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_anomaly_enabled", "set_flush_denormal"]


def unravel_index(indices, shape):
    """The coordinates, in a tensor of ``shape``, of the flat ``indices``: a tuple of int64
    tensors, one per dimension, each shaped like ``indices``.

    As in PyTorch, an index outside ``[0, numel)`` wraps around (``-1`` is the last element).
    """
    from .creation import tensor
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    if indices.is_complex() or indices.is_floating_point() or indices.dtype == _dtype.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    if isinstance(shape, numbers.Integral):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if not shape:
        return ()
    data = indices._data
    xp = get_array_module(data)
    flat = data.astype(np.int64)
    coords = []
    # last dimension first: each step peels off one coordinate (Python ints: products of
    # large sizes do not overflow)
    for size in reversed(shape):
        if size == 0:
            coords.append(xp.zeros_like(flat))
            continue
        coords.append(flat % size)
        flat = flat // size
    return tuple(_new(c) for c in reversed(coords))


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the memory of an object that implements the buffer protocol (no
    copy: the tensor and the buffer share memory).

    A read-only buffer gives a tensor that refuses in-place writes (PyTorch lets them through
    to memory it calls non-writable, and warns).
    """
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    np_dtype = _dtype.as_dtype(dtype).np_dtype
    item = np_dtype.itemsize
    length = view.nbytes
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if offset < 0 or offset >= length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count > 0:
        if count * item > length - offset:
            raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset "
                             f"({offset} bytes) must not be greater than actual buffer length "
                             f"({length} bytes)")
    elif (length - offset) % item:
        raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                         f"bytes) must be a multiple of element size ({item})")
    if view.readonly:
        warnings.warn("The given buffer is not writable: the tensor shares its memory and "
                      "refuses in-place writes. Copy the buffer (or pass a writable one) to "
                      "write to the tensor.", UserWarning, stacklevel=2)
    array = np.frombuffer(view.cast("B"), dtype=np_dtype, count=count, offset=offset)
    out = _new(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _offset_elements(t):
    """The tensor's element offset from the start of the tensor it views (its storage
    offset, as far as disttorch tracks storage)."""
    root = t._base[0] if t._base is not None else t
    return (t.data_ptr() - root.data_ptr()) // t._data.dtype.itemsize


_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}


def _as_complex(array):
    # the last axis (two contiguous parts) becomes the complex element
    return array.view(_COMPLEX_OF[array.dtype])[..., 0]


def _as_real(array):
    real = array.real.dtype
    return array[..., None].view(real)


def view_as_complex(input):
    """A complex view of ``input``, whose last dimension (of size 2, stride 1) holds the real
    and imaginary parts. ``input`` is float32 or float64; the view shares its memory."""
    name = input.dtype
    if name not in (_dtype.float32, _dtype.float64, _dtype.float16):
        from .indexing import scalar_type_name
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: {scalar_type_name(input)}")
    if name == _dtype.float16:
        raise RuntimeError("complex32 (ComplexHalf) tensors are not supported by disttorch: "
                           "view a float32 tensor as complex64 instead")
    if input.dim() == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if _offset_elements(input) % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    if grad_mode.is_grad_enabled() and input.requires_grad:
        raise RuntimeError("ViewAsComplexBackward0: autograd through complex tensors is not "
                           "supported by disttorch (its gradients would be wrong). Work on the "
                           "real and imaginary parts as real tensors, or detach() the input.")
    out = _new(_as_complex(input._data))
    make_view(out, input, _as_complex)
    return out


def view_as_real(input):
    """A real view of complex ``input`` with a last dimension of size 2 (real, imaginary);
    the view shares its memory."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    out = _new(_as_real(input._data))
    make_view(out, input, _as_real)
    return out


def typename(obj):
    """The type of ``obj`` as a string: ``"torch.FloatTensor"`` style for tensors, else the
    qualified name of its class (builtins without their module)."""
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in ("", "builtins") else f"{module}.{name}"


# disttorch has no inter-op pool (no torch.jit.fork futures to run); the count is kept for
# code that sets and reads it, with PyTorch's rule that it is set at most once
_interop = {"threads": None}
_interop_lock = threading.Lock()


def get_num_interop_threads():
    """The number of inter-op threads (by default, the CPUs this process may use)."""
    value = _interop["threads"]
    if value is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    return value


def set_num_interop_threads(num):
    """Set the number of inter-op threads, once, as in PyTorch (a second call raises)."""
    if isinstance(num, builtins.bool) or not isinstance(num, numbers.Integral):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got "
                           f"{type(num).__name__}")
    if num <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    with _interop_lock:
        if _interop["threads"] is not None:
            raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                               "has started or set_num_interop_threads called")
        _interop["threads"] = int(num)


def is_anomaly_enabled():
    """Whether autograd's anomaly detection is on."""
    from ..autograd import anomaly
    return anomaly.state.enabled


def is_anomaly_check_nan_enabled():
    """Whether anomaly detection checks backward outputs for NaN."""
    from ..autograd import anomaly
    return anomaly.state.check_nan


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly detection on or off (``torch.set_anomaly_enabled``)."""
    from ..autograd import anomaly
    anomaly.state.enabled, anomaly.state.check_nan = builtins.bool(enabled), check_nan


def set_flush_denormal(mode):
    """Flushing denormal floats to zero is not available here (numpy's kernels keep the
    CPU's default floating-point mode): returns False, as PyTorch does where unsupported,
    and changes nothing."""
    return False

