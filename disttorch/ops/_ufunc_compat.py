"""numpy ufunc methods that CuPy 14 lacks (and a bincount that does not stop the GPU), built from
operations it has.

CuPy implements ``ufunc.at`` only where it has a scatter kernel (add, subtract, maximum, minimum,
the bitwise ops) and ``ufunc.accumulate`` only for add and multiply. These helpers call the ufunc
method where the array module has it and otherwise compute the same result, in the same order.
"""
import numpy as np

# CuPy 14: ``ufunc.at`` goes through ``ndarray._scatter_op``, which exists for these alone
_CUPY_AT = frozenset("add subtract maximum minimum bitwise_and bitwise_or bitwise_xor".split())
_CUPY_ACCUMULATE = frozenset(["add", "multiply"])
# the dtypes CuPy's scatter maximum/minimum accept (int64 is refused), where the kernels of
# cuda/kernels/scatter do not take the call
_CUPY_AT_DTYPES = {name: frozenset(np.dtype(t) for t in ("int32", "uint32", "uint64", "float32",
                                                          "float64"))
                   for name in ("maximum", "minimum")}


def ufunc_at(xp, name, out, index, values):
    """``getattr(xp, name).at(out, index, values)``, also for ufuncs CuPy has no ``at`` for.

    Without a native ``at``, repeated targets are applied in rounds: round ``r`` applies the
    ``r``-th occurrence of every target, so each target sees its values in index order, as
    numpy's sequential ``at`` does. That costs one host read (the number of rounds) and one
    small kernel group per round, so it is meant for the rarely used reductions (``prod``).
    """
    ufunc = getattr(xp, name)
    if xp is np:
        ufunc.at(out, index, values)
        return
    if name in ("maximum", "minimum"):
        # CuPy's float kernels round float64 to float32 and drop NaN (see cuda/kernels/scatter)
        from ..cuda.kernels.scatter import scatter_extreme_
        if scatter_extreme_(out, index, values, name):
            return
    if name in _CUPY_AT and out.dtype in _CUPY_AT_DTYPES.get(name, (out.dtype,)):
        ufunc.at(out, index, values)
        return
    targets = xp.arange(out.size, dtype=np.int64).reshape(out.shape)[index]
    values = xp.broadcast_to(xp.asarray(values, dtype=out.dtype), targets.shape).reshape(-1)
    targets = targets.reshape(-1)
    if targets.size == 0:
        return
    order = xp.argsort(targets, kind="stable")
    sorted_targets = targets[order]
    rank = xp.arange(targets.size, dtype=np.int64) - xp.searchsorted(sorted_targets,
                                                                     sorted_targets)
    by_round = order[xp.argsort(rank, kind="stable")]
    # the one host read: how many rounds, how long (CuPy's own bincount would read twice more)
    counts = bincount(xp, rank, length=targets.size).get().tolist()
    flat = out.reshape(-1) if out.flags.c_contiguous else out.ravel()
    start = 0
    for count in counts:
        if count == 0:
            break
        chosen = by_round[start:start + count]
        where = targets[chosen]
        flat[where] = ufunc(flat[where], values[chosen])
        start += count
    if not out.flags.c_contiguous:
        out[...] = flat.reshape(out.shape)


def accumulate(xp, name, data, axis):
    """``getattr(xp, name).accumulate(data, axis=axis)``, also for CuPy's missing ones.

    Without a native ``accumulate`` (maximum, minimum... on CuPy) this is a log-step scan:
    ``ceil(log2(n))`` elementwise passes, each combining every element with the one ``2**k``
    places before it. The ufunc must be associative (max, min, logaddexp up to rounding).
    """
    ufunc = getattr(xp, name)
    if xp is np or name in _CUPY_ACCUMULATE:
        return ufunc.accumulate(data, axis=axis)
    result = data.copy()
    n = data.shape[axis]
    step = 1
    while step < n:
        later = [slice(None)] * data.ndim
        earlier = [slice(None)] * data.ndim
        later[axis] = slice(step, None)
        earlier[axis] = slice(None, n - step)
        # the right side is evaluated into a new array before the assignment writes
        result[tuple(later)] = ufunc(result[tuple(earlier)], result[tuple(later)])
        step *= 2
    return result


def bincount(xp, x, weights=None, length=0):
    """``xp.bincount(x, weights, minlength=length)`` for indices known to lie in
    ``[0, length)``, without a host synchronisation on CuPy.

    CuPy's ``bincount`` reads the input's minimum and maximum back to the host (it checks for
    negatives and sizes its output), which stalls a training step; a scatter-add into
    ``length`` zeros needs neither. Weighted bins come back float64 from numpy; on CuPy they are
    float32 for half-precision weights (atomic adds in float32) and the weights' dtype otherwise.
    Callers cast the result.
    """
    if xp is np:
        return np.bincount(x, weights=weights, minlength=length)
    if weights is None:
        out = xp.zeros(length, np.int32)
        xp.add.at(out, x, xp.ones(x.shape, np.int32))  # (a Python 1 is copied from the host)
        return out.astype(np.int64)
    dtype = weights.dtype if weights.dtype.itemsize >= 4 else np.float32
    out = xp.zeros(length, dtype)
    xp.add.at(out, x, weights.astype(dtype, copy=False))
    return out
