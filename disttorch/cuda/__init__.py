"""``disttorch.cuda``: devices, streams, events, memory statistics and random-number state
through CuPy.

CuPy is imported only when first asked. Without CuPy or without a driver every query answers
"no device" (``is_available()`` is False, ``device_count()`` is 0, memory statistics are 0) and
never raises; calls that need a device raise a ``RuntimeError`` that says so (without CuPy it
is also an ``AssertionError``, as PyTorch's CPU build raises). With ``DISTTORCH_SIMULATE_CUDA=1``
the simulated device of :mod:`disttorch.cuda._simulated` stands in for a GPU (tests only).
"""
import collections
import json
import os
import warnings

from .._backend import cupy_module, index_checks_pending, is_real_cupy, note_device
from . import _stream_uses
from ._peak_memory import PeakTracker
from .. import _streams

__all__ = ["is_available", "device_count", "current_device", "set_device", "device",
           "device_of", "synchronize", "Stream", "Event", "stream", "current_stream",
           "default_stream", "set_stream", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "memory_stats", "mem_get_info",
           "reset_peak_memory_stats", "empty_cache", "manual_seed", "manual_seed_all", "seed",
           "seed_all", "initial_seed", "get_rng_state", "set_rng_state", "get_rng_state_all",
           "set_rng_state_all", "get_device_name", "get_device_capability",
           "get_device_properties", "is_bf16_supported", "is_initialized", "init",
           "OutOfMemoryError",
           "StreamContext", "ExternalStream", "memory_stats_as_nested_dict", "memory_summary",
           "memory_cached", "max_memory_cached", "reset_max_memory_allocated",
           "reset_max_memory_cached", "get_arch_list", "get_gencode_flags", "is_tf32_supported",
           "nvtx"]

_DEFAULT_SEED = 67280421310721  # PyTorch's default seed, for CUDA generators too
_initialized = None  # the array module CUDA was first used through
_seeds = {"all": _DEFAULT_SEED, "current": None}  # manual_seed_all's; manual_seed's before init
_generators = {}  # device index -> {"initial": seed, "segment": seed} of generators seeded here
_properties = {}
_hook = None  # the PeakTracker memory hook (real CuPy only), once a peak is asked for


class OutOfMemoryError(RuntimeError):
    """Raised when the CUDA allocator cannot satisfy a request (``torch.cuda.OutOfMemoryError``).

    Tensor creation and device copies raise it in place of CuPy's
    ``cupy.cuda.memory.OutOfMemoryError``.
    """


class _NotCompiledError(RuntimeError, AssertionError):
    # CuPy is missing: PyTorch's CPU build raises AssertionError here, a CUDA build without a
    # GPU RuntimeError; this is both, so either ``except`` clause catches it.
    pass


def _is_initialized():
    return _initialized is not None and _initialized is cupy_module()


def is_initialized():
    """Return True once CUDA has been used (a tensor placed on it, a device queried...)."""
    return _is_initialized()


def init():
    """Initialize disttorch's CUDA state (the current device, its generator's seed); a no-op
    once done. CUDA initializes on first use, so code rarely needs this; without CUDA it
    raises, as PyTorch's CPU build does."""
    _require()


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


def _not_available():
    if cupy_module() is None:
        return _NotCompiledError("CUDA is not available: CuPy is not installed. Install the GPU "
                                 "extra (pip install 'disttorch[cuda]') on a machine with an "
                                 "NVIDIA GPU.")
    return RuntimeError("CUDA is not available: no NVIDIA GPU or driver was found on this "
                        "machine.")


def _require():
    if not is_available():
        raise _not_available()
    global _initialized
    cp = cupy_module()
    if _initialized is not cp:
        # per array module: tests switch between the simulated device and CuPy
        _initialized = cp
        _generators.clear()
        if _hook is not None:
            _hook.clear()
        _touch(cp.cuda.runtime.getDevice())
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
    """Return the index of the current CUDA device: the one ``device="cuda"`` means."""
    return _require().cuda.runtime.getDevice()


def set_device(device):
    """Select the current CUDA device by index, string (``"cuda:1"``) or ``disttorch.device``.

    Afterwards ``device="cuda"``, ``.cuda()`` and ``.to("cuda")`` place tensors on it. A
    negative index is a no-op, as in PyTorch.
    """
    index = _index(device) if device is not None else 0
    if index < 0:
        return
    cp = _require()
    cp.cuda.runtime.setDevice(index)
    note_device(index)
    _touch(index)


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
    _stream_uses.release_finished()
    _raise_index_errors()


