"""``disttorch.accelerator``: PyTorch's device-agnostic API over the current accelerator.

disttorch's only accelerator is CUDA through CuPy, so every call maps onto
:mod:`disttorch.cuda`. The accelerator "built in" is CUDA when CuPy can be imported (as a
CUDA build of PyTorch reports ``cuda`` even on a machine without a GPU); without CuPy
:func:`current_accelerator` is None and the calls answer as PyTorch's CPU-only build does:
queries say "none" (``device_count() == 0``), everything that needs a device raises
``RuntimeError: Cannot access accelerator device when none is available.``
"""
import collections
import warnings

from .._backend import cupy_module, is_real_cupy
from .. import cuda as _cuda

__all__ = ["current_accelerator", "current_device_idx", "current_device_index",
           "get_device_capability", "current_stream", "device_count", "device_index",
           "empty_cache", "empty_host_cache", "get_memory_info", "is_available",
           "max_memory_allocated", "max_memory_reserved", "memory_allocated", "memory_reserved",
           "memory_stats", "reset_accumulated_memory_stats", "reset_peak_memory_stats",
           "set_device_idx", "set_device_index", "set_stream", "synchronize"]

_NO_ACCELERATOR = "Cannot access accelerator device when none is available."


def _built():
    return cupy_module() is not None


def _require():
    if not _built():
        raise RuntimeError(_NO_ACCELERATOR)


def _device_index(device, optional):
    """The device index ``device`` (int, str, ``disttorch.device`` or None) names; None and a
    device without index mean the current one when ``optional``."""
    from .._device import device as _device
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        device = _device(device)
    index = None
    if isinstance(device, _device):
        accelerator = current_accelerator()
        if accelerator is None:
            raise RuntimeError("Accelerator expected")
        if device.type != accelerator.type:
            raise ValueError(f"{device.type} doesn't match the current accelerator "
                             f"{accelerator}.")
        index = device.index
    if index is None:
        if not optional:
            raise ValueError("Expected a torch.device with a specified index or an integer, "
                             f"but got:{device}")
        return current_device_index()
    return index


def current_accelerator(check_available=False):
    """Return the accelerator as a ``disttorch.device`` without index (``device("cuda")``), or
    None when there is none (CuPy not installed).

    Args:
        check_available (bool, optional): also require :func:`is_available` at run time (a GPU
            and a driver); None otherwise. Default: ``False``.
    """
    if not _built() or (check_available and not _cuda.is_available()):
        return None
    from .._device import device
    return device("cuda")


def device_count():
    """Return the number of accelerator devices (0 without one)."""
    return _cuda.device_count() if _built() else 0


def is_available():
    """Return True when the accelerator is usable: CuPy installed and a device visible."""
    return _built() and _cuda.is_available()


def current_device_index():
    """Return the index of the current accelerator device."""
    _require()
    return _cuda.current_device()


