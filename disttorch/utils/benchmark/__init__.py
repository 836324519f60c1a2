"""``disttorch.utils.benchmark``: wall-time benchmarking as in ``torch.utils.benchmark``.

:class:`Timer` times a Python statement (warmup, fixed thread count, CUDA synchronized),
:class:`Measurement` holds the replicates and their statistics, and :class:`Compare` lays
many measurements out as tables. Callgrind instruction counts and C++ statements are not
supported.
"""
from .common import (TaskSpec, Measurement, select_unit, unit_to_english, trim_sigfig,
                     ordered_unique, set_torch_threads)
from .timer import Timer, Language, timer
from .compare import Compare, Colorize

__all__ = ["Timer", "Language", "timer", "TaskSpec", "Measurement", "Compare", "Colorize",
           "select_unit", "unit_to_english", "trim_sigfig", "ordered_unique",
           "set_torch_threads"]
