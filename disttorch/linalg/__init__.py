"""``disttorch.linalg``: norms, inverses, determinants, solves and decompositions.

Everything is differentiable; where a gradient is not defined or not implemented (double
backward of the decompositions, ``qr`` of wide matrices, the singular vectors of a
non-square ``svd`` with ``full_matrices=True``) backward raises a RuntimeError rather than
returning a wrong gradient.
"""
import numpy as np

from .. import _dtype, return_types
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ..ops._util import cast, with_out, wrap_dim
from ..ops import reduction as _red
from ..ops.linalg import (_broadcast_batch, _mT, _einsum, _sum_to, _const, _ZeroLike, einsum,
                          matmul, cross as _cross)
from ..ops.diagonals import diagonal as _diagonal, Triangle
from ..ops.statistics import vector_norm_impl
from ..amp.autocast_mode import autocast_args
from ..ops.pointwise import abs as _abs

__all__ = ["LinAlgError", "norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve",
           "solve_triangular", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv",
           "matrix_rank", "matrix_power", "multi_dot", "cross", "matmul", "diagonal", "vecdot",
           "matrix_exp", "vander", "tensorinv", "tensorsolve", "inv_ex", "solve_ex", "cholesky_ex",
           "lu_factor", "lu_factor_ex", "lu", "lu_solve", "lstsq", "eig", "eigvals", "cond",
           "householder_product", "ldl_factor", "ldl_factor_ex", "ldl_solve"]


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (singular or not positive-definite)."""


# ------------------------------------------------------------------ checks and dual helpers
def _check_float(A, name):
    if A._data.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_red.scalar_type_name(A)}")


def _check_square(A, name):
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if shape[-1] != shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{shape[-2]} by {shape[-1]} matrices")


def _matrix_op(A, name):
    _check_float(A, name)
    _check_square(A, name)


def _inv(A):
    return inv(A) if isinstance(A, Tensor) else get_array_module(A).linalg.inv(A)


def _solve(A, B):
    return solve(A, B) if isinstance(A, Tensor) or isinstance(B, Tensor) else \
        _batched_solve(get_array_module(A), A, B)


def _unsqueeze2(x, shape):
    """Broadcast a batch of scalars (shape[:-2]) over the last two dims of ``shape``."""
    n = len(shape)
    return _red._expand(x, shape, (n - 2, n - 1), False)


def _forward_only(name):
    raise RuntimeError(f"{name}: backward is not supported in disttorch; compute the forward "
                       f"under no_grad() or detach() the input")


# ------------------------------------------------------------------ inverse, determinants
class Inv(Node):
    def forward(self, A):
        xp = get_array_module(A)
        try:
            out = xp.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise _inv_singular(A) from None
        self.save_for_backward(out)
        return out

    def backward(self, g):
        Y, = self.saved_tensors
        Yt = _mT(Y)
        return -(Yt @ g @ Yt)


def _inv_singular(A):
    """PyTorch's error for a singular matrix: which batch element, and getrf's zero pivot."""
    from ._extras import _lu_info
    flat = A.reshape((-1,) + A.shape[-2:])
    for k, matrix in enumerate(flat):
        pivot = _lu_info(matrix)
        if pivot:
            batch = f"(Batch element {k}): " if A.ndim > 2 else ""
            return LinAlgError(f"linalg.inv: {batch}The diagonal element {pivot} is zero, the "
                               f"inversion could not be completed because the input matrix is "
                               f"singular.")
    return LinAlgError("linalg.inv: The inversion could not be completed because the input "
                       "matrix is singular.")


def inv(A, *, out=None):
    """The inverse of each square matrix in ``A`` (``...`` x n x n)."""
    A, = autocast_args("linalg.inv", A)
    _matrix_op(A, "linalg.inv")
    return _write(Inv.apply(A), out)


def _write(result, out):
    if out is None:
        return result
    from ..ops.arithmetic import _out
    return _out(result, out)


class Det(Node):
    def forward(self, A):
        out = get_array_module(A).linalg.det(A)
        self.save_for_backward(A, out)
        return out

    def backward(self, g):
        A, d = self.saved_tensors
        if isinstance(g, Tensor):
            return _unsqueeze2(g * d, A.shape) * _mT(_inv(A))
        return _unsqueeze2(g, A.shape) * _mT(_adjugate(A))


def _adjugate(A):
    """adj(A) = det(A) inv(A), from the SVD so that singular matrices work too."""
    xp = get_array_module(A)
    U, S, Vh = xp.linalg.svd(A)
    ones = xp.ones(S.shape[:-1] + (1,), S.dtype)
    left = xp.concatenate([ones, xp.cumprod(S[..., :-1], axis=-1)], axis=-1)
    right = xp.concatenate([xp.cumprod(S[..., :0:-1], axis=-1)[..., ::-1], ones], axis=-1)
    sign = xp.linalg.det(U) * xp.linalg.det(Vh)
    return (_mT(Vh) * (left * right * sign[..., None])[..., None, :]) @ _mT(U)


def det(A, *, out=None):
    """The determinant of each square matrix in ``A``; its gradient is defined for singular
    matrices too."""
    _matrix_op(A, "linalg.det")
    return _write(Det.apply(A), out)


class SlogDet(Node):
    def forward(self, A):
        sign, logabs = get_array_module(A).linalg.slogdet(A)
        # sign requires grad as in PyTorch (its gradient, for real A, is none: it is piecewise
        # constant)
        self.save_for_backward(A)
        return sign, logabs

    def backward(self, g_sign, g_logabs):
        if g_logabs is None:
            return None
        A, = self.saved_tensors
        return _unsqueeze2(g_logabs, A.shape) * _mT(_inv(A))


@with_out
def slogdet(A, *, out=None):
    """``(sign, logabsdet)`` of each square matrix in ``A``, as a named tuple."""
    _matrix_op(A, "linalg.slogdet")
    sign, logabs = SlogDet.apply(A)
    return return_types.slogdet(sign, logabs)


# ------------------------------------------------------------------ solve, cholesky
def _batched_solve(xp, A, B):
    """``xp.linalg.solve`` with batch dims broadcast first (numpy broadcasts them, CuPy needs
    them equal)."""
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    if A.shape[:-2] != batch:
        A = xp.broadcast_to(A, batch + A.shape[-2:])
    if B.shape[:-2] != batch:
        B = xp.broadcast_to(B, batch + B.shape[-2:])
    return xp.linalg.solve(A, B)


class Solve(Node):
    def forward(self, A, B, vector):
        xp = get_array_module(A)
        self.vector, self.shapes = vector, (A.shape, B.shape)
        try:
            X = _batched_solve(xp, A, B[..., None])[..., 0] if vector else \
                _batched_solve(xp, A, B)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                              "singular.") from None
        self.save_for_backward(A, X)
        return X

    def backward(self, g):
        A, X = self.saved_tensors
        sa, sb = self.shapes
        At = _mT(A)
        if self.vector:
            gB = _einsum("...ij,...j->...i", _inv(At), g)
            gA = -_einsum("...i,...j->...ij", gB, X)
        else:
            gB = _solve(At, g)
            gA = -(gB @ _mT(X))
        return (_sum_to(gA, sa) if self.next_edges[0] is not None else None,
                _sum_to(gB, sb) if self.next_edges[1] is not None else None, None)


def solve(A, B, *, left=True, out=None):
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``); ``B`` may be a
    batch of vectors. Batch dims broadcast."""
    A, B = autocast_args("linalg.solve", A, B)
    _matrix_op(A, "linalg.solve")
    if not left:
        return _write(_mT(solve(_mT(A), _mT(B))), out)
    a, b = A._data, B._data
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    n = a.shape[-1]
    rows = b.shape[-1] if vector else b.shape[-2]
    if rows != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{'x'.join(str(s) for s in (b.shape if not vector else (rows, 1)))})")
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {_red.scalar_type_name(A)} and B of type "
                           f"{_red.scalar_type_name(B)} instead")
    # (PyTorch broadcasts B's batch against A's: its message names them in that order)
    _broadcast_batch(b.shape[:-1] if vector else b.shape[:-2], a.shape[:-2])
    return _write(Solve.apply(A, B, vector), out)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``) reading only the
    upper or lower triangle of ``A`` (and taking its diagonal as ones with ``unitriangular``)."""
    _matrix_op(A, "linalg.solve_triangular")
    if B._data.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    offset = (1 if upper else -1) if unitriangular else 0
    T = Triangle.apply(A, offset, upper)
    if unitriangular:
        T = T + _new(get_array_module(A._data).eye(A._data.shape[-1], dtype=A._data.dtype))
    return _write(solve(T, B, left=left), out)


def matrix_power(A, n, *, out=None):
    """``A`` multiplied by itself ``n`` times (the identity for 0, powers of the inverse for
    negative ``n``), by repeated squaring."""
    if A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        shape = A._data.shape
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they "
                           f"are {shape[-2] if len(shape) > 1 else 1} by {shape[-1]} matrices")
    if n == 0:
        eye = get_array_module(A._data).eye(A._data.shape[-1], dtype=A._data.dtype)
        return _write(_ZeroLike.apply(A) + _new(eye), out)
    base = inv(A) if n < 0 else A
    result, n = None, abs(n)
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return _write(result.clone() if result is A else result, out)


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices (the first may be a row vector and the last a column
    vector, given as 1-D tensors)."""
    tensors, = autocast_args("linalg.multi_dot", tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    return _write(result, out)


class Cholesky(Node):
    def forward(self, A):
        xp = get_array_module(A)
        try:
            L = xp.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise LinAlgError(_not_pd_message(A)) from None
        self.save_for_backward(L)
        return L

    def backward(self, gL):
        L, = self.saved_tensors
        n = L.shape[-1]
        eye = _const(gL, get_array_module(_red._data(L)).eye(n, dtype=_red._data(L).dtype))
        # phi = tril(L^T gL) with its diagonal halved; gA = L^-T phi L^-1, symmetrised
        S = _mT(L) @ gL
        phi = _tril_dual(S) - 0.5 * (S * eye)
        Linv = _inv(L)
        gA = _mT(Linv) @ phi @ Linv
        return 0.5 * (gA + _mT(gA))


def _tril_dual(x):
    if isinstance(x, Tensor):
        return Triangle.apply(x, 0, False)
    return get_array_module(x).tril(x)


def _not_pd_message(A):
    xp = get_array_module(A)
    mats = A.reshape((-1,) + A.shape[-2:])
    for b, m in enumerate(mats):
        for k in range(1, m.shape[-1] + 1):
            try:
                xp.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                where = f"(Batch element {b}): " if A.ndim > 2 else ""
                return (f"linalg.cholesky: {where}The factorization could not be completed because "
                        f"the input is not positive-definite (the leading minor of order {k} is "
                        f"not positive-definite).")
    return "linalg.cholesky: The factorization could not be completed because the input is not " \
           "positive-definite."


def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor ``L`` (lower; ``L^T`` with ``upper=True``) of each symmetric
    positive-definite matrix, ``A = L L^T``."""
    A, = autocast_args("linalg.cholesky", A)
    _matrix_op(A, "linalg.cholesky")
    L = Cholesky.apply(A)
    return _write(_mT(L) if upper else L, out)


# ------------------------------------------------------------------ decompositions
class Eigh(Node):
    def forward(self, A, uplo):
        xp = get_array_module(A)
        L, V = xp.linalg.eigh(A, UPLO=uplo)
        self.save_for_backward(L, V)
        return L, V

    def backward(self, gL, gV):
        L, V = self.saved_tensors
        if isinstance(gV, Tensor):
            if (gV._data != 0).any():
                _forward_only("linalg.eigh (double backward through the eigenvectors)")
            # eigenvalues only: V diag(gL) V^T, differentiable again
            return (V * _red._expand(gL, V.shape, (len(V.shape) - 2,), False)) @ _mT(V), None
        xp = get_array_module(V)
        VtgV = _mT(V) @ gV
        M = 0.5 * (VtgV - _mT(VtgV))
        gap = L[..., None, :] - L[..., :, None]
        n = L.shape[-1]
        eye = xp.eye(n, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            M = xp.where(eye, 0, M / xp.where(eye, 1, gap))
        M = M + xp.eye(n, dtype=L.dtype) * gL[..., None, :]
        return V @ M @ _mT(V), None


@with_out
def eigh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, as a named
    tuple ``(eigenvalues, eigenvectors)``."""
    A, = autocast_args("linalg.eigh", A)
    _matrix_op(A, "linalg.eigh")
    L, V = Eigh.apply(A, UPLO)
    return return_types.eigh(L, V)


def eigvalsh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) of symmetric matrices."""
    A, = autocast_args("linalg.eigvalsh", A)
    return _write(eigh(A, UPLO).eigenvalues, out)


class Svd(Node):
    def forward(self, A, full_matrices):
        U, S, Vh = get_array_module(A).linalg.svd(A, full_matrices=full_matrices)
        self.save_for_backward(U, S, Vh)
        return U, S, Vh

    def backward(self, gU, gS, gVh):
        U, S, Vh = self.saved_tensors
        k = S.shape[-1]
        if isinstance(gS, Tensor):
            if (gU._data != 0).any() or (gVh._data != 0).any():
                _forward_only("linalg.svd (double backward through the singular vectors)")
            # singular values only: U diag(gS) Vh, differentiable again
            U, Vh = U[..., :, :k], Vh[..., :k, :]
            return (U * _red._expand(gS, U.shape, (len(U.shape) - 2,), False)) @ Vh, None
        xp = get_array_module(S)
        vectors = (gU != 0).any() or (gVh != 0).any()
        if vectors and max(U.shape[-1], Vh.shape[-2]) > k:
            _forward_only("linalg.svd (gradient through U or Vh with full_matrices=True on a "
                          "non-square matrix)")
        U, gU, V, gV = U[..., :k], gU[..., :k], _mT(Vh[..., :k, :]), _mT(gVh[..., :k, :])
        middle = xp.eye(k, dtype=S.dtype) * gS[..., None, :]
        if vectors:
            # Townsend, "Differentiating the singular value decomposition" (2016)
            sq = S * S
            gap = sq[..., None, :] - sq[..., :, None]
            off = ~xp.eye(k, dtype=bool)
            with np.errstate(divide="ignore"):
                F = xp.where(off, 1 / xp.where(off, gap, 1), 0)
            UtgU, VtgV = _mT(U) @ gU, _mT(V) @ gV
            middle = middle + (F * (UtgU - _mT(UtgU))) * S[..., None, :] \
                + S[..., :, None] * (F * (VtgV - _mT(VtgV)))
            gA = U @ middle @ _mT(V)
            with np.errstate(divide="ignore"):
                inv_s = xp.where(S > 0, 1 / xp.where(S > 0, S, 1), 0)
            if U.shape[-2] > k:
                gA = gA + (gU - U @ UtgU) * inv_s[..., None, :] @ _mT(V)
            if V.shape[-2] > k:
                gA = gA + (U * inv_s[..., None, :]) @ (_mT(gV) - _mT(VtgV) @ _mT(V))
            return gA, None
        return U @ middle @ _mT(V), None


@with_out
def svd(A, full_matrices=True, *, driver=None, out=None):
    """``A = U diag(S) Vh`` as a named tuple ``(U, S, Vh)``.

    Gradients through ``U`` and ``Vh`` need distinct singular values (as in PyTorch) and,
    for a non-square matrix, ``full_matrices=False``.
    """
    A, = autocast_args("linalg.svd", A)
    _check_float(A, "linalg.svd")
    U, S, Vh = Svd.apply(A, full_matrices)
    return return_types.svd(U, S, Vh)


def svdvals(A, *, driver=None, out=None):
    """Singular values (descending) of each matrix in ``A``."""
    A, = autocast_args("linalg.svdvals", A)
    return _write(svd(A, full_matrices=False).S, out)


class Qr(Node):
    def forward(self, A, mode):
        Q, R = get_array_module(A).linalg.qr(A, mode=mode)
        self.save_for_backward(Q, R)
        return Q, R

    def backward(self, gQ, gR):
        Q, R = self.saved_tensors
        if isinstance(gQ, Tensor):
            _forward_only("linalg.qr (double backward)")
        m, n = Q.shape[-2], R.shape[-1]
        xp = get_array_module(R)
        if m < n:
            # A = [X Y] with X = Q U square and Y = Q V: V = Q^T Y carries part of Q's
            # gradient (Y gV^T), and Y's own gradient is Q gV
            U, V = R[..., :, :m], R[..., :, m:]
            gU, gV = gR[..., :, :m], gR[..., :, m:]
            gX = _qr_backward_square(xp, Q, U, gQ + (Q @ V) @ _mT(gV), gU)
            return xp.concatenate([gX, Q @ gV], axis=-1), None
        if Q.shape[-1] != n:
            # PyTorch refuses this case too: Q's extra columns are not determined by A
            _forward_only("linalg.qr (backward for mode='complete' on a tall matrix)")
        return _qr_backward_square(xp, Q, R, gQ, gR), None


def _qr_backward_square(xp, Q, R, gQ, gR):
    """The gradient of ``A = Q R`` with ``R`` square (``A`` tall or square, reduced mode):
    gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q (Walter and Lehmann, 2018)."""
    n = R.shape[-1]
    M = R @ _mT(gR) - _mT(gQ) @ Q
    lower = xp.tril(M, -1)
    diag = xp.eye(n, dtype=M.dtype) * xp.diagonal(M, 0, -2, -1)[..., None, :]
    sym = lower + _mT(lower) + diag
    return _mT(xp.linalg.solve(R, _mT(gQ + Q @ sym)))


@with_out
def qr(A, mode="reduced", *, out=None):
    """``A = Q R`` as a named tuple ``(Q, R)``; differentiable in ``'reduced'`` mode (and
    ``'r'``, where PyTorch refuses) for any shape, and in ``'complete'`` mode for matrices
    with no more rows than columns."""
    A, = autocast_args("linalg.qr", A)
    if A._data.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    _check_float(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    if mode == "r":
        R = Qr.apply(A, "reduced")[1]
        return return_types.qr(_new(get_array_module(A._data).zeros((0,), A._data.dtype)), R)
    Q, R = Qr.apply(A, mode)
    return return_types.qr(Q, R)


def _hermitian_from_lower(a, xp):
    """The symmetric matrix whose lower triangle is ``a``'s: what a Hermitian routine reads."""
    lower = xp.tril(a)
    return lower + _mT(xp.tril(a, -1))


