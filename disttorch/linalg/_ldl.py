"""``linalg.ldl_factor``, ``ldl_factor_ex`` and ``ldl_solve``: the Bunch-Kaufman factorisation
``A = L D L^T`` (``L D L^H`` with ``hermitian=True``) of LAPACK's ``sytrf``/``hetrf`` with
``uplo='L'``, in its packed format and pivot encoding.

``_sytrf`` is the unblocked algorithm (LAPACK's ``sytf2``, which ``sytrf`` runs for matrices up to
its block size), vectorised over the batch: Python step ``k`` treats column ``k`` of every matrix,
and a matrix whose previous step took a 2 x 2 pivot sits that step out. ``pivots`` (``int32``,
1-based): ``p > 0`` at ``k`` is a 1 x 1 block with rows/columns ``k`` and ``p`` interchanged;
``-p`` at ``k`` and ``k + 1`` is a 2 x 2 block with ``k + 1`` and ``p`` interchanged.
"""
import math

import numpy as np

from .._backend import get_array_module
from ..autograd.function import Node
from ..ops import reduction as _red
from ..return_types import _structseq
from ._lu import _magnitude
from ..ops._util import with_out

__all__ = ["ldl_factor", "ldl_factor_ex", "ldl_solve"]

ldl_factor_result = _structseq("linalg_ldl_factor", ["LD", "pivots"])
ldl_factor_ex_result = _structseq("linalg_ldl_factor_ex", ["LD", "pivots", "info"])

_ALPHA = (1 + math.sqrt(17)) / 8  # Bunch and Kaufman's growth bound


def _adjoint(x, hermitian):
    x = get_array_module(x).swapaxes(x, -1, -2)
    return x.conj() if hermitian and x.dtype.kind == "c" else x


def _swap_indices(n, a, b):
    """Per-matrix index order ``0..n-1`` with ``a`` and ``b`` exchanged (arrays of indices)."""
    xp = get_array_module(a)
    idx = xp.arange(n)
    a, b = a[..., None], b[..., None]
    return xp.where(idx == a, b, xp.where(idx == b, a, idx))


def _diag_size(x, hermitian):
    return get_array_module(x).abs(x.real) if hermitian else _magnitude(x)


