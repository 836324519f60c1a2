"""``linalg.lstsq``, ``eig``, ``eigvals``, ``cond`` and ``householder_product``.

``lstsq`` is built on the batched QR (``gels``) and SVD (the rank-revealing drivers) that numpy
and CuPy both have; ``eig`` on their ``linalg.eig`` (CuPy 14 has it, through cuSOLVER's geev).
"""
import math

import numpy as np

from .._backend import get_array_module
from ..autograd.function import Node
from ..ops import reduction as _red
from ..ops._util import sum_to, with_out
from ..ops.linalg import _broadcast_batch
from ..return_types import _structseq
from ..tensor import _new
from ._lu import _getrf, _mH, _no_double_backward, _trsolve

__all__ = ["lstsq", "eig", "eigvals", "cond", "householder_product"]

lstsq_result = _structseq("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
eig_result = _structseq("linalg_eig", ["eigenvalues", "eigenvectors"])

_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _real_dtype(dtype):
    return np.dtype(np.float32 if dtype == np.complex64 else
                    np.float64 if dtype == np.complex128 else dtype)


# ------------------------------------------------------------------ lstsq
def _pinv_parts(A, rcond):
    """``(V diag(1/S) U^H, S, rank)``: the pseudo-inverse keeping singular values above
    ``rcond * max(S)`` (LAPACK gelsd/gelss's rule)."""
    xp = get_array_module(A)
    U, S, Vh = xp.linalg.svd(A, full_matrices=False)
    largest = S[..., :1] if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), S.dtype)
    keep = S > rcond * largest
    inv_s = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(S.dtype)
    return (_mH(Vh) * inv_s[..., None, :]) @ _mH(U), S, keep.sum(axis=-1).astype(np.int64)


def _gels(A, B):
    """The least-squares (``m >= n``) or minimum-norm (``m < n``) solution by QR, assuming
    full rank, as LAPACK's gels."""
    xp = get_array_module(A)
    m, n = A.shape[-2:]
    if m >= n:
        Q, R = xp.linalg.qr(A)
        return _trsolve(R, _mH(Q) @ B, lower=False)
    Q, R = xp.linalg.qr(_mH(A))
    return Q @ _trsolve(_mH(R), B, lower=True)


class Lstsq(Node):
    def forward(self, A, B, rcond, driver, vector):
        xp = get_array_module(A)
        m, n = A.shape[-2:]
        if vector:
            B = B[..., None]
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        Ab = xp.broadcast_to(A, batch + A.shape[-2:])
        Bb = xp.broadcast_to(B, batch + B.shape[-2:])
        real = _real_dtype(A.dtype)
        empty_real = xp.zeros((0,), real)
        pinv = None
        if driver == "gels":
            X = _gels(Ab, Bb)
            rank, S = xp.zeros((0,), np.int64), empty_real
            residuals = m > n
        else:
            pinv, S, rank = _pinv_parts(A, rcond)
            X = xp.broadcast_to(pinv, batch + pinv.shape[-2:]) @ Bb
            # residuals only when every matrix has full column rank (a host check, as PyTorch's)
            residuals = driver != "gelsy" and m > n and bool((rank == n).all())
            if driver == "gelsy":
                S = empty_real
        R = Ab @ X - Bb if residuals else None
        res = (xp.abs(R) ** 2).sum(axis=-2).astype(real) if residuals else empty_real.copy()
        if residuals and n == 0 and driver == "gels":
            # PyTorch's gels residuals of an m x 0 system are zeros (the others give |B|^2)
            res, R = xp.zeros_like(res), xp.zeros_like(R)
        self.vector, self.shapes = vector, (A.shape, B.shape)
        self.save_for_backward(A, pinv, Bb, X, R)
        self.mark_non_differentiable(3)
        return (X[..., 0] if vector else X), res, rank, S

    def backward(self, gX, g_res, g_rank, g_s):
        _no_double_backward("linalg.lstsq", gX)
        A, pinv, B, X, R = self.saved_tensors
        xp = get_array_module(X)
        if self.vector:
            gX = gX[..., None]
        if pinv is None:
            pinv = _pinv_parts(A, 0.0)[0]
        pinvH = _mH(pinv)
        gB = pinvH @ gX
        # the derivative of pinv(A) B at constant rank (Golub and Pereyra, 1973)
        gA = -(pinvH @ gX @ _mH(X))
        gA = gA + (xp.eye(A.shape[-2], dtype=A.dtype) - A @ pinv) @ B @ _mH(gX) @ pinv @ pinvH
        gA = gA + pinvH @ (X @ _mH(gX)) @ (xp.eye(A.shape[-1], dtype=A.dtype) - pinv @ A)
        if R is not None and g_res.size:
            # at the minimum, d||AX - B||^2 is 2 Re<R, dA X - dB> (the X term vanishes)
            weighted = R * g_res[..., None, :]
            gA = gA + 2 * (weighted @ _mH(X))
            gB = gB - 2 * weighted
        if self.vector:
            gB = gB[..., 0]
        sa, sb = self.shapes
        return (sum_to(gA, sa) if self.next_edges[0] is not None else None,
                sum_to(gB, sb[:-1] if self.vector else sb)
                if self.next_edges[1] is not None else None, None, None, None)


