"""What runs inside a DataLoader worker process, and the batch wire format.

Control messages are msgpack maps over a pipe per worker. A batch travels as a
skeleton (containers and small Python values) plus, for every array in it, an offset
into the worker's shared-memory slot the batch was collated into (``_shm``). Objects
the skeleton cannot describe travel pickled; both ends are the same program.
"""
import gc
import os
import pickle
import random
import signal
import sys
import traceback

import msgpack
import numpy as np

from ...tensor import Tensor, _new
from . import _collate
from ._shm import WorkerSlots

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 1.0
_INT_MIN, _INT_MAX = -2 ** 63, 2 ** 64 - 1


class WorkerInfo:
    r"""Information about the current DataLoader worker process.

    Attributes:
        id (int): the current worker id, in ``[0, num_workers)``.
        num_workers (int): the total number of workers.
        seed (int): the random seed set for the current worker: ``base_seed + id``,
            ``base_seed`` being drawn from the loader's generator when its iterator is
            created (as PyTorch's). ``random`` and disttorch's default generator are
            seeded with it, NumPy's global generator from ``base_seed`` and ``id``.
        dataset: the copy of the dataset object in this process.
    """

    _frozen = False

    def __init__(self, **kwargs):
        for name, value in kwargs.items():
            setattr(self, name, value)
        self._frozen = True

    def __setattr__(self, name, value):
        if self._frozen:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(name, value)

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


_worker_info = None


def get_worker_info():
    r"""The :class:`WorkerInfo` of the current DataLoader worker, or ``None`` in the main
    process.

    In ``worker_init_fn`` or an :class:`IterableDataset`'s ``__iter__`` it tells which
    shard of the data this worker should produce.
    """
    return _worker_info


def numpy_seed(base_seed, worker_id):
    """The seed of NumPy's global generator in a worker, PyTorch's ``_generate_state``: its
    hash of ``[worker_id, low and high 32 bits of base_seed, 0]`` is NumPy's SeedSequence
    pool mixing of that entropy."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4)


def worker_seed(base_seed, worker_id):
    """Seed the worker's ``random``, NumPy and disttorch generators as PyTorch seeds its
    workers' (so the same transforms draw the same numbers); returns the seed."""
    from ...ops.random import default_generator
    seed = base_seed + worker_id
    random.seed(seed)
    # Only the CPU generator: CUDA must not be touched in a process forked from one
    # that initialised it.
    default_generator.manual_seed(seed)
    np.random.seed(numpy_seed(base_seed, worker_id))
    return seed


def pack(message):
    return msgpack.packb(message, use_bin_type=True)


def unpack(payload):
    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


class Fetcher:
    """Turns indices (map-style) or the dataset's iterator (iterable) into batches."""

    def __init__(self, dataset, iterable, auto_collation, collate_fn, batch_size, drop_last):
        self.dataset = dataset
        self.iterable = iterable
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.iterator = None
        self.source = None
        if not iterable and auto_collation and collate_fn is _collate.default_collate:
            get_source = getattr(dataset, "_batch_source", None)
            self.source = get_source() if get_source is not None else None

    def fetch(self, indices):
        if self.source is not None:
            return self._gather(indices)
        if self.auto_collation:
            if isinstance(indices, np.ndarray):
                indices = indices.tolist()
            get_items = getattr(self.dataset, "__getitems__", None)
            data = get_items(indices) if callable(get_items) else [self.dataset[i]
                                                                   for i in indices]
        else:
            data = self.dataset[indices]
        return self.collate_fn(data)

    def _gather(self, indices):
        # One fancy-indexing copy per tensor instead of per-sample indexing and a stack.
        arrays, index_map = self.source
        index = np.asarray(indices, dtype=np.int64)
        if index_map is not None:
            index = index_map[index]
        length = len(arrays[0])
        if len(index) and (index.min() < -length or index.max() >= length):
            bad = index[(index < -length) | (index >= length)][0]
            raise IndexError(f"index {bad} is out of bounds for dimension 0 with size {length}")
        batch = []
        for array in arrays:
            out = _collate._empty((len(index),) + array.shape[1:], array.dtype)
            np.take(array, index, axis=0, out=out, mode="wrap")
            batch.append(_new(out))
        return batch

    def reset(self):
        self.iterator = None

    def open(self):
        """Open the iterable dataset's iterator now rather than at the first batch."""
        self.iterator = iter(self.dataset)

    def fetch_next(self):
        """The next batch of an iterable dataset; StopIteration at its end."""
        if self.iterator is None:
            self.iterator = iter(self.dataset)
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for item in self.iterator:
            data.append(item)
            if len(data) == self.batch_size:
                break
        if not data or (self.drop_last and len(data) < self.batch_size):
            raise StopIteration
        return self.collate_fn(data)


def _plain(dtype):
    """Whether ``dtype.str`` describes the dtype fully (no objects, no record fields)."""
    return not dtype.hasobject and dtype.fields is None and dtype.subdtype is None


