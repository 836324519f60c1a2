"""Special functions on the GPU: the same float64 algorithms as ``ops/special_ops.py`` and
``special/__init__.py`` (series, recurrences, Newton/Halley refinements), one thread per element,
so CUDA results equal the CPU's to rounding and no value travels through the host.

``unary`` and ``binary`` take CuPy arrays and return a float64 result (``None`` when the fused
path does not apply: numpy arrays, or the plain simulated device).
"""
import numpy as np

from ..._backend import cupy_module
from ...ops.special_ops import _EM_COEFFS, _LANCZOS, _LANCZOS_G
from . import contiguous, fusable, raw_kernel

__all__ = ["UNARY", "BINARY", "unary", "binary"]

UNARY = {"lgamma": 0, "digamma": 1, "erfinv": 2, "ndtri": 3, "i0": 4, "i0e": 5, "i1": 6,
         "i1e": 7, "polygamma": 8, "erfcx": 9, "ndtr": 10, "log_ndtr": 11, "entr": 12}
BINARY = {"zeta": 0, "igamma": 1, "igammac": 2}

_SPECIAL = r"""
#define PI 3.141592653589793
#define SQRT2 1.4142135623730951
#define SQRT_PI 1.7724538509055159
#define LOG_SQRT_2PI 0.9189385332046728
// NVRTC has no math.h macros
#define INF_ __longlong_as_double(0x7ff0000000000000LL)
#define NAN_ __longlong_as_double(0x7ff8000000000000LL)

__device__ __forceinline__ bool nonpositive_integer(double x) { return x <= 0 && x == floor(x); }

// Lanczos, g = 7, n = 9, with the reflection below 1/2
__device__ double lgamma_(double x) {
    const double coeffs[9] = {@LANCZOS@};
    const bool reflect = x < 0.5;
    const double z = (reflect ? 1.0 - x : x) - 1.0;
    double series = coeffs[0];
    for (int k = 1; k < 9; ++k) series += coeffs[k] / (z + k);
    const double t = z + @LANCZOS_G@ + 0.5;
    const double positive = LOG_SQRT_2PI + (z + 0.5) * log(t) - t + log(series);
    // sin(pi x) from the distance to the nearest integer (pi * x loses it for large |x|)
    double y = reflect ? log(PI / fabs(sin(PI * (x - rint(x))))) - positive : positive;
    if (x == 1.0 || x == 2.0) y = 0.0;
    if (nonpositive_integer(x) || isinf(x)) y = INF_;
    return y;
}

// recurrence up to z >= 10, then the asymptotic series; PyTorch's values at the poles
__device__ double digamma_(double x) {
    const bool reflect = x < 0.5;
    double z = reflect ? 1.0 - x : x;
    double acc = 0.0;
    for (int i = 0; i < 10; ++i) {
        if (z < 10) { acc -= 1.0 / z; z += 1.0; }
    }
    const double inv2 = 1.0 / (z * z);
    const double tail = inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (
        1.0 / 240 - inv2 * (1.0 / 132 - inv2 * (691.0 / 32760 - inv2 / 12))))));
    double psi = log(z) - 0.5 / z - tail + acc;
    if (reflect) psi -= PI / tan(PI * (x - rint(x)));
    if (x == 0) psi = signbit(x) ? INF_ : -INF_;
    if (nonpositive_integer(x) && x != 0) psi = NAN_;
    if (x == INF_) psi = INF_;
    return psi;
}

// Hurwitz zeta for q > 0 (or NaN): Euler-Maclaurin summation
__device__ double zeta_positive(double s, double q) {
    const double em[12] = {@EULER_MACLAURIN@};
    double total = 0.0, a = q;
    for (int steps = 0; steps < 9 || a <= 9; ++steps) {
        total += pow(a, -s);
        a += 1.0;
    }
    total += pow(a, 1.0 - s) / (s - 1.0) + 0.5 * pow(a, -s);
    double rising = s, power = pow(a, -s - 1.0);
    for (int k = 0; k < 12; ++k) {
        total += em[k] * rising * power;
        rising *= (s + 2 * k + 1) * (s + 2 * k + 2);
        power /= a * a;
    }
    return q == INF_ ? NAN_ : total;
}

// a negative non-integer q is shifted into (0, 1): with m = ceil(-q), c = q + m,
// zeta(s, q) = zeta(s, c) + (-1)^s (zeta(s, 1 - c) - zeta(s, 1 - q))
__device__ double zeta_(double s, double q) {
    const bool pole = nonpositive_integer(q);
    const bool undefined = q < 0 && s != floor(s);
    const bool negative = q < 0 && !pole && !undefined;
    const double m = negative ? ceil(-q) : 0.0;
    const double c = (pole || undefined) ? 1.0 : (negative ? q + m : q);
    double total = zeta_positive(s, c);
    if (negative) {
        const double sign = fmod(s, 2.0) == 0 ? 1.0 : -1.0;
        // 1 - c as (1 - m) - q: exact, where the rounded c would lose q's digits
        total += sign * (zeta_positive(s, (1.0 - m) - q) - zeta_positive(s, 1.0 - q));
    }
    if (s == INF_) total = q < 1 ? INF_ : (q == 1 ? 1.0 : NAN_);
    if (isnan(q)) total = NAN_;
    if (undefined) total = NAN_;
    if (pole) total = INF_;
    if (s < 1) total = NAN_;
    if (s == 1) total = INF_;
    return total;
}

__device__ double polygamma_(int n, double x) {
    if (n == 0) return digamma_(x);
    double factorial = 1.0;
    for (int k = 2; k <= n; ++k) factorial *= k;     // inf from n = 171, as PyTorch's
    return (n % 2 ? 1.0 : -1.0) * factorial * zeta_(n + 1.0, x);
}

// Giles' single-precision erfinv in w = -log(1 - y^2): the start for the Halley steps
__device__ double giles_erfinv(double y, double w) {
    const double ws = w - 2.5;
    const double central_c[8] = {3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                                 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                                 1.50140941};
    double central = 2.81022636e-08;
    for (int i = 0; i < 8; ++i) central = central_c[i] + central * ws;
    const double wt = sqrt(w) - 3.0;
    const double tail_c[8] = {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                              -0.0076224613, 0.00943887047, 1.00167406, 2.83297682};
    double tail = -0.000200214257;
    for (int i = 0; i < 8; ++i) tail = tail_c[i] + tail * wt;
    return y * (w < 5.0 ? central : tail);
}

__device__ double erfinv_central(double y) {
    double x = giles_erfinv(y, -log1p(-y * y));
    for (int i = 0; i < 2; ++i) {
        const double u = (erf(x) - y) / (2.0 / SQRT_PI * exp(-x * x));
        x = x - u / (1.0 + x * u);
    }
    return x;
}

// the normal quantile for p <= 1/2: Abramowitz-Stegun 26.2.23, then Halley steps on erfc
__device__ double ndtri_lower(double p) {
    const double t = sqrt(-2.0 * log(p));
    double x = -(t - (2.515517 + t * (0.802853 + t * 0.010328))
                 / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
    for (int i = 0; i < 4; ++i) {
        const double density = exp(-0.5 * x * x) / sqrt(2 * PI);
        const double u = (0.5 * erfc(-x / SQRT2) - p) / density;
        const double step = u / (1.0 + 0.5 * x * u);
        if (isfinite(step)) x -= step;
    }
    return p == 0 ? -INF_ : x;
}

__device__ double two_tails(double p, double q) {
    return p <= q ? ndtri_lower(p) : -ndtri_lower(q);
}

__device__ double ndtri_(double p) {
    if (p < 0 || p > 1 || isnan(p)) return NAN_;
    if (p >= 0.25 && p <= 0.75) return SQRT2 * erfinv_central(2.0 * p - 1.0);
    return two_tails(p, 1.0 - p);
}

__device__ double erfinv_(double y) {
    if (fabs(y) > 1 || isnan(y)) return NAN_;
    if (fabs(y) <= 0.5) return erfinv_central(y);
    return two_tails((1.0 + y) / 2.0, (1.0 - y) / 2.0) / SQRT2;
}

// I0 or I1 (times exp(-|x|) when scaled): power series up to |x| = 20, asymptotic above
__device__ double bessel_i(double x, int order, bool scaled) {
    if (isnan(x)) return x;
    const double ax = fabs(x);
    double y;
    if (ax <= 20.0) {
        const double quarter = ax * ax / 4.0;
        double term = order == 0 ? 1.0 : ax / 2.0, series = term;
        for (int k = 1; k < 60; ++k) {
            term = term * quarter / (k * (k + order));
            series += term;
        }
        y = scaled ? series * exp(-ax) : series;
    } else {
        const double mu = 4.0 * order * order;
        double term = 1.0, asym = 1.0;
        for (int k = 1; k < 40; ++k) {
            term = -term * (mu - (2.0 * k - 1) * (2.0 * k - 1)) / (k * 8.0 * ax);
            asym += term;
        }
        asym /= sqrt(2 * PI * ax);
        y = scaled ? asym : asym * exp(ax);
    }
    return (order == 1 && x < 0) ? -y : y;
}

// log(x^a e^-x / Gamma(a)); above a = 20 through log1p and Stirling's series, where a log x
// and lgamma(a) would cancel
__device__ double log_gamma_prefactor(double a, double x) {
    if (!(a > 20)) return a * log(x) - x - lgamma_(a);
    const double t = (x - a) / a, inv = 1.0 / a, inv2 = inv * inv;
    const double stirling = inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (
        1.0 / 1680 - inv2 / 1188))));
    return a * (log1p(t) - t) + 0.5 * log(a / (2 * PI)) - stirling;
}

#define MAX_TERMS 10000000LL

// Q(a, x) by Lentz's continued fraction, until it stops changing (x >= a + 1, x - a > 3 sqrt a)
__device__ double upper_gamma_fraction(double a, double x) {
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / (b == 0 ? tiny : b), h = d;
    if (isfinite(h)) {
        for (long long i = 1; i < MAX_TERMS; ++i) {
            const double an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            d = 1.0 / (fabs(d) < tiny ? tiny : d);
            c = b + an / c;
            if (fabs(c) < tiny) c = tiny;
            const double step = d * c;
            h *= step;
            if (!(fabs(step - 1.0) > 1e-16) || !isfinite(step)) break;
        }
    }
    return exp(log_gamma_prefactor(a, x)) * h;
}

// P(a, x) = x^a e^-x / Gamma(a + 1) sum_k x^k / ((a + 1) ... (a + k)), until the terms stop
// changing the sum
__device__ double lower_gamma_series(double a, double x) {
    double term = 1.0, total = 1.0;
    if (isfinite(a) && isfinite(x) && a > 0) {
        for (long long k = 1; k < MAX_TERMS; ++k) {
            term *= x / (a + k);
            total += term;
            if (!(term > 1e-17 * total) || !isfinite(total)) break;
        }
    }
    return exp(log_gamma_prefactor(a, x)) / a * total;
}

// the series gives P where x < a + 1 or x - a <= 3 sqrt(a), the fraction Q beyond
__device__ double igamma_(double a, double x, bool upper) {
    if (a < 0 || x < 0 || isnan(a) || isnan(x) || (a == 0 && x == 0)) return NAN_;
    if (isinf(a)) return isinf(x) ? NAN_ : (upper ? 1.0 : 0.0);
    if (isinf(x)) return upper ? 0.0 : 1.0;
    if (x == 0) return upper ? 1.0 : 0.0;
    if (a == 0) return upper ? 0.0 : 1.0;
    if (x < a + 1.0 || x - a <= 3.0 * sqrt(a)) {
        const double series = lower_gamma_series(a, x);
        return upper ? 1.0 - series : series;
    }
    const double fraction = upper_gamma_fraction(a, x);
    return upper ? fraction : 1.0 - fraction;
}

__device__ double erfcx_(double x) {
    if (x < 25.0) return exp(x * x) * erfc(x);
    // above 25 erfc underflows: 1/(x sqrt(pi)) sum_k (-1)^k (2k-1)!! / (2x^2)^k
    const double inv = 1.0 / (2.0 * x * x);
    double term = 1.0, series = 1.0;
    for (int k = 1; k < 12; ++k) {
        term = -term * (2 * k - 1) * inv;
        series += term;
    }
    return series / (x * SQRT_PI);
}

__device__ double log_ndtr_(double x) {
    if (x < -1.0) return log(erfcx_(-x / SQRT2) / 2.0) - 0.5 * x * x;
    return log1p(-0.5 * erfc(x / SQRT2));
}

__device__ double entr_(double x) {
    if (isnan(x)) return x;
    if (x < 0) return -INF_;
    return x > 0 ? -x * log(x) : 0.0;
}

__device__ double unary_(int fn, double x, int order) {
    switch (fn) {
        case 0: return lgamma_(x);
        case 1: return digamma_(x);
        case 2: return erfinv_(x);
        case 3: return ndtri_(x);
        case 4: return bessel_i(x, 0, false);
        case 5: return bessel_i(x, 0, true);
        case 6: return bessel_i(x, 1, false);
        case 7: return bessel_i(x, 1, true);
        case 8: return polygamma_(order, x);
        case 9: return erfcx_(x);
        case 10: return 0.5 * erfc(-x / SQRT2);
        case 11: return log_ndtr_(x);
        default: return entr_(x);
    }
}

extern "C" __global__ void special_unary(const double* x, double* y, const long long n,
                                         const int fn, const int order) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = unary_(fn, x[i], order);
    }
}

// zeta(s = a, q = b); igamma / igammac (a, x = b)
extern "C" __global__ void special_binary(const double* a, const double* b, double* y,
                                          const long long n, const int fn) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = fn == 0 ? zeta_(a[i], b[i]) : igamma_(a[i], b[i], fn == 2);
    }
}
"""

