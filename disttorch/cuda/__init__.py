"""``disttorch.cuda``: devices, streams, events and memory statistics through CuPy.

CuPy is imported only when first asked. Without CuPy or without a driver every query answers
"no device" (``is_available()`` is False, ``device_count()`` is 0) and never raises; calls that
need a device raise a ``RuntimeError`` that says so. With ``DISTTORCH_SIMULATE_CUDA=1`` the
simulated device of :mod:`disttorch.cuda._simulated` stands in for a GPU (tests only).
"""
import contextlib

from .._backend import cupy_module, is_real_cupy

__all__ = ["is_available", "device_count", "current_device", "set_device", "device",
           "device_of", "synchronize", "Stream", "Event", "stream", "current_stream",
           "default_stream", "memory_allocated", "max_memory_allocated", "memory_reserved",
           "max_memory_reserved", "reset_peak_memory_stats", "empty_cache", "manual_seed",
           "manual_seed_all", "get_device_name", "is_bf16_supported"]

_initialized = None  # the array module CUDA was first used through
_pending_seed = None
_peak = {"allocated": 0, "reserved": 0}
_hook = None


def _is_initialized():
    return _initialized is not None


def is_available():
    """Return True if a CUDA device is usable (CuPy installed and a GPU with a driver).

    Never raises: a missing CuPy, a missing driver or a broken CUDA install all answer False.
    """
    cp = cupy_module()
    if cp is None:
        return False
    try:
        return bool(cp.cuda.is_available())
    except Exception:
        return False


def device_count():
    """Return the number of visible CUDA devices (0 without CuPy or a driver)."""
    if not is_available():
        return 0
    return cupy_module().cuda.runtime.getDeviceCount()


def _require():
    if not is_available():
        raise RuntimeError("CUDA is not available: no CuPy installation or no NVIDIA GPU/driver on "
                           "this machine.")
    global _initialized
    cp = cupy_module()
    if _initialized is not cp:
        # per array module: tests switch between the simulated device and CuPy
        _initialized = cp
        if _pending_seed is not None:
            cp.random.seed(_pending_seed)
    return cp


def _index(device):
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        from .._device import device as _device
        device = _device(device)
    if getattr(device, "type", "cuda") != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {device}")
    return current_device() if device.index is None else device.index


def current_device():
    """Return the index of the current CUDA device."""
    return _require().cuda.runtime.getDevice()


def set_device(device):
    """Select the current CUDA device by index, string (``"cuda:1"``) or ``disttorch.device``."""
    index = _index(device) if device is not None else 0
    _require().cuda.runtime.setDevice(index)


class device:
    """Context manager that makes ``device`` current and restores the previous one on exit.

    Args:
        device (disttorch.device or int or str): the device to select; a negative index or
            None makes this a no-op.
    """

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev_idx = current_device()
            if self.prev_idx != self.idx:
                set_device(self.idx)

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx != self.idx:
            set_device(self.prev_idx)
        return False


class device_of(device):
    """Context manager that selects the device of tensor ``obj`` (no-op for CPU tensors)."""

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.is_cuda else None)


def synchronize(device=None):
    """Wait until every kernel on every stream of ``device`` (default: current) is done."""
    cp = _require()
    with cp.cuda.Device(_index(device)):
        cp.cuda.runtime.deviceSynchronize()


def get_device_name(device=None):
    """Return the name of a device, e.g. ``"NVIDIA H100 80GB HBM3"``."""
    cp = _require()
    if not is_real_cupy(cp):
        return "disttorch simulated CUDA device"
    name = cp.cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else name


def is_bf16_supported(including_emulation=True):
    """Return True when the current device computes in bfloat16 (compute capability >= 8.0)."""
    if not is_available():
        return False
    cp = cupy_module()
    if not is_real_cupy(cp):
        return True
    return int(cp.cuda.Device().compute_capability) >= 80


class Stream:
    """A CUDA stream: a queue of kernels that runs in order, concurrently with other streams.

    Args:
        device (disttorch.device or int, optional): device for the stream (default: current).
        priority (int, optional): lower numbers run first; 0 is the default priority.
    """

    def __init__(self, device=None, priority=0, *, _native=None):
        cp = _require()
        self.device_index = _index(device)
        if _native is not None:
            self._stream = _native
        else:
            with cp.cuda.Device(self.device_index):
                self._stream = cp.cuda.Stream(non_blocking=True, priority=priority)

    @property
    def cuda_stream(self):
        return self._stream.ptr

    def wait_event(self, event):
        """Make future work on this stream wait until ``event`` has completed."""
        self._stream.wait_event(event._event)

    def wait_stream(self, stream):
        """Make future work on this stream wait for the work queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        """Record ``event`` (a new one when None) on this stream and return it."""
        event = event or Event()
        event.record(self)
        return event

    def query(self):
        """Return True when all work queued on this stream has completed."""
        return bool(self._stream.done)

    def synchronize(self):
        """Wait for all work queued on this stream."""
        self._stream.synchronize()

    def __eq__(self, other):
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream

    def __hash__(self):
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self):
        return f"<disttorch.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A CUDA event: a marker in a stream, to synchronise streams or time work between two.

    Args:
        enable_timing (bool): the event records time, for :meth:`elapsed_time`.
        blocking (bool): :meth:`synchronize` blocks the host thread instead of spinning.
        interprocess (bool): the event may be shared between processes.
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        cp = _require()
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing,
                                    interprocess=interprocess)
        self.enable_timing = enable_timing

    def record(self, stream=None):
        """Record the event on ``stream`` (default: the current stream)."""
        self._event.record((stream or current_stream())._stream)

    def wait(self, stream=None):
        """Make ``stream`` (default: current) wait for this event."""
        (stream or current_stream()).wait_event(self)

    def query(self):
        return bool(self._event.done)

    def synchronize(self):
        """Block until the work recorded before this event has completed."""
        self._event.synchronize()

    def elapsed_time(self, end_event):
        """Milliseconds between this event and ``end_event`` (both recorded, timing enabled)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        end_event.synchronize()
        return float(cupy_module().cuda.get_elapsed_time(self._event, end_event._event))