def lstsq(A, B, rcond=None, *, driver=None):
    """A least-squares solution of ``A X = B`` (minimum-norm where ``A`` is wide or
    rank-deficient), as a named tuple ``(solution, residuals, rank, singular_values)``.

    ``driver``: ``'gels'`` (QR, full rank assumed), ``'gelsy'`` (the default), ``'gelsd'`` or
    ``'gelss'``. ``residuals`` (the squared residual norm of each column) is filled when
    ``m > n`` for ``gels``, and for ``gelsd``/``gelss`` when every matrix has full rank; ``rank``
    for every driver but ``gels``; ``singular_values`` for ``gelsd``/``gelss``; the others are
    empty. Singular values at most ``rcond`` times the largest count as zero (default: the
    dtype's eps times ``max(m, n)``). ``B`` may be a batch of vectors (``A.dim() - 1`` dims).
    Differentiable through ``solution`` and ``residuals``.

    ``gelsy`` finds the rank from the singular values, not LAPACK's pivoted-QR condition
    estimate: the two agree except for matrices within rounding of the ``rcond`` threshold.
    """
    a, b = A._data, B._data
    if a.dtype.kind not in "fc" or a.dtype.itemsize < 4 or b.dtype.kind not in "fc":
        raise RuntimeError("This function doesn't handle types other than float and double")
    if a.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if not 0 <= a.ndim - b.ndim <= 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to "
                           "other.dim() and (input.dim() - other.dim()) <= 1")
    vector = b.ndim == a.ndim - 1
    _broadcast_batch(a.shape[:-2], b.shape[:-1] if vector else b.shape[:-2])
    if vector and a.shape[-2] != b.shape[-1]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-1)")
    if not vector and a.shape[-2] != b.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    if a.dtype != b.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {_red.scalar_type_name(A)} and other's "
                           f"dtype {_red.scalar_type_name(B)}")
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    if rcond is None or rcond < 0:
        rcond = float(np.finfo(_real_dtype(a.dtype)).eps) * max(a.shape[-2:])
    X, residuals, rank, S = Lstsq.apply(A, B, float(rcond), driver, vector)
    return lstsq_result(X, residuals, rank, S)


# ------------------------------------------------------------------ eig
def _eig_backward(w, V, gw, gV):
    """The gradient of ``A`` for ``A = V diag(w) V^-1`` with unit-norm columns of ``V``
    (complex arrays; ``gw``/``gV`` may be None). Raises PyTorch's error when the loss depends on
    the phase of the eigenvectors, which ``eig`` does not define."""
    xp = get_array_module(V)
    n = V.shape[-1]
    eye = xp.eye(n, dtype=bool)
    inner = xp.zeros_like(V)
    if gV is not None:
        VhgV = _mH(V) @ gV
        phase = xp.diagonal(VhgV, 0, -2, -1).imag
        if bool((xp.abs(phase) > 1e-2).any()):
            raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this quantity, so it is ill-defined.")
        # the unit-norm constraint removes the Re diag(V^H gV) direction from each column
        inner = VhgV - (_mH(V) @ V) * xp.diagonal(VhgV, 0, -2, -1).real[..., None, :]
        gap = (w[..., None, :] - w[..., :, None]).conj()
        inner = xp.where(eye, 0, inner / xp.where(eye, 1, gap))
    if gw is not None:
        inner = inner + xp.where(eye, gw[..., None, :], 0)
    return xp.linalg.solve(_mH(V), inner @ _mH(V))


