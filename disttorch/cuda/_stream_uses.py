"""``Tensor.record_stream``: memory used on another stream is not reused before that stream's
work on it is done.

CuPy's memory pool, like PyTorch's caching allocator, hands a freed block to the next
allocation on the stream it was allocated on, without waiting for kernels queued on other
streams. PyTorch's answer is ``record_stream``, and this is it on CuPy: when a tensor that
recorded streams is freed, an event is recorded on each of those streams and the tensor's
array (hence its memory) is kept until every event has completed; finished ones are released
at the next ``record_stream``, free, ``synchronize`` or ``empty_cache``.
"""
import threading
import weakref

_lock = threading.Lock()
_held = []  # (events, array): freed tensors' arrays waiting for their streams


def record(tensor, stream):
    """``tensor.record_stream(stream)``."""
    from . import Stream
    if not isinstance(stream, Stream):
        raise TypeError(f"record_stream(): argument 'stream' must be torch.cuda.Stream, not "
                        f"{type(stream).__name__}")
    if not tensor.is_cuda:
        raise RuntimeError(f"record_stream expects a CUDA tensor, got a tensor on "
                           f"{tensor.device}")
    release_finished()
    with _lock:
        # (kept on the tensor: tensors compare elementwise, so they cannot key a dict)
        recorded = tensor.__dict__.get("_recorded_streams")
        if recorded is None:
            recorded = tensor.__dict__["_recorded_streams"] = []
            # the finalizer holds the array, not the tensor: the tensor can still be freed
            finalizer = weakref.finalize(tensor, _hold, tensor._data, recorded)
            finalizer.atexit = False  # the driver may be gone at exit; the memory goes with it
        if all(s._stream is not stream._stream for s in recorded):
            recorded.append(stream)


def _hold(array, streams):
    from .._backend import cupy_module
    cp = cupy_module()
    events = []
    try:
        for stream in streams:
            with cp.cuda.Device(stream.device_index):
                event = cp.cuda.Event(disable_timing=True)
                event.record(stream._stream)
            events.append(event)
    except Exception:  # a finalizer must not raise; without events the array is kept until
        events.append(None)  # empty_cache, which synchronises first
    with _lock:
        _held.append((events, array))


def release_finished(wait=False):
    """Drop the held arrays whose streams have finished with them (all of them after waiting,
    with ``wait``); returns how many are still held."""
    with _lock:
        entries = list(_held)
    done = []
    for entry in entries:
        events = entry[0]
        if wait:
            for event in events:
                if event is not None:
                    event.synchronize()
                else:
                    from .._backend import cupy_module
                    cupy_module().cuda.runtime.deviceSynchronize()
            done.append(entry)
        elif all(event is not None and event.done for event in events):
            done.append(entry)
    with _lock:
        for entry in done:
            _held.remove(entry)
        return len(_held)
