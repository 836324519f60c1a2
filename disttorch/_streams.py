"""``disttorch.Stream`` and ``disttorch.Event``: PyTorch's device-generic stream and event.

On a CUDA device they are :class:`disttorch.cuda.Stream` and :class:`disttorch.cuda.Event`
(subclasses of these, so ``isinstance(torch.cuda.current_stream(), torch.Stream)`` holds). On the
CPU, which runs every op in order on the calling thread, the stream is the one trivial queue and
the event marks nothing: they behave as PyTorch's CPU stream and event do, including their
refusals ("cpu backend doesn't support events.").
"""
from ._device import device as _device

_NO_EVENTS = "cpu backend doesn't support events."
_DEVICE_TYPE_CODES = {"cpu": 0, "cuda": 1}   # c10::DeviceType


def _resolve(device):
    """``device`` as a ``disttorch.device``; None: the current accelerator, else the CPU."""
    if device is None:
        from . import accelerator
        current = accelerator.current_accelerator()
        return current if current is not None else _device("cpu")
    return device if isinstance(device, _device) else _device(device)


class _DispatchOnDevice(type):
    # ``Stream(device="cuda")`` builds the CUDA class itself (one construction, not a second
    # __init__ on what __new__ returned)
    def __call__(cls, *args, **kwargs):
        if cls not in (Stream, Event):
            return super().__call__(*args, **kwargs)
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}() takes from 0 to 1 positional arguments but "
                            f"{len(args)} were given")
        where = _resolve(args[0] if args else kwargs.pop("device", None))
        if where.type == "cuda":
            from . import cuda
            if cls is Stream:
                return cuda.Stream(where, priority=kwargs.get("priority", 0))
            with cuda.device(where):
                return cuda.Event(kwargs.get("enable_timing", False),
                                  kwargs.get("blocking", False), kwargs.get("interprocess", False))
        return super().__call__(where, **kwargs)


class Stream(metaclass=_DispatchOnDevice):
    r"""Stream(device=None, *, priority=0) -> Stream

    An in-order queue of work on ``device`` (default: the current accelerator, else the CPU).
    Used as a context manager, it makes itself the current stream inside the block.

    Args:
        device (disttorch.device, optional): the stream's device.
        priority (int, optional): 0 or negative; lower numbers run first (CUDA only).
    """

    def __init__(self, device=None, *, priority=0):
        self._where = _resolve(device)

    @property
    def device(self):
        return self._where

    @property
    def device_type(self):
        """The device type's number, as PyTorch gives it (0 the CPU, 1 CUDA)."""
        return _DEVICE_TYPE_CODES.get(self._where.type, -1)

    @property
    def device_index(self):
        return -1 if self._where.index is None else self._where.index

    @property
    def stream_id(self):
        return 0

    @property
    def native_handle(self):
        raise RuntimeError("Backend doesn't support getting stream native handle.")

    def query(self):
        """True: the CPU has run all work it was given by the time this is called."""
        return True

    def synchronize(self):
        """Wait for the stream's work (none is pending on the CPU)."""

    def wait_event(self, event):
        """Make the stream's future work wait for ``event`` (nothing to wait for on the CPU)."""

    def wait_stream(self, stream):
        raise RuntimeError(_NO_EVENTS)

    def record_event(self, event=None):
        raise RuntimeError(_NO_EVENTS)

    def is_capturing(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return type(other) is type(self) and other.device == self.device and \
            other.stream_id == self.stream_id

    def __hash__(self):
        return hash((self.device_type, self.device_index, self.stream_id))

    def __repr__(self):
        return (f"disttorch.Stream device_type={self._where.type}, device_index="
                f"{self.device_index}, stream_id={self.stream_id}")


class Event(metaclass=_DispatchOnDevice):
    r"""Event(device=None, *, enable_timing=False, blocking=False, interprocess=False) -> Event

    A marker in a stream's work, to order streams or time the work between two events.

    Args:
        device (disttorch.device, optional): the event's device (default: the current
            accelerator, else the CPU).
        enable_timing (bool): the event records a time, for :meth:`elapsed_time`.
        blocking (bool): :meth:`synchronize` blocks the thread instead of spinning (CUDA).
        interprocess (bool): the event may be shared between processes (CUDA).
    """

    def __init__(self, device=None, *, enable_timing=False, blocking=False, interprocess=False):
        self._where = _resolve(device)
        self.enable_timing = bool(enable_timing)

    @property
    def device(self):
        return self._where

    @property
    def event_id(self):
        return 0

    def record(self, stream=None):
        raise RuntimeError(_NO_EVENTS)

    def query(self):
        return True

    def synchronize(self):
        """Wait for the work before the event (none is pending on the CPU)."""

    def wait(self, stream=None):
        """Make ``stream`` wait for the event (nothing to wait for on the CPU)."""

    def elapsed_time(self, end_event):
        if not (self.enable_timing and end_event.enable_timing):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise ValueError("Both events must be recorded before calculating elapsed time.")

    def __repr__(self):
        index = -1 if self._where.index is None else self._where.index
        return (f"disttorch.Event device_type={self._where.type}, device_index={index}, "
                f"event_flag={int(self.enable_timing)}, event_id={self.event_id}")
