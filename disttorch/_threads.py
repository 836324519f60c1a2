"""The size of the BLAS thread pool (``disttorch.set_num_threads`` / ``get_num_threads``).

numpy's bundled OpenBLAS reads ``OMP_NUM_THREADS`` only when it loads; changing the pool
later means calling into the library, found among the loaded shared objects.
"""
import ctypes
import os

__all__ = ["set_num_threads", "get_num_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads", "MKL_Set_Num_Threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads", "MKL_Get_Max_Threads")


def _blas_libraries():
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() or
                     "mkl_rt" in line.lower()}
    except OSError:
        return []
    libs = []
    for path in sorted(p for p in paths if p.endswith(".so") or ".so." in p):
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _call(names, *args):
    for lib in _blas_libraries():
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn(*args)
    return None


def set_num_threads(num):
    """Set the number of threads numpy's BLAS uses for matrix products in this process."""
    if int(num) < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _call(_SETTERS, ctypes.c_int(int(num)))


def get_num_threads():
    """The number of threads numpy's BLAS uses (the CPU count when it cannot be queried)."""
    n = _call(_GETTERS)
    return int(n) if n is not None else (os.cpu_count() or 1)
