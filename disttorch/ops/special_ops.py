"""Special functions: gamma family, error-function inverses, Bessel I0/I1, sinc, log-add-exp.

The kernels are our own series, recurrences and Newton/Halley refinements, evaluated in float64
(accurate to a few ulps of float64) and cast back to the input's dtype: with numpy on the CPU,
and on CUDA by ``cuda/kernels/special.py``, the same algorithms one thread per element, so the
two devices agree to rounding and a GPU tensor never travels through the host.
"""
import math

import numpy as np

from .._dtype import NP_BFLOAT16

from .pointwise import _inplace_unary as _inplace
from .._backend import get_array_module, to_numpy
from ..autograd.function import Node
from ..tensor import Tensor
from ..amp.autocast_mode import autocast_args
from ._util import register_methods, sum_to, default_float, cast, broadcast_error
from .arithmetic import _out, _prep
from .indexing import scalar_type_name
from .pointwise import Unary, _erf_vec, _erfc_vec

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "i0", "sinc", "logaddexp",
           "logaddexp2", "igamma", "igammac"]

_PI = math.pi
_SQRT2 = math.sqrt(2.0)
_SQRT_PI = math.sqrt(math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

# Lanczos approximation, g = 7, n = 9 (relative error ~1e-15 on the positive axis).
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)

# B_2k / (2k)! for the Euler-Maclaurin tail of the Hurwitz zeta function.
_BERNOULLI_2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
                 43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730)
_EM_COEFFS = tuple(b / math.factorial(2 * k) for k, b in enumerate(_BERNOULLI_2K, start=1))

# math.erf/erfc per element (float64 exact), shared with pointwise's erf and erfc
_erfc_scalar, _erf_scalar = _erfc_vec, _erf_vec


def _host(kernel, fused=None):
    """Run a float64 numpy kernel on any backend's array; the result keeps the input's dtype.

    ``fused(x, *args)``, where given, computes the same on CuPy arrays with the GPU kernel of
    ``cuda/kernels/special.py`` (float64, or None where that does not apply); numpy arrays and
    the plain simulated device take ``kernel`` on the host."""
    def run(x, *args):
        xp = get_array_module(x)
        if fused is not None and xp is not np:
            y = fused(x, *args)
            if y is not None:
                return y.astype(x.dtype, copy=False)
        args = [to_numpy(a).astype(np.float64) if hasattr(a, "shape") else a for a in args]
        y = kernel(to_numpy(x).astype(np.float64), *args)
        y = np.asarray(y, np.float64).astype(x.dtype, copy=False)
        return y if xp is np else xp.asarray(y)
    return run


def _is_nonpositive_int(x):
    return (x <= 0) & (x == np.floor(x))


def _lgamma_np(x):
    with np.errstate(all="ignore"):
        # reflection: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x) for x < 0.5
        z = np.where(x < 0.5, 1.0 - x, x) - 1.0
        series = np.full(x.shape, _LANCZOS[0])
        for k in range(1, 9):
            series = series + _LANCZOS[k] / (z + k)
        t = z + _LANCZOS_G + 0.5
        positive = _LOG_SQRT_2PI + (z + 0.5) * np.log(t) - t + np.log(series)
        # sin(pi x) from x's distance to the nearest integer: pi * x itself loses that for
        # large |x| (-1e10 + 0.5 would be a long way off a half-integer)
        reflected = np.log(_PI / np.abs(np.sin(_PI * (x - np.round(x))))) - positive
        y = np.where(x < 0.5, reflected, positive)
        # exact zeros at 1 and 2 (the approximation leaves ~1e-16 there)
        y = np.where((x == 1) | (x == 2), 0.0, y)
        y = np.where(_is_nonpositive_int(x) | np.isinf(x), np.inf, y)
    return y


