"""Device-side index checks, reported as PyTorch reports its device-side asserts.

PyTorch's CUDA kernels assert that every index they read is in range; the failure surfaces at
the next host synchronisation as "CUDA error: device-side assert triggered". CuPy's ``take`` and
fancy indexing instead wrap an out-of-range index around and carry on, and reading the indices
back to check them on the host would stop the GPU in every training step.

:func:`check` launches one kernel over a device index array that records the first
out-of-range value (and where it was checked) in a small per-device record, reading nothing
back. :func:`raise_pending`, called where disttorch copies device data to the host and by
``cuda.synchronize()`` and the streams' and events' ``synchronize()``, reads the records that
checks have written to since the last read and raises ``RuntimeError`` for the first
violation, naming the op, the index and the size.
"""
import numpy as np

from ..._backend import cupy_module, device_scope, index_checks_pending, is_real_cupy
from . import contiguous, fusable, raw_kernel

__all__ = ["check", "check_values", "record_for", "raise_pending"]

_BOUNDS = r"""
// record[0]: 1 once a violation is recorded; record[1..3]: the index, the size, the site
__device__ void record_violation(long long* record, const long long value,
                                 const long long size, const long long site) {
    // the first violation wins: later ones leave the record as it is
    unsigned long long* flag = reinterpret_cast<unsigned long long*>(record);
    if (atomicCAS(flag, 0ULL, 1ULL) == 0ULL) {
        record[1] = value;
        record[2] = size;
        record[3] = site;
    }
}

template <typename I>
__device__ void check_range(const I* idx, const long long n, const long long size,
                            const int negative_ok, const long long ignore, const int has_ignore,
                            long long* record, const long long site) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long v = (long long)idx[i];
        if (has_ignore && v == ignore) continue;
        if (v >= size || v < (negative_ok ? -size : 0)) record_violation(record, v, size, site);
    }
}

extern "C" __global__ void index_in_range_i64(const long long* idx, const long long n,
                                              const long long size, const int negative_ok,
                                              const long long ignore, const int has_ignore,
                                              long long* record, const long long site) {
    check_range<long long>(idx, n, size, negative_ok, ignore, has_ignore, record, site);
}

// Floating values in [lo, hi] (a NaN is outside): binary_cross_entropy's input check
template <typename T>
__device__ void check_values(const T* x, const long long n, const double lo, const double hi,
                             long long* record, const long long site) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const double v = (double)x[i];
        if (!(v >= lo && v <= hi)) record_violation(record, 0, 0, site);
    }
}

extern "C" __global__ void values_in_range_f32(const float* x, const long long n,
                                               const double lo, const double hi,
                                               long long* record, const long long site) {
    check_values<float>(x, n, lo, hi, record, site);
}

extern "C" __global__ void values_in_range_f64(const double* x, const long long n,
                                               const double lo, const double hi,
                                               long long* record, const long long site) {
    check_values<double>(x, n, lo, hi, record, site);
}

extern "C" __global__ void index_in_range_i32(const int* idx, const long long n,
                                              const long long size, const int negative_ok,
                                              const long long ignore, const int has_ignore,
                                              long long* record, const long long site) {
    check_range<int>(idx, n, size, negative_ok, ignore, has_ignore, record, site);
}
"""

SOURCES = {"bounds": _BOUNDS}

_KERNELS = {np.dtype(np.int64): "index_in_range_i64", np.dtype(np.int32): "index_in_range_i32"}
_sites = []          # site number - 1 -> (op, message format with {index}, {size}, {dim})
_site_numbers = {}   # (op, message, dim) -> site number
_records = {}        # (array module id, device) -> the device record (4 int64)
_pending = set()     # the keys of _records written to since they were last read
_simulated_errors = []   # violations found by the simulated device's checks, in order


def _site(op, message, dim):
    key = (op, message, dim)
    number = _site_numbers.get(key)
    if number is None:
        _sites.append(key)
        number = _site_numbers[key] = len(_sites)
    return number


