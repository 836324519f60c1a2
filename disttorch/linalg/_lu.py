"""LU factorisation with partial pivoting: ``linalg.lu_factor``, ``lu_factor_ex``, ``lu``,
``lu_solve`` and the top-level ``lu_unpack``, ``lu``, ``lu_solve``.

numpy and CuPy have no batched LU, so ``_getrf`` is a right-looking Doolittle elimination over
the columns, vectorised over the batch (one Python step per column). Pivots are 1-based
``int32`` row interchanges applied in order, as LAPACK's ``getrf`` returns them, and the pivot of
a column is the first entry of largest ``|re| + |im|`` (``abs`` for real), LAPACK's choice.
"""
import warnings

import numpy as np

from .._backend import get_array_module
from ..autograd.function import Node
from ..ops._util import sum_to, with_out
from ..ops import reduction as _red
from ..return_types import _structseq
from ..tensor import Tensor

__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_solve", "lu_unpack"]

lu_factor_result = _structseq("linalg_lu_factor", ["LU", "pivots"])
lu_factor_ex_result = _structseq("linalg_lu_factor_ex", ["LU", "pivots", "info"])
lu_result = _structseq("linalg_lu", ["P", "L", "U"])
lu_unpack_result = _structseq("lu_unpack", ["P", "L", "U"])
lu_with_info_result = _structseq("_lu_with_info", ["LU", "pivots", "info"])

# ------------------------------------------------------------------ array kernels
def _mH(x):
    """Conjugate transpose of the last two dims (arrays)."""
    x = get_array_module(x).swapaxes(x, -1, -2)
    return x.conj() if x.dtype.kind == "c" else x


def _magnitude(x):
    """LAPACK's pivot size: ``|x|`` for real numbers, ``|re| + |im|`` for complex ones."""
    xp = get_array_module(x)
    return xp.abs(x.real) + xp.abs(x.imag) if x.dtype.kind == "c" else xp.abs(x)


def _getrf(a):
    """``(LU, pivots, info)`` of each matrix in ``a`` (``... x m x n``), as LAPACK's getrf.

    A zero pivot column is left as it is (no division, no interchange) and recorded in
    ``info`` (1-based, the first such column), as LAPACK does.
    """
    xp = get_array_module(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    lu = a.copy()
    pivots = xp.empty(batch + (k,), np.int32)
    info = xp.zeros(batch, np.int32)
    for j in range(k):
        p = j + xp.argmax(_magnitude(lu[..., j:, j]), axis=-1)
        pivots[..., j] = p + 1
        # swap rows j and p: gather row p, write row j there, then row p into row j
        where = xp.broadcast_to(p[..., None, None], batch + (1, n))
        row_p = xp.take_along_axis(lu, where, axis=-2)
        xp.put_along_axis(lu, where, lu[..., j:j + 1, :].copy(), axis=-2)
        lu[..., j:j + 1, :] = row_p
        pivot = lu[..., j, j]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, np.int32(j + 1), info)
        if j + 1 < m:
            # below a zero pivot the column is all zeros: leave it (LAPACK does not divide)
            lu[..., j + 1:, j] /= xp.where(zero, 1, pivot)[..., None]
            if j + 1 < n:
                lu[..., j + 1:, j + 1:] -= lu[..., j + 1:, j:j + 1] * lu[..., j:j + 1, j + 1:]
    return lu, pivots, info


def _permutation(pivots, m):
    """The row order ``perm`` with ``(P^T A)[i] = A[perm[i]]``: the interchanges applied in
    order to ``0..m-1``."""
    xp = get_array_module(pivots)
    batch = pivots.shape[:-1]
    perm = xp.broadcast_to(xp.arange(m, dtype=np.int64), batch + (m,)).copy()
    for j in range(pivots.shape[-1]):
        p = (pivots[..., j:j + 1] - 1).astype(np.int64)
        at_p = xp.take_along_axis(perm, p, axis=-1)
        xp.put_along_axis(perm, p, perm[..., j:j + 1].copy(), axis=-1)
        perm[..., j:j + 1] = at_p
    return perm


def _permutation_matrix(perm, dtype):
    """``P`` with ``P[perm[i], i] = 1``, so that ``A = P L U``."""
    xp = get_array_module(perm)
    m = perm.shape[-1]
    return (xp.arange(m)[:, None] == perm[..., None, :]).astype(dtype)