def _raise_index_errors():
    """Raise an out-of-range index that a device-side check recorded (cuda/kernels/bounds.py):
    at host synchronisations, as PyTorch reports its device-side asserts."""
    if index_checks_pending[0]:
        from .kernels.bounds import raise_pending
        raise_pending()


class _CudaDeviceProperties:
    """What :func:`get_device_properties` returns: ``name``, ``major``, ``minor``,
    ``total_memory`` (bytes), ``multi_processor_count`` and a few more, as in PyTorch."""

    def __init__(self, props):
        name = props.get("name", b"")
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major, self.minor = int(props.get("major", 0)), int(props.get("minor", 0))
        self.total_memory = int(props.get("totalGlobalMem", 0))
        self.multi_processor_count = int(props.get("multiProcessorCount", 0))
        self.is_integrated = int(props.get("integrated", 0))
        self.is_multi_gpu_board = int(props.get("isMultiGpuBoard", 0))
        self.max_threads_per_multi_processor = int(props.get("maxThreadsPerMultiProcessor", 0))
        self.warp_size = int(props.get("warpSize", 32))
        self.regs_per_multiprocessor = int(props.get("regsPerMultiprocessor", 0))
        self.shared_memory_per_multiprocessor = int(props.get("sharedMemPerMultiprocessor", 0))
        self.L2_cache_size = int(props.get("l2CacheSize", 0))
        self.pci_bus_id = int(props.get("pciBusID", 0))
        self.pci_device_id = int(props.get("pciDeviceID", 0))
        self.pci_domain_id = int(props.get("pciDomainID", 0))

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count}, "
                f"L2_cache_size={self.L2_cache_size // (1024 * 1024)}MB)")


def get_device_properties(device=None):
    """Return the properties of a device (default: current): ``name``, ``major``, ``minor``,
    ``total_memory``, ``multi_processor_count``... (from ``cudaGetDeviceProperties``)."""
    cp = _require()
    index = _index(device)
    if not 0 <= index < device_count():
        raise AssertionError("Invalid device id")
    key = (id(cp), index)
    if key not in _properties:
        _properties[key] = _CudaDeviceProperties(cp.cuda.runtime.getDeviceProperties(index))
    return _properties[key]


def get_device_name(device=None):
    """Return the name of a device (default: current), e.g. ``"NVIDIA H100 80GB HBM3"``."""
    return get_device_properties(device).name


def get_device_capability(device=None):
    """Return the ``(major, minor)`` compute capability of a device (default: current)."""
    props = get_device_properties(device)
    return props.major, props.minor


def is_bf16_supported(including_emulation=True):
    """Return True when the current device computes in bfloat16 (compute capability >= 8.0)."""
    if not is_available():
        return False
    cp = cupy_module()
    if not is_real_cupy(cp):
        return True
    return int(cp.cuda.Device().compute_capability) >= 80


def is_tf32_supported():
    """Return True when the current device has TensorFloat-32 matrix units (compute capability
    >= 8.0)."""
    return is_bf16_supported(including_emulation=False)


def get_arch_list():
    """The CUDA architectures kernels are built for. disttorch compiles its kernels at run time
    (NVRTC, through CuPy) for the devices present, so: their ``sm_XY``s ([] without CUDA)."""
    if not is_available():
        return []
    arches = set()
    for index in range(device_count()):
        major, minor = get_device_capability(index)
        arches.add(f"sm_{major}{minor}")
    return sorted(arches)


def get_gencode_flags():
    """The ``-gencode`` flags matching :func:`get_arch_list` ("" without CUDA)."""
    return " ".join(f"-gencode compute=compute_{arch[3:]},code={arch}"
                    for arch in get_arch_list())


