"""Special functions on the GPU: the same float64 algorithms as ``ops/special_ops.py`` and
``special/__init__.py`` (series, recurrences, Newton/Halley refinements), one thread per element,
so CUDA results equal the CPU's to rounding and no value travels through the host.

``unary`` and ``binary`` take CuPy arrays and return a float64 result (``None`` when the fused
path does not apply: numpy arrays, or the plain simulated device).
"""
import math

import numpy as np

from ..._backend import cupy_module
from ...ops import special_bessel as _bessel
from ...ops.special_ops import _EM_COEFFS, _LANCZOS, _LANCZOS_G
from . import contiguous, fusable, raw_kernel

__all__ = ["UNARY", "BINARY", "POLYNOMIALS", "unary", "binary", "polynomial", "gamma_grad"]

UNARY = {"lgamma": 0, "digamma": 1, "erfinv": 2, "ndtri": 3, "i0": 4, "i0e": 5, "i1": 6,
         "i1e": 7, "polygamma": 8, "erfcx": 9, "ndtr": 10, "log_ndtr": 11, "entr": 12,
         "bessel_j0": 13, "bessel_j1": 14, "bessel_y0": 15, "bessel_y1": 16,
         "modified_bessel_i0": 17, "modified_bessel_i1": 18, "modified_bessel_k0": 19,
         "modified_bessel_k1": 20, "scaled_modified_bessel_k0": 21,
         "scaled_modified_bessel_k1": 22, "airy_ai": 23, "spherical_bessel_j0": 24}
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
    if (n == 1 && isinf(x)) return x > 0 ? 0.0 : NAN_;   // PyTorch's trigamma
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

// ---- Bessel J, Y, K, the Airy function and spherical j0 (ops/special_bessel.py) ----
@BESSEL_CONSTANTS@
#define CHEBYSHEV(table, s) chebyshev(table, (int)(sizeof(table) / sizeof(table[0])), s)

// sum_k c[k] T_k(s) by Clenshaw's recurrence
__device__ double chebyshev(const double* c, int n, double s) {
    double b1 = 0.0, b2 = 0.0;
    for (int k = n - 1; k > 0; --k) {
        const double b = 2.0 * s * b1 - b2 + c[k];
        b2 = b1;
        b1 = b;
    }
    return s * b1 - b2 + c[0];
}

// J0 or J1 by its power series (|x| <= 5)
__device__ double j_series(double x, int order) {
    const double q = x * x / 4.0;
    double term = order == 0 ? 1.0 : x / 2.0, total = term;
    for (int k = 1; k < SERIES_TERMS; ++k) {
        term = -term * q / (k * (k + order));
        total += term;
    }
    return total;
}

// J and Y of order 0 or 1 from Hankel's P and Q (x >= 5)
__device__ void hankel(double x, int order, double* j, double* y) {
    const double s = 2.0 * J_CUTOFF * J_CUTOFF / (x * x) - 1.0;
    const double p = order == 0 ? CHEBYSHEV(J0_P, s) : CHEBYSHEV(J1_P, s);
    const double q = (order == 0 ? CHEBYSHEV(J0_Q, s) : CHEBYSHEV(J1_Q, s)) / x;
    // cos and sin of chi = x - pi/4 or x - 3 pi/4 from those of x (exact argument reduction)
    const double c = cos(x), sn = sin(x);
    const double cos_chi = order == 0 ? (c + sn) / SQRT2 : (sn - c) / SQRT2;
    const double sin_chi = order == 0 ? (sn - c) / SQRT2 : -(sn + c) / SQRT2;
    const double amplitude = sqrt(TWO_OVER_PI / x);
    *j = amplitude * (p * cos_chi - q * sin_chi);
    *y = amplitude * (p * sin_chi + q * cos_chi);
}

__device__ double bessel_j(double x, int order) {
    if (isinf(x)) return NAN_;               // PyTorch's value (the limit would be 0)
    const double ax = fabs(x);
    double j = ax, y;
    if (ax < J_CUTOFF) j = j_series(ax, order);
    else if (!isnan(ax)) hankel(ax, order, &j, &y);
    return (order == 1 && x < 0) ? -j : j;
}

