"""``disttorch.multiprocessing``: Python's :mod:`multiprocessing`, with tensors shared.

Everything of :mod:`multiprocessing` is here. A CPU tensor sent through it (a ``Queue``, a
``Pipe``, a ``Process``'s arguments under the ``spawn`` or ``forkserver`` start methods) is
moved to shared memory and received as a tensor over the same memory, so that, for example,
processes of a Hogwild job update one set of parameters (``model.share_memory()``). Tensors
on a GPU travel as copies. :func:`spawn` starts and watches a group of processes, which are
also an MPI world (``init_process_group(rank=i, world_size=n)`` works in them).
"""
import multiprocessing as _multiprocessing
from multiprocessing import *  # noqa: F401,F403  (the module's whole API, as PyTorch's)

from . import reductions as _reductions
from .spawn import (spawn, start_processes, ProcessContext, SpawnContext, ProcessException,
                    ProcessRaisedException, ProcessExitedException)

__all__ = list(_multiprocessing.__all__) + [
    "spawn", "start_processes", "ProcessContext", "SpawnContext", "ProcessException",
    "ProcessRaisedException", "ProcessExitedException", "set_sharing_strategy",
    "get_sharing_strategy", "get_all_sharing_strategies"]

# Descriptors of anonymous memory files: nothing is named, so nothing can leak. PyTorch's
# "file_system" strategy (named files, for systems short of descriptors) is not provided.
_ALL_STRATEGIES = {"file_descriptor"}
_strategy = "file_descriptor"


def set_sharing_strategy(new_strategy):
    """Set how CPU tensors are shared (one of :func:`get_all_sharing_strategies`)."""
    global _strategy
    if new_strategy not in _ALL_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, expected one of "
                             f"{_ALL_STRATEGIES}")
    _strategy = new_strategy


def get_sharing_strategy():
    """The current strategy for sharing CPU tensors."""
    return _strategy


def get_all_sharing_strategies():
    """The strategies for sharing CPU tensors supported here."""
    return set(_ALL_STRATEGIES)
