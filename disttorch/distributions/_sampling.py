"""Samplers the distributions need beyond ``disttorch.random``, and the standard-gamma sample's
derivative in its concentration (implicit reparameterization).

CPU draws come from disttorch's default generator (``disttorch.manual_seed`` reproduces them);
CUDA ones from CuPy's generator of the device (``disttorch.cuda.manual_seed``), as PyTorch draws
CUDA samples from the CUDA generator, so no parameter is read back to the host. The gamma
gradient is a float64 kernel, on the host or on the GPU (``cuda/kernels/special.py``).
"""
import numpy as np

from .._backend import get_array_module, to_numpy
from .. import _vmap_state
from ..autograd.function import Node
from ..ops.random import _gen
from ..ops.special_ops import _digamma_np
from ..tensor import Tensor, _new

__all__ = ["standard_gamma", "standard_gamma_grad", "standard_gamma_grad_array", "poisson",
           "binomial"]

_EPS = 1e-16
_MAX_ITER = 20000
# above this concentration the Wilson-Hilferty quantile map is more accurate than float64
# summation of the series/continued fraction would be fast
_LARGE_ALPHA = 2.5e4


def _to_host64(array):
    return np.asarray(to_numpy(array), dtype=np.float64)


def _back(result, like):
    xp = get_array_module(like)
    result = np.asarray(result).astype(like.dtype, copy=False)
    return result if xp is np else xp.asarray(result)


def _lower_series(x, a):
    r"""``dx/da`` from the lower series ``P(a, x) = x^a e^{-x}/Gamma(a+1) \sum_n t_n`` with
    ``t_n = x^n / ((a+1)...(a+n))``: differentiating each term gives
    ``dP/da = prefactor [(log x - psi(a+1)) S - \sum_n t_n H_n]``, ``H_n = \sum_k 1/(a+k)``;
    divided by the density this is ``-(x/a)[...]`` (no exponentials: nothing overflows)."""
    t = np.ones_like(x)
    s = np.ones_like(x)
    th = np.zeros_like(x)
    h = np.zeros_like(x)
    active = np.arange(x.shape[0])
    xa, aa = x, a
    s_out, th_out = s.copy(), th.copy()
    for n in range(1, _MAX_ITER):
        h = h + 1.0 / (aa + n)
        t = t * xa / (aa + n)
        s = s + t
        th = th + t * h
        done = (t <= _EPS * s) & (t * h <= _EPS * th)
        if done.any():
            s_out[active[done]], th_out[active[done]] = s[done], th[done]
            keep = ~done
            active, t, s, th, h, xa, aa = (v[keep] for v in (active, t, s, th, h, xa, aa))
            if active.size == 0:
                break
    return -(x / a) * ((np.log(x) - _digamma_np(a + 1.0)) * s_out - th_out)


def _upper_fraction(x, a):
    r"""``dx/da`` from Legendre's continued fraction ``Q(a, x) = x^a e^{-x}/Gamma(a) h(a, x)``,
    evaluated by the modified Lentz method carrying each quantity's derivative in ``a``
    alongside (forward-mode): ``dx/da = x [(log x - psi(a)) h + dh/da]``."""
    tiny = 1e-300
    b = x + 1.0 - a
    d = 1.0 / b
    dd = 1.0 / (b * b)  # d(1/b)/da with db/da = -1
    c = np.full_like(x, 1.0 / tiny)
    dc = np.zeros_like(x)
    h, dh = d.copy(), dd.copy()
    active = np.arange(x.shape[0])
    h_out, dh_out = h.copy(), dh.copy()
    aa = a
    for i in range(1, _MAX_ITER):
        an, dan = -i * (i - aa), float(i)
        b = b + 2.0
        # d <- 1 / (an d + b),  c <- b + an / c  (db/da = -1 throughout)
        den = an * d + b
        dden = dan * d + an * dd - 1.0
        den = np.where(np.abs(den) < tiny, tiny, den)
        d, dd = 1.0 / den, -dden / (den * den)
        c_new = b + an / c
        dc = -1.0 + (dan * c - an * dc) / (c * c)
        c = np.where(np.abs(c_new) < tiny, tiny, c_new)
        delta, ddelta = d * c, dd * c + d * dc
        h, dh = h * delta, dh * delta + h * ddelta
        done = (np.abs(delta - 1.0) <= _EPS) & (np.abs(h * ddelta) <= _EPS * np.abs(dh))
        if done.any():
            h_out[active[done]], dh_out[active[done]] = h[done], dh[done]
            keep = ~done
            active, b, d, dd, c, dc, h, dh, aa = (
                v[keep] for v in (active, b, d, dd, c, dc, h, dh, aa))
            if active.size == 0:
                break
    return x * ((np.log(x) - _digamma_np(a)) * h_out + dh_out)