def _unit_lower(lu, k):
    """``L`` (``m x k``, unit diagonal) of a packed ``LU``."""
    xp = get_array_module(lu)
    return xp.tril(lu[..., :, :k], -1) + xp.eye(lu.shape[-2], k, dtype=lu.dtype)


def _trsolve(T, B, lower, unit=False):
    """``T^-1 B`` for triangular ``T`` (``... x n x n``, the other triangle ignored) by
    substitution, one row per step; batch dims broadcast. A zero on the diagonal gives
    inf/nan, as LAPACK's trsm does, rather than an error."""
    xp = get_array_module(T)
    n = T.shape[-1]
    batch = np.broadcast_shapes(T.shape[:-2], B.shape[:-2])
    X = xp.empty(batch + B.shape[-2:], np.result_type(T.dtype, B.dtype))
    rows = range(n) if lower else range(n - 1, -1, -1)
    for i in rows:
        done = slice(0, i) if lower else slice(i + 1, n)
        x = B[..., i, :] - (T[..., i:i + 1, done] @ X[..., done, :])[..., 0, :]
        X[..., i, :] = x if unit else x / T[..., i, i:i + 1]
    return X


def _right_trsolve(B, T, lower, unit=False):
    """``B T^-1`` for triangular ``T``."""
    return _mH(_trsolve(_mH(T), _mH(B), not lower, unit))


def _lu_solve_left(lu, perm, B, adjoint):
    """``A^-1 B`` (``A^-H B`` with ``adjoint``) for ``A = P L U`` given as packed ``lu``."""
    xp = get_array_module(lu)
    batch = np.broadcast_shapes(lu.shape[:-2], B.shape[:-2])
    B = xp.broadcast_to(B, batch + B.shape[-2:])
    perm = xp.broadcast_to(perm, batch + perm.shape[-1:])
    if not adjoint:
        B = xp.take_along_axis(B, perm[..., :, None], axis=-2)
        return _trsolve(lu, _trsolve(lu, B, lower=True, unit=True), lower=False)
    luH = _mH(lu)
    Y = _trsolve(luH, _trsolve(luH, B, lower=True), lower=False, unit=True)
    X = xp.empty_like(Y)
    xp.put_along_axis(X, xp.broadcast_to(perm[..., :, None], Y.shape), Y, axis=-2)
    return X


def _lu_backward(P, L, U, gL, gU):
    """The gradient of ``A`` for ``A = P L U`` (``L`` m x k unit lower, ``U`` k x n upper).

    With ``X = L^-1 P^T dA U^-1`` (square case), ``dL = L tril(X, -1)`` and ``dU = triu(X) U``;
    the wide and tall cases add the rectangular block's terms. gL, gU may be None.
    """
    xp = get_array_module(L)
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    gL = xp.zeros_like(L) if gL is None else gL
    gU = xp.zeros_like(U) if gU is None else gU
    if m == n:
        M = xp.tril(_mH(L) @ gL, -1) + xp.triu(gU @ _mH(U))
        gA = _right_trsolve(_trsolve(_mH(L), M, lower=False, unit=True), _mH(U), lower=True)
    elif m < n:
        U1, U2, gU1, gU2 = U[..., :k], U[..., k:], gU[..., :k], gU[..., k:]
        M = xp.tril(_mH(L) @ gL - gU2 @ _mH(U2), -1) + xp.triu(gU1 @ _mH(U1))
        left = _trsolve(_mH(L), _right_trsolve(M, _mH(U1), lower=True), lower=False, unit=True)
        gA = xp.concatenate([left, _trsolve(_mH(L), gU2, lower=False, unit=True)], axis=-1)
    else:
        L1, L2, gL1, gL2 = L[..., :k, :], L[..., k:, :], gL[..., :k, :], gL[..., k:, :]
        M = xp.tril(_mH(L1) @ gL1, -1) + xp.triu(gU @ _mH(U) - _mH(L2) @ gL2)
        top = _right_trsolve(_trsolve(_mH(L1), M, lower=False, unit=True), _mH(U), lower=True)
        gA = xp.concatenate([top, _right_trsolve(gL2, _mH(U), lower=True)], axis=-2)
    return P @ gA


def _split(lu):
    """``(L, U)`` of a packed ``lu``."""
    m, n = lu.shape[-2:]
    k = min(m, n)
    return _unit_lower(lu, k), get_array_module(lu).triu(lu[..., :k, :])