class Eig(Node):
    def forward(self, A, vectors):
        xp = get_array_module(A)
        complex_dtype = np.complex64 if A.dtype in (np.float32, np.complex64) else np.complex128
        self.real_input = A.dtype.kind == "f"
        w, V = xp.linalg.eig(A)
        w, V = w.astype(complex_dtype, copy=False), V.astype(complex_dtype, copy=False)
        self.save_for_backward(w, V)
        return (w, V) if vectors else w

    def backward(self, gw, gV=None):
        _no_double_backward("linalg.eig", gw)
        w, V = self.saved_tensors
        gA = _eig_backward(w, V, gw, gV)
        return (gA.real if self.real_input else gA), None


def _check_eig(A, name):
    a = A._data
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if a.dtype.kind in "fc" and a.dtype.itemsize == 2:
        raise NotImplementedError(f"\"linalg_eig_out_cpu\" not implemented for "
                                  f"'{_red.scalar_type_name(A)}'")
    if a.dtype.kind not in "fc":
        raise RuntimeError(f"Unknown Complex ScalarType for {_red.scalar_type_name(A)}")
    # a host check (eig synchronises in PyTorch too): LAPACK and cuSOLVER do not stop on them
    if a.size and not bool(get_array_module(a).isfinite(a).all()):
        raise RuntimeError(f"torch.linalg.{name}: input tensor should not contain infs or NaNs.")


@with_out
def eig(A, *, out=None):
    """Eigenvalues and (unit-norm) right eigenvectors of square matrices, as a named tuple
    ``(eigenvalues, eigenvectors)`` of complex tensors, in LAPACK's order on the CPU (CuPy's
    cuSOLVER order on CUDA).

    disttorch has no autograd through complex tensors, so ``eig`` of an input that requires
    grad raises; the gradient itself (PyTorch's, with its error when the loss depends on the
    eigenvectors' phase) is ``Eig.backward``."""
    _check_eig(A, "eig")
    w, V = Eig.apply(A, True)
    return eig_result(w, V)


def eigvals(A, *, out=None):
    """The eigenvalues of square matrices, as a complex tensor (see :func:`eig`)."""
    _check_eig(A, "eigvals")
    from . import _write
    return _write(Eig.apply(A, False), out)


# ------------------------------------------------------------------ cond
def cond(A, p=None, *, out=None):
    """The condition number of each matrix in ``A`` for the norm ``p``: ``None``/2 (the ratio of
    the largest to the smallest singular value), -2 (its inverse), ``'nuc'`` (``sum(S) *
    sum(1/S)``, square matrices), ``'fro'``, ``inf``, ``-inf``, 1, -1 (``norm(A, p) *
    norm(inv(A), p)``, square matrices; ``inf`` for exactly singular ones, as PyTorch).
    Real-valued; differentiable."""
    from . import matrix_norm, svdvals, inv, _write, _check_float
    from ..ops.pointwise import where, abs as _abs
    if isinstance(p, str):
        valid = p in ("fro", "nuc")
    else:
        valid = p is None or p in (2, -2, 1, -1, math.inf, -math.inf)
    if not valid:
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    a = A._data
    if a.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    xp = get_array_module(a)
    real = _real_dtype(a.dtype) if a.dtype.kind in "fc" else a.dtype
    svd_based = p in (None, 2, -2, "nuc")
    if a.dtype == np.float16:
        if svd_based:
            raise NotImplementedError("\"linalg_svd_cpu\" not implemented for 'Half'")
        raise RuntimeError("linalg.inv: Low precision dtypes not supported. Got Half")
    if p != "nuc" and svd_based:
        _check_float(A, "linalg.svd")
        if a.size == 0:
            return _write(_new(xp.zeros(a.shape[:-2], real)), out)
        S = svdvals(A)
        big, small = _red.amax(S, -1), _red.amin(S, -1)
        return _write(small / big if p == -2 else big / small, out)
    if a.shape[-1] != a.shape[-2]:
        name = {math.inf: "inf", -math.inf: "-inf"}.get(p, p)
        raise RuntimeError(f"linalg.cond(ord={name}): A must be batches of square matrices, but "
                           f"they are {a.shape[-2]} by {a.shape[-1]} matrices")
    if p == "nuc":
        # PyTorch takes the nuclear norms from the singular values: no inf for singular A
        _check_float(A, "linalg.svd")
        if a.size == 0:
            return _write(_new(xp.zeros(a.shape[:-2], real)), out)
        S = svdvals(A)
        return _write(_red.sum(S, -1) * _red.sum(1 / S, -1), out)
    _check_float(A, "linalg.inv")
    if a.size == 0:
        return _write(_new(xp.zeros(a.shape[:-2], real)), out)
    singular = _getrf(a)[2] != 0
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    # invert the identity in place of a singular matrix; its condition number is inf
    safe = where(_new(singular[..., None, None]), _new(eye), A)
    inverse = inv(safe)
    if p == "fro" and a.dtype.kind == "c":
        # the Frobenius norm of |A|: linalg.vector_norm keeps a complex dtype for complex input
        A, inverse = _abs(A), _abs(inverse)
    value = matrix_norm(A, p) * matrix_norm(inverse, p)
    return _write(where(_new(singular), _new(xp.full((), math.inf, real)), value), out)