class Stream(_streams.Stream):
    """A CUDA stream: a queue of kernels that runs in order, concurrently with other streams.
    Used as a context manager, it is the current stream inside the block.

    Args:
        device (disttorch.device or int, optional): device for the stream (default: current).
        priority (int, optional): lower numbers run first; 0 is the default priority.
    """

    def __init__(self, device=None, priority=0, *, _native=None):
        cp = _require()
        self._device_index = _index(device)
        if _native is not None:
            self._stream = _native
        else:
            with cp.cuda.Device(self._device_index):
                self._stream = cp.cuda.Stream(non_blocking=True, priority=priority)
        self._contexts = []

    @property
    def device_index(self):
        return self._device_index

    @property
    def device(self):
        from .._device import device
        return device("cuda", self._device_index)

    @property
    def device_type(self):
        return 1   # c10::DeviceType::CUDA, as torch.Stream.device_type gives it

    @property
    def cuda_stream(self):
        return self._stream.ptr

    stream_id = native_handle = cuda_stream

    def is_capturing(self):
        """Whether a CUDA graph capture is recording this stream's work."""
        return bool(self._stream.is_capturing()) if hasattr(self._stream, "is_capturing") \
            else False

    def __enter__(self):
        context = StreamContext(self)
        self._contexts.append(context)
        context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._contexts.pop().__exit__(*exc)

    def __cuda_stream__(self):
        """The CUDA stream protocol (version 0, the stream's address): CuPy, cuda-python and
        other libraries take the stream through it."""
        return 0, self.cuda_stream

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
        _raise_index_errors()

    def __eq__(self, other):
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream

    def __hash__(self):
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self):
        return f"<disttorch.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.cuda_stream:#x}>"


class _StreamProtocol:
    def __init__(self, ptr):
        self.ptr = ptr

    def __cuda_stream__(self):
        return 0, self.ptr


class ExternalStream(Stream):
    """A stream made elsewhere (another library, a CUDA call), by its ``cudaStream_t`` address.

    The caller keeps it alive: disttorch neither creates nor destroys it.

    Args:
        stream_ptr (int): the ``cudaStream_t`` value.
        device (disttorch.device or int, optional): the device the stream was made on.
    """

    def __init__(self, stream_ptr, device=None):
        cp = _require()
        index = _index(device)
        with cp.cuda.Device(index):
            native = cp.cuda.Stream.from_external(_StreamProtocol(int(stream_ptr)))
        super().__init__(index, _native=native)


class Event(_streams.Event):
    """A CUDA event: a marker in a stream, to synchronise streams or time work between two.

    Args:
        enable_timing (bool): the event records time, for :meth:`elapsed_time`.
        blocking (bool): :meth:`synchronize` blocks the host thread instead of spinning.
        interprocess (bool): the event may be shared between processes.
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        cp = _require()
        self._device_index = cp.cuda.runtime.getDevice()
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing,
                                    interprocess=interprocess)
        self.enable_timing = enable_timing

    @property
    def device(self):
        from .._device import device
        return device("cuda", self._device_index)

    @property
    def event_id(self):
        return self._event.ptr

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
        _raise_index_errors()

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


def set_stream(stream):
    """Make ``stream`` the current stream of its device (None: no-op). Prefer the
    :func:`stream` context manager."""
    if stream is None:
        return
    cp = _require()
    with cp.cuda.Device(stream.device_index):
        stream._stream.use()


class StreamContext:
    """Context manager that queues the kernels launched inside it on ``stream``, on the
    stream's device (made current for the duration); None: no-op.

    Args:
        stream (Stream): the stream to select.
    """

    def __init__(self, stream):
        self.stream = stream
        self._device = None

    def __enter__(self):
        if self.stream is None:
            return None
        cp = _require()
        self._device = cp.cuda.Device(self.stream.device_index)
        self._device.__enter__()
        self.stream._stream.__enter__()
        return self.stream

    def __exit__(self, *exc):
        if self.stream is None:
            return False
        self.stream._stream.__exit__(*exc)
        self._device.__exit__(*exc)
        self._device = None
        return False


def stream(stream):
    """Context manager that queues the kernels launched inside it on ``stream`` (None: no-op);
    a :class:`StreamContext`."""
    return StreamContext(stream)


def _install_peak_hook():
    # CuPy's pool keeps no peak: a memory hook counts its blocks (_peak_memory). It adds a
    # little to every allocation, so it is installed only once peaks are asked for.
    global _hook
    cp = cupy_module()
    if _hook is not None or not is_real_cupy(cp):
        return
    from cupy.cuda import memory_hook

    class _PeakHook(PeakTracker, memory_hook.MemoryHook):
        name = "disttorch_peak"

    hook = _PeakHook(_pool_bytes)
    hook.__enter__()
    _hook = hook


def _pool_bytes(index):
    """``(allocated, reserved)`` bytes of device ``index``'s memory pool."""
    cp = cupy_module()
    with cp.cuda.Device(index):
        pool = cp.get_default_memory_pool()
        return int(pool.used_bytes()), int(pool.total_bytes())


