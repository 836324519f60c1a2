"""Randomized low-rank decompositions and iterative eigensolvers: ``torch.svd_lowrank``,
``torch.pca_lowrank`` (Halko, Martinsson and Tropp's randomized range finder, differentiable
through ``matmul``/``qr``/``svd``) and ``torch.lobpcg`` (Knyazev's locally optimal block
preconditioned conjugate gradient method).
"""
import numpy as np

from .. import _dtype
from .._backend import get_array_module
from ..autograd import grad_mode
from ..autograd.function import Node
from ..return_types import _structseq
from ..tensor import Tensor, _new

__all__ = ["svd_lowrank", "pca_lowrank", "lobpcg"]

svd_lowrank_result = _structseq("svd_lowrank", ["U", "S", "V"])


def _ops():
    from .. import ops
    return ops


def _linalg():
    from .. import linalg
    return linalg


def _floating(A):
    return A if A.is_floating_point() or A.is_complex() else A.to(_dtype.float32)


def _approximate_basis(A, q, niter, M=None):
    """An orthonormal ``(*, m, q)`` basis approximating the range of ``A - M``: a Gaussian
    sketch refined by ``niter`` power iterations, re-orthonormalized after every product."""
    ops, linalg = _ops(), _linalg()

    def product(mat, other, x):
        y = ops.matmul(mat, x)
        return y if other is None else y - ops.matmul(other, x)
    sketch = ops.randn(A.shape[-1], q, dtype=A.dtype, device=A.device)
    Q = linalg.qr(product(A, M, sketch)).Q
    At, Mt = A.mH, None if M is None else M.mH
    for _ in range(niter):
        Q = linalg.qr(product(At, Mt, Q)).Q
        Q = linalg.qr(product(A, M, Q)).Q
    return Q


def _svd_lowrank(A, q, niter, M):
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    transposed = m < n
    if transposed:
        A = A.mH
        M = None if M is None else M.mH
    Q = _approximate_basis(A, q, niter, M)
    Qh = Q.mH
    small = _ops().matmul(Qh, A)
    if M is not None:
        small = small - _ops().matmul(Qh, M)
    U, S, Vh = _linalg().svd(small, full_matrices=False)
    U, V = _ops().matmul(Q, U), Vh.mH
    if transposed:
        U, V = V, U
    return svd_lowrank_result(U, S, V)