def _sytrf(a, hermitian):
    """``(LD, pivots, info)`` of each symmetric (Hermitian) matrix in ``a``, from its lower
    triangle. ``info = k > 0``: ``D[k-1, k-1]`` is exactly zero (the factorisation is complete
    but ``D`` is singular)."""
    xp = get_array_module(a)
    n = a.shape[-1]
    batch = a.shape[:-2]
    lower = xp.tril(a, -1)
    diagonal = xp.diagonal(a, 0, -2, -1)
    if hermitian and a.dtype.kind == "c":
        diagonal = diagonal.real.astype(a.dtype)
    S = lower + _adjoint(lower, hermitian) + xp.eye(n, dtype=a.dtype) * diagonal[..., None, :]
    LD = xp.zeros_like(S)
    pivots = xp.zeros(batch + (n,), np.int32)
    info = xp.zeros(batch, np.int32)
    skip = xp.zeros(batch, bool)
    rows = xp.arange(n)
    herm_complex = hermitian and a.dtype.kind == "c"
    for k in range(n):
        act = ~skip
        col = S[..., :, k]
        absakk = _diag_size(col[..., k], hermitian)
        if k + 1 < n:
            below = _magnitude(col[..., k + 1:])
            imax = k + 1 + xp.argmax(below, axis=-1)
            colmax = below.max(axis=-1)
        else:
            imax = xp.full(batch, k)
            colmax = xp.zeros(batch, absakk.dtype)
        zero = (xp.maximum(absakk, colmax) == 0) | xp.isnan(absakk)
        # the largest off-diagonal entry of row imax in the trailing matrix
        at_imax = xp.broadcast_to(imax[..., None, None], batch + (1, n - k))
        row = xp.take_along_axis(S[..., k:], at_imax, axis=-2)[..., 0, :]
        rowmax = xp.where(rows[k:] == imax[..., None], 0, _magnitude(row)).max(axis=-1)
        absimax = _diag_size(xp.take_along_axis(row, (imax - k)[..., None], axis=-1)[..., 0],
                             hermitian)
        no_swap = absakk >= _ALPHA * colmax
        safe_rowmax = xp.where(rowmax == 0, 1, rowmax)
        no_swap |= absakk >= _ALPHA * colmax * (colmax / safe_rowmax)
        one_by_one = no_swap | (absimax >= _ALPHA * rowmax)
        two = act & ~zero & ~one_by_one
        kp = xp.where(zero | no_swap, k, imax)
        kk = k + two.astype(kp.dtype)
        kp = xp.where(act, kp, kk)
        perm = _swap_indices(n, kk, kp)
        S = xp.take_along_axis(S, perm[..., :, None], axis=-2)
        S = xp.take_along_axis(S, xp.broadcast_to(perm[..., None, :], S.shape), axis=-1)

        # the pivot block D (2 x 2; a 1 x 1 block is diag(d, 1) with a zero second column)
        c0 = S[..., :, k]
        c1 = S[..., :, k + 1] if k + 1 < n else xp.zeros_like(c0)
        d00 = c0[..., k]
        d10 = xp.where(two, c0[..., k + 1] if k + 1 < n else 0, 0)
        d11 = xp.where(two, c1[..., k + 1] if k + 1 < n else 1, 1)
        if hermitian and a.dtype.kind == "c":
            d00, d11 = d00.real.astype(a.dtype), d11.real.astype(a.dtype)
        update = act & ~zero
        first = k + 1 + two.astype(kp.dtype)  # the first row below the block
        in_c = (rows >= first[..., None]) & update[..., None]
        c0 = xp.where(in_c, c0, 0)
        c1 = xp.where(in_c & two[..., None], c1, 0)
        # W = C D^-1, the block's columns of L, in LAPACK's operation order (sytf2/hetf2) so
        # that rounding, and with it the pivot choices, follow LAPACK's
        b = xp.where(two, d10, 1)
        # hetf2 divides by |b| and keeps D's diagonal real; sytf2 divides by b itself
        scale = xp.abs(b) if herm_complex else b
        b_unit = b / scale if herm_complex else xp.ones_like(b)
        e11, e22 = d11 / scale, d00 / scale
        t = 1 / xp.where(two, e11 * e22 - 1, 1) / scale
        w0 = t[..., None] * (e11[..., None] * c0 - b_unit[..., None] * c1)
        w1 = t.conj()[..., None] * (e22[..., None] * c1 - b_unit.conj()[..., None] * c0) \
            if herm_complex else t[..., None] * (e22[..., None] * c1 - b_unit[..., None] * c0)
        one = ~two
        w0 = xp.where(one[..., None], (1 / xp.where(update, d00, 1))[..., None] * c0, w0)
        w1 = xp.where(one[..., None], 0, w1)
        adj = (lambda v: v.conj()) if herm_complex else (lambda v: v)
        S = S - c0[..., :, None] * adj(w0)[..., None, :] - c1[..., :, None] * adj(w1)[..., None, :]
        # LAPACK updates the lower triangle only: mirror it so the rows read later agree
        S = xp.tril(S) + _adjoint(xp.tril(S, -1), hermitian)

        at_k = rows == k
        at_k1 = (rows == k + 1) & two[..., None]
        # column k: D's first column then W's; a zero column is kept as it is, as LAPACK does
        new_k = xp.where(at_k, d00[..., None], 0) + xp.where(at_k1, d10[..., None], 0) + w0
        new_k = xp.where(zero[..., None], xp.where(rows >= k, col, 0), new_k)
        new_k1 = xp.where(at_k1, d11[..., None], 0) + w1
        LD[..., :, k] = xp.where(act[..., None], new_k, LD[..., :, k])
        if k + 1 < n:
            LD[..., :, k + 1] = xp.where(two[..., None], new_k1, LD[..., :, k + 1])
        one_based = (kp + 1).astype(np.int32)
        pivots[..., k] = xp.where(act, xp.where(two, -one_based, one_based), pivots[..., k])
        if k + 1 < n:
            pivots[..., k + 1] = xp.where(two, -one_based, pivots[..., k + 1])
        info = xp.where(act & zero & (info == 0), np.int32(k + 1), info)
        skip = two
    return LD, pivots, info