class Pinv(Node):
    def forward(self, A, atol, rtol, hermitian=False):
        xp = get_array_module(A)
        # hermitian: the pseudo-inverse of the matrix A's lower triangle defines, as PyTorch's
        # eigh path computes it; the backward keeps PyTorch's formula in A itself
        U, S, Vh = xp.linalg.svd(_hermitian_from_lower(A, xp) if hermitian else A,
                                 full_matrices=False)
        largest = S[..., :1] if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), S.dtype)
        keep = S > xp.maximum(atol, rtol * largest)
        with np.errstate(divide="ignore"):
            inv_s = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(S.dtype)
        X = (_mT(Vh) * inv_s[..., None, :]) @ _mT(U)
        self.save_for_backward(A, X)
        return X

    def backward(self, gX):
        A, X = self.saved_tensors
        xp = get_array_module(_red._data(A))
        m, n = A.shape[-2], A.shape[-1]
        dtype = _red._data(A).dtype
        I_m = _const(gX, xp.eye(m, dtype=dtype))
        I_n = _const(gX, xp.eye(n, dtype=dtype))
        Xt, gXt = _mT(X), _mT(gX)
        # Golub and Pereyra (1973): the derivative of the pseudo-inverse at constant rank
        return -(Xt @ gX @ Xt) + (I_m - A @ X) @ gXt @ X @ Xt \
            + Xt @ X @ gXt @ (I_n - X @ A), None, None, None


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The Moore-Penrose pseudo-inverse; singular values at most
    ``max(atol, rtol * largest)`` are treated as zero (PyTorch's defaults). With ``hermitian``
    only the lower triangle of ``A`` is read."""
    _check_float(A, "linalg.pinv")
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else \
            max(A._data.shape[-2:]) * float(np.finfo(A._data.dtype).eps)
    if hermitian and A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError("linalg.eigh: A must be batches of square matrices, but they are "
                           f"{A._data.shape[-2]} by {A._data.shape[-1]} matrices")
    return _write(Pinv.apply(A, 0.0 if atol is None else atol, rtol, bool(hermitian)), out)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """Number of singular values above the tolerance, per matrix (int64); with ``hermitian``
    the absolute eigenvalues of ``A``'s lower triangle."""
    A, = autocast_args("linalg.matrix_rank", A)
    _check_float(A, "linalg.matrix_rank")
    a = A._data
    xp = get_array_module(a)
    if hermitian:
        if a.shape[-1] != a.shape[-2]:
            raise RuntimeError("linalg.eigh: A must be batches of square matrices, but they are "
                               f"{a.shape[-2]} by {a.shape[-1]} matrices")
        S = xp.abs(xp.linalg.eigvalsh(a, UPLO="L"))   # the lower triangle, as PyTorch reads it
        S = xp.sort(S, axis=-1)[..., ::-1]
    else:
        S = xp.linalg.svd(a, compute_uv=False)
    largest = S.max(axis=-1, keepdims=True) if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,))
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else max(a.shape[-2:]) * np.finfo(a.dtype).eps
    tol = xp.maximum(0.0 if atol is None else atol, rtol * largest)
    return _write(_new(xp.asarray((S > tol).sum(axis=-1), dtype=np.int64)), out)


