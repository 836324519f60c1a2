"""Gradient buckets for DDP: flat buffers that are all-reduced as soon as they are full."""
import numpy as np

from ..._backend import get_array_module
from ...tensor import _new

_FIRST_BUCKET_BYTES = 1024 * 1024


class GradBucket:
    """One bucket as a communication hook sees it (PyTorch's ``GradBucket``)."""

    def __init__(self, bucket, is_last):
        self._bucket = bucket
        self._is_last = is_last

    def index(self):
        return self._bucket.index

    def buffer(self):
        """The flat gradient buffer (a Tensor sharing the bucket's memory)."""
        return self._bucket.buffer_tensor

    def set_buffer(self, tensor):
        self._bucket.buffer[...] = tensor._data

    def gradients(self):
        return [self._bucket.view(i) for i in range(len(self._bucket.params))]

    def parameters(self):
        return list(self._bucket.params)

    def is_last(self):
        return self._is_last


class Bucket:
    """A contiguous buffer holding the gradients of several parameters of one dtype."""

    def __init__(self, index, params, names):
        self.index = index
        self.params = params
        self.names = names
        self.offsets = []
        total = 0
        for p in params:
            self.offsets.append(total)
            total += p._data.size
        xp = get_array_module(params[0]._data)
        self.buffer = xp.zeros(total, params[0]._data.dtype)
        self.buffer_tensor = _new(self.buffer)
        self.reset()

    def reset(self):
        self.ready = [False] * len(self.params)
        self.remaining = len(self.params)
        self.future = None
        self.launched_at = None

    def view(self, i):
        p = self.params[i]
        start = self.offsets[i]
        return _new(self.buffer[start:start + p._data.size].reshape(p._data.shape))

    def fill(self, i, grad_array):
        """Copy parameter ``i``'s gradient (None: zeros) into the buffer; True when full."""
        start = self.offsets[i]
        n = self.params[i]._data.size
        target = self.buffer[start:start + n]
        if grad_array is None:
            target[...] = 0
        elif not _same_memory(grad_array, target):
            target[...] = grad_array.reshape(-1)
        self.ready[i] = True
        self.remaining -= 1
        return self.remaining == 0


def _address(array):
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.data.ptr


def _same_memory(a, b):
    # with gradient_as_bucket_view the gradient already lives in the bucket
    return a.size == b.size and _address(a) == _address(b)


def build_buckets(named_params, first_cap_bytes, cap_bytes):
    """Group parameters into buckets in reverse registration order (gradients of the last
    layers are ready first in backward), one dtype/device per bucket."""
    buckets = []
    current, names, size, key = [], [], 0, None
    limit = first_cap_bytes
    for name, p in reversed(named_params):
        p_key = (p._data.dtype, type(p._data))
        nbytes = p._data.nbytes
        if current and (p_key != key or size + nbytes > limit):
            buckets.append(Bucket(len(buckets), current, names))
            current, names, size = [], [], 0
            limit = cap_bytes
        current.append(p)
        names.append(name)
        size += nbytes
        key = p_key
    if current:
        buckets.append(Bucket(len(buckets), current, names))
    return buckets