// Y0 or Y1 by its power series (0 < x <= 5); log(x) - log(2): x / 2 underflows at 5e-324
__device__ double y_series(double x, int order) {
    const double q = x * x / 4.0;
    const double log_term = TWO_OVER_PI * (log(x) - LN2 + EULER_GAMMA) * j_series(x, order);
    if (order == 0) {
        double term = 1.0, harmonic = 0.0, total = 0.0;
        for (int k = 1; k < SERIES_TERMS; ++k) {
            term = -term * q / (k * k);
            harmonic += 1.0 / k;
            total -= harmonic * term;
        }
        return log_term + TWO_OVER_PI * total;
    }
    double term = x / 2.0, h_k = 0.0, total = x / 2.0;
    for (int k = 1; k < SERIES_TERMS; ++k) {
        term = -term * q / (k * (k + 1));
        h_k += 1.0 / k;
        total += (2.0 * h_k + 1.0 / (k + 1)) * term;
    }
    return log_term - 2.0 / (PI * x) - total / PI;
}

__device__ double bessel_y(double x, int order) {
    if (x < 0 || isnan(x) || isinf(x)) return NAN_;
    if (x == 0) return -INF_;
    if (x < J_CUTOFF) return y_series(x, order);
    double j, y;
    hankel(x, order, &j, &y);
    return y;
}

// K0 or K1 (times e^x when scaled): series up to x = 2, the Chebyshev form above
__device__ double bessel_k(double x, int order, bool scaled) {
    if (x < 0 || isnan(x)) return NAN_;
    if (x == 0) return INF_;
    if (x > K_CUTOFF) {
        const double s = 4.0 / x - 1.0;
        const double asym = sqrt(PI / 2.0 / x) * (order == 0 ? CHEBYSHEV(K0_S, s)
                                                            : CHEBYSHEV(K1_S, s));
        return scaled ? asym : asym * exp(-x);
    }
    const double q = x * x / 4.0, log_term = log(x) - LN2 + EULER_GAMMA;
    double series;
    if (order == 0) {
        double term = 1.0, harmonic = 0.0, i_sum = 1.0, h_sum = 0.0;
        for (int k = 1; k < SERIES_TERMS; ++k) {
            term = term * q / (k * k);
            harmonic += 1.0 / k;
            i_sum += term;
            h_sum += harmonic * term;
        }
        series = h_sum - log_term * i_sum;
    } else {
        double term = x / 2.0, h_k = 0.0, i_sum = term, h_sum = term;
        for (int k = 1; k < SERIES_TERMS; ++k) {
            term = term * q / (k * (k + 1));
            h_k += 1.0 / k;
            i_sum += term;
            h_sum += (2.0 * h_k + 1.0 / (k + 1)) * term;
        }
        series = 1.0 / x + log_term * i_sum - 0.5 * h_sum;
    }
    return scaled ? series * exp(x) : series;
}

// Ai by its Maclaurin series Ai(0) f(x) + Ai'(0) g(x) (-4 <= x <= 2)
__device__ double airy_series(double x) {
    const double cube = x * x * x;
    double f_term = 1.0, g_term = x, f = 1.0, g = x;
    for (int k = 1; k < SERIES_TERMS; ++k) {
        f_term = f_term * cube / ((3 * k) * (3 * k - 1));
        g_term = g_term * cube / ((3 * k + 1) * (3 * k));
        f += f_term;
        g += g_term;
    }
    return AIRY_AI0 * f - AIRY_AIP0 * g;
}

// zeta = 2/3 x^(3/2) as hi + lo (fma gives each product's exact error, as Dekker's split does
// on the CPU): Ai's phase and decay rate are zeta, whose rounding would be the result's error
__device__ void airy_zeta(double x, double* hi, double* lo) {
    const double root = sqrt(x);
    const double square = root * root, square_err = fma(root, root, -square);
    const double root_lo = ((x - square) - square_err) / (2.0 * root);
    const double power = x * root, power_err = fma(x, root, -power);
    const double power_lo = power_err + x * root_lo;
    const double zeta = 2.0 / 3.0 * power, zeta_err = fma(2.0 / 3.0, power, -zeta);
    *hi = zeta;
    *lo = zeta_err + (2.0 / 3.0 * power_lo + TWO_THIRDS_LO * power);
}