def check(index, size, op, message, dim=0, negative_ok=False, ignore=None):
    """Check on the device that every value of the integer device array ``index`` lies in
    ``[0, size)`` (``[-size, size)`` with ``negative_ok``), skipping ``ignore``; a violation is
    raised by the next :func:`raise_pending`, with ``message`` (formatted with ``index``,
    ``size`` and ``dim``) as its reason. A no-op for host arrays and empty ones."""
    if type(index) is np.ndarray or index.size == 0:
        return
    site = _site(op, message, dim)
    cp = cupy_module()
    if not fusable(index):
        # the simulated device's generic paths: the same check, on its host copy, reported
        # just as late as the GPU reports it
        values = cp.host_values(index).astype(np.int64).reshape(-1)
        if ignore is not None:
            values = values[values != ignore]
        bad = values[(values >= size) | (values < (-size if negative_ok else 0))]
        if bad.size:
            _simulated_errors.append((int(bad[0]), int(size), site))
            index_checks_pending[0] = True
        return
    name = _KERNELS.get(index.dtype)
    if name is None:
        index, name = index.astype(np.int64), _KERNELS[np.dtype(np.int64)]
    with device_scope((index,)):   # (callers may run before their op enters its device)
        index = contiguous(index)
        record = _record_of(cp, index)
        n = index.size
        blocks = min(1024, max(1, (n + 255) // 256))
        raw_kernel(_BOUNDS, name)(
            (blocks,), (256,),
            (index, np.int64(n), np.int64(size), np.int32(negative_ok),
             np.int64(0 if ignore is None else ignore), np.int32(ignore is not None), record,
             np.int64(site)))


_VALUE_KERNELS = {np.dtype(np.float32): "values_in_range_f32",
                  np.dtype(np.float64): "values_in_range_f64"}


def check_values(values, lo, hi, op, message):
    """Check on the device that every element of the floating device array ``values`` lies in
    ``[lo, hi]`` (a NaN does not); a violation is raised by the next :func:`raise_pending` with
    ``message`` as its reason, as :func:`check`'s are. Returns False (nothing checked) for host
    arrays, which the caller checks itself."""
    if type(values) is np.ndarray:
        return False
    if values.size == 0:
        return True
    site = _site(op, message, 0)
    cp = cupy_module()
    name = _VALUE_KERNELS.get(values.dtype)
    if not fusable(values) or name is None:
        # the simulated device, and float16/bfloat16: the check on a host copy
        # (float32 holds every half-precision value exactly)
        host = cp.host_values(values) if not is_real_cupy(cp) else None
        if host is not None:
            host = host.astype(np.float64).reshape(-1)
            if not ((host >= lo) & (host <= hi)).all():
                _simulated_errors.append((0, 0, site))
                index_checks_pending[0] = True
            return True
        values, name = values.astype(np.float32), _VALUE_KERNELS[np.dtype(np.float32)]
    with device_scope((values,)):
        values = contiguous(values)
        record = _record_of(cp, values)
        n = values.size
        blocks = min(1024, max(1, (n + 255) // 256))
        raw_kernel(_BOUNDS, name)((blocks,), (256,), (values, np.int64(n), np.float64(lo),
                                                      np.float64(hi), record, np.int64(site)))
    return True


def record_for(array, op, message, dim=0):
    """``(record, site)`` for a fused kernel that checks its own indices on ``array``'s device:
    it writes the first violation into ``record`` (int64: flag, index, size, site) with
    ``site`` (an int64 scalar), as the check kernel does; reported like :func:`check`'s."""
    return _record_of(cupy_module(), array), np.int64(_site(op, message, dim))


def _record_of(cp, array):
    key = (id(cp), array.device.id)
    record = _records.get(key)
    if record is None:
        record = _records[key] = cp.zeros(4, np.int64)
    _pending.add(key)
    index_checks_pending[0] = True
    return record


def raise_pending():
    """Raise the first index violation recorded since the last call (the host is about to read
    device data, so the checks queued before have run by then)."""
    index_checks_pending[0] = False
    if _simulated_errors:
        value, size, site = _simulated_errors[0]
        _simulated_errors.clear()
        _pending.clear()
        raise _error(value, size, site)
    if not _pending:
        return
    cp = cupy_module()
    keys = sorted(k for k in _pending if k[0] == id(cp))
    _pending.clear()
    first = None
    for key in keys:   # every record is read and cleared; the first violation is raised
        record = _records[key]
        with cp.cuda.Device(key[1]):
            value = record.get() if is_real_cupy(cp) else cp.host_values(record)
            if value[0]:
                record.fill(0)
                first = first or _error(int(value[1]), int(value[2]), int(value[3]))
    if first is not None:
        raise first


def discard(module):
    """Forget the violations recorded through array module ``module`` and not yet raised (the
    simulated device's, when a simulation ends)."""
    from .. import _simulated
    if module is _simulated:
        _simulated_errors.clear()
    for key in [k for k in _pending if k[0] == id(module)]:
        _pending.discard(key)
        _records.pop(key, None)
    index_checks_pending[0] = bool(_pending or _simulated_errors)


def _error(value, size, site):
    op, message, dim = _sites[site - 1]
    reason = message.format(index=value, size=size, dim=dim)
    return RuntimeError(f"CUDA error: device-side assert triggered: {op}: {reason}. (Indices and "
                        f"values on the GPU are checked there and a failed check is reported at "
                        f"the next host synchronisation, as in PyTorch, so this may come from an "
                        f"earlier call than the one that raised it.)")
