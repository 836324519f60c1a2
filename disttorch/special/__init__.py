"""``disttorch.special``: PyTorch's special-functions namespace.

Most names are the top-level ops under SciPy-style names (``expit`` is ``sigmoid``, ``psi`` is
``digamma``, ``gammainc`` is ``igamma``); the normal-distribution functions, ``erfcx``, ``entr``,
``xlog1py`` and the Hurwitz ``zeta`` live here only, as in PyTorch.
"""
import math

import numpy as np

from .._backend import get_array_module, to_numpy
from .._dtype import get_default_dtype
from ..autograd.function import Node
from ..ops import (erf, erfc, erfinv, exp2, expm1, log1p, logit, logsumexp, sinc, xlogy,
                   sigmoid, lgamma, digamma, polygamma, mvlgamma, i0, igamma, igammac)
from ..ops.arithmetic import _out, _prep
from ..ops._util import promote
from ..ops.indexing import scalar_type_name
from ..ops.special_bessel import (airy_ai_array, bessel_j0_array, bessel_j1_array,
                                  bessel_y0_array, bessel_y1_array, modified_bessel_i0_array,
                                  modified_bessel_i1_array, modified_bessel_k0_array,
                                  modified_bessel_k1_array, scaled_modified_bessel_k0_array,
                                  scaled_modified_bessel_k1_array, spherical_bessel_j0_array)
from ..ops.special_ops import (_host, _erfc_scalar, _on_device, _unary, i0e, i1, i1e,
                               ndtri_array, refuse_half, zeta_array)
from ..tensor import Tensor, _new

__all__ = ["erf", "erfc", "erfcx", "erfinv", "exp2", "expm1", "expit", "log1p", "logit",
           "logsumexp", "log_softmax", "softmax", "round", "sinc", "xlogy", "xlog1py", "entr",
           "gammaln", "digamma", "psi", "polygamma", "multigammaln", "gammainc", "gammaincc",
           "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "zeta"]

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
gammainc = igamma
gammaincc = igammac

_SQRT2 = math.sqrt(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def round(input, *, decimals=0, out=None):
    """Round half to even, optionally to ``decimals`` places (floating tensors only, as
    ``torch.special.round``)."""
    from ..ops.pointwise import _round_refused, round as _round
    if input._data.dtype.kind in "biu":
        _round_refused(input, "round_vml" if decimals == 0 else "round")
    return _round(input, decimals=decimals, out=out)


def softmax(input, dim, *, dtype=None):
    """Softmax along ``dim`` (``torch.special.softmax``), optionally computed in ``dtype``."""
    from ..nn.functional import softmax as _softmax
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """Log-softmax along ``dim``, optionally computed in ``dtype``."""
    from ..nn.functional import log_softmax as _log_softmax
    return _log_softmax(input, dim, dtype=dtype)


def _erfc_np(x):
    return _erfc_scalar(x).astype(np.float64)


def _erfcx_np(x):
    with np.errstate(all="ignore"):
        direct = np.exp(x * x) * _erfc_np(np.minimum(x, 25.0))
        # above 25 erfc underflows: the asymptotic series 1/(x sqrt(pi)) sum (-1)^k (2k-1)!!/(2x^2)^k
        big = np.maximum(x, 25.0)
        inv = 1.0 / (2.0 * big * big)
        term = np.ones(x.shape)
        series = term
        for k in range(1, 12):
            term = -term * (2 * k - 1) * inv
            series = series + term
        return np.where(x < 25.0, direct, series / (big * math.sqrt(math.pi)))


def _ndtr_np(x):
    return 0.5 * _erfc_np(-x / _SQRT2)


def _log_ndtr_np(x):
    with np.errstate(all="ignore"):
        # left tail: log(erfcx(-x/sqrt2) / 2) - x^2/2; right side: log1p(-Phi(-x))
        left = np.log(_erfcx_np(-x / _SQRT2) / 2.0) - 0.5 * x * x
        right = np.log1p(-0.5 * _erfc_np(x / _SQRT2))
        return np.where(x < -1.0, left, right)


def _entr_np(x):
    with np.errstate(all="ignore"):
        y = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)), 0.0)
        return np.where(x < 0, -np.inf, np.where(np.isnan(x), np.nan, y))