__device__ double airy_ai_(double x) {
    if (isinf(x)) return NAN_;               // PyTorch's value at +-inf
    if (x > AIRY_ZERO) return 0.0;           // below the smallest subnormal
    double zeta, zeta_lo;
    if (x > AIRY_POSITIVE) {
        airy_zeta(x, &zeta, &zeta_lo);
        return exp(-zeta) * exp(-zeta_lo) * CHEBYSHEV(AI_POS, 2.0 * AIRY_ZETA_POSITIVE / zeta - 1.0)
               / (2.0 * SQRT_PI * sqrt(sqrt(x)));
    }
    if (x < -AIRY_NEGATIVE) {
        const double ax = -x;
        airy_zeta(ax, &zeta, &zeta_lo);
        const double ratio = AIRY_ZETA_NEGATIVE / zeta;
        const double p = CHEBYSHEV(AI_NEG_P, 2.0 * ratio * ratio - 1.0);
        const double q = CHEBYSHEV(AI_NEG_Q, 2.0 * ratio * ratio - 1.0) / zeta;
        // cos and sin of zeta - pi/4 from those of zeta = hi + lo
        const double c0 = cos(zeta), s0 = sin(zeta), c_lo = cos(zeta_lo), s_lo = sin(zeta_lo);
        const double c = c0 * c_lo - s0 * s_lo, sn = s0 * c_lo + c0 * s_lo;
        return (p * (c + sn) + q * (sn - c)) / (SQRT_2PI * sqrt(sqrt(ax)));
    }
    return airy_series(x);
}

__device__ double spherical_bessel_j0_(double x) {
    if (isinf(x)) return 0.0;
    return x == 0 ? 1.0 : sin(x) / x;
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
        case 12: return entr_(x);
        case 13: return bessel_j(x, 0);
        case 14: return bessel_j(x, 1);
        case 15: return bessel_y(x, 0);
        case 16: return bessel_y(x, 1);
        // torch.special's I0 and I1 are NaN at +-inf (torch.i0 is inf there)
        case 17: return isinf(x) ? NAN_ : bessel_i(x, 0, false);
        case 18: return isinf(x) ? NAN_ : bessel_i(x, 1, false);
        case 19: return bessel_k(x, 0, false);
        case 20: return bessel_k(x, 1, false);
        case 21: return bessel_k(x, 0, true);
        case 22: return bessel_k(x, 1, true);
        case 23: return airy_ai_(x);
        default: return spherical_bessel_j0_(x);
    }
}

extern "C" __global__ void special_unary(const double* x, double* y, const long long n,
                                         const int fn, const int order) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = unary_(fn, x[i], order);
    }
}

// the orthogonal polynomials of special/__init__.py (_POLYNOMIALS, in its order) at x for the
// integer degree m (0 for m < 0): p_0 = 1, p_1 = first(x), p_{k+1} = step(k, x, p_k, p_{k-1}),
// in the result's own precision (float32 overflows where PyTorch's float kernel does)
template <typename T>
__device__ T orthogonal_polynomial(const T v, const long long m, const int fn) {
    if (m <= 0) {
        return m == 0 ? T(1) : T(0);
    }
    T previous = T(1);
    T current = fn == 0 || fn == 5 || fn == 7 ? v : fn == 1 || fn == 4 ? T(2) * v
              : fn == 2 ? T(2) * v - T(1) : fn == 3 ? T(2) * v + T(1) : T(1) - v;
    for (long long k = 1; k < m; ++k) {
        const T dk = T(k);
        T next;
        if (fn <= 3) {
            next = T(2) * v * current - previous;
        } else if (fn == 4) {
            next = T(2) * v * current - T(2) * dk * previous;
        } else if (fn == 5) {
            next = v * current - dk * previous;
        } else if (fn == 6) {
            next = ((T(2) * dk + T(1) - v) * current - dk * previous) / (dk + T(1));
        } else {
            next = ((T(2) * dk + T(1)) * v * current - dk * previous) / (dk + T(1));
        }
        previous = current;
        current = next;
    }
    return current;
}