def svd_lowrank(A, q=6, niter=2, M=None):
    """A randomized rank-``q`` singular value decomposition ``A - M ≈ U diag(S) V^H``.

    Args:
        A (Tensor): the input of shape ``(*, m, n)``.
        q (int, optional): the rank of the approximation, slightly above the rank sought.
            Default: 6.
        niter (int, optional): the number of subspace (power) iterations. Default: 2.
        M (Tensor, optional): subtracted from ``A`` (broadcast to its shape).

    Returns:
        ``(U, S, V)`` of shapes ``(*, m, q)``, ``(*, q)``, ``(*, n, q)``. The sketch is random
        (drawn from the default generator); gradients flow through the QR and SVD steps.
    """
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    return _svd_lowrank(_floating(A), q, niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    """Principal component analysis of the rows of ``A`` by :func:`svd_lowrank`: with
    ``center`` the column means are removed first; ``V``'s columns are the principal
    directions and ``S ** 2 / (m - 1)`` the variances.

    Args:
        A (Tensor): the data of shape ``(*, m, n)``.
        q (int, optional): the number of components. Default: ``min(6, m, n)``.
        center (bool): subtract the column means. Default: ``True``.
        niter (int): the number of subspace iterations. Default: 2.
    """
    if not isinstance(A, Tensor):
        raise TypeError(f"pca_lowrank(): argument 'A' must be Tensor, not {type(A).__name__}")
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    A = _floating(A)
    if not center:
        return _svd_lowrank(A, q, niter, None)
    return _svd_lowrank(A - A.mean(dim=-2, keepdim=True), q, niter, None)


# ----------------------------------------------------------------------------- LOBPCG
def _b_orthonormal(xp, V, BV, drop_tol):
    """Columns spanning ``V`` that are orthonormal in the ``B`` inner product (nearly
    dependent directions are dropped), with ``B`` times them."""
    gram = V.T @ BV
    gram = (gram + gram.T) / 2
    w, U = xp.linalg.eigh(gram)
    keep = w > drop_tol * max(float(w[-1]), 0.0)
    scale = U[:, keep] / xp.sqrt(w[keep])
    return V @ scale, BV @ scale


def _lobpcg_one(xp, A, B, X, iK, k, niter, tol, largest):
    """LOBPCG for one ``(m, m)`` pencil; returns the ``k`` extreme Ritz pairs."""
    sign = 1.0 if largest else -1.0
    n = X.shape[1]
    eps = float(np.finfo(A.dtype).eps)

    def b_apply(V):
        return V if B is None else B @ V

    a_norm = float(xp.linalg.norm(A))
    b_norm = 1.0 if B is None else float(xp.linalg.norm(B))
    X, BX = _b_orthonormal(xp, X, b_apply(X), eps)
    if X.shape[1] < n:
        raise RuntimeError("lobpcg: the initial block X has linearly dependent columns")
    AX = sign * (A @ X)
    theta, C = xp.linalg.eigh(X.T @ AX)
    order = xp.argsort(-theta)
    theta, C = theta[order], C[:, order]
    X, BX, AX = X @ C, BX @ C, AX @ C
    P = None
    iteration = 0
    while niter < 0 or iteration < niter:
        R = AX - BX * theta
        residual = xp.linalg.norm(R, axis=0) / (a_norm + xp.abs(theta) * b_norm)
        if bool((residual[:k] < tol).all()):
            break
        iteration += 1
        W = R if iK is None else iK @ R
        # W and P orthogonal to X and to each other, each B-orthonormal on its own
        blocks = [(X, BX)]
        for V in (W, P):
            if V is None:
                continue
            for U, BU in blocks:
                V = V - U @ (BU.T @ V)
            V, BV = _b_orthonormal(xp, V, b_apply(V), eps ** 0.5 * 10)
            if V.shape[1]:
                blocks.append((V, BV))
        S = xp.concatenate([b[0] for b in blocks], axis=1)
        BS = xp.concatenate([b[1] for b in blocks], axis=1)
        AS = sign * (A @ S)
        gram = S.T @ AS
        theta_all, C = xp.linalg.eigh((gram + gram.T) / 2)
        order = xp.argsort(-theta_all)[:n]
        theta, C = theta_all[order], C[:, order]
        X, BX, AX = S @ C, BS @ C, AS @ C
        # the new search direction: the Ritz vectors without their component in the old X
        P = S[:, n:] @ C[n:]
    return sign * theta[:k], X[:, :k]


class _GeneralizedNoGradient(Node):
    """The results of a generalized (``B`` given) LOBPCG: backward raises, as in PyTorch."""

    def forward(self, E, X, A):
        return E, X

    def backward(self, gE, gX):
        raise ValueError("lobpcg.backward does not support backward with B != I yet.")


def _lobpcg_gradient(A, E, X):
    """``(E, X)`` given their derivatives with respect to ``A`` (first-order perturbation
    theory for simple eigenvalues, written with differentiable ops): the values are unchanged
    and ``dE_i = x_i^T dA x_i``, ``dx_i = -(A - E_i)^+ (I - x_i x_i^T) dA x_i``."""
    ops, linalg = _ops(), _linalg()
    A0 = A.detach()
    # PyTorch differentiates along symmetric perturbations: the gradient is symmetric
    dA = A - A0
    dA = (dA + dA.mT) / 2
    change = ops.matmul(dA, X)
    E_out = E + (X * change).sum(-2)
    projected = change - X * (X * change).sum(-2, keepdim=True)
    m, k = X.shape[-2:]
    eye = ops.eye(m, dtype=A.dtype, device=A.device)
    cols = X.mT.unsqueeze(-1)
    shifted = (A0.unsqueeze(-3) - E.unsqueeze(-1).unsqueeze(-1) * eye
               + ops.matmul(cols, cols.mT))
    # (A - E_i + x_i x_i^T) is invertible and equals (A - E_i)^+ on the complement of x_i
    step = linalg.solve(shifted, projected.mT.unsqueeze(-1)).squeeze(-1).mT
    return E_out, X - step


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None,
           method=None, tracker=None, ortho_iparams=None, ortho_fparams=None,
           ortho_bparams=None):
    """The ``k`` largest (or smallest) eigenpairs of the symmetric positive definite pencil
    ``A x = λ B x`` by the locally optimal block preconditioned conjugate gradient method.

    Args:
        A (Tensor): ``(*, m, m)`` symmetric matrices.
        k (int, optional): the number of eigenpairs. Default: ``X``'s columns, else 1.
        B (Tensor, optional): ``(*, m, m)`` symmetric positive definite. Default: identity.
        X (Tensor, optional): ``(*, m, n)`` initial block (``n >= k``). Default: random
            (from the default generator), with ``n`` columns.
        n (int, optional): the block size when ``X`` is not given. Default: ``k``.
        iK (Tensor, optional): ``(*, m, m)`` preconditioner applied to the residuals.
        niter (int, optional): the maximum number of iterations (-1: until convergence).
            Default: 1000.
        tol (float, optional): the relative residual at which a pair has converged.
            Default: ``sqrt(eps)`` of the dtype.
        largest (bool, optional): the largest eigenvalues (else the smallest). Default: True.
        method (str, optional): ``"ortho"`` (default) or ``"basic"``; both run the same
            orthogonalized iteration here.
        tracker, ortho_iparams, ortho_fparams, ortho_bparams: accepted for compatibility
            (disttorch's iteration has no tracker and uses its own orthogonalization
            thresholds).

    Returns:
        ``(E, X)``: eigenvalues ``(*, k)`` in decreasing (``largest``) or increasing order,
        and B-orthonormal eigenvectors ``(*, m, k)``.

    Gradients flow to ``A`` (dense, ``B`` not given) for simple eigenvalues, as in PyTorch;
    backward with ``B`` raises.
    """
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and tuple(A.shape) != tuple(B.shape):
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    if method not in (None, "ortho", "basic"):
        raise ValueError(f"Unknown method '{method}'")
    A = _floating(A)
    dt = A._data.dtype
    if tol is None:
        tol = {np.dtype(np.float32): 1.2e-07, np.dtype(np.float64): 2.23e-16}.get(
            np.dtype(dt), 1.2e-07) ** 0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m})"
                         f" is smaller than 3 x the number of requested eigenpairs (={n})")
    if k > n:
        raise ValueError(f"lobpcg: k (={k}) must not exceed the block size n (={n})")
    niter = 1000 if niter is None else niter
    largest = True if largest is None else largest
    xp = get_array_module(A._data)
    batch = tuple(A.shape[:-2])
    count = int(np.prod(batch)) if batch else 1
    a_data = A._data.reshape((count, m, m))

    def rows(t):
        return None if t is None else t._data.reshape((count,) + tuple(t.shape[-2:])).astype(
            dt, copy=False)
    b_data, x_data, ik_data = rows(B), rows(X), rows(iK)
    E_out = xp.empty((count, k), dt)
    X_out = xp.empty((count, m, k), dt)
    for i in range(count):
        start = _ops().randn(m, n, dtype=A.dtype, device=A.device)._data if x_data is None \
            else x_data[i]
        E_out[i], X_out[i] = _lobpcg_one(
            xp, a_data[i], None if b_data is None else b_data[i], start,
            None if ik_data is None else ik_data[i], k, niter, tol, largest)
    E = _new(E_out.reshape(batch + (k,)))
    V = _new(X_out.reshape(batch + (m, k)))
    if grad_mode.is_grad_enabled() and A.requires_grad:
        if B is not None:
            return _GeneralizedNoGradient.apply(E, V, A)
        return _lobpcg_gradient(A, E, V)
    return E, V

