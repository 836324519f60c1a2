"""Matrix products on CuPy arrays as one direct cuBLAS call.

``cupy.matmul`` costs some 15-40 us of host time per call (more for batches), which bounds small
training steps; most products in a step (Linear forward and backward, attention's batched
products) are plain or transposed views that one ``gemm`` / ``gemmStridedBatched`` call covers.
:func:`plan_gemm` works out that call from shapes and strides alone (tested on the CPU against
an emulation of cuBLAS's column-major semantics); :func:`matmul` runs it, or answers None for
layouts it does not cover, and the caller falls back to ``cupy.matmul``.

float32 and float64 use ``sgemm`` / ``dgemm`` (no TF32, as PyTorch's default); float16 uses
``gemmEx`` with float32 accumulation, as PyTorch does.
"""
import collections
import math

import numpy as np

__all__ = ["plan_gemm", "matmul"]

GemmPlan = collections.namedtuple(
    "GemmPlan", "trans_b trans_a m n k ld_b ld_a ld_c stride_b stride_a stride_c count out_shape")
GemmPlan.__doc__ = """One column-major cuBLAS call for ``out = a @ b`` (row-major).

Row-major ``C = A B`` is column-major ``C^T = B^T A^T``, so ``b`` is cuBLAS's first operand and
``a`` its second: ``trans_b``/``trans_a`` are their ops (0: N, 1: T), ``m, n, k`` the
column-major sizes (``n`` of the product, ``m`` of it, the shared ``k``), strides in elements."""

_INT_MAX = 2 ** 31 - 1


def _batch_stride(batch, shape, strides):
    """The one stride that steps through ``batch`` (broadcast from ``shape``'s leading dims) in
    row-major order, or None when no single stride does."""
    lead = len(batch) - len(shape)
    dims = [(size, 0 if i < lead or shape[i - lead] == 1 else strides[i - lead])
            for i, size in enumerate(batch)]
    dims = [(size, stride) for size, stride in dims if size != 1]
    if not dims:
        return 0
    if any(stride < 0 for _, stride in dims):
        return None
    if all(stride == 0 for _, stride in dims):
        return 0
    for (_, outer), (size, inner) in zip(dims, dims[1:]):
        if outer != inner * size or inner == 0:
            return None
    return dims[-1][1]


def _matrix_op(rows, cols, row_stride, col_stride):
    """``(op, ld)`` of a ``rows x cols`` row-major-indexed matrix for the swapped product: 0 (N)
    when its rows are contiguous, 1 (T) when its columns are; None otherwise."""
    if col_stride == 1 and row_stride >= max(1, cols):
        return 0, row_stride
    if row_stride == 1 and col_stride >= max(1, rows):
        return 1, col_stride
    if rows == 1 and col_stride == 1:
        return 0, max(1, cols)      # a single row: its row stride is never read
    if cols == 1 and row_stride == 1:
        return 1, max(1, rows)      # a single column, likewise
    return None


def plan_gemm(a_shape, a_strides, b_shape, b_strides):
    """The cuBLAS call computing ``a @ b`` for arrays of these shapes and element strides, or
    None (1-D operands, mismatched or empty sizes, layouts one call does not cover)."""
    if len(a_shape) < 2 or len(b_shape) < 2:
        return None
    m, k = a_shape[-2:]
    k2, n = b_shape[-2:]
    if k != k2 or 0 in (m, n, k):
        return None
    try:
        batch = tuple(np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])))
    except ValueError:
        return None
    count = math.prod(batch)
    if count == 0 or max(m, n, k, count) > _INT_MAX:
        return None
    stride_a = _batch_stride(batch, a_shape[:-2], a_strides[:-2])
    stride_b = _batch_stride(batch, b_shape[:-2], b_strides[:-2])
    op_a = _matrix_op(m, k, *a_strides[-2:])
    op_b = _matrix_op(k, n, *b_strides[-2:])
    if stride_a is None or stride_b is None or op_a is None or op_b is None:
        return None
    if max(op_a[1], op_b[1]) > _INT_MAX:
        return None
    return GemmPlan(op_b[0], op_a[0], n, m, k, op_b[1], op_a[1], n, stride_b, stride_a, m * n,
                    count, batch + (m, n))


_ONE = {np.dtype(np.float32): np.ones(1, np.float32), np.dtype(np.float64): np.ones(1, np.float64),
        np.dtype(np.float16): np.ones(1, np.float32)}
_ZERO = {dtype: np.zeros(1, one.dtype) for dtype, one in _ONE.items()}
_CUDA_R_16F = 2


def matmul(a, b):
    """``a @ b`` for CuPy arrays of one float dtype through one cuBLAS call; None when the
    dtype, device or layout is not covered (the caller then uses ``cupy.matmul``)."""
    dtype = a.dtype
    if dtype != b.dtype or dtype not in _ONE:
        return None
    size = dtype.itemsize
    if any(s % size for s in a.strides + b.strides):
        return None
    plan = plan_gemm(a.shape, tuple(s // size for s in a.strides), b.shape,
                     tuple(s // size for s in b.strides))
    if plan is None:
        return None
    import cupy
    from cupy_backends.cuda.libs import cublas
    device = cupy.cuda.runtime.getDevice()
    if a.device.id != device or b.device.id != device:
        return None
    out = cupy.empty(plan.out_shape, dtype)
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
    one, zero = _ONE[dtype].ctypes.data, _ZERO[dtype].ctypes.data
    p = plan
    if dtype == np.float16:
        if p.count == 1:
            cublas.gemmEx(handle, p.trans_b, p.trans_a, p.m, p.n, p.k, one, b.data.ptr,
                          _CUDA_R_16F, p.ld_b, a.data.ptr, _CUDA_R_16F, p.ld_a, zero,
                          out.data.ptr, _CUDA_R_16F, p.ld_c, cublas.CUBLAS_COMPUTE_32F,
                          cublas.CUBLAS_GEMM_DEFAULT)
        else:
            cublas.gemmStridedBatchedEx(
                handle, p.trans_b, p.trans_a, p.m, p.n, p.k, one, b.data.ptr, _CUDA_R_16F,
                p.ld_b, p.stride_b, a.data.ptr, _CUDA_R_16F, p.ld_a, p.stride_a, zero,
                out.data.ptr, _CUDA_R_16F, p.ld_c, p.stride_c, p.count,
                cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT)
        return out
    single, batched = ((cublas.sgemm, cublas.sgemmStridedBatched) if dtype == np.float32 else
                       (cublas.dgemm, cublas.dgemmStridedBatched))
    if p.count == 1:
        single(handle, p.trans_b, p.trans_a, p.m, p.n, p.k, one, b.data.ptr, p.ld_b, a.data.ptr,
               p.ld_a, zero, out.data.ptr, p.ld_c)
    else:
        batched(handle, p.trans_b, p.trans_a, p.m, p.n, p.k, one, b.data.ptr, p.ld_b,
                p.stride_b, a.data.ptr, p.ld_a, p.stride_a, zero, out.data.ptr, p.ld_c,
                p.stride_c, p.count)
    return out
