"""``linalg`` functions built on the core routines: ``vander``, ``tensorinv``, ``tensorsolve``
and the ``*_ex`` variants that report failures in an ``info`` tensor instead of raising."""
import math

import numpy as np

from .._backend import get_array_module, to_numpy
from ..return_types import _structseq
from ..tensor import _new

__all__ = ["vander", "tensorinv", "tensorsolve", "inv_ex", "solve_ex", "cholesky_ex"]

inv_ex_result = _structseq("linalg_inv_ex", ["inverse", "info"])
solve_ex_result = _structseq("linalg_solve_ex", ["result", "info"])
cholesky_ex_result = _structseq("linalg_cholesky_ex", ["L", "info"])


def _linalg():
    from .. import linalg
    return linalg


def vander(x, *, N=None):
    """The Vandermonde matrix with increasing powers ``x**0, ..., x**(N-1)`` of the last
    dimension of ``x`` (batched); ``N`` defaults to ``x.shape[-1]``."""
    import disttorch
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    n = x.shape[-1] if N is None else N
    if n <= 1:
        if n < 1:
            raise RuntimeError("N must be greater than 1.")
        return x.new_ones(tuple(x.shape) + (1,))
    if x._data.dtype.kind == "b":
        x = x.to(disttorch.int64)
    columns = [x.new_ones(x.shape)] + [x ** k for k in range(1, n)]
    return disttorch.stack(columns, dim=-1)


def tensorinv(A, ind=2, *, out=None):
    """The inverse of ``A`` seen as a linear map from its last ``A.dim() - ind`` dimensions to
    its first ``ind``: the result has shape ``A.shape[ind:] + A.shape[:ind]``."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if math.prod(rows) != math.prod(cols):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(cols)} != "
                           f"{math.prod(rows)}")
    square = A.reshape(math.prod(rows), math.prod(cols))
    return _linalg().inv(square, out=out).reshape(cols + rows)


def tensorsolve(A, B, dims=None, *, out=None):
    """The ``X`` with ``tensordot(A, X, X.dim()) == B``; ``dims`` (moved to the end of ``A``
    first) are the dimensions of ``A`` that ``X`` contracts with."""
    if dims is not None:
        keep = [d for d in range(A.dim()) if d not in [d % A.dim() for d in dims]]
        A = A.permute(*(keep + [d % A.dim() for d in dims]))
    result_shape = tuple(A.shape[B.dim():])
    rows = math.prod(B.shape)
    square = A.reshape(rows, math.prod(result_shape))
    solution = _linalg().solve(square, B.reshape(rows))
    return solution.reshape(result_shape) if out is None else out.copy_(solution.reshape(
        result_shape))


def _lu_info(matrix):
    """LAPACK getrf's info for one matrix: 1 + the index of the first zero pivot, or 0."""
    a = matrix.astype(np.float64 if matrix.dtype.kind == "f" else matrix.dtype, copy=True)
    n = a.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        if a[p, j] == 0:
            return j + 1
        a[[j, p]] = a[[p, j]]
        a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return 0


def _cholesky_info(matrix):
    """potrf's info: the order of the first leading minor that is not positive-definite."""
    n = matrix.shape[0]
    lower = np.zeros((n, n), np.float64 if matrix.dtype.kind == "f" else matrix.dtype)
    for j in range(n):
        d = matrix[j, j] - np.dot(lower[j, :j], lower[j, :j].conj())
        if not d.real > 0:
            return j + 1
        lower[j, j] = np.sqrt(d.real)
        lower[j + 1:, j] = (matrix[j + 1:, j] - lower[j + 1:, :j] @ lower[j, :j].conj()) / lower[j, j]
    return 0


def _infos(A, per_matrix):
    data = to_numpy(A._data)
    batch = data.shape[:-2]
    flat = data.reshape((-1,) + data.shape[-2:])
    info = np.array([per_matrix(m) for m in flat], np.int32).reshape(batch)
    xp = get_array_module(A._data)
    return info, _new(info if xp is np else xp.asarray(info))


def _singular_error(name, info):
    from . import LinAlgError
    first = int(info[info > 0].ravel()[0])
    batch = f" (batch element {int(np.flatnonzero(info.ravel())[0])})" if info.ndim else ""
    return LinAlgError(f"linalg.{name}{batch}: The diagonal element {first} is zero, the "
                       f"{'inversion' if name == 'inv_ex' else 'solve'} could not be completed "
                       f"because the input matrix is singular.")


def inv_ex(A, *, check_errors=False, out=None):
    """The inverse of ``A`` and an ``int32`` ``info`` per matrix (0: success; ``i > 0``: the
    ``i``-th pivot is exactly zero, and that inverse is not meaningful)."""
    info, info_t = _infos(A, _lu_info)
    if not info.any():
        return inv_ex_result(_linalg().inv(A, out=out), info_t)
    if check_errors:
        raise _singular_error("inv_ex", info)
    return inv_ex_result(A.new_full(tuple(A.shape), math.inf), info_t)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """The solution of ``A X = B`` (``X A = B`` with ``left=False``) and an ``int32`` ``info``
    per matrix, as in :func:`inv_ex`."""
    info, info_t = _infos(A, _lu_info)
    if not info.any():
        return solve_ex_result(_linalg().solve(A, B, left=left, out=out), info_t)
    if check_errors:
        raise _singular_error("solve_ex", info)
    batch = tuple(A.shape[:-2])
    if B.dim() == A.dim():
        shape = np.broadcast_shapes(batch, tuple(B.shape[:-2])) + tuple(B.shape[-2:])
    else:
        shape = np.broadcast_shapes(batch, tuple(B.shape[:-1])) + tuple(B.shape[-1:])
    return solve_ex_result(B.new_full(shape, math.inf), info_t)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """The Cholesky factor of ``A`` and an ``int32`` ``info`` per matrix (0: success; ``i > 0``:
    the leading minor of order ``i`` is not positive-definite, and that factor is not
    meaningful)."""
    info, info_t = _infos(A, _cholesky_info)
    if not info.any():
        return cholesky_ex_result(_linalg().cholesky(A, upper=upper, out=out), info_t)
    if check_errors:
        from . import LinAlgError
        first = int(info[info > 0].ravel()[0])
        raise LinAlgError(f"linalg.cholesky_ex: The factorization could not be completed because "
                          f"the input is not positive-definite (the leading minor of order "
                          f"{first} is not positive-definite).")
    return cholesky_ex_result(A.new_full(tuple(A.shape), math.nan), info_t)