erfcx_array = _host(_erfcx_np, _on_device("erfcx"))
ndtr_array = _host(_ndtr_np, _on_device("ndtr"))
log_ndtr_array = _host(_log_ndtr_np, _on_device("log_ndtr"))
entr_array = _host(_entr_np, _on_device("entr"))


def _erfcx_grad(g, x, y):
    return g * (2 * x * y - _TWO_OVER_SQRT_PI)


def _density(x):
    """The standard normal density, on arrays or Tensors."""
    if isinstance(x, Tensor):
        return (x * x * -0.5 - _LOG_SQRT_2PI).exp()
    return get_array_module(x).exp(-0.5 * x * x - _LOG_SQRT_2PI)


def _log_ndtr_grad(g, x, y):
    if isinstance(x, Tensor):
        return g * (x * x * -0.5 - _LOG_SQRT_2PI - y).exp()
    return g * get_array_module(x).exp(-0.5 * x * x - _LOG_SQRT_2PI - y)


def _ndtri_grad(g, x, y):
    if isinstance(y, Tensor):
        return g * (y * y * 0.5 + _LOG_SQRT_2PI).exp()
    return g * get_array_module(y).exp(0.5 * y * y + _LOG_SQRT_2PI)


def _entr_grad(g, x, y):
    if isinstance(x, Tensor):
        return g * -(x.log() + 1)
    return g * -(get_array_module(x).log(x) + 1)


erfcx = _unary("erfcx", erfcx_array, _erfcx_grad, saves="xy", half=False, doc=r"""The scaled
complementary error function :math:`e^{x^2} \operatorname{erfc}(x)`, without overflow for large
``x``.""")
ndtr = _unary("ndtr", ndtr_array, lambda g, x, y: g * _density(x), doc=r"""The standard normal
cumulative distribution function :math:`\Phi(x)`.""")
log_ndtr = _unary("log_ndtr", log_ndtr_array, _log_ndtr_grad, saves="xy", half=False,
                  doc=r"""
:math:`\ln \Phi(x)`, accurate far into the left tail.""")
ndtri = _unary("ndtri", ndtri_array, _ndtri_grad, saves="y", half=False, doc=r"""The standard
normal quantile function :math:`\Phi^{-1}(p)`: ``-inf`` at 0, ``inf`` at 1, ``nan`` outside
``[0, 1]``.""")
entr = _unary("entr", entr_array, _entr_grad, doc=r"""Elementwise entropy :math:`-x \ln x`
(0 at 0, ``-inf`` for negative ``x``).""")


def xlog1py(input, other, *, out=None):
    r"""``input * log1p(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN).

    Either argument may be a Python number (not both).
    """
    from ..ops.pointwise import _xlogy
    return _out(_xlogy(input, other, True), out)


class Zeta(Node):
    """The Hurwitz zeta function; PyTorch defines no derivative for it."""

    def forward(self, x, q):
        return zeta_array(q, x)

    def backward(self, g):
        raise RuntimeError("the derivative for 'zeta' is not implemented.")


def zeta(input, other, *, out=None):
    r"""The Hurwitz zeta function :math:`\zeta(x, q) = \sum_{k \ge 0} (q + k)^{-x}`.

    Args:
        input (Tensor or Number): ``x``, the exponent.
        other (Tensor or Number): ``q``, the offset.
    """
    a, b = _prep(input, other)
    if not isinstance(a, Tensor):
        a = b.new_tensor(a, dtype=b.dtype)
    if not isinstance(b, Tensor):
        b = a.new_tensor(b, dtype=a.dtype)
    if a._data.dtype.kind in "biu":
        a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
    refuse_half("zeta", a)
    shape = np.broadcast_shapes(a.shape, b.shape)
    return _out(Zeta.apply(a.expand(shape), b.expand(shape)), out)