def current_stream(device=None):
    """Return the stream that kernels are queued on now."""
    cp = _require()
    return Stream(device, _native=cp.cuda.get_current_stream())


def default_stream(device=None):
    """Return the device's default (null) stream."""
    cp = _require()
    return Stream(device, _native=cp.cuda.Stream.null)


@contextlib.contextmanager
def stream(stream):
    """Context manager that queues the kernels launched inside it on ``stream`` (None: no-op)."""
    if stream is None:
        yield
        return
    with stream._stream:
        yield


def _install_peak_hook():
    # CuPy's pool keeps no peak; a malloc hook samples the pool after every new allocation. It
    # slows every allocation, so it is installed only once peaks are asked for.
    global _hook
    cp = cupy_module()
    if _hook is not None or not is_real_cupy(cp):
        return
    from cupy.cuda import memory_hook

    class _PeakHook(memory_hook.MemoryHook):
        name = "disttorch_peak"

        def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
            _sample_peak()

        def alloc_postprocess(self, device_id, mem_size, mem_ptr):
            _sample_peak()

    _hook = _PeakHook()
    _hook.__enter__()


def _pool():
    return _require().cuda.get_default_memory_pool()


def _sample_peak():
    pool = cupy_module().cuda.get_default_memory_pool()
    _peak["allocated"] = max(_peak["allocated"], pool.used_bytes())
    _peak["reserved"] = max(_peak["reserved"], pool.total_bytes())


def memory_allocated(device=None):
    """Bytes held by live tensors (CuPy's memory pool: used bytes)."""
    return int(_pool().used_bytes())


def max_memory_allocated(device=None):
    """Peak of :func:`memory_allocated` since the last :func:`reset_peak_memory_stats`.

    Peaks are tracked exactly from the first call of this function or of
    :func:`reset_peak_memory_stats` on (tracking costs a little on every allocation); before
    that, only the usage at the time of the call is known.
    """
    pool = _pool()
    if not is_real_cupy(cupy_module()):
        return int(cupy_module().peak_memory())
    _install_peak_hook()
    _sample_peak()
    return int(max(_peak["allocated"], pool.used_bytes()))


def memory_reserved(device=None):
    """Bytes held by the caching allocator (used plus cached free blocks)."""
    return int(_pool().total_bytes())


def max_memory_reserved(device=None):
    """Peak of :func:`memory_reserved`, tracked like :func:`max_memory_allocated`."""
    _pool()
    if not is_real_cupy(cupy_module()):
        return int(cupy_module().peak_memory())
    _install_peak_hook()
    _sample_peak()
    return int(_peak["reserved"])


def reset_peak_memory_stats(device=None):
    """Restart peak tracking from the current usage (and start it, the first time)."""
    pool = _pool()
    if not is_real_cupy(cupy_module()):
        cupy_module().reset_peak_memory()
        return
    _install_peak_hook()
    _peak["allocated"], _peak["reserved"] = pool.used_bytes(), pool.total_bytes()


def empty_cache():
    """Return the allocator's cached free blocks to the driver (no-op without CUDA)."""
    if is_available() and _initialized is cupy_module():
        cupy_module().cuda.get_default_memory_pool().free_all_blocks()


def manual_seed(seed):
    """Seed the CUDA generator (CuPy's) of the current device; a no-op without CUDA.

    Before the first CUDA use the seed is kept and applied then, so seeding does not start a
    CUDA context (as in PyTorch).
    """
    global _pending_seed
    if not is_available():
        return
    _pending_seed = int(seed) % (2 ** 32)
    if _initialized is cupy_module():
        cupy_module().random.seed(_pending_seed)


manual_seed_all = manual_seed


def __getattr__(name):
    # ``disttorch.cuda.amp`` loads on first use, as ``torch.cuda.amp`` is reachable unimported
    if name == "amp":
        import importlib
        return importlib.import_module(f"{__name__}.amp")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
