"""Shared-memory batch slots between DataLoader workers and the main process.

Each worker owns a small ring of slots, each one POSIX shared-memory segment
(a file in ``/dev/shm``) that is reused batch after batch and only recreated when a
batch outgrows it. The main process maps a segment once and unlinks its name at
once, so a crash of either side leaves nothing in ``/dev/shm``; the memory itself is
returned to the system when the last mapping goes.

Lifetime rule: the main process hands out tensors that are views of a slot. The slot
goes back to its worker only when every tensor (and view) of that batch has been
garbage-collected; a worker whose slots are all held simply creates another one.
Arrays under ``_COPY_BELOW`` bytes (labels, scalars) are copied out instead, so
keeping them does not hold a slot.
"""
import collections
import mmap
import os
import tempfile
import weakref

import numpy as np

_SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
_ALIGN = 64
_COPY_BELOW = 64 * 1024


def _path(name):
    return os.path.join(_SHM_DIR, name)


def _create(name, size):
    fd = os.open(_path(name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def _attach_and_unlink(name, size):
    fd = os.open(_path(name), os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)
        unlink(name)


def unlink(name):
    try:
        os.unlink(_path(name))
    except FileNotFoundError:
        pass


def unlink_prefix(prefix):
    """Remove every segment whose name starts with ``prefix`` (cleanup after a crash)."""
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix):
            unlink(name)


def _aligned(n):
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


class WorkerSlots:
    """The worker's ring of slots and the bump allocator a batch is collated into."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.slots = []          # per slot: [name, size, numpy uint8 view of the mapping]
        self.free = []
        self.high_water = 0
        self.created = 0
        self.slot = None
        self.offset = 0

    def release(self, slot_ids):
        self.free.extend(slot_ids)

    def begin(self):
        """Pick a free slot (or add one) for the next batch."""
        if self.free:
            self.slot = self.free.pop()
        else:
            self.slot = len(self.slots)
            self.slots.append(None)
        if self.high_water and (self.slots[self.slot] is None
                                or self.slots[self.slot][1] < self.high_water):
            self._replace(self.slot, self.high_water)
        self.offset = 0

    def _replace(self, slot_id, size):
        old = self.slots[slot_id]
        if old is not None:
            unlink(old[0])
        size = max(_aligned(size), mmap.PAGESIZE)
        name = f"{self.prefix}{self.created}"
        self.created += 1
        self.slots[slot_id] = [name, size, np.frombuffer(_create(name, size), np.uint8)]

    def alloc(self, shape, dtype):
        """An uninitialised array in the current slot, or in private memory when the slot
        is full (``place`` then grows the slot and copies it in)."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        current = self.slots[self.slot] if self.slot is not None else None
        if current is not None and self.offset + nbytes <= current[1]:
            begin = self.offset
            self.offset = _aligned(begin + nbytes)
            return current[2][begin:begin + nbytes].view(dtype).reshape(shape)
        return np.empty(shape, dtype)

    def place(self, arrays):
        """Offsets in the current slot for ``arrays``, copying in those not already there;
        grows the slot first when they do not all fit."""
        current = self.slots[self.slot]
        base = current[2].ctypes.data if current is not None else 0
        size = current[1] if current is not None else 0
        inside = [current is not None and a.flags.c_contiguous and a.nbytes
                  and base <= a.ctypes.data < base + size for a in arrays]
        outside = sum(_aligned(a.nbytes) for a, ins in zip(arrays, inside) if not ins)
        if self.offset + outside > size:
            needed = self.offset + outside
            self.high_water = max(self.high_water, needed)
            keep = [(a.copy(), a.ctypes.data - base) if ins else None
                    for a, ins in zip(arrays, inside)]
            self._replace(self.slot, needed)
            current = self.slots[self.slot]
            for kept in keep:
                if kept is not None:
                    array, offset = kept
                    current[2][offset:offset + array.nbytes] = array.reshape(-1).view(np.uint8)
            base = current[2].ctypes.data
        else:
            keep = [None] * len(arrays)
            self.high_water = max(self.high_water, self.offset + outside)
        offsets = []
        for array, ins, kept in zip(arrays, inside, keep):
            if ins:
                offsets.append(kept[1] if kept is not None else array.ctypes.data - base)
                continue
            begin = self.offset
            self.offset = _aligned(begin + array.nbytes)
            target = current[2][begin:begin + array.nbytes]
            target[:] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
            offsets.append(begin)
        return offsets

    def segment(self):
        name, size, _ = self.slots[self.slot]
        return name, size

    def close(self):
        for slot in self.slots:
            if slot is not None:
                unlink(slot[0])
        self.slots = []


class _Lease(np.ndarray):
    """A slot's bytes for one batch: every array handed out is a view of it, so it lives
    exactly as long as the batch does, and its finalizer gives the slot back."""


class MainSlots:
    """The main process's mappings of every worker's slots."""

    def __init__(self):
        self.maps = {}           # (worker_id, slot_id) -> (name, mmap)
        # A lease's death is noticed by a weak reference whose callback is deque.append, a
        # builtin: no Python frame runs at collection time. A Python finalizer there can be
        # where Ctrl-C lands, and the interpreter then drops the KeyboardInterrupt as an
        # exception "ignored in" a finalizer (and the slot with it), so the loop never stops.
        self._dead = collections.deque()
        self._leases = {}        # id(weakref) -> (weakref, worker_id, slot_id)
        self._released = collections.defaultdict(list)

    def lease(self, worker_id, slot_id, name, size):
        key = (worker_id, slot_id)
        known = self.maps.get(key)
        if known is None or known[0] != name:
            known = (name, _attach_and_unlink(name, size))
            self.maps[key] = known
        mapping = known[1]
        lease = np.ndarray.__new__(_Lease, shape=(len(mapping),), dtype=np.uint8, buffer=mapping)
        ref = weakref.ref(lease, self._dead.append)
        self._leases[id(ref)] = (ref, worker_id, slot_id)
        return lease

    def take_released(self, worker_id):
        """The slots of ``worker_id`` whose batches have been freed since the last call."""
        dead = self._dead
        while dead:
            _, owner, slot_id = self._leases.pop(id(dead.popleft()))
            self._released[owner].append(slot_id)
        return self._released.pop(worker_id, [])


def view(lease, offset, dtype, shape):
    """An array of the batch: a zero-copy view of the lease, or a copy when small."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    array = lease[offset:offset + nbytes].view(np.ndarray).view(dtype).reshape(shape)
    return array.copy() if nbytes < _COPY_BELOW else array