# The orthogonal polynomials: p_0 = 1, p_1 = first(x), p_{k+1} = step(k, x, p_k, p_{k-1}). The
# CUDA kernel of cuda/kernels/special.py runs the same recurrences (its codes follow this order).
_POLYNOMIALS = {
    "chebyshev_polynomial_t": (lambda x: x, lambda k, x, p, q: 2 * x * p - q),
    "chebyshev_polynomial_u": (lambda x: 2 * x, lambda k, x, p, q: 2 * x * p - q),
    "chebyshev_polynomial_v": (lambda x: 2 * x - 1, lambda k, x, p, q: 2 * x * p - q),
    "chebyshev_polynomial_w": (lambda x: 2 * x + 1, lambda k, x, p, q: 2 * x * p - q),
    "hermite_polynomial_h": (lambda x: 2 * x, lambda k, x, p, q: 2 * x * p - 2 * k * q),
    "hermite_polynomial_he": (lambda x: x, lambda k, x, p, q: x * p - k * q),
    "laguerre_polynomial_l": (lambda x: 1 - x,
                              lambda k, x, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1)),
    "legendre_polynomial_p": (lambda x: x,
                              lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1)),
}


def _polynomial_np(family, x, n):
    """``family`` at ``x`` for integer degrees ``n`` (broadcast; 0 where n < 0), in ``x``'s
    precision (float32 overflows where PyTorch's float kernel does)."""
    first, step = _POLYNOMIALS[family]
    x, n = np.broadcast_arrays(x, n)
    top = int(n.max()) if n.size else 0
    with np.errstate(all="ignore"):
        previous, current = np.ones(x.shape, x.dtype), first(x)
        result = np.where(n == 0, previous, 0.0)
        for k in range(1, top + 1):
            result = np.where(n == k, current, result)
            previous, current = current, step(k, x, current, previous)
    return result


def _degrees(n, xp):
    """Degrees as PyTorch takes them: truncated to integers (NaN and negatives give 0)."""
    n = xp.asarray(n)
    if n.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            n = xp.where(xp.isnan(n), -1, xp.trunc(n))
    return n.astype(np.int64)


def _polynomial(name, family, shifted):
    def op(input, n, *, out=None):
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"{name}(): expected input or n to be a Tensor")
        x_t, n_t = promote(input, n)
        like = x_t if isinstance(x_t, Tensor) else n_t
        dtype = like._data.dtype
        if dtype.kind in "biu":
            dtype = np.dtype(get_default_dtype().np_dtype)
        elif dtype not in (np.float32, np.float64):
            raise NotImplementedError(f"\"{name}_{like.device.type}\" not implemented for "
                                      f"'{scalar_type_name(like)}'")
        xp = get_array_module(like._data)
        x = (x_t._data if isinstance(x_t, Tensor) else xp.asarray(x_t)).astype(dtype)
        degrees = _degrees(n_t._data if isinstance(n_t, Tensor) else n_t, xp)
        if shifted:
            x = 2 * x - 1
        from ..cuda.kernels import special as kernels
        result = kernels.polynomial(family, x, degrees)
        if result is None:
            result = _polynomial_np(family, to_numpy(x), to_numpy(degrees))
            if xp is not np:
                result = xp.asarray(result)
        return _out(_new(result.astype(dtype)), out)
    kind = name.replace("shifted_", "").replace("_", " ")
    op.__name__ = name
    op.__doc__ = (f"The {'shifted ' if shifted else ''}{kind} of degree ``n`` at ``input`` "
                  f"(tensors broadcast together, or one a Python number; ``n`` truncated to an "
                  f"integer, 0 where negative). Not differentiable, as in PyTorch.")
    return op


