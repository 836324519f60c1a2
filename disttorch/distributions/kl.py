"""``kl_divergence(p, q)`` and ``register_kl``: closed forms looked up by the pair of types."""
import math

from .. import linalg, ops
from ..nn.functional import softplus
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .exp_family import ExponentialFamily, _kl_expfamily_expfamily
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import Gumbel, _EULER_GAMMA
from .half_normal import HalfNormal
from .independent import Independent
from .laplace import Laplace
from .lowrank_multivariate_normal import (LowRankMultivariateNormal, _batch_lowrank_logdet,
                                          _batch_lowrank_mahalanobis)
from .multivariate_normal import MultivariateNormal, _batch_mahalanobis
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .pareto import Pareto
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from .utils import _sum_rightmost

__all__ = ["kl_divergence", "register_kl"]

_KL = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``type_p`` and ``type_q`` (and
    their subclasses; the most specific registered pair wins)."""
    def decorate(fn):
        _KL[type_p, type_q] = fn
        return fn
    return decorate


def _lookup(type_p, type_q):
    best, rank = None, None
    for (p, q), fn in _KL.items():
        if issubclass(type_p, p) and issubclass(type_q, q):
            r = (type_p.__mro__.index(p), type_q.__mro__.index(q))
            if rank is None or r < rank:
                best, rank = fn, r
    return best


def kl_divergence(p, q):
    r"""The Kullback-Leibler divergence :math:`KL(p \| q) = \int p(x) \log \frac{p(x)}{q(x)} dx`,
    batched over the distributions' batch shape."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - ops.log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # (each term 0 where p's probability of that outcome is 0, +inf where q's is)
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = ops.where(q.probs == 0, ops.full_like(t1, math.inf), t1)
    t1 = ops.where(p.probs == 0, ops.zeros_like(t1), t1)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = ops.where(q.probs == 1, ops.full_like(t2, math.inf), t2)
    t2 = ops.where(p.probs == 1, ops.zeros_like(t2), t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = ops.where(q.probs == 0, ops.full_like(t, math.inf), t)
    t = ops.where(p.probs == 0, ops.zeros_like(t), t)
    return t.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ops.log((q.high - q.low) / (p.high - p.low))
    outside = (q.low > p.low) | (q.high < p.high)
    return ops.where(outside, ops.full_like(result, math.inf), result)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different "
                                  "reinterpreted_batch_ndims is not implemented")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


def _infinite_like(t):
    return ops.full_like(t, math.inf)


def _log_beta(a, b):
    return ops.lgamma(a) + ops.lgamma(b) - ops.lgamma(a + b)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    return (_log_beta(a2, b2) - _log_beta(a1, b1) + (a1 - a2) * ops.digamma(a1)
            + (b1 - b2) * ops.digamma(b1) + (a2 - a1 + b2 - b1) * ops.digamma(a1 + b1))


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    # (PyTorch's restriction: a q with more trials than p is not handled)
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count "
                                  "is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + ops.log1p(-p.probs)
                          - ops.log1p(-q.probs))
    return ops.where(p.total_count > q.total_count, _infinite_like(kl), kl)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    a, b = p.concentration, q.concentration
    sum_a, sum_b = a.sum(-1), b.sum(-1)
    return (ops.lgamma(sum_a) - ops.lgamma(sum_b) - (ops.lgamma(a) - ops.lgamma(b)).sum(-1)
            + ((a - b) * (ops.digamma(a) - ops.digamma(sum_a).unsqueeze(-1))).sum(-1))


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ops.log(ratio)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    a1, b1, a2, b2 = p.concentration, p.rate, q.concentration, q.rate
    return ((a1 - a2) * ops.digamma(a1) - ops.lgamma(a1) + ops.lgamma(a2)
            + a2 * (ops.log(b1) - ops.log(b2)) + a1 * (b2 - b1) / b1)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ratio = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    # E_p[exp(-(x - mu_q)/beta_q)] = exp(-shift) Gamma(1 + ratio)
    return (-ops.log(ratio) + shift + ratio * _EULER_GAMMA
            + ops.exp(-shift + ops.lgamma(1 + ratio)) - (1 + _EULER_GAMMA))


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - ops.log1p(-q.probs) / p.probs - q.logits


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    ratio = p.scale / q.scale
    dist = (p.loc - q.loc).abs()
    return -ops.log(ratio) + dist / q.scale + ratio * ops.exp(-dist / p.scale) - 1


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    n = p.event_shape[0]
    half_log_det = q._half_log_det() - p._half_log_det()
    lp, lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    shape = ops.broadcast_shapes(tuple(lp.shape[:-2]), tuple(lq.shape[:-2]))
    # tr(Sq^-1 Sp) = |Lq^-1 Lp|_F^2
    trace = linalg.solve_triangular(lq.expand(tuple(shape) + (n, n)),
                                    lp.expand(tuple(shape) + (n, n)), upper=False)
    trace = trace.pow(2).sum(-1).sum(-1)
    mahalanobis = _batch_mahalanobis(lq, q.loc - p.loc)
    return half_log_det + 0.5 * (trace + mahalanobis - n)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (ops.log(p.rate) - ops.log(q.rate)) - (p.rate - q.rate)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError
    if p.event_shape != q.event_shape:
        raise NotImplementedError
    extra = len(p.event_shape) - len(p.base_dist.event_shape)
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), extra)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return ops.log(((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2))
                   / (4 * p.scale * q.scale))


