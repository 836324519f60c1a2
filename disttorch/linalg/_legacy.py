"""PyTorch's top-level linear algebra outside ``torch.linalg``: ``qr`` (deprecated),
``slogdet``, ``cholesky_solve``, ``cholesky_inverse``, ``geqrf`` and ``ormqr``, also as
Tensor methods. All but ``geqrf`` (forward only, as in PyTorch) are differentiable, being
built on differentiable ``linalg`` functions."""
import warnings

from .. import return_types
from .._backend import get_array_module
from ..autograd.function import Node
from ..ops import reduction as _red
from ..ops._util import sum_to
from ..tensor import Tensor
from ._ldl import check_rhs
from ._lu import _mH, _trsolve

__all__ = ["qr", "slogdet", "cholesky_solve", "cholesky_inverse", "geqrf", "ormqr"]

geqrf_result = return_types._structseq("geqrf", ["a", "tau"])

_warned = set()


def qr(input, some=True, *, out=None):
    """Deprecated: ``torch.linalg.qr(input, 'reduced' if some else 'complete')``."""
    if "qr" not in _warned:
        _warned.add("qr")
        warnings.warn("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in "
                      "a future PyTorch release.\nThe boolean parameter 'some' has been replaced "
                      "with a string parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be "
                      "replaced with\nQ, R = torch.linalg.qr(A, 'reduced' if some else "
                      "'complete')", UserWarning, stacklevel=2)
    from . import qr as linalg_qr
    return linalg_qr(input, "reduced" if some else "complete", out=out)


def slogdet(input, *, out=None):
    """Sign and log absolute value of the determinant (``torch.linalg.slogdet``)."""
    from . import slogdet as linalg_slogdet
    return linalg_slogdet(input, out=out)


def _not_implemented(kernel, t):
    return NotImplementedError(f"\"{kernel}\" not implemented for '{_red.scalar_type_name(t)}'")


def _float_kind(t):
    return t.dtype.is_floating_point and t._data.dtype.itemsize > 2 or t.is_complex()


def cholesky_solve(B, L, upper=False, *, out=None):
    """Solve ``A X = B`` given the Cholesky factor of ``A``: ``A = L L^H`` (``upper=False``)
    or ``A = U^H U``. Batch dimensions broadcast."""
    if B.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.dim()} dimensions "
                           f"instead")
    if L.dim() < 2:
        raise RuntimeError(f"u should have at least 2 dimensions, but has {L.dim()} dimensions "
                           f"instead")
    if L.shape[-1] != L.shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{L.shape[-2]} by {L.shape[-1]} matrices")
    check_rhs("cholesky_solve", B, L)
    if not _float_kind(B):
        raise _not_implemented("cholesky_solve_cpu", B)
    from ..ops.linalg import _broadcast_batch
    from . import _write
    _broadcast_batch(tuple(B.shape[:-2]), tuple(L.shape[:-2]))
    return _write(CholeskySolve.apply(B, L, upper), out)


def _adjoint(x):
    return x.mH if isinstance(x, Tensor) else _mH(x)


def _solve_with_factor(B, L, upper):
    """``A^-1 B`` for ``A = L L^H`` (``U^H U``): two triangular substitutions, as LAPACK's
    potrs (a zero on the diagonal gives inf/nan, not an error)."""
    if upper:
        return _trsolve(L, _trsolve(_mH(L), B, lower=True), lower=False)
    return _trsolve(_mH(L), _trsolve(L, B, lower=True), lower=False)


class CholeskySolve(Node):
    def forward(self, B, L, upper):
        self.upper, self.shapes = upper, (B.shape, L.shape)
        X = _solve_with_factor(B, L, upper)
        self.save_for_backward(L, X)
        return X

    def backward(self, g):
        # PyTorch's gradient, which treats L as a full matrix (A = L L^H over all entries)
        L, X = self.saved_tensors
        gB = cholesky_solve(g, L, self.upper) if isinstance(g, Tensor) else \
            _solve_with_factor(g, L, self.upper)
        common = gB @ _adjoint(X)
        common = common + _adjoint(common)
        gL = -(L @ common) if self.upper else -(common @ L)
        return sum_to(gB, self.shapes[0]), sum_to(gL, self.shapes[1]), None