for _name in _POLYNOMIALS:
    globals()[_name] = _polynomial(_name, _name, False)
    __all__.append(_name)
    if _name.startswith("chebyshev"):
        _shifted = "shifted_" + _name
        globals()[_shifted] = _polynomial(_shifted, _name, True)
        __all__.append(_shifted)


def _float_array(name, input):
    """``input``'s array as a float32/float64 array for a float-only kernel: integers and bool
    in the default dtype; half precision refused, as PyTorch's kernels refuse it."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    data = input._data
    if data.dtype.kind in "biu":
        return data.astype(get_default_dtype().np_dtype)
    if data.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f"\"{name}_{input.device.type}\" not implemented for "
                                  f"'{scalar_type_name(input)}'")
    return data


def _no_grad_unary(name, kernel, doc):
    """A public function ``name(input, *, out=None)``. PyTorch defines no derivative for these:
    the result does not require grad (backward through it finds no graph)."""
    def op(input, *, out=None):
        return _out(_new(kernel(_float_array(name, input))), out)
    op.__name__ = name
    op.__doc__ = doc
    return op


_BESSEL = {
    "bessel_j0": (bessel_j0_array, "The Bessel function of the first kind of order 0, "
                  ":math:`J_0(x)` (``nan`` at ``+-inf``, as PyTorch)."),
    "bessel_j1": (bessel_j1_array, "The Bessel function of the first kind of order 1, "
                  ":math:`J_1(x)` (``nan`` at ``+-inf``)."),
    "bessel_y0": (bessel_y0_array, "The Bessel function of the second kind of order 0, "
                  ":math:`Y_0(x)`: ``-inf`` at 0, ``nan`` for ``x < 0`` and at ``inf``."),
    "bessel_y1": (bessel_y1_array, "The Bessel function of the second kind of order 1, "
                  ":math:`Y_1(x)`: ``-inf`` at 0, ``nan`` for ``x < 0`` and at ``inf``."),
    "modified_bessel_i0": (modified_bessel_i0_array, "The modified Bessel function of the first "
                           "kind of order 0, :math:`I_0(x)` (``nan`` at ``+-inf``)."),
    "modified_bessel_i1": (modified_bessel_i1_array, "The modified Bessel function of the first "
                           "kind of order 1, :math:`I_1(x)` (``nan`` at ``+-inf``)."),
    "modified_bessel_k0": (modified_bessel_k0_array, "The modified Bessel function of the second "
                           "kind of order 0, :math:`K_0(x)`: ``inf`` at 0, ``nan`` for "
                           "``x < 0``."),
    "modified_bessel_k1": (modified_bessel_k1_array, "The modified Bessel function of the second "
                           "kind of order 1, :math:`K_1(x)`: ``inf`` at 0, ``nan`` for "
                           "``x < 0``."),
    "scaled_modified_bessel_k0": (scaled_modified_bessel_k0_array, ":math:`e^x K_0(x)`, "
                                  "without K0's underflow for large ``x``."),
    "scaled_modified_bessel_k1": (scaled_modified_bessel_k1_array, ":math:`e^x K_1(x)`, "
                                  "without K1's underflow for large ``x``."),
    "airy_ai": (airy_ai_array, "The Airy function :math:`\\operatorname{Ai}(x)` (``nan`` at "
                "``+-inf``, as PyTorch)."),
    "spherical_bessel_j0": (spherical_bessel_j0_array, "The spherical Bessel function of the "
                            "first kind of order 0, :math:`\\sin(x) / x` (1 at 0, 0 at "
                            "``+-inf``)."),
}

for _name, (_kernel, _doc) in _BESSEL.items():
    globals()[_name] = _no_grad_unary(_name, _kernel, _doc)
    __all__.append(_name)