def _digamma_np(x):
    with np.errstate(all="ignore"):
        reflect = x < 0.5
        # reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
        z = np.where(reflect, 1.0 - x, x)
        acc = np.zeros(x.shape)
        for _ in range(10):  # recurrence psi(z) = psi(z + 1) - 1/z up to z >= 10
            small = z < 10
            acc = acc - np.where(small, 1.0 / z, 0.0)
            z = np.where(small, z + 1.0, z)
        inv2 = 1.0 / (z * z)
        tail = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (
            1 / 240 - inv2 * (1 / 132 - inv2 * (691 / 32760 - inv2 / 12))))))
        psi = np.log(z) - 0.5 / z - tail + acc
        psi = np.where(reflect, psi - _PI / np.tan(_PI * (x - np.round(x))), psi)
        # PyTorch: -inf at +0 and +inf at -0, nan at the negative integers
        psi = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), psi)
        psi = np.where(_is_nonpositive_int(x) & (x != 0), np.nan, psi)
        psi = np.where(x == np.inf, np.inf, psi)
    return psi


def _zeta_positive(s, q):
    """Hurwitz zeta for q > 0 (or NaN) by Euler-Maclaurin summation (Cephes' scheme): at most 18
    terms before the tail."""
    total = np.zeros(s.shape)
    a = q.copy()
    steps = 0
    while steps < 9 or np.any(a <= 9):
        total = total + np.where(steps < 9, 1.0, a <= 9) * a ** -s
        a = np.where((steps < 9) | (a <= 9), a + 1.0, a)
        steps += 1
    total = total + a ** (1.0 - s) / (s - 1.0) + 0.5 * a ** -s
    rising = s.copy()
    power = a ** (-s - 1.0)
    for k, coeff in enumerate(_EM_COEFFS):
        total = total + coeff * rising * power
        rising = rising * (s + 2 * k + 1) * (s + 2 * k + 2)
        power = power / (a * a)
    return np.where(q == np.inf, np.nan, total)


def _zeta_np(s, q):
    """Hurwitz zeta sum_k (q + k) ** -s. A negative non-integer q (integer s) is shifted into
    (0, 1) instead of summing its |q| leading terms one by one: with m = ceil(-q), c = q + m,
    zeta(s, q) = zeta(s, c) + (-1)^s (zeta(s, 1 - c) - zeta(s, 1 - q))."""
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    with np.errstate(all="ignore"):
        pole = (q <= 0) & (q == np.floor(q))          # includes -inf
        undefined = (q < 0) & (s != np.floor(s))      # (q + k) ** -s is not real
        negative = (q < 0) & ~pole & ~undefined
        m = np.where(negative, np.ceil(-q), 0.0)
        c = np.where(pole | undefined, 1.0, np.where(negative, q + m, q))
        total = _zeta_positive(s, c)
        if np.any(negative):
            sign = np.where(np.fmod(s, 2.0) == 0, 1.0, -1.0)
            # 1 - c as (1 - m) - q, exact, not from the rounded c (q = -1e-10: 1 - c would
            # keep 6 digits of 1e-10)
            shifted = _zeta_positive(s, np.where(negative, (1.0 - m) - q, 1.0)) - \
                _zeta_positive(s, np.where(negative, 1.0 - q, 1.0))
            total = np.where(negative, total + sign * shifted, total)
        # s = inf, as PyTorch (Cephes) has it: inf for q < 1 (those terms blow up), 1 at q = 1,
        # and NaN above, where the limit would be 0
        total = np.where(s == np.inf, np.where(q < 1, np.inf, np.where(q == 1, 1.0, np.nan)),
                         total)
        total = np.where(np.isnan(q), np.nan, total)
        # Cephes' (and PyTorch's) precedence: s == 1, s < 1, then the poles, then the rest
        total = np.where(undefined, np.nan, total)
        total = np.where(pole, np.inf, total)
        total = np.where(s < 1, np.nan, total)
        total = np.where(s == 1, np.inf, total)
    return total


