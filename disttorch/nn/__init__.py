"""``disttorch.nn``: modules, parameters, ``functional``, ``init`` and ``utils``."""
from ._aggregate import collect
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, utils

__all__ = list(_modules_all) + ["functional", "init", "utils", "Parameter", "parallel"]
collect(__name__, ["parameter"], globals())


def __getattr__(name):
    if name in ("init", "parallel"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'disttorch.nn' has no attribute '{name}'")