def _encode(obj, arrays):
    """The msgpack skeleton of ``obj``; array leaves are appended to ``arrays``."""
    if obj is None or isinstance(obj, (bool, float, str, bytes)):
        return ["V", obj]
    if isinstance(obj, int) and _INT_MIN <= obj <= _INT_MAX:
        return ["V", obj]
    if isinstance(obj, Tensor) and type(obj._data) is np.ndarray and _plain(obj._data.dtype):
        arrays.append(obj._data)
        return ["T", len(arrays) - 1, obj._data.dtype.str, list(obj._data.shape)]
    if type(obj) is np.ndarray and _plain(obj.dtype):
        arrays.append(obj)
        return ["A", len(arrays) - 1, obj.dtype.str, list(obj.shape)]
    if type(obj) is list:
        return ["L", [_encode(item, arrays) for item in obj]]
    if type(obj) is tuple:
        return ["U", [_encode(item, arrays) for item in obj]]
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ["N", pickle.dumps(type(obj)), [_encode(item, arrays) for item in obj]]
    if type(obj) is dict:
        return ["D", [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]]
    return ["P", pickle.dumps(obj)]


def decode(node, make_array):
    """Rebuild a batch from its skeleton; ``make_array(index, dtype, shape)`` gives the
    array of leaf ``index``."""
    tag = node[0]
    if tag == "V":
        return node[1]
    if tag == "T":
        return _new(make_array(node[1], node[2], tuple(node[3])))
    if tag == "A":
        return make_array(node[1], node[2], tuple(node[3]))
    if tag == "L":
        return [decode(item, make_array) for item in node[1]]
    if tag == "U":
        return tuple(decode(item, make_array) for item in node[1])
    if tag == "N":
        return pickle.loads(node[1])(*(decode(item, make_array) for item in node[2]))
    if tag == "D":
        return {decode(k, make_array): decode(v, make_array) for k, v in node[1]}
    return pickle.loads(node[1])


def _error_reply(seq, worker_id):
    exc = sys.exc_info()[1]
    try:
        exc_type = pickle.dumps(type(exc))
    except Exception:
        exc_type = None
    return {"seq": seq, "error": {"type": exc_type, "name": type(exc).__name__,
                                  "worker": worker_id, "traceback": traceback.format_exc()}}


def _batch_reply(seq, batch, slots):
    arrays = []
    skeleton = _encode(batch, arrays)
    if not arrays:
        slots.release([slots.slot])
        return {"seq": seq, "slot": None, "tree": skeleton}
    offsets = slots.place(arrays)
    name, size = slots.segment()
    return {"seq": seq, "slot": slots.slot, "seg": name, "size": size, "tree": skeleton,
            "offsets": offsets}


def worker_loop(conn, inherited, worker_id, num_workers, fetcher, base_seed, worker_init_fn,
                prefix):
    """Serve batches until told to stop, the pipe closes or the parent process dies."""
    global _worker_info
    # Ctrl-C reaches the whole process group: the main process decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Objects inherited through fork stay out of this process's collections, so the
    # collector does not write to (and copy) the pages shared with the parent.
    gc.freeze()
    for other in inherited:
        other.close()
    parent = os.getppid()
    slots = WorkerSlots(prefix)
    _collate._allocator = slots.alloc
    try:
        seed = worker_seed(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=fetcher.dataset)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
        _serve(conn, slots, fetcher, worker_id, num_workers, parent)
    except Exception:
        try:
            conn.send_bytes(pack(_error_reply(None, worker_id)))
        except OSError:
            pass
    finally:
        slots.close()
        conn.close()


def _serve(conn, slots, fetcher, worker_id, num_workers, parent):
    global _worker_info
    while True:
        try:
            if not conn.poll(_POLL_S):
                if os.getppid() != parent:
                    return
                continue
            message = unpack(conn.recv_bytes())
        except (EOFError, OSError):
            return
        op = message["op"]
        if op == "stop":
            return
        slots.release(message.get("free") or ())
        if op == "epoch":
            if "seed" in message:
                seed = worker_seed(message["seed"], worker_id)
                _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                          dataset=fetcher.dataset)
            fetcher.reset()
            continue
        seq = message["seq"]
        slots.begin()
        try:
            if fetcher.iterable:
                batch = fetcher.fetch_next()
            else:
                indices = message["idx"]
                if "pickled" in message:
                    indices = pickle.loads(message["pickled"])
                elif isinstance(indices, bytes):
                    indices = np.frombuffer(indices, np.int64)
                batch = fetcher.fetch(indices)
            reply = _batch_reply(seq, batch, slots)
        except StopIteration:
            slots.release([slots.slot])
            reply = {"seq": seq, "end": True}
        except Exception:
            slots.release([slots.slot])
            reply = _error_reply(seq, worker_id)
        conn.send_bytes(pack(reply))