def _peaks(index):
    """``(allocated, reserved)`` peaks of device ``index``."""
    cp = cupy_module()
    if not is_real_cupy(cp):
        peak = int(cp.peak_memory(index))
        return peak, peak  # the simulated pool caches nothing: reserved is allocated
    _install_peak_hook()
    return _hook.peaks(index)


def memory_stats(device=None):
    """Return allocator statistics of a device (default: current) as an ordered dict, under
    PyTorch's key names: ``"allocated_bytes.all.current"``, ``"allocated_bytes.all.peak"``,
    ``"reserved_bytes.all.current"``, ``"reserved_bytes.all.peak"``,
    ``"active_bytes.all.current"`` and ``"active_bytes.all.peak"``.

    Empty before CUDA is initialized (and without CUDA), as in PyTorch. Peaks are tracked
    exactly from the first peak query on (see :func:`max_memory_allocated`).
    """
    if not _is_initialized():
        return collections.OrderedDict()
    index = _index(device)
    allocated, reserved = _pool_bytes(index)
    peak_allocated, peak_reserved = _peaks(index)
    peak_allocated, peak_reserved = max(peak_allocated, allocated), max(peak_reserved, reserved)
    return collections.OrderedDict(sorted({
        "active_bytes.all.current": allocated, "active_bytes.all.peak": peak_allocated,
        "allocated_bytes.all.current": allocated, "allocated_bytes.all.peak": peak_allocated,
        "reserved_bytes.all.current": reserved, "reserved_bytes.all.peak": peak_reserved,
    }.items()))


def memory_allocated(device=None):
    """Bytes held by live tensors on a device (default: current); 0 before CUDA is
    initialized and without CUDA, as in PyTorch."""
    if not _is_initialized():
        return 0
    return _pool_bytes(_index(device))[0]


def max_memory_allocated(device=None):
    """Peak of :func:`memory_allocated` since the last :func:`reset_peak_memory_stats`.

    Peaks are tracked exactly from the first call of this function or of
    :func:`reset_peak_memory_stats` on (tracking costs a little on every allocation); before
    that, only the usage at the time of the call is known. 0 without CUDA.
    """
    if not _is_initialized():
        return 0
    index = _index(device)
    return max(_peaks(index)[0], _pool_bytes(index)[0])


def memory_reserved(device=None):
    """Bytes held by the caching allocator (used plus cached free blocks); 0 without CUDA."""
    if not _is_initialized():
        return 0
    return _pool_bytes(_index(device))[1]


def max_memory_reserved(device=None):
    """Peak of :func:`memory_reserved`, tracked like :func:`max_memory_allocated`."""
    if not _is_initialized():
        return 0
    index = _index(device)
    return max(_peaks(index)[1], _pool_bytes(index)[1])


def reset_peak_memory_stats(device=None):
    """Restart peak tracking of a device (default: current) from its current usage (and start
    it, the first time)."""
    cp = _require()
    index = _index(device)
    if not is_real_cupy(cp):
        cp.reset_peak_memory(index)
        return
    _install_peak_hook()
    _hook.reset(index)


def memory_stats_as_nested_dict(device=None):
    """:func:`memory_stats` as nested dictionaries: ``"allocated_bytes.all.peak"`` becomes
    ``stats["allocated_bytes"]["all"]["peak"]``."""
    nested = {}
    for key, value in memory_stats(device).items():
        *path, leaf = key.split(".")
        level = nested
        for part in path:
            level = level.setdefault(part, {})
        level[leaf] = value
    return nested