# ---- mixed pairs: -H(p) - E_p[log q], with E_p of the statistics q's density needs

def _normal_cross_entropy(mean, var, q):
    """``-E_p[log q]`` for a Normal ``q``, from p's mean and variance."""
    return (ops.log(q.scale) + 0.5 * math.log(2 * math.pi)
            + (var + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2)))


@register_kl(Exponential, Normal)
@register_kl(Gamma, Normal)
@register_kl(Laplace, Normal)
@register_kl(Beta, Normal)
@register_kl(Uniform, Normal)
def _kl_to_normal(p, q):
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    d = p.loc - q.loc
    # E|x - m| of a normal: the folded normal's mean
    folded = p.scale * math.sqrt(2 / math.pi) * ops.exp(-d.pow(2) / (2 * p.scale.pow(2))) \
        + d * ops.erf(d / (p.scale * math.sqrt(2)))
    return -p.entropy() + ops.log(2 * q.scale) + folded / q.scale


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    a, b = q.concentration, q.rate
    mean_log = -_EULER_GAMMA - ops.log(p.rate)
    return (-p.entropy() - a * ops.log(b) + ops.lgamma(a) - (a - 1) * mean_log
            + b / p.rate)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.mean


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return (p.probs * (ops.log(p.probs) - ops.log(q.rate))
            + (1 - p.probs) * ops.log1p(-p.probs) + q.rate)


def _uniform_mean_log(low, high):
    # E[log x] for x ~ U(low, high), low >= 0: [x log x - x] between the bounds
    return (ops.xlogy(high, high) - ops.xlogy(low, low)) / (high - low) - 1


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    kl = -p.entropy() - ops.log(q.rate) + q.rate * p.mean
    return ops.where(p.low < 0, _infinite_like(kl), kl)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    a, b = q.concentration, q.rate
    low = p.low.clamp(min=0)
    kl = (-p.entropy() - a * ops.log(b) + ops.lgamma(a)
          - (a - 1) * _uniform_mean_log(low, p.high) + b * p.mean)
    return ops.where(p.low < 0, _infinite_like(kl), kl)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    a, b = q.concentration1, q.concentration0
    low, high = p.low.clamp(min=0, max=1), p.high.clamp(min=0, max=1)
    mean_log = _uniform_mean_log(low, high)
    mean_log1m = _uniform_mean_log(1 - high, 1 - low)
    kl = -p.entropy() + _log_beta(a, b) - (a - 1) * mean_log - (b - 1) * mean_log1m
    return ops.where((p.low < 0) | (p.high > 1), _infinite_like(kl), kl)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    kl = -p.entropy() + ops.log(q.high - q.low)
    return ops.where((q.low > 0) | (q.high < 1), _infinite_like(kl), kl)


# ---- q has no density where p has mass

@register_kl(Normal, Beta)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Uniform)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Normal, Pareto)
@register_kl(Laplace, Beta)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Laplace, Pareto)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Uniform)
@register_kl(Gumbel, Beta)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Uniform)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Gumbel, Pareto)
def _kl_real_support_infinity(p, q):
    return _infinite_like(p.loc)


@register_kl(Exponential, Beta)
@register_kl(Exponential, Uniform)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Exponential, Pareto)
def _kl_exponential_infinity(p, q):
    return _infinite_like(p.rate)


