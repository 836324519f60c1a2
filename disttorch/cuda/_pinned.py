"""Page-locked ("pinned") host memory: ``Tensor.pin_memory()`` and asynchronous host-to-device
copies (``.to("cuda", non_blocking=True)`` from pinned memory returns before the copy is done,
which runs on the current stream)."""
import numpy as np

from .._backend import cupy_module, cupyx_module

__all__ = ["is_pinned", "pin_array", "to_device"]


def is_pinned(array):
    """True when numpy ``array`` lives in memory from ``cupyx.empty_pinned``."""
    owner = array
    while owner is not None:
        if type(owner).__name__ == "PinnedMemoryPointer":
            return True
        owner = getattr(owner, "base", None) if not isinstance(owner, memoryview) else owner.obj
    return False


def pin_array(array):
    """A copy of numpy ``array`` in pinned memory (``array`` itself if it is pinned already)."""
    if is_pinned(array):
        return array
    pinned = cupyx_module(cupy_module()).empty_pinned(array.shape, array.dtype)
    pinned[...] = array
    return pinned


def to_device(array, non_blocking):
    """Copy host ``array`` to the current device; asynchronous when asked and ``array`` is
    pinned (the caller must then not modify it before the stream has run the copy)."""
    cp = cupy_module()
    if not (non_blocking and isinstance(array, np.ndarray) and is_pinned(array)):
        return cp.asarray(array)
    out = cp.empty(array.shape, array.dtype)
    out.set(np.ascontiguousarray(array), stream=cp.cuda.get_current_stream())
    return out
