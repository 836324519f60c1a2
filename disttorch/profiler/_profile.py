"""The profiler: timing hooks around ``Node.apply``/``Function.apply`` and node backwards."""
import enum
import time

from ..autograd.function import Function, Node

__all__ = ["profile", "record_function", "schedule", "ProfilerAction", "ProfilerActivity",
           "EventList", "FunctionEventAvg"]


class ProfilerActivity(enum.Enum):
    """What to time: host-side ``CPU`` work, and ``CUDA`` (ops synchronise the device so
    their time includes the kernels)."""
    CPU = 0
    CUDA = 1


class ProfilerAction(enum.Enum):
    """What the profiler does during a step, as returned by a :func:`schedule`."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0):
    r"""A profiling schedule over the steps counted by :meth:`profile.step`.

    Skips ``skip_first`` steps, then cycles: ``wait`` steps idle, ``warmup`` steps running
    but not recorded, ``active`` steps recorded; ``repeat`` cycles (0: until the end). At the
    end of each cycle ``on_trace_ready`` is called.

    Returns:
        callable: step number -> :class:`ProfilerAction`.
    """
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError(f"Invalid profiler schedule arguments: wait={wait}, warmup={warmup}, "
                         f"active={active} (must be positive), repeat={repeat}, "
                         f"skip_first={skip_first}")

    def schedule_fn(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        position = step % cycle
        if position < wait:
            return ProfilerAction.NONE
        if position < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if position < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


class FunctionEventAvg:
    """The statistics of one (name, pass) row: call count, self and total seconds."""

    def __init__(self, key, kind):
        self.key = key
        self.kind = kind
        self.count = 0
        self.self_cpu_time_total = 0.0
        self.cpu_time_total = 0.0

    @property
    def cpu_time(self):
        """Mean total seconds per call."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} pass={self.kind} count={self.count} "
                f"self_cpu_time_total={self.self_cpu_time_total * 1e6:.0f}us>")


_SORT_KEYS = ("self_cpu_time_total", "cpu_time_total", "cpu_time", "count")


class EventList(list):
    """Rows of :class:`FunctionEventAvg`, printable as a table."""

    def table(self, sort_by="self_cpu_time_total", row_limit=100):
        """The rows as a text table, largest ``sort_by`` first, at most ``row_limit`` rows.

        Args:
            sort_by (str): ``"self_cpu_time_total"``, ``"cpu_time_total"``, ``"cpu_time"``
                or ``"count"``. Default: ``"self_cpu_time_total"``.
            row_limit (int): rows shown; the totals line covers all of them. Default: 100.
        """
        if sort_by not in _SORT_KEYS:
            raise ValueError(f"table: sort_by must be one of {', '.join(_SORT_KEYS)}, "
                             f"got {sort_by!r}")
        rows = sorted(self, key=lambda e: getattr(e, sort_by), reverse=True)
        total_self = sum(e.self_cpu_time_total for e in self) or 1.0
        width = max([len("Name")] + [len(e.key) for e in rows[:row_limit]])
        header = (f"{'Name':<{width}}  {'Pass':<8}  {'Self CPU %':>10}  {'Self CPU':>10}  "
                  f"{'CPU total':>10}  {'CPU avg':>10}  {'# Calls':>7}")
        rule = "-" * len(header)
        lines = [rule, header, rule]
        for e in rows[:row_limit]:
            lines.append(f"{e.key:<{width}}  {e.kind:<8}  "
                         f"{100 * e.self_cpu_time_total / total_self:>9.2f}%  "
                         f"{_fmt(e.self_cpu_time_total):>10}  {_fmt(e.cpu_time_total):>10}  "
                         f"{_fmt(e.cpu_time):>10}  {e.count:>7}")
        lines += [rule, f"Self CPU time total: {_fmt(sum(e.self_cpu_time_total for e in self))}"]
        return "\n".join(lines)

    def total_average(self):
        """One row summing every row."""
        total = FunctionEventAvg("Total", "")
        for e in self:
            total.count += e.count
            total.self_cpu_time_total += e.self_cpu_time_total
            total.cpu_time_total += e.cpu_time_total
        return total


def _fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.3f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f}ms"
    return f"{seconds * 1e6:.3f}us"


_active = None