# ------------------------------------------------------------------ norms
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """``(sum |x|^ord)^(1/ord)`` over ``dim`` (all elements when None); ``ord`` may be
    ``inf``, ``-inf`` or 0 (the count of nonzeros)."""
    x, = autocast_args("linalg.vector_norm", x, dtype=dtype)
    return _write(vector_norm_impl(x, ord, dim, keepdim, dtype, "linalg.vector_norm"), out)


def _last_two(A, d0, d1):
    """``A`` with dims ``d0``, ``d1`` moved last (an einsum permutation)."""
    n = A._data.ndim
    if (d0, d1) == (n - 2, n - 1):
        return A
    letters = "abcdefghijklmnopqrstuvwxyz"[:n]
    rest = "".join(c for i, c in enumerate(letters) if i not in (d0, d1))
    return einsum(f"{letters}->{rest}{letters[d0]}{letters[d1]}", A)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norm over the two dims ``dim``: ``'fro'``, ``'nuc'``, 1, -1, 2, -2, inf, -inf."""
    A, = autocast_args("linalg.matrix_norm", A, dtype=dtype)
    if dtype is not None:
        A = cast(A, _dtype.to_numpy_dtype(dtype))
    _check_float(A, "linalg.matrix_norm")
    n = A._data.ndim
    if n < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dim)}")
    d0, d1 = wrap_dim(dim[0], n), wrap_dim(dim[1], n)
    if ord == "fro":
        return _write(vector_norm_impl(A, 2, (d0, d1), keepdim, None, "linalg.matrix_norm"), out)
    if ord in ("nuc", 2, -2):
        S = svdvals(_last_two(A, d0, d1))
        if ord == "nuc":
            result = _red.sum(S, -1)
        else:
            result = _red.amax(S, -1) if ord == 2 else _red.amin(S, -1)
    elif ord in (1, -1, np.inf, -np.inf):
        over, pick = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = _red.sum(_abs(A), over, True)
        result = _red.amax(sums, pick, True) if ord > 0 else _red.amin(sums, pick, True)
        if keepdim:
            return _write(result, out)
        return _write(_red.sum(result, (d0, d1)), out)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if keepdim:
        shape = list(result._data.shape)
        for d in sorted((d0, d1)):
            shape.insert(d, 1)
        result = _red._expand(result, tuple(shape), (d0, d1) if d0 < d1 else (d1, d0), False)
    return _write(result, out)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector norm (``dim`` an int, or a 1-D input) or a matrix norm (``dim`` a pair, or a
    2-D input); with ``ord`` and ``dim`` both None, the 2-norm of all elements."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
        if A._data.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                               f"be 1D or 2D. Got {A._data.ndim}D.")
        dim = tuple(range(A._data.ndim))
    if len(dim) == 1:
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                       f"{list(dim)}")


# ------------------------------------------------------------------ aliases
def cross(input, other, *, dim=-1, out=None):
    """Cross product of 3-vectors along ``dim`` (default the last), with broadcasting."""
    return _cross(input, other, dim, out=out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal ``offset`` of the matrices over ``dim1``, ``dim2`` (default the last two)."""
    return _diagonal(A, offset, dim1, dim2)


def vecdot(x, y, *, dim=-1, out=None):
    """Dot product of vectors along ``dim``, with broadcasting."""
    x, y = autocast_args("linalg.vecdot", x, y)
    from ..ops.arithmetic import mul
    return _write(_red.sum(mul(x, y), dim), out)


def matrix_exp(A):
    """The matrix exponential of each square matrix in ``A``; see :func:`torch.matrix_exp`."""
    from ..ops.numerics import matrix_exp as _matrix_exp
    return _matrix_exp(A)


from ._extras import vander, tensorinv, tensorsolve, inv_ex, solve_ex, cholesky_ex  # noqa: E402
from ._lu import lu_factor, lu_factor_ex, lu, lu_solve  # noqa: E402
from ._lstsq_eig import lstsq, eig, eigvals, cond, householder_product  # noqa: E402
from ._ldl import ldl_factor, ldl_factor_ex, ldl_solve  # noqa: E402
