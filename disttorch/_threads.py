"""Intra-op threads (``disttorch.set_num_threads`` / ``get_num_threads``).

disttorch runs the independent slices of a kernel on its own worker threads: the halves of a
large GEMM, the batch slices of a convolution or of an LSTM's time loop. numpy releases the GIL
inside its loops and BLAS calls, so the slices really run side by side.

numpy's BLAS is kept single-threaded once disttorch computes: OpenBLAS's pool threads spin for
a while after each threaded call, and a spinning BLAS thread beside disttorch's workers costs
a third of a two-core step (measured on the CNN benchmark: 48 ms with OpenBLAS's spin cut short,
72 ms without). One pool of threads doing all the parallel work avoids that fight; the BLAS is
pinned when the thread count is first read, which every parallel kernel does.

numpy's bundled OpenBLAS reads ``OMP_NUM_THREADS`` only when it loads; changing its pool later
means calling into the library, found once among the loaded shared objects.
"""
import ctypes
import importlib
import os
import threading

__all__ = ["set_num_threads", "get_num_threads", "parallel_map", "batch_parts"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads", "MKL_Set_Num_Threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads", "MKL_Get_Max_Threads")

_lock = threading.Lock()
_blas = None            # (setter, getter) once looked up; either may be None
_num_threads = None     # the count set by the user (or read from the BLAS at first use)
_pool = None
_pool_size = 0
_local = threading.local()


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


def _lookup(libs, names):
    for lib in libs:
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn
    return None


def _blas_functions():
    global _blas
    if _blas is None:
        importlib.import_module("numpy")   # loads the BLAS whose pool this module drives
        libs = _blas_libraries()
        _blas = (_lookup(libs, _SETTERS), _lookup(libs, _GETTERS))
    return _blas


def _blas_set(num):
    setter = _blas_functions()[0]
    if setter is not None:
        setter(ctypes.c_int(num))


def _current():
    """The thread count, read from the BLAS the first time, which is then pinned to one
    thread (call with ``_lock`` held)."""
    global _num_threads
    if _num_threads is None:
        getter = _blas_functions()[1]
        n = getter() if getter is not None else None
        _num_threads = int(n) if n else (os.cpu_count() or 1)
        _blas_set(1)
    return _num_threads


def set_num_threads(num):
    """Set the number of threads used for intra-op parallelism on CPU (matrix products,
    convolutions, recurrent layers split their work over them)."""
    num = int(num)
    if num < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    global _num_threads
    with _lock:
        _current()
        _num_threads = num


def get_num_threads():
    """The number of threads used for intra-op parallelism on CPU."""
    with _lock:
        return _current()


def _executor(size):
    """The worker pool, grown or shrunk to ``size`` threads (call with ``_lock`` held)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != size:
        if _pool is not None:
            _pool.shutdown(wait=False)
        from concurrent.futures import ThreadPoolExecutor
        _pool = ThreadPoolExecutor(size, thread_name_prefix="disttorch-intraop",
                                   initializer=_mark_worker)
        _pool_size = size
    return _pool


def _mark_worker():
    _local.worker = True


def batch_parts(n, work, min_work=1 << 18, min_rows=1):
    """``n`` rows split into contiguous ``slice``s, one per thread, when the op's ``work``
    (elements touched) is worth the hand-off; a single slice otherwise (and inside a worker).
    Every slice gets at least half of ``min_work`` and ``min_rows`` rows, so that many cores
    do not cut a modest op into slivers."""
    if getattr(_local, "worker", False) or n < 2 * min_rows or work < min_work:
        return [slice(0, n)]
    threads = min(get_num_threads(), n // min_rows, 2 * work // max(min_work, 1))
    if threads < 2:
        return [slice(0, n)]
    bounds = [n * k // threads for k in range(threads + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def parallel_map(fn, items):
    """``[fn(item) for item in items]``, the items run on the intra-op threads (the caller
    takes the first). Every item has finished when this returns or raises, so no worker still
    writes into the caller's arrays."""
    items = list(items)
    if len(items) < 2 or getattr(_local, "worker", False):
        return [fn(item) for item in items]
    with _lock:
        pool = _executor(max(1, _current() - 1))
    futures = [pool.submit(fn, item) for item in items[1:]]
    first = error = None
    _local.worker = True            # nested splits inside the caller's share run inline
    try:
        first = fn(items[0])
    except BaseException as exc:   # the workers must finish before the error surfaces
        error = exc
    finally:
        _local.worker = False
    results = [first]
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as exc:
            error = error or exc
    if error is not None:
        raise error
    return results


def _after_fork_in_child():
    # the pool's threads do not exist in a forked child; the lock may have been held
    global _pool, _pool_size, _lock
    _lock = threading.Lock()
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