def _polygamma_np(x, n):
    if n == 0:
        return _digamma_np(x)
    sign = 1.0 if n % 2 else -1.0
    factorial = float(math.factorial(n)) if n <= 170 else math.inf  # overflows as PyTorch's
    result = sign * factorial * _zeta_np(float(n + 1), x)
    if n == 1:   # PyTorch's trigamma is its own series: 0 at inf, NaN at -inf
        x = np.asarray(x)
        result = np.where(x == np.inf, 0.0, np.where(x == -np.inf, np.nan, result))
    return result


def _normal_cdf_np(x):
    return 0.5 * _erfc_scalar(-x / _SQRT2)


def _giles_erfinv(y, w):
    """Giles' single-precision erfinv, in ``w = -log(1 - y^2)``: a start good to ~1e-7."""
    ws = w - 2.5
    central = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        central = c + central * ws
    wt = np.sqrt(w) - 3.0
    tail = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        tail = c + tail * wt
    return y * np.where(w < 5.0, central, tail)


def _erfinv_central(y):
    """erfinv for |y| <= 1/2 by Halley steps on erf (accurate relative to y near 0)."""
    with np.errstate(all="ignore"):
        x = _giles_erfinv(y, -np.log1p(-y * y))
        for _ in range(2):
            u = (_erf_scalar(x) - y) / (2.0 / _SQRT_PI * np.exp(-x * x))
            x = x - u / (1.0 + x * u)
    return x


def _ndtri_lower(p):
    """The standard normal quantile for p <= 1/2: Abramowitz-Stegun 26.2.23 (error < 4.5e-4)
    refined by Halley steps on the normal CDF, which erfc gives to full relative precision in
    the tail."""
    with np.errstate(all="ignore"):
        t = np.sqrt(-2.0 * np.log(p))
        x = -(t - (2.515517 + t * (0.802853 + t * 0.010328))
              / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))))
        for _ in range(4):
            density = np.exp(-0.5 * x * x) / math.sqrt(2 * _PI)
            u = (_normal_cdf_np(x) - p) / density
            step = u / (1.0 + 0.5 * x * u)
            x = np.where(np.isfinite(step), x - step, x)
        x = np.where(p == 0, -np.inf, x)
    return x


def _two_tails(p, q):
    """ndtri from p and q = 1 - p (both exact): the smaller one's tail, mirrored."""
    lower = p <= q
    tail = _ndtri_lower(np.where(lower, p, q))
    return np.where(lower, tail, -tail)


def _ndtri_np(p):
    with np.errstate(all="ignore"):
        # 2p - 1 is exact on [1/4, 3/4]: use erfinv's accurate centre there
        centre = (p >= 0.25) & (p <= 0.75)
        x = np.where(centre, _SQRT2 * _erfinv_central(np.where(centre, 2.0 * p - 1.0, 0.0)),
                     _two_tails(p, 1.0 - p))
        return np.where((p < 0) | (p > 1) | np.isnan(p), np.nan, x)


def _erfinv_np(y):
    with np.errstate(all="ignore"):
        centre = np.abs(y) <= 0.5
        # (1 + y) / 2 and (1 - y) / 2 are exact for |y| >= 1/2: the tails keep full precision
        tails = _two_tails((1.0 + y) / 2.0, (1.0 - y) / 2.0) / _SQRT2
        x = np.where(centre, _erfinv_central(np.where(centre, y, 0.0)), tails)
        return np.where((np.abs(y) > 1) | np.isnan(y), np.nan, x)


def _bessel_i_np(x, order, scaled):
    """I0 or I1 (times exp(-|x|) when ``scaled``): power series up to |x| = 20, asymptotic above."""
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        small = np.minimum(ax, 20.0)
        quarter = small * small / 4.0
        term = np.ones(x.shape) if order == 0 else small / 2.0
        series = term
        for k in range(1, 60):
            term = term * quarter / (k * (k + order))
            series = series + term
        if scaled:
            series = series * np.exp(-small)
        big = np.maximum(ax, 20.0)
        mu = 4.0 * order * order
        term = np.ones(x.shape)
        asym = term
        for k in range(1, 40):
            term = -term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * big)
            asym = asym + term
        asym = asym / np.sqrt(2 * _PI * big)
        if not scaled:
            asym = asym * np.exp(big)
        y = np.where(ax <= 20.0, series, asym)
        if order == 1:
            y = np.where(x < 0, -y, y)
    return y