def _no_double_backward(name, g):
    if isinstance(g, Tensor):
        raise RuntimeError(f"{name}: double backward is not supported in disttorch; compute the "
                           f"first gradient without create_graph=True")


# ------------------------------------------------------------------ nodes
class LuFactor(Node):
    def forward(self, A):
        lu, pivots, info = _getrf(A)
        self.save_for_backward(lu, pivots)
        return lu, pivots, info

    def backward(self, g, g_pivots, g_info):
        _no_double_backward("linalg.lu_factor", g)
        lu, pivots = self.saved_tensors
        xp = get_array_module(lu)
        L, U = _split(lu)
        k = L.shape[-1]
        P = _permutation_matrix(_permutation(pivots, lu.shape[-2]), lu.dtype)
        return _lu_backward(P, L, U, xp.tril(g[..., :, :k], -1), xp.triu(g[..., :k, :]))


class Lu(Node):
    def forward(self, A):
        lu, pivots, _ = _getrf(A)
        L, U = _split(lu)
        P = _permutation_matrix(_permutation(pivots, lu.shape[-2]), lu.dtype)
        self.mark_non_differentiable(0)
        self.save_for_backward(P, L, U)
        return P, L, U

    def backward(self, gP, gL, gU):
        _no_double_backward("linalg.lu", gL)
        P, L, U = self.saved_tensors
        return _lu_backward(P, L, U, gL, gU)


class LuUnpack(Node):
    def forward(self, lu, pivots, unpack_data, unpack_pivots):
        xp = get_array_module(lu)
        m, n = lu.shape[-2:]
        self.shape = lu.shape
        empty = xp.zeros((0,), lu.dtype)
        if unpack_pivots:
            P = _permutation_matrix(_permutation(pivots, m), lu.dtype)
            batch = np.broadcast_shapes(lu.shape[:-2], P.shape[:-2])
            P = xp.broadcast_to(P, batch + P.shape[-2:]).copy()
        else:
            P = empty
        L, U = _split(lu) if unpack_data else (empty, empty.copy())
        self.mark_non_differentiable(0)
        return P, L, U

    def backward(self, gP, gL, gU):
        _no_double_backward("lu_unpack", gL)
        xp = get_array_module(gL)
        m, n = self.shape[-2:]
        k = min(m, n)
        g = xp.zeros(self.shape, gL.dtype)
        if gL.shape[-2:] == (m, k):
            g[..., :, :k] += xp.tril(gL, -1)
            g[..., :k, :] += xp.triu(gU)
        return g, None, None, None


class LuSolve(Node):
    def forward(self, lu, pivots, B, left, adjoint):
        self.left, self.adjoint, self.shapes = left, adjoint, (lu.shape, B.shape)
        perm = _permutation(pivots, lu.shape[-1])
        X = _lu_solve_left(lu, perm, B, adjoint) if left else \
            _mH(_lu_solve_left(lu, perm, _mH(B), not adjoint))
        self.save_for_backward(lu, perm, X)
        return X

    def backward(self, g):
        _no_double_backward("linalg.lu_solve", g)
        lu, perm, X = self.saved_tensors
        adjoint = self.adjoint
        if not self.left:
            # X A' = B is X^H = A'^-H B^H: the left solve with the adjoint flag flipped
            g, X, adjoint = _mH(g), _mH(X), not adjoint
        gB = _lu_solve_left(lu, perm, g, not adjoint)
        g_lu = None
        if self.next_edges[0] is not None:
            # gA for A X = B is -gB X^H; for A^H X = B it is -X gB^H
            xp = get_array_module(lu)
            gA = -(gB @ _mH(X)) if not adjoint else -(X @ _mH(gB))
            L, U = _split(lu)
            PtgA = xp.take_along_axis(
                gA, xp.broadcast_to(perm[..., :, None], gA.shape[:-1] + (1,)), axis=-2)
            g_lu = sum_to(xp.tril(PtgA @ _mH(U), -1) + xp.triu(_mH(L) @ PtgA), self.shapes[0])
        gB = sum_to(gB if self.left else _mH(gB), self.shapes[1]) \
            if self.next_edges[2] is not None else None
        return g_lu, None, gB, None, None


# ------------------------------------------------------------------ checks
def _type_name(t):
    return _red.scalar_type_name(t)