def _sytrs(LD, pivots, B, hermitian):
    """``A^-1 B`` for ``A`` given by :func:`_sytrf`'s ``(LD, pivots)``, as LAPACK's sytrs."""
    xp = get_array_module(LD)
    n = LD.shape[-1]
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    X = xp.broadcast_to(B, batch + B.shape[-2:]).astype(np.result_type(LD.dtype, B.dtype))
    LD = xp.broadcast_to(LD, batch + LD.shape[-2:])
    pivots = xp.broadcast_to(pivots, batch + pivots.shape[-1:])
    conj = (lambda v: v.conj()) if hermitian and LD.dtype.kind == "c" else (lambda v: v)
    # block kinds: a 2 x 2 block starts at k unless k is the second column of one
    starts_two = xp.zeros(batch + (n,), bool)
    second = xp.zeros(batch + (n,), bool)
    for k in range(n):
        if k:
            second[..., k] = starts_two[..., k - 1]
        starts_two[..., k] = (pivots[..., k] < 0) & ~second[..., k]
    target = xp.abs(pivots).astype(np.int64) - 1
    rows = xp.arange(n)

    def swap(X, a, b):
        perm = _swap_indices(n, a, b)
        return xp.take_along_axis(X, xp.broadcast_to(perm[..., :, None], X.shape), axis=-2)

    # forward: D^-1 L^-1 P^T
    for k in range(n):
        two, skip = starts_two[..., k], second[..., k]
        a = xp.where(two, k + 1, k)
        X = swap(X, xp.where(skip, k, a), xp.where(skip, k, target[..., k]))
        c0 = xp.where((rows > k + two.astype(np.int64)[..., None]) & ~skip[..., None],
                      LD[..., :, k], 0)
        c1 = xp.where((rows > k + 1) & two[..., None], LD[..., :, k + 1], 0) if k + 1 < n \
            else xp.zeros_like(c0)
        x0 = X[..., k, :]
        x1 = X[..., k + 1, :] if k + 1 < n else xp.zeros_like(x0)
        X = X - c0[..., :, None] * x0[..., None, :] - c1[..., :, None] * x1[..., None, :]
        d00 = LD[..., k, k]
        if hermitian and LD.dtype.kind == "c":
            d00 = d00.real.astype(LD.dtype)
        if k + 1 < n:
            d10 = LD[..., k + 1, k]
            d11 = LD[..., k + 1, k + 1]
            if hermitian and LD.dtype.kind == "c":
                d11 = d11.real.astype(LD.dtype)
            d01 = conj(d10)
            det = xp.where(two, d00 * d11 - d01 * d10, 1)
            y0 = (d11[..., None] * x0 - d01[..., None] * x1) / det[..., None]
            y1 = (d00[..., None] * x1 - d10[..., None] * x0) / det[..., None]
            X[..., k + 1, :] = xp.where(two[..., None], y1, X[..., k + 1, :])
        else:
            y0 = x0
        new0 = xp.where(two[..., None], y0, x0 / d00[..., None])
        X[..., k, :] = xp.where(skip[..., None], x0, new0)
    # backward: P L^-T
    for k in range(n - 1, -1, -1):
        two_second, one = second[..., k], ~second[..., k] & ~starts_two[..., k]
        tail = xp.where(rows > k, 1, 0).astype(LD.dtype)
        tail_X = X * tail[:, None]
        dot_k = (conj(LD[..., :, k])[..., :, None] * tail_X).sum(axis=-2)
        X[..., k, :] = xp.where((one | two_second)[..., None], X[..., k, :] - dot_k, X[..., k, :])
        if k:
            dot_prev = (conj(LD[..., :, k - 1])[..., :, None] * tail_X).sum(axis=-2)
            X[..., k - 1, :] = xp.where(two_second[..., None], X[..., k - 1, :] - dot_prev,
                                        X[..., k - 1, :])
        active = one | two_second
        X = swap(X, xp.full(batch, k), xp.where(active, target[..., k], k))
    return X


class LdlFactor(Node):
    def forward(self, A, hermitian):
        return _sytrf(A, hermitian)

    def backward(self, g, g_pivots, g_info):
        raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


class LdlSolve(Node):
    def forward(self, LD, pivots, B, hermitian):
        return _sytrs(LD, pivots, B, hermitian)

    def backward(self, g):
        raise RuntimeError("derivative for aten::linalg_ldl_solve is not implemented")