# ------------------------------------------------------------------ householder_product
def _reflector(A, i):
    """``v_i``: zeros above row ``i``, 1 at ``i``, then ``A[i+1:, i]``."""
    v = A[..., :, i].copy()
    v[..., :i] = 0
    v[..., i] = 1
    return v


class HouseholderProduct(Node):
    def forward(self, A, tau):
        xp = get_array_module(A)
        m, n = A.shape[-2:]
        X = xp.broadcast_to(xp.eye(m, n, dtype=A.dtype), A.shape).copy()
        stages = []
        for i in range(tau.shape[-1] - 1, -1, -1):
            v = _reflector(A, i)[..., :, None]
            stages.append(X)
            X = X - tau[..., i, None, None] * (v @ (_mH(v) @ X))
        self.save_for_backward(A, tau)
        self.stages = stages[::-1]
        return X

    def backward(self, g):
        _no_double_backward("linalg.householder_product", g)
        A, tau = self.saved_tensors
        xp = get_array_module(A)
        gA, g_tau = xp.zeros_like(A), xp.zeros_like(tau)
        for i, before in enumerate(self.stages):
            # X_i = (I - tau v v^H) X_{i+1}, with X_{i+1} = ``before``
            v = _reflector(A, i)[..., :, None]
            t = tau[..., i, None, None]
            w = _mH(v) @ before
            g_tau[..., i] = -(_mH(v) @ g @ _mH(w))[..., 0, 0]
            g_v = -(t.conj() * (g @ _mH(w))) - t * (before @ (_mH(g) @ v))
            gA[..., i + 1:, i] = g_v[..., i + 1:, 0]
            g = g - t.conj() * (v @ (_mH(v) @ g))
        return gA, g_tau


def householder_product(A, tau, *, out=None):
    """The first ``n`` columns of ``H_1 H_2 ... H_k``, ``H_i = I - tau_i v_i v_i^H``, where
    ``v_i`` is column ``i`` of ``A`` below the diagonal with a 1 on it (``A``: ``... x m x n``,
    ``m >= n >= k``; ``tau``: ``... x k``), as LAPACK's orgqr. Differentiable."""
    a, t = A._data, tau._data
    name = "torch.linalg.householder_product"
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if a.shape[-2] < a.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1]")
    if t.ndim >= 1 and a.shape[-1] < t.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to "
                           f"tau.shape[-1]")
    if t.ndim != a.ndim - 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but got "
                           f"tau.ndim equal to {t.ndim} and input.ndim is equal to {a.ndim}")
    if t.shape[:-1] != a.shape[:-2]:
        raise RuntimeError(f"{name}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(t.shape[:-1])}")
    if t.dtype != a.dtype:
        raise RuntimeError(f"{name}: tau dtype {_red.scalar_type_name(tau)} does not match input "
                           f"dtype {_red.scalar_type_name(A)}")
    if a.dtype.kind not in "fc" or a.dtype.itemsize == 2:
        raise NotImplementedError(f"\"orgqr_cpu\" not implemented for "
                                  f"'{_red.scalar_type_name(A)}'")
    from . import _write
    return _write(HouseholderProduct.apply(A, tau), out)


def orgqr(input, tau):
    """Alias of :func:`torch.linalg.householder_product`."""
    return householder_product(input, tau)