@register_kl(Gamma, Beta)
@register_kl(Gamma, Uniform)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gamma, Pareto)
def _kl_gamma_infinity(p, q):
    return _infinite_like(p.concentration)


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_infinity(p, q):
    return _infinite_like(p.rate)


register_kl(ExponentialFamily, ExponentialFamily)(_kl_expfamily_expfamily)


# ---- LowRankMultivariateNormal: KL = (log|Sq| - log|Sp| + tr(Sq^-1 Sp) + M - n) / 2, with
# Sq^-1 = Dq^-1 - A^T A (Woodbury, A = Cq_L^-1 Wq^T Dq^-1) for a low-rank q

def _trace_xxt(x):
    """``tr(X X^T)`` over a batch: the squared Frobenius norm."""
    return x.pow(2).sum(-1).sum(-1)


def _woodbury_factor(q):
    Wt_Dinv = q._unbroadcasted_cov_factor.mT / q._unbroadcasted_cov_diag.unsqueeze(-2)
    C = q._capacitance_tril
    shape = tuple(ops.broadcast_shapes(tuple(C.shape[:-2]), tuple(Wt_Dinv.shape[:-2])))
    return linalg.solve_triangular(C.expand(shape + tuple(C.shape[-2:])),
                                   Wt_Dinv.expand(shape + tuple(Wt_Dinv.shape[-2:])),
                                   upper=False)


def _lowrank_logdet(d):
    return _batch_lowrank_logdet(d._unbroadcasted_cov_factor, d._unbroadcasted_cov_diag,
                                 d._capacitance_tril)


def _lowrank_mahalanobis(q, diff):
    return _batch_lowrank_mahalanobis(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag,
                                      diff, q._capacitance_tril)


