"""The op library, one module per family; importing it attaches the Tensor methods."""
import importlib

_FAMILIES = ["creation", "random", "arithmetic", "pointwise", "conversion", "reduction",
             "statistics", "quantiles", "cumulative", "linalg", "diagonals", "shape", "strided", "joining",
             "indexing", "masked", "gather_scatter", "sorting",
             "special_ops", "nn_functions", "misc_ops", "aliases", "numerics",
             "toplevel_aliases", "spectral", "lowrank", "utility"]

__all__ = []
for _name in _FAMILIES:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    for _sym in getattr(_module, "__all__", ()):
        globals()[_sym] = getattr(_module, _sym)
        __all__.append(_sym)


def __getattr__(name):
    # ``disttorch.ops.<namespace>`` of ops made by ``disttorch.library.custom_op``
    import sys
    library = sys.modules.get("disttorch.library")
    namespace = library._namespace(name) if library is not None else None
    if namespace is None:
        raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
    return namespace