def memory_summary(device=None, abbreviated=False):
    """Return a human-readable table of :func:`memory_stats` for a device (default: current).

    ``abbreviated`` is accepted for compatibility: the table is short already (CuPy's pool
    keeps no per-pool-size or allocation-count statistics).
    """
    stats = memory_stats(device)
    index = _index(device) if _is_initialized() else 0
    rows = [("Allocated memory", "allocated_bytes"), ("Active memory", "active_bytes"),
            ("Reserved memory", "reserved_bytes")]
    width = 75
    lines = ["=" * width,
             f" disttorch CUDA memory summary, device ID {index:<d}".ljust(width),
             "-" * width,
             f" {'Metric':<28}| {'Cur Usage':>20} | {'Peak Usage':>20} ",
             "-" * width]
    for label, key in rows:
        current = stats.get(f"{key}.all.current", 0)
        peak = stats.get(f"{key}.all.peak", 0)
        lines.append(f" {label:<28}| {_format_size(current):>20} | {_format_size(peak):>20} ")
    lines.append("=" * width)
    return "\n".join(lines) + "\n"


def memory_cached(device=None):
    """Deprecated: renamed :func:`memory_reserved`."""
    warnings.warn("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`",
                  FutureWarning, stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None):
    """Deprecated: renamed :func:`max_memory_reserved`."""
    warnings.warn("`torch.cuda.max_memory_cached` has been renamed to "
                  "`torch.cuda.max_memory_reserved`", FutureWarning, stacklevel=2)
    return max_memory_reserved(device)


def reset_max_memory_allocated(device=None):
    """Deprecated: calls :func:`reset_peak_memory_stats`, which resets all peak statistics."""
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None):
    """Deprecated: calls :func:`reset_peak_memory_stats`, which resets all peak statistics."""
    warnings.warn("torch.cuda.reset_max_memory_cached now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def mem_get_info(device=None):
    """Return ``(free, total)`` bytes of a device's memory (default: current), as the driver
    reports them (``cudaMemGetInfo``)."""
    cp = _require()
    with cp.cuda.Device(_index(device)):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


def empty_cache():
    """Return the allocator's cached free blocks to the driver (no-op without CUDA)."""
    if is_available() and _initialized is cupy_module():
        # memory kept for other streams (Tensor.record_stream) is released once they finish
        _stream_uses.release_finished(wait=True)
        cupy_module().get_default_memory_pool().free_all_blocks()


def _format_size(size):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.2f} {unit}"
        size /= 1024


def _out_of_memory(exc, nbytes, index):
    """The :class:`OutOfMemoryError` that replaces CuPy's ``exc`` for an allocation of
    ``nbytes`` on device ``index`` (None: current)."""
    try:
        index = current_device() if index is None else index
        free, total = mem_get_info(index)
        where = (f" GPU {index} has a total capacity of {_format_size(total)} of which "
                 f"{_format_size(free)} is free.")
    except Exception:
        where = ""
    return OutOfMemoryError(f"CUDA out of memory. Tried to allocate {_format_size(nbytes)}."
                            f"{where} ({exc})")


def _seed_value(seed):
    seed = int(seed)
    return seed & 0xFFFFFFFFFFFFFFFF if seed < 0 else seed


def _reseed(cp, seed):
    # a numpy uint64: CuPy 13.2 with NumPy 2 refuses Python ints
    import numpy as np
    cp.random.seed(np.uint64(seed % 2 ** 64))


def _seed_generator(index, seed):
    cp = cupy_module()
    with cp.cuda.Device(index):
        _reseed(cp, seed)
    _generators[index] = {"initial": seed, "segment": seed % 2 ** 64}


def _touch(index):
    """Seed device ``index``'s generator the first time disttorch uses the device: with
    ``manual_seed``'s seed given before initialization, else ``manual_seed_all``'s, else
    PyTorch's default seed (so unseeded runs repeat, as in PyTorch)."""
    if index in _generators:
        return
    seed = _seeds["all"]
    if _seeds["current"] is not None:
        seed, _seeds["current"] = _seeds["current"], None
    _seed_generator(index, seed)


def manual_seed(seed):
    """Seed the generator of the current CUDA device; a no-op without CUDA.

    Before CUDA is initialized the seed is kept and applied then, so seeding does not start a
    CUDA context (as in PyTorch).
    """
    seed = _seed_value(seed)
    if not is_available():
        return
    if not _is_initialized():
        _seeds["current"] = seed
        return
    _seed_generator(current_device(), seed)


def manual_seed_all(seed):
    """Seed the generators of all CUDA devices; a no-op without CUDA.

    Devices not used yet are seeded when first used, so this starts no CUDA context.
    """
    seed = _seed_value(seed)
    _seeds["all"], _seeds["current"] = seed, None
    if not is_available() or not _is_initialized():
        return
    count = device_count()
    for index in list(_generators):
        if index < count:
            _seed_generator(index, seed)
        else:  # the (simulated) machine lost a device
            del _generators[index]