extern "C" __global__ void special_polynomial(const double* x, const long long* degree,
                                              double* y, const long long n, const int fn) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = orthogonal_polynomial<double>(x[i], degree[i], fn);
    }
}

extern "C" __global__ void special_polynomial_f32(const float* x, const long long* degree,
                                                  float* y, const long long n, const int fn) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        y[i] = orthogonal_polynomial<float>(x[i], degree[i], fn);
    }
}

// d x / d alpha of a Gamma(alpha, 1) sample x held at its quantile (distributions/_sampling.py's
// standard_gamma_grad_array, the same float64 algorithm): the lower incomplete gamma series
// (x < alpha + 1) or Legendre's continued fraction differentiated term by term in alpha, and
// the Wilson-Hilferty map for very large alpha; NaN outside alpha > 0, x > 0, both finite
#define GAMMA_GRAD_EPS 1e-16
#define GAMMA_GRAD_MAX_ITER 20000
#define GAMMA_GRAD_LARGE 2.5e4

__device__ double gamma_grad_lower(double x, double a) {
    double t = 1.0, s = 1.0, th = 0.0, h = 0.0;
    for (int n = 1; n < GAMMA_GRAD_MAX_ITER; ++n) {
        h += 1.0 / (a + n);
        t *= x / (a + n);
        s += t;
        th += t * h;
        if (t <= GAMMA_GRAD_EPS * s && t * h <= GAMMA_GRAD_EPS * th) break;
    }
    return -(x / a) * ((log(x) - digamma_(a + 1.0)) * s - th);
}

__device__ double gamma_grad_upper(double x, double a) {
    const double tiny = 1e-300;
    double b = x + 1.0 - a;
    double d = 1.0 / b, dd = 1.0 / (b * b);
    double c = 1.0 / tiny, dc = 0.0;
    double h = d, dh = dd;
    for (int i = 1; i < GAMMA_GRAD_MAX_ITER; ++i) {
        const double an = -i * (i - a), dan = (double)i;
        b += 2.0;
        double den = an * d + b;
        const double dden = dan * d + an * dd - 1.0;
        if (fabs(den) < tiny) den = tiny;
        d = 1.0 / den;
        dd = -dden / (den * den);
        const double c_new = b + an / c;
        dc = -1.0 + (dan * c - an * dc) / (c * c);
        c = fabs(c_new) < tiny ? tiny : c_new;
        const double delta = d * c, ddelta = dd * c + d * dc;
        dh = dh * delta + h * ddelta;
        h *= delta;
        if (fabs(delta - 1.0) <= GAMMA_GRAD_EPS &&
            fabs(h * ddelta) <= GAMMA_GRAD_EPS * fabs(dh)) break;
    }
    return x * ((log(x) - digamma_(a)) * h + dh);
}

