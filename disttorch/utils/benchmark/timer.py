"""``Timer``: time a Python statement with replicates, at a fixed thread count."""
import enum
import textwrap
import timeit as _timeit

from .common import Measurement, TaskSpec, set_torch_threads

__all__ = ["Timer", "Language", "timer"]


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


def timer():
    """``timeit.default_timer`` after waiting for queued CUDA work, once CUDA is in use.

    Kernels run asynchronously: reading the clock without synchronizing would time their
    launch, not their execution.
    """
    from ... import cuda
    if cuda.is_initialized():
        cuda.synchronize()
    return _timeit.default_timer()


class Timer:
    """Measure the execution time of a Python statement (``torch.utils.benchmark.Timer``).

    Like :class:`timeit.Timer`, with warmup runs, the intra-op thread count set to
    ``num_threads`` while measuring (and restored after), CUDA synchronized by the default
    ``timer``, and results returned as :class:`Measurement` objects that carry their
    replicates and labels (``label``, ``sub_label``, ``description``, ``env``) for
    :class:`Compare`.

    Args:
        stmt (str): code timed in a loop.
        setup (str): code run once before each timed loop; names it defines are visible to
            ``stmt``.
        global_setup (str): C++ only in PyTorch; must be empty here.
        timer (callable): returns the current time in seconds.
        globals (dict, optional): global names for ``stmt`` and ``setup``; copied, and
            ``torch`` and ``disttorch`` (both disttorch) are added unless given.
        label, sub_label, description, env (str, optional): how the result is named and
            grouped by ``Compare``.
        num_threads (int): intra-op threads while measuring (default 1, as in PyTorch).
        language: ``"python"`` only: disttorch has no C++ frontend, so C++ is refused.
    """

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timer, globals=None,
                 label=None, sub_label=None, description=None, env=None, num_threads=1,
                 language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language in (Language.CPP, "cpp", "c++"):
            raise ValueError("disttorch.utils.benchmark.Timer times Python statements only "
                             "(language='python'): disttorch has no C++ frontend to compile "
                             "C++ statements against.")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely this "
                             "code can simply be moved to `setup`.")
        import disttorch
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", disttorch)
        self._globals.setdefault("disttorch", disttorch)
        self._language = Language.PYTHON
        stmt = textwrap.dedent(stmt).strip()
        setup = textwrap.dedent(setup).strip()
        self._timer = timer
        # built now so that a syntax error shows at construction, as in timeit
        self._runner = _timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                   label=label, sub_label=sub_label, description=description,
                                   env=env, num_threads=num_threads)

    def _timeit(self, number):
        return self._runner.timeit(number)

    def timeit(self, number=1000000):
        """Run ``stmt`` ``number`` times (after a short warmup) and time the whole loop, as
        :meth:`timeit.Timer.timeit` does. Returns a :class:`Measurement` of one replicate."""
        with set_torch_threads(self._task_spec.num_threads):
            # warm up: lazily initialised state should not land in the measurement
            self._timeit(max(int(number // 100), 2))
            return Measurement(number_per_run=number, raw_times=[self._timeit(number)],
                               task_spec=self._task_spec)

    def repeat(self, repeat=-1, number=-1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _estimate_block_size(self, min_run_time):
        with set_torch_threads(self._task_spec.num_threads):
            # the cost of a timed loop with no iterations: timer calls and loop set-up
            overhead = sorted(self._runner.timeit(0) for _ in range(5))[2]
            number = 1
            while True:
                elapsed = self._timeit(number)
                if overhead <= 1e-4 * elapsed and elapsed >= min_run_time / 1000:
                    break
                if elapsed > min_run_time:
                    break
                # a statement so fast that no block reaches the target: stop growing somewhere
                if number * 10 > 10 ** 10:
                    break
                number *= 10
        return number

    def _measurement_loop(self, number, can_stop, min_run_time, max_run_time=None,
                          callback=None):
        times = []
        total = 0.0
        stop = False
        with set_torch_threads(self._task_spec.num_threads):
            while total < min_run_time or not stop:
                elapsed = self._timeit(number)
                times.append(elapsed)
                total += elapsed
                if callback is not None:
                    callback(number, elapsed)
                stop = can_stop(times)
                if max_run_time is not None and total > max_run_time:
                    break
        return times

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Time blocks of runs until ``min_run_time`` seconds have been spent.

        The block size grows by factors of 10 during a warmup until the timer's own cost is
        under 0.01% of a block (or a block takes ``min_run_time / 1000``); each block is then
        one replicate of the result. ``callback(number, time_taken)`` is called per block.
        """
        number = self._estimate_block_size(min_run_time)
        times = self._measurement_loop(number, lambda times: True, min_run_time,
                                       callback=callback)
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0,
                           callback=None):
        """Like :meth:`blocked_autorange`, but keep measuring until the IQR is below
        ``threshold`` times the median (after more than 3 blocks and ``min_run_time`` seconds)
        or ``max_run_time`` seconds have been spent."""
        number = self._estimate_block_size(min_run_time=0.05)

        def confident(times):
            return len(times) > 3 and Measurement(number, times, self._task_spec
                                                  ).meets_confidence(threshold)

        times = self._measurement_loop(number, confident, min_run_time, max_run_time, callback)
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def collect_callgrind(self, number=100, *, repeats=None, collect_baseline=True,
                          retain_out_file=False):
        """Count the instructions of ``number`` runs of ``stmt`` with Valgrind's Callgrind.

        Instruction counts, unlike wall times, repeat from run to run whatever else the
        machine is doing, which makes them the measure for small changes in per-op overhead.
        ``stmt`` runs in a new interpreter under ``valgrind`` (which must be installed) after
        ``setup`` and a short warmup; only the measured loop is counted. ``globals`` travel
        there by pickling (modules by name), so they must be picklable and importable: a
        class defined in ``__main__`` is not.

        Args:
            number (int): runs of ``stmt`` per measurement.
            repeats (int, optional): measurements to take in the one process; a tuple of
                results is returned when given.
            collect_baseline (bool): also count the same loop around ``pass``.
            retain_out_file (bool): keep the text of the ``callgrind.out`` file in
                ``stmt_callgrind_out``.

        Returns:
            :class:`CallgrindStats` (a tuple of them when ``repeats`` is given).
        """
        if repeats is not None and repeats < 1:
            raise ValueError("If specified, `repeats` must be >= 1")
        # a faulty stmt or setup fails here, quickly, rather than minutes into Valgrind
        self._timeit(1)
        from .callgrind import collect
        results = collect(self._task_spec, self._globals, number=number,
                          repeats=repeats or 1, collect_baseline=collect_baseline,
                          retain_out_file=retain_out_file)
        return results[0] if repeats is None else tuple(results)