def _wilson_hilferty(x, a):
    """``dx/da`` at a fixed Wilson-Hilferty normal score ``z`` of ``x`` (large ``a``):
    ``x = a c^3`` with ``c = 1 - 1/(9a) + z/(3 sqrt(a))``."""
    c = np.cbrt(x / a)
    z = (c - 1.0 + 1.0 / (9.0 * a)) * 3.0 * np.sqrt(a)
    dc = 1.0 / (9.0 * a * a) - z / (6.0 * a * np.sqrt(a))
    return c ** 3 + 3.0 * a * c * c * dc


def standard_gamma_grad_array(x, alpha):
    """``dx/dalpha`` of a Gamma(alpha, 1) sample ``x`` held at its quantile, as numpy float64
    (``x`` and ``alpha`` numpy arrays of one shape)."""
    x = np.asarray(x, np.float64)
    a = np.asarray(alpha, np.float64)
    x, a = np.broadcast_arrays(x, a)
    shape = x.shape
    x, a = x.ravel(), a.ravel()
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        ok = (a > 0) & (x > 0) & np.isfinite(x) & np.isfinite(a)
        large = ok & (a >= _LARGE_ALPHA)
        lower = ok & ~large & (x < a + 1.0)
        upper = ok & ~large & ~lower
        if lower.any():
            out[lower] = _lower_series(x[lower], a[lower])
        if upper.any():
            out[upper] = _upper_fraction(x[upper], a[upper])
        if large.any():
            out[large] = _wilson_hilferty(x[large], a[large])
    return out.reshape(shape)


class _StandardGamma(Node):
    """A Gamma(alpha, 1) sample; its gradient in ``alpha`` is the implicit one."""

    def forward(self, alpha):
        xp = get_array_module(alpha)
        if xp is not np:
            # CuPy's generator, as PyTorch draws CUDA samples from the CUDA one: no host copy
            _vmap_state.random_op("cuda")
            draws = xp.random.standard_gamma(alpha.astype(np.float64)).astype(alpha.dtype)
            host = alpha
        else:
            host = _to_host64(alpha)
            draws = np.asarray(_gen(None).standard_gamma(host), np.float64).astype(alpha.dtype)
        # PyTorch clamps to the smallest normal number: a zero sample has no log
        draws = xp.maximum(draws, np.finfo(alpha.dtype).tiny)
        self.save_for_backward(draws, host)
        return draws if xp is not np else _back(draws, alpha)

    def backward(self, g):
        draws, alpha = self.saved_tensors
        if isinstance(draws, Tensor):
            draws, alpha = draws._data, alpha._data
        grad = _gamma_grad(draws, alpha)
        if isinstance(g, Tensor):
            return g * _new(grad)
        return g * grad


def _gamma_grad(x, alpha):
    """``dx/dalpha`` in ``x``'s dtype on ``x``'s device (a CUDA kernel there)."""
    if get_array_module(x) is not np:
        from ..cuda.kernels import special as kernels
        grad = kernels.gamma_grad(x, alpha)
        if grad is not None:
            return grad.astype(x.dtype)
    return _back(standard_gamma_grad_array(_to_host64(x), _to_host64(alpha)).astype(x.dtype), x)


def standard_gamma(alpha):
    """Gamma(``alpha``, 1) samples, differentiable in ``alpha`` (``torch._standard_gamma``)."""
    return _StandardGamma.apply(alpha)


def standard_gamma_grad(x, alpha):
    """``dx/dalpha`` for Gamma(alpha, 1) samples ``x`` (``torch._standard_gamma_grad``)."""
    return _new(_gamma_grad(x._data, alpha._data))


def poisson(rate):
    """Poisson(``rate``) samples, without gradient."""
    xp = get_array_module(rate._data)
    if xp is not np:
        _vmap_state.random_op("cuda")
        return _new(xp.random.poisson(rate._data).astype(rate._data.dtype))
    host = _to_host64(rate._data)
    draws = np.asarray(_gen(None).poisson(host), np.float64)
    return _new(_back(draws, rate._data))


def binomial(total_count, probs):
    """Binomial(``total_count``, ``probs``) samples (tensors of one shape), without gradient."""
    xp = get_array_module(probs._data)
    if xp is not np:
        _vmap_state.random_op("cuda")
        p = xp.clip(probs._data, 0.0, 1.0)
        draws = xp.random.binomial(total_count._data.astype(np.int64), p)
        return _new(draws.astype(probs._data.dtype))
    n = _to_host64(total_count._data)
    p = np.clip(_to_host64(probs._data), 0.0, 1.0)
    draws = np.asarray(_gen(None).binomial(n.astype(np.int64), p), np.float64)
    return _new(_back(draws, probs._data))

