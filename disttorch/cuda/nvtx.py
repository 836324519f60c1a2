"""NVTX ranges and marks (``torch.cuda.nvtx``) through CuPy, for Nsight Systems timelines.

Without CuPy's NVTX library every call raises PyTorch's CPU-build error.
"""
import contextlib
import threading

from .._backend import cupy_module

__all__ = ["range_push", "range_pop", "range_start", "range_end", "mark", "range"]


class _Depth(threading.local):
    # NVTX push/pop ranges nest per host thread; PyTorch's calls return the depth
    def __init__(self):
        self.value = 0


_depth = _Depth()


def _nvtx():
    cp = cupy_module()
    nvtx = getattr(getattr(cp, "cuda", None), "nvtx", None) if cp is not None else None
    if nvtx is None or not getattr(nvtx, "available", False):
        raise RuntimeError("NVTX functions not installed. Are you sure you have a CUDA build?")
    return nvtx


def range_push(msg):
    """Push a range onto the stack of nested ranges; returns the zero-based depth of the range
    started."""
    _nvtx().RangePush(msg)
    _depth.value += 1
    return _depth.value - 1


def range_pop():
    """Pop a range off the stack of nested ranges; returns the zero-based depth of the range
    ended (-1 when none was open)."""
    _nvtx().RangePop()
    if _depth.value == 0:
        return -1
    _depth.value -= 1
    return _depth.value


def range_start(msg):
    """Start a range that may end on another thread; returns its handle for :func:`range_end`."""
    return _nvtx().RangeStart(msg, -1)


def range_end(range_id):
    """End the range ``range_id`` returned by :func:`range_start`."""
    _nvtx().RangeEnd(range_id)


def mark(msg):
    """Mark an instantaneous event on the timeline."""
    _nvtx().Mark(msg)


@contextlib.contextmanager
def range(msg, *args, **kwargs):  # noqa: A001 (PyTorch's name)
    """Context manager / decorator that pushes a range (``msg.format(*args, **kwargs)``) on
    entry and pops it on exit."""
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
