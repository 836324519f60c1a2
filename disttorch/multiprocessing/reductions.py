"""How tensors cross process boundaries through :mod:`multiprocessing`.

A CPU tensor pickled by multiprocessing (a ``Queue``, a ``Pipe``, a spawned ``Process``'s
arguments) moves to shared memory first, as in PyTorch, and travels as a duplicated file
descriptor plus its layout: the receiver maps the same pages, so changes on either side are
seen by both. Tensors on other devices, and the rare CPU tensor whose memory cannot move
(a view of a non-contiguous tensor), travel as a copy.
"""
import os
import weakref
from multiprocessing.reduction import DupFd, ForkingPickler

import numpy as np

from .. import _shared_memory
from ..tensor import Tensor, _new

__all__ = ["register", "rebuild_shared_tensor"]

# (device, inode) of segments mapped here -> their mapping, while it lives: a tensor received
# twice shares one mapping (and one descriptor)
_MAPPED = weakref.WeakValueDictionary()


def _reduce(tensor):
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries.  "
                           "If you just want to transfer the data, call detach() on the tensor "
                           "before serializing (e.g., putting it on the queue).")
    if tensor.device.type == "cpu":
        try:
            tensor.share_memory_()
        except RuntimeError:
            pass
        segment = _shared_memory.segment_of(tensor._data)
        if segment is not None:
            _, fd, size, offset = segment
            array = tensor._data
            return (rebuild_shared_tensor,
                    (type(tensor), DupFd(fd), size, offset, array.shape, array.strides,
                     array.dtype, tensor.requires_grad))
    return tensor.__reduce_ex__(2)


def rebuild_shared_tensor(cls, dup_fd, size, offset, shape, strides, dtype, requires_grad):
    """The receiving end of :func:`_reduce`: a tensor over the sender's shared pages."""
    fd = dup_fd.detach()
    info = os.fstat(fd)
    mm = _MAPPED.get((info.st_dev, info.st_ino))
    if mm is None:
        mm = _MAPPED[(info.st_dev, info.st_ino)] = _shared_memory.map_segment(fd, size)
    else:
        os.close(fd)
    tensor = _new(np.ndarray(shape, dtype, buffer=mm, offset=offset, strides=strides))
    if cls is not Tensor:
        return cls(tensor, requires_grad)
    tensor.requires_grad_(requires_grad)
    return tensor


def register(cls):
    """Send ``cls`` (exactly: multiprocessing's pickler dispatches on the type) through
    shared memory."""
    ForkingPickler.register(cls, _reduce)


register(Tensor)