def _random_seed():
    return int.from_bytes(os.urandom(8), "little") & 0x7FFFFFFFFFFFFFFF


def seed():
    """Seed the current device's generator with a random number; a no-op without CUDA."""
    manual_seed(_random_seed())


def seed_all():
    """Seed all devices' generators with one random number; a no-op without CUDA."""
    manual_seed_all(_random_seed())


def initial_seed():
    """Return the seed the current device's generator was last seeded with."""
    _require()
    index = current_device()
    _touch(index)
    return _generators[index]["initial"]


def _rng_index(device):
    if isinstance(device, int) and not isinstance(device, bool):
        return current_device() if device < 0 else device
    return _index(device)


def get_rng_state(device="cuda"):
    """Return the random-number state of a device's generator (default: current) as a
    ``ByteTensor`` on the CPU; :func:`set_rng_state` restores it exactly.

    With CuPy, whose cuRAND generators cannot be read back, taking the state reseeds the
    generator from a seed derived from its previous one, and the state is that seed: restoring
    replays the same numbers, but the numbers drawn after this call differ from those a run
    that did not take the state would draw. The simulated device's state is read exactly.
    """
    import numpy as np
    from ..tensor import _new
    cp = _require()
    index = _rng_index(device)
    _touch(index)
    generator = _generators[index]
    with cp.cuda.Device(index):
        if is_real_cupy(cp):
            segment = int(np.random.SeedSequence(generator["segment"]).generate_state(
                1, np.uint64)[0])
            _reseed(cp, segment)
            generator["segment"] = segment
            payload = {"backend": "cupy", "seed": segment}
        else:
            state = cp.random.get_random_state().state.get_state(legacy=False)
            payload = {"backend": "simulated", "key": state["state"]["key"].tolist(),
                       "pos": int(state["state"]["pos"]), "has_gauss": int(state["has_gauss"]),
                       "gauss": float(state["gauss"])}
    payload["initial_seed"] = generator["initial"]
    return _new(np.frombuffer(json.dumps(payload).encode(), dtype=np.uint8).copy())


def set_rng_state(new_state, device="cuda"):
    """Restore a device's generator (default: current) to ``new_state``, a ``ByteTensor`` from
    :func:`get_rng_state`; a no-op without CUDA."""
    import numpy as np
    from ..tensor import Tensor
    new_state = new_state.clone()
    if not is_available():
        return
    if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8:
        raise TypeError("RNG state must be a torch.ByteTensor")
    cp = _require()
    index = _rng_index(device)
    backend = "cupy" if is_real_cupy(cp) else "simulated"
    try:
        payload = json.loads(bytes(new_state.cpu().numpy()).decode())
        initial = int(payload["initial_seed"])
        if payload["backend"] != backend:
            raise ValueError(f"a state of the {payload['backend']} device")
        if backend == "cupy":
            segment = int(payload["seed"]) % 2 ** 64
        else:
            segment = initial % 2 ** 64
            state = {"bit_generator": "MT19937", "state": {
                "key": np.asarray(payload["key"], dtype=np.uint32), "pos": int(payload["pos"])},
                "has_gauss": int(payload["has_gauss"]), "gauss": float(payload["gauss"])}
            np.random.RandomState(0).set_state(state)  # validates it
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise RuntimeError("Invalid CUDA generator state: it was not produced by "
                           f"disttorch.cuda.get_rng_state() on this device ({exc})") from exc
    with cp.cuda.Device(index):
        if backend == "cupy":
            _reseed(cp, segment)
        else:
            cp.random.get_random_state().state.set_state(state)
    _generators[index] = {"initial": initial, "segment": segment}


def get_rng_state_all():
    """Return the states of all devices' generators, a list indexed by device ([] without
    CUDA)."""
    return [get_rng_state(index) for index in range(device_count())]


def set_rng_state_all(new_states):
    """Restore all devices' generators from a list such as :func:`get_rng_state_all` gives."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def __getattr__(name):
    # ``disttorch.cuda.amp`` loads on first use, as ``torch.cuda.amp`` is reachable unimported
    if name in ("amp", "nvtx"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