def current_device_idx():
    """(Deprecated: use :func:`current_device_index`.) Return the current device index."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def _set_index(index):
    if index < 0:  # a no-op, as in PyTorch (even without an accelerator)
        return
    _require()
    _cuda.set_device(index)


def set_device_index(device, /):
    """Make ``device`` (an index, or a device of the accelerator's type with an index) the
    current device. A negative index is a no-op."""
    _set_index(_device_index(device, optional=False))


def set_device_idx(device, /):
    """(Deprecated: use :func:`set_device_index`.) Set the current device index."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    set_device_index(device)


def _exchange_device(index):
    """Make ``index`` current and return the previous current index (-1 and no change for a
    negative ``index``)."""
    _require()
    if index < 0:
        return -1
    previous = _cuda.current_device()
    if previous != index:
        _cuda.set_device(index)
    return previous


class device_index:
    """Context manager that makes accelerator device ``device`` current and restores the
    previous one on exit.

    Args:
        device (int or None): the device index; None makes this a no-op.
    """

    def __init__(self, device, /):
        self.idx = device
        self.prev_idx = -1

    def __enter__(self):
        if self.idx is not None:
            self.prev_idx = _exchange_device(self.idx)

    def __exit__(self, *exc_info):
        if self.idx is not None and self.prev_idx >= 0:
            _cuda.set_device(self.prev_idx)
        return False


def current_stream(device=None, /):
    """Return the current stream of ``device`` (default: the current device), a
    :class:`disttorch.cuda.Stream`."""
    index = _device_index(device, optional=True)
    _require()
    # the current stream is per device: read it with that device current
    with _cuda.device(index):
        return _cuda.current_stream(index)


def set_stream(stream):
    """Make ``stream`` current; its device becomes the current device too.

    Args:
        stream (disttorch.cuda.Stream): the stream to select.
    """
    if not isinstance(stream, _cuda.Stream):
        raise TypeError(f"set_stream(): argument 'stream' must be Stream, not "
                        f"{type(stream).__name__}")
    _require()
    _cuda.set_device(stream.device_index)
    _cuda.set_stream(stream)


def synchronize(device=None, /):
    """Wait for all kernels on all streams of ``device`` (default: current) to complete."""
    index = _device_index(device, optional=True)
    _require()
    _cuda.synchronize(index)


def get_device_capability(device=None, /):
    """Return the capabilities of ``device`` (default: current) as a dict; its
    ``"supported_dtypes"`` is the set of dtypes tensors on the device may have."""
    from .. import _dtype
    _device_index(device, optional=True)
    _require()
    return {"supported_dtypes": set(_dtype._ALL)}


def empty_cache():
    """Return the allocator's unused cached blocks to the device (no-op before the allocator
    is used)."""
    _require()
    _cuda.empty_cache()


def empty_host_cache():
    """Release the unused cached pinned host memory (``Tensor.pin_memory()`` buffers)."""
    _require()
    cp = cupy_module()
    # the simulated device's pinned buffers are ordinary host arrays: it caches none
    if is_real_cupy(cp) and _cuda.is_available():
        cp.get_default_pinned_memory_pool().free_all_blocks()


def memory_stats(device_index=None, /):
    """Return the allocator statistics of a device (default: current) as an ordered dict with
    PyTorch's key names (see :func:`disttorch.cuda.memory_stats`); empty before the allocator
    is used."""
    _require()
    if not _cuda.is_initialized():
        return collections.OrderedDict()
    return _cuda.memory_stats(_device_index(device_index, optional=True))


def memory_allocated(device_index=None, /):
    """Bytes held by live tensors on a device (default: current)."""
    return memory_stats(device_index).get("allocated_bytes.all.current", 0)


def max_memory_allocated(device_index=None, /):
    """Peak of :func:`memory_allocated` since the last :func:`reset_peak_memory_stats`."""
    return memory_stats(device_index).get("allocated_bytes.all.peak", 0)


def memory_reserved(device_index=None, /):
    """Bytes held by the caching allocator (in use plus cached) on a device."""
    return memory_stats(device_index).get("reserved_bytes.all.current", 0)


def max_memory_reserved(device_index=None, /):
    """Peak of :func:`memory_reserved` since the last :func:`reset_peak_memory_stats`."""
    return memory_stats(device_index).get("reserved_bytes.all.peak", 0)


def reset_peak_memory_stats(device_index=None, /):
    """Restart the peak statistics of a device (default: current) from its current usage;
    no-op before the allocator is used."""
    _require()
    if _cuda.is_initialized():
        _cuda.reset_peak_memory_stats(_device_index(device_index, optional=True))


def reset_accumulated_memory_stats(device_index=None, /):
    """Reset the accumulated (historical) allocator statistics of a device.

    CuPy's pool keeps no such counters (:func:`memory_stats` has current and peak values
    only), so after checking ``device_index`` there is nothing to reset.
    """
    _require()
    if _cuda.is_initialized():
        _device_index(device_index, optional=True)


def get_memory_info(device_index=None, /):
    """Return ``(free, total)`` bytes of a device's memory (default: current)."""
    index = _device_index(device_index, optional=True)
    _require()
    return _cuda.mem_get_info(index)