def _check_event_shapes(p, q, what):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two {what} with different event shapes "
                         f"cannot be computed")


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    _check_event_shapes(p, q, "Low Rank Multivariate Normals")
    logdet = _lowrank_logdet(q) - _lowrank_logdet(p)
    A = _woodbury_factor(q)
    Wp, Dp, Dq = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag, \
        q._unbroadcasted_cov_diag
    # tr((Dq^-1 - A^T A)(Dp + Wp Wp^T))
    trace = ((Dp / Dq).sum(-1) + _trace_xxt(Wp * Dq.rsqrt().unsqueeze(-1))
             - _trace_xxt(A * Dp.sqrt().unsqueeze(-2)) - _trace_xxt(A @ Wp))
    return 0.5 * (logdet + trace + _lowrank_mahalanobis(q, q.loc - p.loc) - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    _check_event_shapes(p, q, "(Low Rank) Multivariate Normals")
    Lp = p._unbroadcasted_scale_tril
    logdet = _lowrank_logdet(q) - 2 * Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    A = _woodbury_factor(q)
    # tr((Dq^-1 - A^T A) Lp Lp^T)
    trace = (_trace_xxt(Lp * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1))
             - _trace_xxt(A @ Lp))
    return 0.5 * (logdet + trace + _lowrank_mahalanobis(q, q.loc - p.loc) - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    _check_event_shapes(p, q, "(Low Rank) Multivariate Normals")
    Lq = q._unbroadcasted_scale_tril
    logdet = 2 * Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - _lowrank_logdet(p)
    n = p.event_shape[0]
    Wp = p._unbroadcasted_cov_factor
    shape = tuple(ops.broadcast_shapes(tuple(Lq.shape[:-2]), tuple(Wp.shape[:-2])))
    Lq = Lq.expand(shape + (n, n))
    # tr(Sq^-1 (Wp Wp^T + Dp)) = |Lq^-1 Wp|^2 + |Lq^-1 Dp^(1/2)|^2
    trace = (_trace_xxt(linalg.solve_triangular(Lq, Wp.expand(shape + tuple(Wp.shape[-2:])),
                                                upper=False))
             + _trace_xxt(linalg.solve_triangular(
                 Lq, ops.diag_embed(p._unbroadcasted_cov_diag.sqrt()).expand(shape + (n, n)),
                 upper=False)))
    return 0.5 * (logdet + trace + _batch_mahalanobis(q._unbroadcasted_scale_tril,
                                                      q.loc - p.loc) - n)


# ---- ContinuousBernoulli: log q(x) = log C + log(1 - probs) + x logits

def _cb_cross_entropy(mean, q):
    """``-E_p[log q]`` for a ContinuousBernoulli ``q``, from p's mean."""
    return -(mean * q.logits + ops.log1p(-q.probs) + q._cont_bern_log_norm())


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_cb_cb(p, q):
    return (p.mean * (p.logits - q.logits) + p._cont_bern_log_norm() + ops.log1p(-p.probs)
            - q._cont_bern_log_norm() - ops.log1p(-q.probs))


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_cb(p, q):
    return -p.entropy() + _cb_cross_entropy(p.mean, q)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_cb(p, q):
    kl = -p.entropy() + _cb_cross_entropy(p.mean, q)
    # (PyTorch also calls the uniform on all of [0, 1] infinitely far)
    return ops.where((p.high > 1) | (p.low < 0), _infinite_like(kl), kl)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_cb_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_cb_normal(p, q):
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(ContinuousBernoulli, Uniform)
def _kl_cb_uniform(p, q):
    kl = -p.entropy() + ops.log(q.high - q.low)
    # (PyTorch also calls a q of exactly [0, 1] infinitely far)
    return ops.where((q.low > 0) | (q.high < 1), _infinite_like(kl), kl)


# ---- Beta to the half line

def _beta_mean_log(p):
    return ops.digamma(p.concentration1) - ops.digamma(p.concentration1 + p.concentration0)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    a, b = q.concentration, q.rate
    return (-p.entropy() + ops.lgamma(a) - a * ops.log(b) - (a - 1) * _beta_mean_log(p)
            + b * p.mean)


# ---- Gumbel: -log q(x) = log scale + z + exp(-z), z = (x - loc) / scale; E_p[exp(-z)] is
# p's moment generating function at -1/scale

def _gumbel_cross_entropy(mean, mgf, q):
    return ops.log(q.scale) + (mean - q.loc) / q.scale + ops.exp(q.loc / q.scale) * mgf


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    mgf = p.rate / (p.rate + q.scale.reciprocal())
    return -p.entropy() + _gumbel_cross_entropy(p.mean, mgf, q)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    mgf = (1 + (p.rate * q.scale).reciprocal()).pow(-p.concentration)
    return -p.entropy() + _gumbel_cross_entropy(p.mean, mgf, q)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mgf = ops.exp(-p.loc / q.scale + 0.5 * (p.scale / q.scale).pow(2))
    return -p.entropy() + _gumbel_cross_entropy(p.loc, mgf, q)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    width = p.high - p.low
    mgf = q.scale * (ops.exp(-p.low / q.scale) - ops.exp(-p.high / q.scale)) / width
    return -p.entropy() + _gumbel_cross_entropy(p.mean, mgf, q)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


# ---- Pareto: -log q(x) for the densities of the half line, with E_p[log x] = log scale +
# 1/alpha; the mean is infinite for alpha <= 1, the variance for alpha <= 2

def _where_alpha_at_most(p, bound, kl):
    return ops.where(p.alpha <= bound, _infinite_like(kl), kl)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    alpha_ratio = q.alpha / p.alpha
    kl = q.alpha * ops.log(p.scale / q.scale) - ops.log(alpha_ratio) + alpha_ratio - 1
    return ops.where(p.scale < q.scale, _infinite_like(kl), kl)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    mean = p.alpha * p.scale / (p.alpha - 1)
    return _where_alpha_at_most(p, 1, -p.entropy() - ops.log(q.rate) + q.rate * mean)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    a, b = q.concentration, q.rate
    mean = p.alpha * p.scale / (p.alpha - 1)
    mean_log = ops.log(p.scale) + p.alpha.reciprocal()
    kl = -p.entropy() + ops.lgamma(a) - a * ops.log(b) - (a - 1) * mean_log + b * mean
    return _where_alpha_at_most(p, 1, kl)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    a = p.alpha
    mean = a * p.scale / (a - 1)
    var = a * (p.scale / (a - 1)).pow(2) / (a - 2)
    return _where_alpha_at_most(p, 2, -p.entropy() + _normal_cross_entropy(mean, var, q))


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    mean_log = _uniform_mean_log(p.low, p.high)
    kl = (-p.entropy() - ops.log(q.alpha) - q.alpha * ops.log(q.scale)
          + (q.alpha + 1) * mean_log)
    return ops.where(p.low < q.scale, _infinite_like(kl), kl)


# ---- q has no density where p has mass

@register_kl(Pareto, Beta)
@register_kl(Pareto, ContinuousBernoulli)
@register_kl(Pareto, Uniform)
def _kl_pareto_infinity(p, q):
    return _infinite_like(p.scale)