def _check_factor_input(A, name):
    a = A._data
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if a.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_red.scalar_type_name(A)}")
    if a.dtype.itemsize == 2:
        raise NotImplementedError(f"\"ldl_factor_kernel_cpu\" not implemented for "
                                  f"'{_red.scalar_type_name(A)}'")


def _zero_pivot_error(name, info):
    from . import LinAlgError
    host = info if isinstance(info, np.ndarray) else get_array_module(info).asnumpy(info)
    flat = host.reshape(-1)
    b = int(np.flatnonzero(flat)[0])
    where = f"(Batch element {b}): " if host.ndim else ""
    return LinAlgError(f"{name}: {where}The factorization could not be completed because the "
                       f"block diagonal matrix D is singular (D[{int(flat[b])},{int(flat[b])}] is "
                       f"zero).")


@with_out
def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """The Bunch-Kaufman ``L D L^T`` factorisation (``L D L^H`` with ``hermitian=True``) of
    symmetric matrices, read from their lower triangle, as a named tuple
    ``(LD, pivots, info)`` in LAPACK's ``sytrf`` format: ``LD`` holds ``L`` below the diagonal
    (unit diagonal not stored) and the 1 x 1 and 2 x 2 blocks of ``D``; ``pivots`` (``int32``)
    encode the interchanges and block sizes; ``info`` is 0, or ``k > 0`` when ``D[k-1, k-1]``
    is exactly zero (raised with ``check_errors=True``). Not differentiable (as in PyTorch)."""
    _check_factor_input(A, "torch.linalg.ldl_factor_ex")
    LD, pivots, info = LdlFactor.apply(A, hermitian)
    if check_errors and info._data.size and bool((info._data != 0).any()):
        raise _zero_pivot_error("torch.linalg.ldl_factor_ex", info._data)
    return ldl_factor_ex_result(LD, pivots, info)


@with_out
def ldl_factor(A, *, hermitian=False, out=None):
    """``(LD, pivots)`` of :func:`ldl_factor_ex`; raises when some ``D`` is singular (PyTorch
    fails there with an internal assertion)."""
    _check_factor_input(A, "torch.linalg.ldl_factor_ex")
    LD, pivots, info = LdlFactor.apply(A, hermitian)
    if info._data.size and bool((info._data != 0).any()):
        raise _zero_pivot_error("torch.linalg.ldl_factor", info._data)
    return ldl_factor_result(LD, pivots)


def check_rhs(name, B, A):
    """PyTorch's checks of a solver's right-hand side ``B`` against its square ``A`` (or
    factor): matching sizes, then one dtype."""
    n = A.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {name}: each A matrix is {n} by {n} "
                           f"but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    if B.dtype != A.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{_red.scalar_type_name(B)} and A of type "
                           f"{_red.scalar_type_name(A)} instead.")


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """The solution ``X`` of ``A X = B`` from ``(LD, pivots)`` of :func:`ldl_factor`; batch dims
    of ``LD`` and ``B`` broadcast. Not differentiable (as in PyTorch)."""
    ld, piv, b = LD._data, pivots._data, B._data
    name = "torch.linalg.ldl_solve"
    if ld.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor LD must have at least 2 dimensions.")
    if ld.shape[-1] != ld.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{ld.shape[-2]} by {ld.shape[-1]} matrices")
    if b.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(b.ndim, 1)}, "
                         f"{max(b.ndim, 1) - 1}], but got -2)")
    if piv.shape != ld.shape[:-1]:
        raise RuntimeError(f"{name}: Expected LD.shape[:-1] and pivots.shape to be the same, but "
                           f"got pivots with shape {list(piv.shape)} instead")
    if piv.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: Expected pivots to be integers. Got "
                           f"{_red.scalar_type_name(pivots)}")
    check_rhs(name, B, LD)
    # a host check on the CPU only, as PyTorch's (on CUDA it would synchronise)
    if isinstance(piv, np.ndarray) and piv.size and (np.abs(piv) > ld.shape[-1]).any() | \
            (piv == 0).any():
        raise RuntimeError("Pivots given to ldl_solve must all satisfy |pivot| <= LD.size(-2). "
                           "Did you properly pass the result of ldl_factor?")
    from . import _write
    return _write(LdlSolve.apply(LD, pivots, B, hermitian), out)