def _log_gamma_prefactor(a, x):
    """``log(x^a e^-x / Gamma(a))``. Above a = 20 it is ``a (log1p(t) - t) + log(a / 2 pi) / 2 -
    stirling(a)`` with ``t = (x - a) / a``: ``a log x`` and ``lgamma(a)`` would cancel there
    (each ~2e11 at a = 1e10) and take the result's precision with them."""
    direct = a * np.log(x) - x - _lgamma_np(a)
    big = a > 20
    ab = np.where(big, a, 30.0)
    t = (x - ab) / ab
    inv = 1.0 / ab
    inv2 = inv * inv
    # lgamma(a) - ((a - 1/2) log a - a + log(2 pi) / 2): Stirling's series
    stirling = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))))
    stable = ab * (np.log1p(t) - t) + 0.5 * np.log(ab / (2 * _PI)) - stirling
    return np.where(big, stable, direct)


def _upper_gamma_fraction(a, x):
    """Q(a, x) by Lentz's continued fraction, iterated (over the elements still moving) until
    it stops changing; used where x >= a + 1 and x - a > 3 sqrt(a), where it converges."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full(a.shape, 1.0 / tiny)
    d = 1.0 / np.where(b == 0, tiny, b)
    h = d.copy()
    live = np.flatnonzero(np.isfinite(h))
    for i in range(1, _MAX_TERMS):
        if not live.size:
            break
        al = a.flat[live]
        an = -i * (i - al)
        bl = b.flat[live] + 2.0
        dl = an * d.flat[live] + bl
        dl = 1.0 / np.where(np.abs(dl) < tiny, tiny, dl)
        cl = bl + an / c.flat[live]
        cl = np.where(np.abs(cl) < tiny, tiny, cl)
        step = dl * cl
        h.flat[live] *= step
        b.flat[live], c.flat[live], d.flat[live] = bl, cl, dl
        live = live[(np.abs(step - 1.0) > 1e-16) & np.isfinite(step)]
    return np.exp(_log_gamma_prefactor(a, x)) * h


def _lower_gamma_series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_k x^k / ((a + 1) ... (a + k)). The terms are
    running products of the ratios x / (a + k), taken in blocks (doubling up to 4096) per
    element until the next one no longer changes the sum: about 12 sqrt(a) terms where
    x ~ a, a few dozen for small a."""
    total = np.ones(a.shape)
    last = np.ones(a.shape)
    live = np.flatnonzero(np.isfinite(a) & np.isfinite(x) & (a > 0))
    first, block = 1, 32
    while live.size and first < _MAX_TERMS:
        ks = first + np.arange(block)
        terms = last.flat[live][:, None] * np.cumprod(
            x.flat[live][:, None] / (a.flat[live][:, None] + ks), axis=1)
        total.flat[live] += terms.sum(axis=1)
        last.flat[live] = terms[:, -1]
        first += block
        block = min(2 * block, 4096)
        live = live[(terms[:, -1] > 1e-17 * total.flat[live]) & np.isfinite(total.flat[live])]
    return np.exp(_log_gamma_prefactor(a, x)) / a * total


# where the series and the fraction stop even without converging (a = 1e12 near x = a)
_MAX_TERMS = 10_000_000