# the CPU implementation's constants, written out exactly (repr round-trips a double)
for _token, _value in (("@LANCZOS@", ", ".join(map(repr, _LANCZOS))),
                      ("@LANCZOS_G@", repr(_LANCZOS_G)),
                      ("@EULER_MACLAURIN@", ", ".join(map(repr, _EM_COEFFS)))):
    _SPECIAL = _SPECIAL.replace(_token, _value)
SOURCES = {"special": _SPECIAL}

_BLOCK = 256
_MAX_BLOCKS = 4096


def _launch(name, arrays, n, scalars):
    cp = cupy_module()
    out = cp.empty(n, np.float64)
    if n:
        blocks = min(_MAX_BLOCKS, (n + _BLOCK - 1) // _BLOCK)
        raw_kernel(_SPECIAL, name)((blocks,), (_BLOCK,), tuple(arrays) + (out, np.int64(n)) +
                                   tuple(scalars))
    return out


def _float64(array):
    return contiguous(array, np.float64)


def unary(name, x, order=0):
    """``name`` (a key of :data:`UNARY`) of the CuPy array ``x``, as a float64 array of its
    shape; ``order`` is polygamma's ``n``. None where the fused path does not apply."""
    if not fusable(x):
        return None
    flat = _float64(x).reshape(-1)
    return _launch("special_unary", [flat], flat.size,
                   [np.int32(UNARY[name]), np.int32(order)]).reshape(x.shape)


def binary(name, a, b):
    """``name`` (``zeta(s=a, q=b)``, ``igamma(a, x=b)`` or ``igammac``) of CuPy arrays, broadcast;
    a float64 array, or None where the fused path does not apply."""
    if not fusable(a):
        return None
    cp = cupy_module()
    a, b = cp.broadcast_arrays(a, b)
    shape = a.shape
    a, b = _float64(a).reshape(-1), _float64(b).reshape(-1)
    return _launch("special_binary", [a, b], a.size, [np.int32(BINARY[name])]).reshape(shape)
