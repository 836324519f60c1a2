"""``disttorch.nn``: modules, parameters, ``functional``, ``init`` and ``utils``."""
from ._aggregate import collect
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, utils

__all__ = list(_modules_all) + ["functional", "init", "utils", "Parameter", "parallel",
                                "DataParallel", "attention"]
collect(__name__, ["parameter"], globals())


def __getattr__(name):
    import importlib
    if name in ("init", "parallel", "attention"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "DataParallel":
        return importlib.import_module(f"{__name__}.parallel").DataParallel
    raise AttributeError(f"module 'disttorch.nn' has no attribute '{name}'")
