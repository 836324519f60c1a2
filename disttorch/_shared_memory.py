"""CPU tensor memory shared between processes (``Tensor.share_memory_``).

A shared array lives in an anonymous memory file (``memfd_create``) mapped into this
process. Other processes get the file descriptor itself, duplicated by multiprocessing
while it pickles a tensor (:mod:`disttorch.multiprocessing`), and map the same pages: there
is no name in ``/dev/shm`` to leak, and the memory goes back to the system when the last
descriptor and mapping in any process are gone.
"""
import mmap
import os
import weakref

import numpy as np

__all__ = ["share_array", "is_shared_array", "segment_of", "map_segment"]

# id(mmap) -> (fd, size, address of the mapping's first byte); an entry lives as long as its
# mapping does (a finalizer closes the descriptor and drops it)
_SEGMENTS = {}


def _register(mm, fd, size):
    address = np.ndarray((size,), np.uint8, buffer=mm).__array_interface__["data"][0]
    _SEGMENTS[id(mm)] = (fd, size, address)
    weakref.finalize(mm, _release, id(mm), fd)


def _release(key, fd):
    _SEGMENTS.pop(key, None)
    os.close(fd)


def _owner(array):
    """The object at the end of ``array``'s chain of bases (an ``mmap`` for shared memory)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


def segment_of(array):
    """``(mmap, fd, size, byte offset of array's first element)`` when ``array`` lies in
    shared memory made here, else None."""
    owner = _owner(array)
    entry = _SEGMENTS.get(id(owner)) if isinstance(owner, mmap.mmap) else None
    if entry is None:
        return None
    fd, size, address = entry
    return owner, fd, size, array.__array_interface__["data"][0] - address


def is_shared_array(array):
    return segment_of(array) is not None


def _new_segment(size):
    # a mapping cannot be empty: an empty tensor still gets one page-sized file
    size = max(int(size), 1)
    fd = os.memfd_create("disttorch_shared", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return map_segment(fd, size)


def share_array(array):
    """A C-contiguous copy of ``array`` in a new shared segment."""
    mm = _new_segment(array.nbytes)
    shared = np.ndarray(array.shape, array.dtype, buffer=mm)
    np.copyto(shared, array)
    return shared


def rebase(view, old_root, new_root):
    """``view`` (an array inside ``old_root``'s memory) re-made inside ``new_root``, a
    C-contiguous copy of ``old_root``: same shape, strides and offset from the start."""
    offset = view.__array_interface__["data"][0] - old_root.__array_interface__["data"][0]
    return np.ndarray(view.shape, view.dtype, buffer=new_root, offset=offset,
                      strides=view.strides)


def map_segment(fd, size):
    """Map the segment behind ``fd`` (made here or received from another process); ``fd``
    now belongs to the mapping, which closes it."""
    try:
        mm = mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        raise
    _register(mm, fd, size)
    return mm