def _igamma_np(a, x, upper):
    """Regularized incomplete gamma P(a, x), or Q(a, x) = 1 - P with ``upper``. The series
    gives P where x < a + 1 (as Cephes) or, for large a, x - a <= 3 sqrt(a) (Q >= 1e-3 there,
    so 1 - P keeps its precision); beyond, the continued fraction gives Q, and P = 1 - Q."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    with np.errstate(all="ignore"):
        # the loops see only valid arguments (the others are set below): for a < 0 the
        # fraction need never settle
        valid = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
        use_series = ~valid | (x < a + 1.0) | (x - a <= 3.0 * np.sqrt(np.maximum(a, 0.0)))
        series = _lower_gamma_series(np.where(valid, a, 1.0), np.where(valid, x, 0.5))
        fraction = _upper_gamma_fraction(np.where(use_series, 1.0, a),
                                         np.where(use_series, 3.0, x))
        p = np.where(use_series, series, 1.0 - fraction)
        q = np.where(use_series, 1.0 - series, fraction)
        y = q if upper else p
        # a = 0: all the mass at 0 (PyTorch: P = 1, Q = 0 for x > 0)
        y = np.where((a == 0) & (x > 0), float(not upper), y)
        y = np.where(x == 0, float(upper), y)
        y = np.where(np.isinf(x) & (x > 0), float(not upper), y)
        # a = inf: all the mass at infinity (P = 0); with x = inf too, undefined (PyTorch: NaN)
        y = np.where(np.isinf(a) & (a > 0), float(upper), y)
        y = np.where((a < 0) | (x < 0) | np.isnan(a) | np.isnan(x) | ((a == 0) & (x == 0)) |
                     (np.isinf(a) & np.isinf(x)), np.nan, y)
    return y


def _on_device(name):
    """The GPU kernel ``name`` of ``cuda/kernels/special.py`` for ``_host``'s ``fused``."""
    def fused(x, *args):
        from ..cuda.kernels import special
        if name in special.BINARY:
            # zeta_array(q, s) and igamma_array(x, a) put the function's first argument second
            return special.binary(name, args[0], x)
        return special.unary(name, x, *args)
    return fused


lgamma_array = _host(_lgamma_np, _on_device("lgamma"))
digamma_array = _host(_digamma_np, _on_device("digamma"))
erfinv_array = _host(_erfinv_np, _on_device("erfinv"))
ndtri_array = _host(_ndtri_np, _on_device("ndtri"))
i0_array = _host(lambda x: _bessel_i_np(x, 0, False), _on_device("i0"))
i0e_array = _host(lambda x: _bessel_i_np(x, 0, True), _on_device("i0e"))
i1_array = _host(lambda x: _bessel_i_np(x, 1, False), _on_device("i1"))
i1e_array = _host(lambda x: _bessel_i_np(x, 1, True), _on_device("i1e"))
polygamma_array = _host(_polygamma_np, _on_device("polygamma"))
zeta_array = _host(lambda q, s: _zeta_np(s, q), _on_device("zeta"))
igamma_array = _host(lambda x, a: _igamma_np(a, x, False), _on_device("igamma"))
igammac_array = _host(lambda x, a: _igamma_np(a, x, True), _on_device("igammac"))


def _float_input(input):
    if input._data.dtype.kind in "biu":
        return cast(input, default_float())
    return input


def refuse_half(name, tensor):
    """PyTorch's error for a function without float16/bfloat16 kernels."""
    if tensor._data.dtype.kind in "fV" and tensor._data.dtype.itemsize == 2:
        from .indexing import scalar_type_name
        raise NotImplementedError(f"\"{name}_{tensor.device.type}\" not implemented for "
                                  f"'{scalar_type_name(tensor)}'")


def _unary(name, kernel, grad, saves="x", doc="", half=True):
    """A public float function ``name(input, *, out=None)`` from an array kernel and a gradient
    (``half=False``: float16/bfloat16 refused, as PyTorch has no kernel for them)."""
    node = type(name.capitalize(), (Unary,), {"fn": staticmethod(lambda xp, x: kernel(x)),
                                               "grad": staticmethod(grad), "saves": saves})

    def op(input, *, out=None):
        input, = autocast_args(name, input)
        if not half:
            refuse_half(name, input)
        return _out(node.apply(_float_input(input)), out)

    op.__name__ = name
    op.__doc__ = doc
    return op


def _dual(op, kernel):
    """``op`` on Tensors (so double backward records a graph), ``kernel`` on arrays."""
    return lambda x: op(x) if isinstance(x, Tensor) else kernel(x)