class profile:
    r"""Time every op, forward and backward, while the context is open.

    Args:
        activities (iterable of ProfilerActivity, optional): ``CPU`` (always timed) and
            ``CUDA`` (each op synchronises the GPU, so its time includes its kernels).
            Default: CPU only.
        schedule (callable, optional): step number -> :class:`ProfilerAction`, e.g. from
            :func:`schedule`; steps are counted by :meth:`step`. Default: record throughout.
        on_trace_ready (callable, optional): called with the profiler at the end of each
            recorded cycle of the schedule.
        record_shapes (bool): accepted for compatibility; rows are keyed by op type only.

    Only one profiler can be active at a time, and the hooks are process-wide: ops run by
    other threads meanwhile are timed too.
    """

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False):
        activities = set(activities) if activities is not None else {ProfilerActivity.CPU}
        self.synchronize = None
        if ProfilerActivity.CUDA in activities:
            from .. import cuda
            if cuda.is_available():
                self.synchronize = cuda.synchronize
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.step_num = 0
        self._rows = {}
        self._stack = []
        self._patched = {}
        self._recording = False

    # ------------------------------------------------------------ lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Install the timing hooks (``with profile(...)`` calls it)."""
        global _active
        if _active is not None:
            raise RuntimeError("profile: another profiler is already active in this process")
        _active = self
        self._patch_apply(Node, "forward")
        self._patch_apply(Function, "forward")
        self._recording = self._action() in (ProfilerAction.RECORD,
                                             ProfilerAction.RECORD_AND_SAVE)

    def stop(self):
        """Remove the hooks; the recorded rows stay available."""
        global _active
        for (owner, name), original in self._patched.items():
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._patched = {}
        self._recording = False
        if _active is self:
            _active = None

    def _action(self):
        return self.schedule(self.step_num) if self.schedule else ProfilerAction.RECORD

    def step(self):
        """Mark the end of a training step (advances the schedule)."""
        finished = self._action()
        self.step_num += 1
        if finished is ProfilerAction.RECORD_AND_SAVE and self.on_trace_ready is not None:
            self.on_trace_ready(self)
        self._recording = self._action() in (ProfilerAction.RECORD,
                                             ProfilerAction.RECORD_AND_SAVE)

    # ------------------------------------------------------------ results
    def key_averages(self):
        """The recorded rows, one per (op name, pass), as an :class:`EventList`."""
        return EventList(self._rows.values())

    # ------------------------------------------------------------ timing
    def _record(self, name, kind, fn, *args):
        if not self._recording:
            return fn(*args)
        frame = [0.0]  # seconds spent in nested timed calls
        self._stack.append(frame)
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            if self.synchronize is not None:
                self.synchronize()
            elapsed = time.perf_counter() - start
            self._stack.pop()
            if self._stack:
                self._stack[-1][0] += elapsed
            row = self._rows.get((name, kind))
            if row is None:
                row = self._rows[(name, kind)] = FunctionEventAvg(name, kind)
            row.count += 1
            row.cpu_time_total += elapsed
            row.self_cpu_time_total += elapsed - frame[0]

    def _save(self, owner, name):
        if (owner, name) not in self._patched:
            self._patched[(owner, name)] = owner.__dict__.get(name)

    def _patch_apply(self, base, kind):
        original = base.__dict__["apply"].__func__
        profiler = self

        def apply(cls, *args, **kwargs):
            if profiler._recording:
                profiler._patch_backward(cls)
                return profiler._record(cls.__name__, kind, lambda: original(cls, *args,
                                                                             **kwargs))
            return original(cls, *args, **kwargs)
        self._save(base, "apply")
        base.apply = classmethod(apply)

    def _patch_backward(self, cls):
        # A custom Function's graph node is its BackwardCFunction subclass.
        node_cls = getattr(cls, "_backward_cls", cls)
        if (node_cls, "backward") in self._patched:
            return
        original = node_cls.backward
        # An inherited backward may already be wrapped for the parent class.
        original = getattr(original, "_profiled", original)
        profiler = self

        def backward(node, *grads):
            return profiler._record(node.name(), "backward", original, node, *grads)
        backward._profiled = original
        self._save(node_cls, "backward")
        node_cls.backward = backward


class record_function:
    r"""Time a block of code as one row named ``name`` (pass ``"range"``) of the active
    profiler; a no-op when none is active. Usable as a context manager or a decorator.

    Args:
        name (str): the row's name.
    """

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._frame = None

    def __enter__(self):
        profiler = _active
        if profiler is not None and profiler._recording:
            self._frame = (profiler, [0.0], time.perf_counter())
            profiler._stack.append(self._frame[1])
        return self

    def __exit__(self, *exc):
        if self._frame is None:
            return
        profiler, frame, start = self._frame
        self._frame = None
        elapsed = time.perf_counter() - start
        profiler._stack.pop()
        if profiler._stack:
            profiler._stack[-1][0] += elapsed
        row = profiler._rows.get((self.name, "range"))
        if row is None:
            row = profiler._rows[(self.name, "range")] = FunctionEventAvg(self.name, "range")
        row.count += 1
        row.cpu_time_total += elapsed
        row.self_cpu_time_total += elapsed - frame[0]

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name):
                return fn(*args, **kwargs)
        return wrapper
