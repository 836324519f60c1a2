"""Matrix products on CPU split over the intra-op threads (and bfloat16 and batched float16 ones
on CuPy).

``matmul(a, b)`` is ``numpy.matmul`` for every case; when both operands are numpy arrays of
one floating dtype and the product is large enough to pay for the hand-off (about 4M
multiply-adds, some 40 us on one core), the rows (or the columns, whichever is longer) of the
result, or the matrices of a batch, are computed as independent single-threaded BLAS calls on
the intra-op threads, writing straight into one output array. Measured on the two-core
machine: 1.5-1.8x the single-thread speed for the MLP benchmark's GEMMs.
"""
import math

import numpy as np

from . import _backend
from ._backend import get_array_module
from ._threads import batch_parts, parallel_map

__all__ = ["matmul", "tensordot", "in_dtype"]

_MIN_WORK = 1 << 22
_SPLIT_KINDS = (np.dtype(np.float32), np.dtype(np.float64))
try:    # (a dtype comparison: numpy's dtype.name is a Python property, some 5 us a call)
    import ml_dtypes
    _BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:
    _BF16 = None


def in_dtype(result, dtype):
    """A product's ``result`` in ``dtype``: numpy multiplies bfloat16 in float32 (PyTorch keeps
    bfloat16). Returned as it is when it already is (even a no-op ``astype`` costs a CuPy
    call)."""
    return result if result.dtype == dtype else result.astype(dtype)


