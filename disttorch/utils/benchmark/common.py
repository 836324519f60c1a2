"""What a timing produces: :class:`TaskSpec` (what was timed) and :class:`Measurement`
(the replicate times and their statistics), plus the unit and rounding helpers that
``Measurement.__repr__`` and :class:`~disttorch.utils.benchmark.Compare` share."""
import contextlib
import math

import numpy as np

__all__ = ["TaskSpec", "Measurement", "select_unit", "unit_to_english", "trim_sigfig",
           "ordered_unique", "set_torch_threads"]

# A confidence interval narrower than the resolution of a timer call says nothing.
_MIN_CONFIDENCE_INTERVAL = 25e-9
_MAX_SIGNIFICANT_FIGURES = 4
_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS = 0.25     # beyond this the spread is blamed on the environment, not on noise
_TASKSPEC_FIELDS = ("stmt", "setup", "global_setup", "label", "sub_label", "description", "env",
                    "num_threads")


def ordered_unique(elements):
    """The distinct ``elements`` in order of first appearance."""
    return list(dict.fromkeys(elements))


def select_unit(t):
    """``(unit, scale)`` to display the time ``t`` (seconds): ``ns``, ``us``, ``ms`` or ``s``."""
    # log10 in float32, as PyTorch computes it: 1e-6 is then exactly -6 and reads as "us"
    exponent = int(float(np.float32(math.log10(float(np.float32(t))))) // 3)
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(exponent, "s")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}[unit]
    return unit, scale


def unit_to_english(u):
    """``"ns"`` -> ``"nanosecond"`` (and ``us``, ``ms``, ``s``)."""
    return {"ns": "nanosecond", "us": "microsecond", "ms": "millisecond", "s": "second"}[u]


def trim_sigfig(x, n):
    """``x`` rounded to ``n`` significant figures."""
    if x == 0 or not math.isfinite(x):
        return x
    # float32, as PyTorch rounds: Compare then prints the same digits (1.395e9 -> 1395000064)
    magnitude = math.ceil(float(np.float32(math.log10(abs(float(np.float32(x)))))))
    scale = 10.0 ** (magnitude - n)
    return float(np.round(np.float32(x / scale)) * np.float32(scale))


@contextlib.contextmanager
def set_torch_threads(n):
    """Run the block with ``n`` disttorch intra-op threads, restoring the count afterwards."""
    from ... import _threads
    previous = _threads.get_num_threads()
    _threads.set_num_threads(n)
    try:
        yield
    finally:
        _threads.set_num_threads(previous)


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


class TaskSpec:
    """What a :class:`~disttorch.utils.benchmark.Timer` measures (everything but ``globals``).

    Immutable and hashable: measurements of equal specs are replicates of one task.
    """

    __slots__ = _TASKSPEC_FIELDS

    def __init__(self, stmt, setup, global_setup="", label=None, sub_label=None,
                 description=None, env=None, num_threads=1):
        values = (stmt, setup, global_setup, label, sub_label, description, env, num_threads)
        for field, value in zip(_TASKSPEC_FIELDS, values):
            object.__setattr__(self, field, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field '{name}'")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field '{name}'")

    def _key(self):
        return tuple(getattr(self, f) for f in _TASKSPEC_FIELDS)

    def __eq__(self, other):
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in _TASKSPEC_FIELDS)
        return f"TaskSpec({fields})"

    def __reduce__(self):
        return (TaskSpec, self._key())

    @property
    def title(self):
        """The label (with ``": sub_label"``), else the statement."""
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        if "\n" not in self.stmt:
            return self.stmt + (f": {self.sub_label}" if self.sub_label else "")
        return f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n{_indent(self.stmt)}"

    def setup_str(self):
        """The setup as shown in a summary: nothing for ``pass``, else ``setup: ...``."""
        if not self.setup or self.setup == "pass":
            return ""
        if "\n" not in self.setup:
            return f"setup: {self.setup}"
        return f"setup:\n{_indent(self.setup)}\n"

    def summarize(self):
        """The description of the task that heads a measurement's ``repr``."""
        title = self.title
        if self.label is None and "\n" in self.stmt:
            title += "\n"   # a multi-line statement block is set off by a blank line
        parts = [title, self.description or "", self.setup_str()]
        return "\n".join(p for p in parts if p)