class Polygamma(Node):
    def forward(self, x, n):
        self.save_for_backward(x)
        self.n = n
        return polygamma_array(x, n)

    def backward(self, g):
        x, = self.saved_tensors
        if isinstance(x, Tensor):
            return g * polygamma(self.n + 1, x), None
        return g * polygamma_array(x, self.n + 1), None


def polygamma(n, input, *, out=None):
    r"""The :math:`n`-th derivative of the digamma function, :math:`\psi^{(n)}(x)`.

    Args:
        n (int): the order, ``n >= 0``.
        input (Tensor): the input.

    Example::

        >>> torch.polygamma(1, torch.tensor([1.0, 0.5]))
        tensor([1.6449, 4.9348])
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _out(Polygamma.apply(_float_input(input), n), out)


def _digamma_grad(g, x, y):
    return g * (polygamma(1, x) if isinstance(x, Tensor) else polygamma_array(x, 1))


digamma = _unary("digamma", digamma_array, _digamma_grad, doc=r"""The logarithmic derivative of
the gamma function, :math:`\psi(x) = \frac{d}{dx} \ln \Gamma(x)`: ``-inf`` at 0 and ``nan`` at the
negative integers, like PyTorch.""")
_digamma = _dual(digamma, digamma_array)
lgamma = _unary("lgamma", lgamma_array, lambda g, x, y: g * _digamma(x), doc=r"""The natural
logarithm of the absolute value of the gamma function, :math:`\ln |\Gamma(x)|`.""")
_erfinv_grad_scale = _SQRT_PI / 2


def _erfinv_grad(g, x, y):
    if isinstance(y, Tensor):
        return g * _erfinv_grad_scale * (y * y).exp()
    return g * _erfinv_grad_scale * get_array_module(y).exp(y * y)


erfinv = _unary("erfinv", erfinv_array, _erfinv_grad, saves="y", doc=r"""The inverse error
function: ``erf(erfinv(x)) == x`` on ``(-1, 1)``, ``+-inf`` at ``+-1``, ``nan`` outside.""")


def _bessel_i1(x):
    return i1(x) if isinstance(x, Tensor) else i1_array(x)


def _i1_grad(g, x, y):
    # I1'(x) = I0(x) - I1(x) / x, with the limit 1/2 at x = 0
    if isinstance(x, Tensor):
        safe = x + (x == 0).to(x.dtype)
        ratio = (i1(safe) / safe).masked_fill(x == 0, 0.5)
        return g * (i0(x) - ratio)
    safe = x + (x == 0)
    ratio = get_array_module(x).where(x == 0, 0.5, i1_array(safe) / safe).astype(x.dtype)
    return g * (i0_array(x) - ratio)


def _i1e_grad(g, x, y):
    # d/dx i1e(x) = i0e(x) - i1e(x) (sign(x) + 1/x), with the limit 1/2 at x = 0
    if isinstance(x, Tensor):
        safe = x + (x == 0).to(x.dtype)
        ratio = (i1e(safe) / safe).masked_fill(x == 0, 0.5)
        return g * (i0e(x) - i1e(x) * x.sign() - ratio)
    xp = get_array_module(x)
    safe = x + (x == 0)
    ratio = xp.where(x == 0, 0.5, i1e_array(safe) / safe).astype(x.dtype)
    return g * (i0e_array(x) - i1e_array(x) * xp.sign(x) - ratio)


def _i0e_grad(g, x, y):
    if isinstance(x, Tensor):
        return g * (i1e(x) - x.sign() * i0e(x))
    return g * (i1e_array(x) - get_array_module(x).sign(x) * i0e_array(x))


i0 = _unary("i0", i0_array, lambda g, x, y: g * _bessel_i1(x), doc=r"""The modified Bessel
function of the first kind of order zero, :math:`I_0(x)`.""")
i0e = _unary("i0e", i0e_array, _i0e_grad, doc=r"""The exponentially scaled modified Bessel
function of order zero, :math:`e^{-|x|} I_0(x)`.""")
i1 = _unary("i1", i1_array, _i1_grad, doc=r"""The modified Bessel function of the first kind of
order one, :math:`I_1(x)`.""")
i1e = _unary("i1e", i1e_array, _i1e_grad, doc=r"""The exponentially scaled modified Bessel
function of order one, :math:`e^{-|x|} I_1(x)`.""")


def _sinc_kernel(x):
    xp = get_array_module(x)
    if x.dtype.itemsize < 4 and x.dtype.kind in "fV":
        # half precision (bfloat16 too) in float32, rounded once (sin(pi x) loses digits near
        # integers)
        return _sinc_kernel(x.astype(np.float32)).astype(x.dtype)
    px = x * _PI
    safe = xp.where(x == 0, 1.0, px).astype(x.dtype, copy=False)
    return xp.where(x == 0, 1.0, xp.sin(safe) / safe).astype(x.dtype, copy=False)


def _sinc_grad(g, x, y):
    # (cos(pi x) - sinc(x)) / x, which is 0 at x = 0
    if isinstance(x, Tensor):
        zero = x == 0
        safe = x + zero.to(x.dtype)
        return g * ((safe * _PI).cos() - sinc(safe)).div(safe).masked_fill(zero, 0.0)
    xp = get_array_module(x)
    safe = xp.where(x == 0, 1.0, x).astype(x.dtype, copy=False)
    slope = (xp.cos(safe * _PI) - _sinc_kernel(safe)) / safe
    return g * xp.where(x == 0, 0.0, slope).astype(x.dtype, copy=False)


sinc = _unary("sinc", _sinc_kernel, _sinc_grad, doc=r"""The normalized sinc function
:math:`\sin(\pi x) / (\pi x)`, 1 at 0.""")


def mvlgamma(input, p):
    r"""The log of the multivariate gamma function of dimension ``p``:
    :math:`\frac{p(p-1)}{4}\ln\pi + \sum_{i=0}^{p-1} \ln\Gamma(x - i/2)`.

    Defined for elements greater than ``(p - 1) / 2``; below, the formula is evaluated as it
    stands (log |Gamma|), as PyTorch does without a check.
    """
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if input._data.dtype.kind not in "f":
        raise RuntimeError("mvlgamma is only defined for floating types")
    total = lgamma(input)
    for i in range(1, p):
        total = total + lgamma(input - i / 2)
    return total + p * (p - 1) / 4 * math.log(_PI)


class LogAddExp(Node):
    """``log(base**a + base**b) / log(base)``: ``base`` is e or 2."""

    def forward(self, a, b, base):
        xp = get_array_module(a)
        dtype = xp.result_type(a, b)
        self.save_for_backward(a, b)
        if dtype == NP_BFLOAT16:   # in float32, rounded once (numpy lacks bfloat16 loops)
            a, b = a.astype(np.float32), b.astype(np.float32)
        scale = math.log(base)
        m = xp.maximum(a, b)
        with np.errstate(all="ignore"):
            y = m + xp.log1p(xp.exp(-xp.abs(a - b) * scale)) / scale
        # equal infinities: a - b is nan, the answer is the infinity itself
        y = xp.where(a == b, m + (1.0 if base == 2 else math.log(2.0)), y)
        y = xp.where(xp.isinf(m) & (a == b), m, y).astype(dtype, copy=False)
        self.scale = scale
        self.shapes = (a.shape, b.shape)
        return y

    def backward(self, g):
        a, b = self.saved_tensors
        s = self.scale
        sa, sb = self.shapes
        # PyTorch's g / (1 + base**(b - a)): 1 for a = inf against a finite b, where the
        # weight exp(a - y) would be inf - inf
        if isinstance(g, Tensor):
            ea, eb = ((b - a) * s).exp(), ((a - b) * s).exp()
        else:
            xp = get_array_module(g)
            with np.errstate(over="ignore", invalid="ignore"):
                ea, eb = xp.exp((b - a) * s), xp.exp((a - b) * s)
        ga = sum_to(g / (1 + ea), sa) if self.next_edges[0] is not None else None
        gb = sum_to(g / (1 + eb), sb) if self.next_edges[1] is not None else None
        return ga, gb, None


def _logaddexp(name, input, other, base, out):
    a, b = _prep(input, other, wrap=False)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'other' must be Tensor")
    if a._data.dtype.kind not in "fcV":
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{scalar_type_name(a)}\'')
    return _out(LogAddExp.apply(a, b, base), out)


def logaddexp(input, other, *, out=None):
    r"""``log(exp(input) + exp(other))`` computed without overflow.

    Example::

        >>> torch.logaddexp(torch.tensor([-1.0]), torch.tensor([-1.0, -2, -3]))
        tensor([-0.3069, -0.6867, -0.8731])
    """
    return _logaddexp("logaddexp", input, other, math.e, out)


def logaddexp2(input, other, *, out=None):
    r"""``log2(2**input + 2**other)`` computed without overflow."""
    return _logaddexp("logaddexp2", input, other, 2, out)


class Igamma(Node):
    """Regularized incomplete gamma in ``x``; PyTorch defines no gradient in ``a``."""

    def forward(self, x, a, upper):
        self.save_for_backward(x, a)
        self.upper = upper
        return (igammac_array if upper else igamma_array)(x, a)

    def backward(self, g):
        x, a = self.saved_tensors
        if self.next_edges[1] is not None:
            raise RuntimeError("derivative for igamma with respect to self is not implemented")
        if isinstance(x, Tensor):
            density = ((a - 1) * x.log() - x - lgamma(a)).exp()
        else:
            xp = get_array_module(x)
            density = xp.exp((a - 1) * xp.log(x) - x - lgamma_array(a))
        return (-g if self.upper else g) * density, None, None


def _igamma(input, other, upper, out):
    a, x = _prep(input, other, wrap=False)
    if a._data.dtype.kind in "biu":
        # PyTorch has no integer kernel (nor promotes to float) here
        from .indexing import scalar_type_name
        raise NotImplementedError(f"\"{'igammac' if upper else 'igamma'}_{a.device.type}\" not "
                                  f"implemented for '{scalar_type_name(a)}'")
    err = broadcast_error(None, a, x)
    if err is not None:
        raise err
    shape = np.broadcast_shapes(a.shape, x.shape)
    a, x = a.expand(shape), x.expand(shape)
    return _out(Igamma.apply(x, a, upper), out)


def igamma(input, other, *, out=None):
    r"""The regularized lower incomplete gamma function
    :math:`P(a, x) = \frac{1}{\Gamma(a)} \int_0^x t^{a-1} e^{-t} dt` with ``a = input``,
    ``x = other``; differentiable in ``other`` only (as in PyTorch)."""
    return _igamma(input, other, False, out)


def igammac(input, other, *, out=None):
    r"""The regularized upper incomplete gamma function :math:`Q(a, x) = 1 - P(a, x)`."""
    return _igamma(input, other, True, out)


def _polygamma_method(self, n):
    return polygamma(n, self)


def _polygamma_inplace(self, n):
    return _inplace(lambda t: polygamma(n, t))(self)


register_methods({
    "lgamma": lgamma, "digamma": digamma, "erfinv": erfinv, "i0": i0, "sinc": sinc,
    "mvlgamma": mvlgamma, "logaddexp": logaddexp, "logaddexp2": logaddexp2, "igamma": igamma,
    "igammac": igammac, "polygamma": _polygamma_method, "lgamma_": _inplace(lgamma),
    "digamma_": _inplace(digamma), "erfinv_": _inplace(erfinv), "i0_": _inplace(i0),
    "sinc_": _inplace(sinc), "igamma_": _inplace(igamma), "igammac_": _inplace(igammac),
    "mvlgamma_": _inplace(mvlgamma), "polygamma_": _polygamma_inplace,
})