def _check_lu_input(A, name, kernel="lu_cpu"):
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{name}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(shape)} instead")
    kind, size = A._data.dtype.kind, A._data.dtype.itemsize
    if kind not in "fc" or (kind == "f" and size == 2):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(A)}'")


def _check_pivot(pivot, name):
    if not pivot:
        # disttorch has no unpivoted LU (PyTorch has one on CUDA only)
        raise RuntimeError(f"{name}: LU without pivoting is not implemented on the CPU")


def _singular_error(name, info):
    """PyTorch's error for the first matrix whose U has an exact zero on its diagonal."""
    from . import LinAlgError
    host = info if isinstance(info, np.ndarray) else get_array_module(info).asnumpy(info)
    flat = host.reshape(-1)
    b = int(np.flatnonzero(flat)[0])
    where = f"(Batch element {b}): " if host.ndim else ""
    j = int(flat[b])
    return LinAlgError(f"{name}: {where}U[{j},{j}] is zero and using it on lu_solve would result "
                       f"in a division by zero. If you still want to perform the factorization, "
                       f"consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def _has_failure(info):
    return info.size and bool((info != 0).any())


# ------------------------------------------------------------------ public API
@with_out
def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """The packed LU factorisation of ``A`` (``... x m x n``) with partial pivoting, as a named
    tuple ``(LU, pivots, info)``.

    ``LU`` holds ``L`` (unit diagonal, not stored) below the diagonal and ``U`` on and above it;
    ``pivots`` (``int32``, 1-based) are the row interchanges applied in order; ``info``
    (``int32``, one per matrix) is 0, or ``i > 0`` when ``U[i-1, i-1]`` is exactly zero. With
    ``check_errors=True`` such a matrix raises. Differentiable with respect to ``A`` (``LU``).
    """
    _check_lu_input(A, "torch.lu_factor")
    _check_pivot(pivot, "linalg.lu_factor")
    LU, pivots, info = LuFactor.apply(A)
    if check_errors and _has_failure(info._data):
        raise _singular_error("torch.linalg.lu_factor_ex", info._data)
    return lu_factor_ex_result(LU, pivots, info)


@with_out
def lu_factor(A, *, pivot=True, out=None):
    """The packed LU factorisation of ``A`` with partial pivoting, as a named tuple
    ``(LU, pivots)``; see :func:`lu_factor_ex`. Raises when some ``U`` has a zero on its
    diagonal (use :func:`lu_factor_ex` or :func:`lu` to factor singular matrices)."""
    _check_lu_input(A, "torch.lu_factor")
    _check_pivot(pivot, "linalg.lu_factor")
    LU, pivots, info = LuFactor.apply(A)
    if _has_failure(info._data):
        raise _singular_error("torch.linalg.lu_factor", info._data)
    return lu_factor_result(LU, pivots)


@with_out
def lu(A, *, pivot=True, out=None):
    """``A = P L U`` with partial pivoting, as a named tuple ``(P, L, U)``: ``P`` a permutation
    matrix (``m x m``), ``L`` unit lower triangular (``m x k``), ``U`` upper triangular
    (``k x n``), ``k = min(m, n)``. Singular matrices are factored too. Differentiable with
    respect to ``A`` through ``L`` and ``U``."""
    _check_lu_input(A, "linalg.lu")
    _check_pivot(pivot, "linalg.lu_factor")
    P, L, U = Lu.apply(A)
    return lu_result(P, L, U)


def _check_pivot_values(pivots, rows, low_message, high_message):
    # a host check: on CUDA it would synchronise, and PyTorch checks on the CPU only
    if not isinstance(pivots, np.ndarray) or not pivots.size:
        return
    if (pivots < 1).any():
        raise RuntimeError(low_message)
    if (pivots > rows).any():
        raise RuntimeError(high_message)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``; ``A^H`` in place of
    ``A`` with ``adjoint=True``) from ``(LU, pivots)`` of :func:`lu_factor`. Batch dims of
    ``LU`` and ``B`` broadcast. Differentiable with respect to ``LU`` and ``B``."""
    lu_, piv, b = LU._data, pivots._data, B._data
    if lu_.ndim < 2:
        raise RuntimeError("torch.linalg.lu_solve: The input tensor A must have at least 2 "
                           "dimensions.")
    if lu_.shape[-1] != lu_.shape[-2]:
        raise RuntimeError(f"torch.linalg.lu_solve: A must be batches of square matrices, but "
                           f"they are {lu_.shape[-2]} by {lu_.shape[-1]} matrices")
    if lu_.dtype.kind not in "fc":
        raise RuntimeError(f"torch.linalg.lu_solve: Expected a floating point or complex tensor "
                           f"as input. Got {_type_name(LU)}")
    if b.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    n = lu_.shape[-1]
    rows = b.shape[-2] if left else b.shape[-1]
    if rows != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{b.shape[-2]}x{b.shape[-1]})")
    if b.dtype != lu_.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but found "
                           f"LU of type {_type_name(LU)} and B of type {_type_name(B)} instead")
    if piv.dtype != np.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32")
    if piv.shape[-1:] != (n,):
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as the "
                           "dimension of the matrix")
    if piv.shape != lu_.shape[:-1]:
        raise RuntimeError(f"linalg.lu_solve: Expected LU.shape[:-1] and pivots.shape to be the "
                           f"same, but got pivots with shape {list(piv.shape)} instead")
    _check_pivot_values(piv, n, "Pivots given to lu_solve must all be greater or equal to 1. Did "
                                "you properly pass the result of lu_factor?",
                        "Pivots given to lu_solve must all be smaller or equal to LU.size(-2). "
                        "Did you properly pass the result of lu_factor?")
    from . import _write
    return _write(LuSolve.apply(LU, pivots, B, left, adjoint), out)


@with_out
def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """``(P, L, U)`` from the packed ``(LU, pivots)`` of :func:`torch.linalg.lu_factor`, as a
    named tuple; ``P`` is empty when ``unpack_pivots=False`` and ``L``, ``U`` are empty when
    ``unpack_data=False``. Differentiable with respect to ``LU_data``."""
    lu_, piv = LU_data._data, LU_pivots._data
    if lu_.ndim < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(lu_.shape)} instead")
    if piv.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                           "torch.int32 dtype.\nNote: this function is intended to be used with "
                           "the output produced by torch.linalg.lu_factor")
    m, n = lu_.shape[-2:]
    if unpack_pivots:
        if piv.shape[-1:] != (min(m, n),):
            # PyTorch reads past a short pivots tensor; refuse it instead
            raise RuntimeError(f"torch.lu_unpack: expected LU_pivots of size {min(m, n)} in its "
                               f"last dimension (min(LU.size(-2), LU.size(-1))), but got "
                               f"{list(piv.shape)}")
        _check_pivot_values(piv, m, *(["pivots passed to lu_unpack must be between 1 and "
                                       "LU.size(-2) inclusive.Did you properly pass the result of "
                                       "lu_factor?"] * 2))
    P, L, U = LuUnpack.apply(LU_data, LU_pivots, unpack_data, unpack_pivots)
    return lu_unpack_result(P, L, U)


def lu_solve_deprecated(b, LU_data, LU_pivots, *, out=None):
    """The solution of ``A x = b`` from ``(LU_data, LU_pivots)`` of :func:`torch.linalg.lu_factor`
    (deprecated in PyTorch for :func:`torch.linalg.lu_solve`, whose arguments are reversed)."""
    warnings.warn("torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be "
                  "removed in a future PyTorch release.\nNote that torch.linalg.lu_solve has its "
                  "arguments reversed.\nX = torch.lu_solve(B, LU, pivots)\nshould be replaced "
                  "with\nX = torch.linalg.lu_solve(LU, pivots, B)", UserWarning, stacklevel=2)
    return lu_solve(LU_data, LU_pivots, b, out=out)


@with_out
def lu_deprecated(A, pivot=True, get_infos=False, out=None):
    """The packed LU factorisation ``(LU, pivots)`` of ``A``, with ``info`` as a third element
    when ``get_infos=True`` (deprecated in PyTorch for :func:`torch.linalg.lu_factor`). Singular
    matrices do not raise."""
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                  "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.",
                  UserWarning, stacklevel=3)   # past with_out's frame
    _check_lu_input(A, "torch.lu_factor")
    _check_pivot(pivot, "linalg.lu_factor")
    LU, pivots, info = LuFactor.apply(A)
    return lu_with_info_result(LU, pivots, info) if get_infos else (LU, pivots)


def _lu_method(self, pivot=True, get_infos=False):
    return lu_deprecated(self, pivot, get_infos)


_lu_method.__doc__ = lu_deprecated.__doc__