class Measurement:
    """The result of a Timer measurement.

    Holds ``raw_times`` (seconds per replicate, each covering ``number_per_run`` runs of the
    statement) and derives per-run statistics from them: ``times``, ``median``, ``mean``,
    ``iqr``, ``significant_figures``. Fields of its ``task_spec`` (``stmt``, ``label``,
    ``num_threads``...) read as attributes.

    Args:
        number_per_run (int): runs of the statement in each replicate.
        raw_times (list of float): the replicates' total times, in seconds.
        task_spec (TaskSpec): what was measured.
        metadata (dict, optional): free-form information kept with the result.
    """

    metadata = None

    def __init__(self, number_per_run, raw_times, task_spec, metadata=None):
        self.number_per_run = number_per_run
        self.raw_times = raw_times
        self.task_spec = task_spec
        self.metadata = metadata
        self._stats = None

    def __getattr__(self, name):
        if name in _TASKSPEC_FIELDS:
            return getattr(self.task_spec, name)
        raise AttributeError(f"'Measurement' object has no attribute '{name}'")

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return (self.number_per_run, self.raw_times, self.task_spec, self.metadata) == (
            other.number_per_run, other.raw_times, other.task_spec, other.metadata)

    __hash__ = None

    def __getstate__(self):
        return {"number_per_run": self.number_per_run, "raw_times": self.raw_times,
                "task_spec": self.task_spec, "metadata": self.metadata}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._stats = None

    # ------------------------------------------------------------------ statistics
    def _lazy(self):
        # computed on first use: raw_times may be filled in after construction
        if self._stats is None:
            times = sorted(t / self.number_per_run for t in self.raw_times)
            arr = np.asarray(times, dtype=np.float64)
            median = float(np.median(arr))
            p25, p75 = (float(v) for v in np.percentile(arr, [25, 75]))
            self._stats = {"times": tuple(times), "median": median, "mean": float(arr.mean()),
                           "p25": p25, "p75": p75}
        return self._stats

    @property
    def times(self):
        """Time per run of the statement, per replicate (seconds)."""
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self):
        return self._lazy()["median"]

    @property
    def mean(self):
        return self._lazy()["mean"]

    @property
    def iqr(self):
        """Interquartile range (75th minus 25th percentile) of the per-run times."""
        s = self._lazy()
        return s["p75"] - s["p25"]

    def _relative_iqr(self):
        iqr, median = self.iqr, self.median
        if median == 0:
            return 0.0 if iqr == 0 else math.inf
        return iqr / median

    def meets_confidence(self, threshold=_IQR_WARN_THRESHOLD):
        """Whether the IQR is below ``threshold`` times the median."""
        return self._relative_iqr() < threshold

    @property
    def _warnings(self):
        relative = self._relative_iqr()
        if relative <= _IQR_WARN_THRESHOLD:
            return ()
        cause = ("This suggests significant environmental influence." if relative > _IQR_GROSS
                 else "This could indicate system fluctuation.")
        return (f"  WARNING: Interquartile range is {relative * 100:.1f}% of the median "
                f"measurement.\n           {cause}",)

    @property
    def has_warnings(self):
        return bool(self._warnings)

    @property
    def significant_figures(self):
        """Approximate significant figures of the median (1 to 4).

        Estimated from the interquartile points only (robust to the tails), with a 90%
        normal interval (z = 1.645) of their mean; used by ``Compare`` to trim digits.
        """
        times = self._lazy()["times"]
        n = len(times)
        middle = np.asarray(times[n // 4:math.ceil(3 * n / 4)], dtype=np.float64)
        spread = 1.645 * float(middle.std()) / math.sqrt(len(middle))
        interval = max(spread, _MIN_CONFIDENCE_INTERVAL)
        figures = math.floor(math.log10(self.median / interval)) if self.median > 0 else 1
        return min(max(figures, 1), _MAX_SIGNIFICANT_FIGURES)

    # ------------------------------------------------------------------ labels
    @property
    def title(self):
        return self.task_spec.title

    @property
    def env(self):
        return self.task_spec.env

    @property
    def as_row_name(self):
        return self.sub_label or self.stmt or "[Unknown]"

    def __repr__(self):
        unit, scale = select_unit(self.median)
        n = len(self.raw_times)
        lines = [super().__repr__(), self.task_spec.summarize()]
        if n > 1:
            lines.append(f"  Median: {self.median / scale:.2f} {unit}")
        else:
            lines.append(f"  {self.median / scale:.2f} {unit}")
        if n >= 4:
            s = self._lazy()
            lines.append(f"  IQR:    {self.iqr / scale:.2f} {unit} "
                         f"({s['p25'] / scale:.2f} to {s['p75'] / scale:.2f})")
        threads = self.num_threads
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs "
                     f"{'per measurement' if n > 1 else ''}, "
                     f"{threads} thread{'s' if threads > 1 else ''}")
        lines.extend(self._warnings)
        return "\n".join(lines)

    @staticmethod
    def merge(measurements):
        """Pool replicates of the same task (equal ``task_spec``) into one Measurement each.

        Times are rescaled to ``number_per_run=1``; ``metadata`` is dropped, as it may differ
        between replicates.
        """
        pooled = {}
        for m in measurements:
            pooled.setdefault(m.task_spec, []).extend(m.times)
        return [Measurement(1, times, spec) for spec, times in pooled.items()]