extern "C" __global__ void special_gamma_grad(const double* x, const double* alpha, double* y,
                                              const long long n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const double v = x[i], a = alpha[i];
        if (!(a > 0 && v > 0 && isfinite(v) && isfinite(a))) {
            y[i] = NAN_;
        } else if (a >= GAMMA_GRAD_LARGE) {
            const double c = cbrt(v / a);
            const double z = (c - 1.0 + 1.0 / (9.0 * a)) * 3.0 * sqrt(a);
            const double dc = 1.0 / (9.0 * a * a) - z / (6.0 * a * sqrt(a));
            y[i] = c * c * c + 3.0 * a * c * c * dc;
        } else {
            y[i] = v < a + 1.0 ? gamma_grad_lower(v, a) : gamma_grad_upper(v, a);
        }
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



def _bessel_constants():
    """``ops/special_bessel.py``'s constants and Chebyshev tables as C definitions."""
    scalars = {name: getattr(_bessel, name) for name in (
        "EULER_GAMMA", "LN2", "J_CUTOFF", "K_CUTOFF", "AIRY_POSITIVE", "AIRY_NEGATIVE",
        "AIRY_ZETA_POSITIVE", "AIRY_ZETA_NEGATIVE", "AIRY_ZERO", "AIRY_AI0", "AIRY_AIP0",
        "SERIES_TERMS")}
    scalars.update(TWO_OVER_PI=2.0 / math.pi, SQRT_2PI=math.sqrt(2.0 * math.pi),
                   TWO_THIRDS_LO=_bessel._TWO_THIRDS_LO)
    lines = [f"#define {name} {value!r}" for name, value in scalars.items()]
    for name in ("J0_P", "J0_Q", "J1_P", "J1_Q", "K0_S", "K1_S", "AI_POS", "AI_NEG_P",
                 "AI_NEG_Q"):
        lines.append(f"__device__ const double {name}[] = "
                     f"{{{', '.join(map(repr, getattr(_bessel, name)))}}};")
    return "\n".join(lines)


# the CPU implementation's constants, written out exactly (repr round-trips a double)
for _token, _value in (("@LANCZOS@", ", ".join(map(repr, _LANCZOS))),
                      ("@LANCZOS_G@", repr(_LANCZOS_G)),
                      ("@EULER_MACLAURIN@", ", ".join(map(repr, _EM_COEFFS))),
                      ("@BESSEL_CONSTANTS@", _bessel_constants())):
    _SPECIAL = _SPECIAL.replace(_token, _value)
SOURCES = {"special": _SPECIAL}

_BLOCK = 256
_MAX_BLOCKS = 4096


def _launch(name, arrays, n, scalars, dtype=np.float64):
    """Kernel ``name`` over ``n`` elements: ``(*arrays, out, n, *scalars)``; returns ``out``."""
    cp = cupy_module()
    out = cp.empty(n, dtype)
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


POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


def polynomial(name, x, degree):
    """The orthogonal polynomial ``name`` (one of :data:`POLYNOMIALS`) at the CuPy array ``x``
    (float32 or float64: the recurrence runs in that precision) for the int64 degrees
    ``degree`` (broadcast): an array of ``x``'s dtype, or None where the fused path does not
    apply. Each element runs its own recurrence, so no degree is read back to size a loop."""
    if not fusable(x):
        return None
    cp = cupy_module()
    x, degree = cp.broadcast_arrays(x, degree)
    shape = x.shape
    flat_x = contiguous(x).reshape(-1)
    flat_n = contiguous(degree, np.int64).reshape(-1)
    kernel = "special_polynomial" if flat_x.dtype == np.float64 else "special_polynomial_f32"
    return _launch(kernel, [flat_x, flat_n], flat_x.size, [np.int32(POLYNOMIALS.index(name))],
                   flat_x.dtype).reshape(shape)


def gamma_grad(x, alpha):
    """``d x / d alpha`` for Gamma(``alpha``, 1) samples ``x`` (CuPy arrays, broadcast): a
    float64 array, or None where the fused path does not apply."""
    if not fusable(x):
        return None
    x, alpha, shape = _flat_float64_pair(x, alpha)
    return _launch("special_gamma_grad", [x, alpha], x.size, []).reshape(shape)


def _flat_float64_pair(a, b):
    """``a`` and ``b`` broadcast together, as flat float64 arrays, and their common shape."""
    a, b = cupy_module().broadcast_arrays(a, b)
    return _float64(a).reshape(-1), _float64(b).reshape(-1), a.shape


def binary(name, a, b):
    """``name`` (``zeta(s=a, q=b)``, ``igamma(a, x=b)`` or ``igammac``) of CuPy arrays, broadcast;
    a float64 array, or None where the fused path does not apply."""
    if not fusable(a):
        return None
    a, b, shape = _flat_float64_pair(a, b)
    return _launch("special_binary", [a, b], a.size, [np.int32(BINARY[name])]).reshape(shape)
