"""``disttorch.utils.benchmark``: benchmarking as in ``torch.utils.benchmark``.

:class:`Timer` times a Python statement (warmup, fixed thread count, CUDA synchronized) or
counts its instructions under Valgrind's Callgrind (:class:`CallgrindStats`),
:class:`Measurement` holds the replicates and their statistics, and :class:`Compare` lays
many measurements out as tables. C++ statements are not supported.
"""
from .common import (TaskSpec, Measurement, select_unit, unit_to_english, trim_sigfig,
                     ordered_unique, set_torch_threads)
from .timer import Timer, Language, timer
from .compare import Compare, Colorize
from .callgrind import CallgrindStats, FunctionCount, FunctionCounts

__all__ = ["Timer", "Language", "timer", "TaskSpec", "Measurement", "Compare", "Colorize",
           "select_unit", "unit_to_english", "trim_sigfig", "ordered_unique",
           "set_torch_threads", "CallgrindStats", "FunctionCount", "FunctionCounts"]