def cholesky_inverse(L, upper=False, *, out=None):
    """The inverse of ``A`` from its Cholesky factor (``A = L L^H``, or ``U^H U``)."""
    if L.dim() < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 "
                           "dimensions.")
    if L.shape[-1] != L.shape[-2]:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they "
                           f"are {L.shape[-2]} by {L.shape[-1]} matrices")
    if not _float_kind(L):
        raise _not_implemented("cholesky_inverse_out_cpu", L)
    from ..ops.creation import eye
    from . import _write
    identity = eye(L.shape[-1], dtype=L.dtype, device=L.device)
    return _write(cholesky_solve(identity.expand(L.shape), L, upper), out)


class Geqrf(Node):
    def forward(self, A):
        xp = get_array_module(A)
        m, n = A.shape[-2:]
        if A.size == 0:
            return A.copy(), xp.zeros(A.shape[:-2] + (min(m, n),), A.dtype)
        # numpy and CuPy return LAPACK's column-major result transposed
        h, tau = xp.linalg.qr(A, mode="raw")
        a = xp.ascontiguousarray(xp.swapaxes(h, -1, -2)).astype(A.dtype, copy=False)
        return a, tau.astype(A.dtype, copy=False)

    def backward(self, ga, gtau):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


def geqrf(input, *, out=None):
    """LAPACK's ``geqrf``: ``(a, tau)``, with ``R`` on and above the diagonal of ``a`` and the
    Householder reflectors below it (see :func:`torch.linalg.householder_product`).

    Not differentiable (nor is PyTorch's): backward through it raises."""
    if input.dim() < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if not _float_kind(input):
        raise _not_implemented("geqrf_cpu", input)
    from . import _write
    return _write(geqrf_result(*Geqrf.apply(input)), out)


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """``Q @ other`` (``left``) or ``other @ Q``, with ``Q^H`` for ``transpose``, where ``Q``
    is the product of the Householder reflectors in ``(input, tau)`` (as :func:`geqrf`
    returns them), without forming the reflectors' product beyond ``Q``."""
    name = "torch.ormqr"
    if input.dim() < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if other.dim() < 2:
        raise RuntimeError(f"{name}: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if other.shape[side] != input.shape[-2]:
        raise RuntimeError(f"{name}: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.dim() != input.dim() - 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but "
                           f"got tau.ndim equal to {tau.dim()} and input.ndim is equal to "
                           f"{input.dim()}")
    if tau.shape[-1] != min(other.shape[side], input.shape[-1]):
        raise RuntimeError(f"{name}: tau.shape[-1] must be equal to min(other.shape[{side}], "
                           f"input.shape[-1])")
    if input.dim() != other.dim():
        raise RuntimeError(f"{name}: Expected other to have the same number of dimensions as "
                           f"input, but got other.ndim equal to {other.dim()} and input.ndim "
                           f"is equal to {input.dim()}")
    if input.dim() > 2:
        if tuple(tau.shape[:-1]) != tuple(input.shape[:-2]):
            raise RuntimeError(f"{name}: Expected batch dimensions of tau to be equal to "
                               f"input.shape[:-2], but got {list(tau.shape[:-1])}")
        if tuple(other.shape[:-2]) != tuple(input.shape[:-2]):
            raise RuntimeError(f"{name}: Expected batch dimensions of other to be equal to "
                               f"input.shape[:-2], but got {list(other.shape[:-2])}")
    for label, t in (("tau", tau), ("other", other)):
        if t.dtype != input.dtype:
            raise RuntimeError(f"{name}: Expected input and {label} to have the same dtype, but "
                               f"input has dtype{_red.scalar_type_name(input)} and {label} has "
                               f"dtype {_red.scalar_type_name(t)}")
    if not _float_kind(input):
        raise _not_implemented("ormqr_cpu", input)
    from ..ops.joining import cat
    from ..ops.creation import zeros
    from ._lstsq_eig import householder_product
    from . import _write
    # Q (mn x mn) is the product of the k reflectors: padded with zero reflectors (tau = 0,
    # the identity), householder_product's first mn columns are all of Q
    mn, k = input.shape[-2], tau.shape[-1]
    reflectors = input[..., :k]
    batch = tuple(input.shape[:-2])
    if k < mn:
        reflectors = cat([reflectors, zeros(batch + (mn, mn - k), dtype=input.dtype,
                                            device=input.device)], -1)
        tau = cat([tau, zeros(batch + (mn - k,), dtype=tau.dtype, device=tau.device)], -1)
    Q = householder_product(reflectors, tau)
    if transpose:
        Q = Q.mH
    return _write(Q @ other if left else other @ Q, out)
