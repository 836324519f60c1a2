"""Allocator tuning for array-heavy training loops (glibc only).

glibc serves blocks above its mmap threshold (128 KiB at start, adapting up to 32 MiB) with
fresh ``mmap`` calls and trims the heap top above 128 KiB, so the multi-megabyte arrays a
training step allocates and frees are handed back to the kernel and page-faulted in again on
the next step. Raising both thresholds keeps that memory in the process for reuse: the MLP
benchmark step goes from 16.6 to 12.9 ms. Memory the process frees stays reserved for it.
Set ``DISTTORCH_MALLOC_TUNING=0`` to keep glibc's defaults; explicit
``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` settings are respected.
"""
import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20   # glibc's maximum on 64-bit
_TRIM_THRESHOLD = 512 << 20


def tune():
    """Raise glibc's mmap and trim thresholds unless the user opted out or set them."""
    if not sys.platform.startswith("linux") or os.environ.get("DISTTORCH_MALLOC_TUNING") == "0":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