def matmul(a, b, out=None):
    """``a @ b`` (``numpy.matmul`` semantics) for arrays of any module."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        if out is None and a.dtype == _HALF and b.dtype == _HALF and max(a.ndim, b.ndim) > 2:
            result = _half_batched(a, b)
            if result is not None:
                return result
        if _BF16 is not None and (a.dtype == _BF16 or b.dtype == _BF16):
            # CuPy 14 has no bfloat16 GEMM (its matmul fails on the dtype): multiply in float32,
            # as PyTorch accumulates, and answer float32 like numpy; callers round the result
            a, b = a.astype(np.float32), b.astype(np.float32)
            if out is not None and out.dtype != np.float32:
                out[...] = a @ b
                return out
        return a @ b if out is None else _module_matmul(a, b, out)
    sa, sb = a.shape, b.shape
    if len(sa) < 2 or len(sb) < 2:
        return np.matmul(a, b, out=out)
    m, k = sa[-2:]
    n = sb[-1]
    # the common small 2-D product leaves after one multiplication (this is Linear's hot path)
    if len(sa) == 2 == len(sb):
        batch, count = (), 1
    else:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
        count = math.prod(batch)
    work = count * m * n * k
    if (work < _MIN_WORK or sb[-2] != k or a.dtype != b.dtype
            or a.dtype not in _SPLIT_KINDS):
        return np.matmul(a, b, out=out)     # (numpy raises its own shape error)
    if out is None:
        out = np.empty(batch + (m, n), a.dtype)
    if count == 1 and (a.ndim > 2 or b.ndim > 2):
        a, b = a.reshape(m, k), b.reshape(k, n)     # views: the leading dims are all 1
        matmul(a, b, out=out.reshape(m, n))
        return out
    if count > 1 and a.shape[:-2] == b.shape[:-2] == batch and len(batch) >= 1:
        parts = batch_parts(batch[0], work, _MIN_WORK)
        if len(parts) > 1:
            parallel_map(lambda s: np.matmul(a[s], b[s], out=out[s]), parts)
            return out
    if a.ndim == 2 and b.ndim == 2:
        if m >= n:
            parts = batch_parts(m, work, _MIN_WORK)
            if len(parts) > 1:
                parallel_map(lambda s: np.matmul(a[s], b, out=out[s]), parts)
                return out
        else:
            parts = batch_parts(n, work, _MIN_WORK)
            if len(parts) > 1:
                parallel_map(lambda s: np.matmul(a, b[:, s], out=out[:, s]), parts)
                return out
    return np.matmul(a, b, out=out)


_HALF = np.dtype(np.float16)
_ONE, _ZERO = np.array(1, np.float32), np.array(0, np.float32)   # cuBLAS reads them by address


def _half_batched(a, b):
    """A float16 product with a batch on CuPy, or None where CuPy's own matmul is left to it.

    CuPy 14's matmul multiplies a float16 batch in float32: both operands are copied up and the
    result down (four kernels, about 5x PyTorch's time for attention-sized batches on an H100).
    A 2-D right operand is one 2-D product over the stacked rows (CuPy's 2-D float16 GEMM keeps
    float16); equal batch shapes are one strided-batched cuBLAS call with float16 operands and
    float32 accumulation, as PyTorch's. A transposed operand is passed to cuBLAS as transposed
    instead of copied.
    """
    xp = get_array_module(a)
    if not _backend.is_real_cupy(xp) or a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        return None
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.ndim == 2:
        if a.size == 0 or b.size == 0:
            return None
        rows = xp.ascontiguousarray(a).reshape(-1, k)
        return (rows @ b).reshape(a.shape[:-1] + (n,))
    if a.shape[:-2] != b.shape[:-2] or a.size == 0 or b.size == 0:
        return None
    plan = strided_batched_plan(xp, a, b)
    if plan is None:
        return None
    first, second, (trans_1, trans_2, rows, cols, inner, ld_1, stride_1, ld_2, stride_2, ld_out,
                    stride_out, count) = plan
    out = xp.empty(a.shape[:-2] + (m, n), _HALF)
    from cupy_backends.cuda.api import runtime
    from cupy_backends.cuda.libs import cublas
    cublas.gemmStridedBatchedEx(
        xp.cuda.device.get_cublas_handle(), trans_1, trans_2, rows, cols, inner,
        _ONE.ctypes.data, first.data.ptr, runtime.CUDA_R_16F, ld_1, stride_1,
        second.data.ptr, runtime.CUDA_R_16F, ld_2, stride_2,
        _ZERO.ctypes.data, out.data.ptr, runtime.CUDA_R_16F, ld_out, stride_out,
        count, cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT_TENSOR_OP)
    return out


def strided_batched_plan(xp, a, b):
    """How one column-major strided-batched GEMM (cuBLAS's) computes the row-major ``a @ b``
    of two stacks with equal batch shapes: ``(first, second, (transa, transb, m, n, k, lda,
    strideA, ldb, strideB, ldc, strideC, batchCount))`` in cuBLAS's argument order, the
    operands C-contiguous as cuBLAS reads them; None beyond cuBLAS's int32 sizes.

    Row-major ``C = A B`` is column-major ``C^T = B^T A^T``, so ``b`` goes first.
    """
    m, k = a.shape[-2:]
    n = b.shape[-1]
    count = math.prod(a.shape[:-2])
    if count >= 1 << 31 or max(m, n, k) >= 1 << 31:
        return None
    a, trans_a = _gemm_layout(xp, a)
    b, trans_b = _gemm_layout(xp, b)
    return b, a, (trans_b, trans_a, n, m, k, k if trans_b else n, k * n, m if trans_a else k,
                  m * k, n, m * n, count)


def _gemm_layout(xp, x):
    """``(array, trans)``: ``x`` C-contiguous (trans 0), or the C-contiguous array whose
    last-two-dims transpose ``x`` is (trans 1, no copy), or a C-contiguous copy."""
    if x.flags.c_contiguous:
        return x, 0
    swapped = x.swapaxes(-1, -2)
    if swapped.flags.c_contiguous:
        return swapped, 1
    return xp.ascontiguousarray(x), 0


def tensordot(a, b, axes):
    """``xp.tensordot`` for arrays of any module; on CuPy a bfloat16 contraction runs in
    float32 and is rounded once to bfloat16 (CuPy 14's tensordot has no bfloat16)."""
    xp = get_array_module(a)
    if xp is not np and _BF16 is not None and (a.dtype == _BF16 or b.dtype == _BF16):
        return xp.tensordot(a.astype(np.float32), b.astype(np.float32), axes).astype(_BF16)
    return xp.tensordot(a, b, axes)


def _module_matmul(a, b, out):
    return get_array_module(a).matmul(a, b, out=out)
