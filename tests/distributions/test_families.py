"""The families beyond the first five against ``torch.distributions`` on the same float64
parameters: shapes, supports, moments, log_prob/entropy/cdf/icdf values and their parameter
gradients, enumerate_support, expand; sample statistics with a fixed seed; validation errors."""

import numpy as np
import pytest

import disttorch

torch = pytest.importorskip("torch")
rng = np.random.default_rng(1)

B = (3, 4)
LOC, SCALE = rng.standard_normal(B), rng.uniform(0.5, 2.0, B)
POS = rng.uniform(0.6, 3.0, B)
POS2 = rng.uniform(0.6, 3.0, B)
PROB = rng.uniform(0.1, 0.9, B)
CONC = rng.uniform(0.5, 3.0, (3, 4))
A = rng.standard_normal((3, 3))
SPD = A @ A.T + 3 * np.eye(3)
TRIL = np.linalg.cholesky(SPD)
MLOC = rng.standard_normal((2, 3))
MIXLOGITS = rng.standard_normal((2, 3))
COUNTS = np.array([[2.0, 0.0, 1.0, 3.0], [0.0, 6.0, 0.0, 0.0], [1.0, 1.0, 1.0, 3.0]])


def _simplex(shape):
    x = rng.uniform(0.1, 1.0, shape)
    return x / x.sum(-1, keepdims=True)


def _onehot(idx, k):
    return np.eye(k)[idx]


# name -> (constructor(D, lib, params), params, value for log_prob, extra kwargs)
CASES = {
    "exponential": (lambda D, L, p: D.Exponential(p[0]), [POS], rng.exponential(1.0, (2,) + B)),
    "exponential_scalar": (lambda D, L, p: D.Exponential(2.5), [], np.array([0.3, 1.2])),
    "laplace": (lambda D, L, p: D.Laplace(p[0], p[1]), [LOC, SCALE], rng.laplace(size=B)),
    "cauchy": (lambda D, L, p: D.Cauchy(p[0], p[1]), [LOC, SCALE], rng.standard_cauchy(B)),
    "half_normal": (lambda D, L, p: D.HalfNormal(p[0]), [SCALE], np.abs(rng.normal(size=B))),
    "half_cauchy": (lambda D, L, p: D.HalfCauchy(p[0]), [SCALE],
                    np.abs(rng.standard_cauchy((2,) + B))),
    "log_normal": (lambda D, L, p: D.LogNormal(p[0], p[1]), [LOC, SCALE],
                   rng.lognormal(size=B)),
    "gumbel": (lambda D, L, p: D.Gumbel(p[0], p[1]), [LOC, SCALE], rng.gumbel(size=B)),
    "gumbel_scalar": (lambda D, L, p: D.Gumbel(0.5, 2.0), [], rng.gumbel(size=3)),
    "student_t": (lambda D, L, p: D.StudentT(p[0], p[1], p[2]), [POS + 1.5, LOC, SCALE],
                  rng.standard_t(3.0, B)),
    "student_t_heavy": (lambda D, L, p: D.StudentT(p[0]), [np.array([0.5, 1.5, 2.5])],
                        rng.standard_t(3.0, 3)),
    "gamma": (lambda D, L, p: D.Gamma(p[0], p[1]), [POS, POS2], rng.gamma(2.0, size=B)),
    "chi2": (lambda D, L, p: D.Chi2(p[0]), [POS * 2], rng.chisquare(3.0, B)),
    "beta": (lambda D, L, p: D.Beta(p[0], p[1]), [POS, POS2], rng.beta(2.0, 2.0, B)),
    "beta_scalar": (lambda D, L, p: D.Beta(0.5, 2.0), [], rng.beta(2.0, 2.0, 4)),
    "dirichlet": (lambda D, L, p: D.Dirichlet(p[0]), [CONC], _simplex((2, 3, 4))),
    "dirichlet_small": (lambda D, L, p: D.Dirichlet(p[0]), [np.array([[0.3, 0.6, 0.2],
                                                                      [2.0, 0.5, 3.0]])],
                        _simplex((2, 3))),
    "poisson": (lambda D, L, p: D.Poisson(p[0]), [POS], rng.poisson(2.0, (2,) + B) * 1.0),
    "binomial_probs": (lambda D, L, p: D.Binomial(5, probs=p[0]), [PROB],
                       rng.integers(0, 6, B) * 1.0),
    "binomial_logits": (lambda D, L, p: D.Binomial(L.tensor([[3.0], [4.0], [7.0]]),
                                                   logits=p[0]), [LOC],
                        rng.integers(0, 4, B) * 1.0),
    "geometric_probs": (lambda D, L, p: D.Geometric(probs=p[0]), [PROB],
                        rng.geometric(0.4, B) - 1.0),
    "geometric_logits": (lambda D, L, p: D.Geometric(logits=p[0]), [LOC],
                         rng.geometric(0.4, B) - 1.0),
    "negative_binomial": (lambda D, L, p: D.NegativeBinomial(p[0], probs=p[1]), [POS, PROB],
                          rng.integers(0, 8, B) * 1.0),
    "negative_binomial_logits": (lambda D, L, p: D.NegativeBinomial(p[0], logits=p[1]),
                                 [POS, LOC], rng.integers(0, 8, B) * 1.0),
    "multinomial": (lambda D, L, p: D.Multinomial(6, probs=p[0]), [CONC], COUNTS),
    "multinomial_logits": (lambda D, L, p: D.Multinomial(6, logits=p[0]), [LOC], COUNTS),
    "one_hot_categorical": (lambda D, L, p: D.OneHotCategorical(probs=p[0]), [CONC],
                            _onehot(rng.integers(0, 4, (2, 3)), 4)),
    "one_hot_categorical_logits": (lambda D, L, p: D.OneHotCategorical(logits=p[0]), [LOC],
                                   _onehot(rng.integers(0, 4, 3), 4)),
    "mvn_cov": (lambda D, L, p: D.MultivariateNormal(p[0], covariance_matrix=p[1]),
                [MLOC, SPD], rng.standard_normal((4, 2, 3))),
    "mvn_tril": (lambda D, L, p: D.MultivariateNormal(p[0], scale_tril=p[1]), [MLOC, TRIL],
                 rng.standard_normal((2, 3))),
    "mvn_precision": (lambda D, L, p: D.MultivariateNormal(p[0], precision_matrix=p[1]),
                      [MLOC[0], SPD], rng.standard_normal((5, 3))),
    "relaxed_bernoulli": (lambda D, L, p: D.RelaxedBernoulli(L.tensor(0.7, dtype=L.float64),
                                                             probs=p[0]), [PROB],
                          rng.uniform(0.05, 0.95, B)),
    "relaxed_one_hot": (lambda D, L, p: D.RelaxedOneHotCategorical(
        L.tensor(0.5, dtype=L.float64), logits=p[0]), [LOC], _simplex(B)),
    "mixture_normal": (lambda D, L, p: D.MixtureSameFamily(D.Categorical(logits=p[0]),
                                                           D.Normal(p[1], p[2])),
                       [MIXLOGITS, MLOC, SCALE[:2, :3]], rng.standard_normal((5, 2))),
    "mixture_mvn": (lambda D, L, p: D.MixtureSameFamily(
        D.Categorical(logits=p[0]), D.MultivariateNormal(p[1].reshape(2, 3, 1).expand(2, 3, 3),
                                                         scale_tril=p[2])),
        [MIXLOGITS, MLOC, TRIL], rng.standard_normal((4, 2, 3))),
    "transformed_affine_exp": (lambda D, L, p: D.TransformedDistribution(
        D.Normal(p[0], p[1]), [D.AffineTransform(p[0], 0.5), D.ExpTransform()]),
        [LOC, SCALE], rng.lognormal(size=B)),
    "transformed_stick_breaking": (lambda D, L, p: D.TransformedDistribution(
        D.Normal(p[0][:, :3], p[1][:, :3]), D.StickBreakingTransform()),
        [LOC, SCALE], _simplex((2, 3, 4))),
    "transformed_sigmoid_decreasing": (lambda D, L, p: D.TransformedDistribution(
        D.Normal(p[0], p[1]), [D.SigmoidTransform(), D.AffineTransform(1.0, -2.0)]),
        [LOC, SCALE], rng.uniform(-0.9, 0.9, B)),
}
HAS_CDF = {"exponential", "exponential_scalar", "laplace", "cauchy", "half_normal",
           "half_cauchy", "log_normal", "gumbel", "gumbel_scalar", "gamma", "chi2",
           "mixture_normal", "transformed_affine_exp", "transformed_sigmoid_decreasing"}
HAS_ICDF = HAS_CDF - {"gamma", "chi2", "mixture_normal"}


def _build(lib, name, requires_grad=False):
    make, params, value = CASES[name]
    tensors = [lib.tensor(p, dtype=lib.float64, requires_grad=requires_grad) for p in params]
    return make(lib.distributions, lib, tensors), tensors, lib.tensor(value, dtype=lib.float64)


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(got, want, rtol=1e-10, atol=1e-12, what=""):
    if str(getattr(want, "dtype", "")).endswith("float32"):  # (the scalar-parameter cases)
        rtol, atol = max(rtol, 2e-6), max(atol, 1e-6)
    np.testing.assert_allclose(_np(got), _np(want), rtol=rtol, atol=atol, err_msg=what)


def _same_or_both_raise(fn_t, fn_d, what, **tol):
    try:
        want = fn_t()
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            fn_d()
        return None
    got = fn_d()
    assert tuple(got.shape) == tuple(want.shape), what
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], what
    _close(got, want, what=what, **tol)
    return got


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    (td, tp, tv), (dd, dp, dv) = _build(torch, name, True), _build(disttorch, name, True)
    assert tuple(dd.batch_shape) == tuple(td.batch_shape)
    assert tuple(dd.event_shape) == tuple(td.event_shape)
    assert dd.has_rsample == td.has_rsample
    assert dd.has_enumerate_support == td.has_enumerate_support
    assert type(dd.support).__name__ == type(td.support).__name__
    if "binomial" not in name:  # (integer_interval's bound prints as a tensor)
        assert repr(dd.support).replace("disttorch.", "torch.") == repr(td.support)
    assert set(dd.arg_constraints) == set(td.arg_constraints)
    for attr in ("mean", "variance", "stddev", "mode"):
        _same_or_both_raise(lambda: getattr(td, attr), lambda: getattr(dd, attr), attr)
    lp_t, lp_d = td.log_prob(tv), dd.log_prob(dv)
    assert tuple(lp_d.shape) == tuple(lp_t.shape)
    _close(lp_d, lp_t, what="log_prob")
    loss_t, loss_d = lp_t.sum(), lp_d.sum()
    # (PyTorch's Multinomial entropy takes lgamma of an int64 n, in float32)
    ent = _same_or_both_raise(td.entropy, dd.entropy, "entropy",
                              rtol=1e-7 if name.startswith("multinomial") else 1e-9)
    if ent is not None:
        loss_t, loss_d = loss_t + td.entropy().sum(), loss_d + ent.sum()
    if name in HAS_CDF:
        cdf = _same_or_both_raise(lambda: td.cdf(tv), lambda: dd.cdf(dv), "cdf")
        if name not in ("gamma", "chi2"):  # (igamma has no gradient in the concentration)
            loss_t, loss_d = loss_t + td.cdf(tv).sum(), loss_d + cdf.sum()
    if name in HAS_ICDF:
        q = rng.uniform(0.05, 0.95, tuple(td.batch_shape))
        _close(dd.icdf(disttorch.tensor(q)), td.icdf(torch.tensor(q)), rtol=1e-9,
               what="icdf")
    if tp:
        grads_t = torch.autograd.grad(loss_t, tp, allow_unused=True)
        grads_d = disttorch.autograd.grad(loss_d, dp, allow_unused=True)
        for gd, gt in zip(grads_d, grads_t):
            _close(gd, gt, rtol=1e-8, atol=1e-10, what="gradient")
    if td.has_enumerate_support:
        for expand in (True, False):
            _same_or_both_raise(lambda: td.enumerate_support(expand),
                                lambda: dd.enumerate_support(expand), "support")


@pytest.mark.parametrize("name", list(CASES))
def test_expand_matches_torch(name):
    td, _, _ = _build(torch, name)
    dd, _, _ = _build(disttorch, name)
    target = (2,) + tuple(td.batch_shape)
    te, de = td.expand(target), dd.expand(target)
    assert type(de) is type(dd)
    assert tuple(de.batch_shape) == tuple(te.batch_shape) == target
    assert tuple(de.event_shape) == tuple(te.event_shape)
    value = te.sample()
    _close(de.log_prob(disttorch.tensor(value.numpy())), te.log_prob(value), rtol=1e-6,
           what="log_prob")
    assert tuple(de.sample((3,)).shape) == tuple(te.sample((3,)).shape)


# name -> number of draws; the mean checked to 6 standard errors, the variance to 6 of its
# own (from the fourth central moment), where they exist
SAMPLED = {"exponential": 20000, "laplace": 20000, "half_normal": 20000, "log_normal": 20000,
           "gumbel": 20000, "student_t": 20000, "gamma": 20000, "chi2": 20000, "beta": 20000,
           "dirichlet": 20000, "dirichlet_small": 20000, "poisson": 20000,
           "binomial_probs": 20000, "binomial_logits": 20000, "geometric_probs": 20000,
           "negative_binomial": 20000, "multinomial": 20000, "one_hot_categorical": 20000,
           "mvn_cov": 20000, "mvn_precision": 20000, "mixture_normal": 20000,
           "mixture_mvn": 20000}


@pytest.mark.parametrize("name", list(SAMPLED))
def test_sample_statistics(name):
    n = SAMPLED[name]
    disttorch.manual_seed(0)
    dd, _, _ = _build(disttorch, name)
    td, _, _ = _build(torch, name)
    draws = dd.sample((n,))
    want = td.sample((n,))
    assert tuple(draws.shape) == tuple(want.shape)
    assert draws.dtype == disttorch.float64 and draws.requires_grad is False
    assert bool(dd.support.check(draws).all())
    x = _np(draws)
    mean, var = _np(dd.mean), _np(dd.variance)
    finite = np.isfinite(var) & (var < 50)  # (heavy tails: the variance estimate is noisy)
    if name == "student_t":
        finite &= _np(dd.df) > 4.5  # a finite fourth moment for the variance's error
    se = np.sqrt(var / n)
    assert np.all(np.abs(x.mean(0) - mean)[finite] < 6 * se[finite]), name
    fourth = ((x - mean) ** 4).mean(0)
    var_se = np.sqrt(np.maximum(fourth - var ** 2, 0) / n)
    assert np.all(np.abs(x.var(0) - var)[finite] < 6 * var_se[finite] + 1e-12), name
    disttorch.manual_seed(0)
    np.testing.assert_array_equal(_np(dd.sample((n,))), x)  # the global seed reproduces


def test_transformed_samples():
    # log of the samples: Normal(loc + 0.5 loc, 0.5 scale)
    disttorch.manual_seed(2)
    dd, _, _ = _build(disttorch, "transformed_affine_exp")
    x = np.log(_np(dd.sample((20000,))))
    assert np.all(np.abs(x.mean(0) - 1.5 * LOC) < 6 * 0.5 * SCALE / np.sqrt(20000))
    np.testing.assert_allclose(x.std(0), 0.5 * SCALE, rtol=0.05)


def test_mvn_sample_covariance():
    disttorch.manual_seed(3)
    m = disttorch.distributions.MultivariateNormal(disttorch.tensor(MLOC[0]),
                                                   covariance_matrix=disttorch.tensor(SPD))
    x = _np(m.sample((40000,)))
    # each covariance entry within 6 standard errors (var(xy) / n for centred normals)
    se = np.sqrt((np.outer(np.diag(SPD), np.diag(SPD)) + SPD ** 2) / 40000)
    assert np.all(np.abs(np.cov(x.T) - SPD) < 6 * se)


@pytest.mark.parametrize("name", ["exponential", "laplace", "cauchy", "half_normal",
                                  "half_cauchy", "log_normal", "gumbel", "student_t", "gamma",
                                  "chi2", "beta", "dirichlet", "mvn_tril",
                                  "relaxed_bernoulli", "relaxed_one_hot",
                                  "transformed_stick_breaking"])
def test_rsample_shapes_and_graph(name):
    dd, params, _ = _build(disttorch, name, True)
    td, _, _ = _build(torch, name)
    x = dd.rsample((5,))
    assert tuple(x.shape) == tuple(td.rsample((5,)).shape)
    assert x.requires_grad
    grads = disttorch.autograd.grad(x.sum(), params, allow_unused=True)
    assert any(g is not None and bool((g != 0).any()) for g in grads)
    assert bool(disttorch.isfinite(dd.log_prob(x.detach())).all())


def test_discrete_has_no_rsample():
    D = disttorch.distributions
    for dist in (D.Poisson(disttorch.tensor([1.0])), D.Binomial(3, disttorch.tensor([0.5])),
                 D.Geometric(disttorch.tensor([0.5])), D.Multinomial(3, disttorch.ones(3)),
                 D.OneHotCategorical(disttorch.ones(3))):
        with pytest.raises(NotImplementedError):
            dist.rsample()


def test_straight_through_gradient():
    logits = disttorch.tensor([0.1, -0.4, 1.0], requires_grad=True)
    dist = disttorch.distributions.OneHotCategoricalStraightThrough(logits=logits)
    disttorch.manual_seed(0)
    x = dist.rsample((4,))
    assert bool(((x == 0) | (x == 1)).all()) and bool((x.sum(-1) == 1).all())
    (x * disttorch.tensor([1.0, 2.0, 3.0])).sum().backward()
    t_logits = torch.tensor([0.1, -0.4, 1.0], requires_grad=True)
    (4 * torch.softmax(t_logits, -1) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), t_logits.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda D, L: D.Exponential(L.tensor([1.0, -1.0])),
    lambda D, L: D.Exponential(L.tensor([1.0])).log_prob(L.tensor([-1.0])),
    lambda D, L: D.Laplace(0.0, L.tensor([0.0])),
    lambda D, L: D.Gamma(L.tensor([1.0]), L.tensor([-2.0])),
    lambda D, L: D.Gamma(L.tensor([1.0]), L.tensor([2.0])).log_prob(L.tensor([-0.5])),
    lambda D, L: D.Chi2(L.tensor([-1.0])),
    lambda D, L: D.Beta(L.tensor([1.0]), L.tensor([-1.0])),
    lambda D, L: D.Beta(L.tensor([1.0]), L.tensor([1.0])).log_prob(L.tensor([1.5])),
    lambda D, L: D.Dirichlet(L.tensor(1.0)),
    lambda D, L: D.Dirichlet(L.tensor([1.0, 0.0])),
    lambda D, L: D.Dirichlet(L.tensor([1.0, 1.0])).log_prob(L.tensor([0.2, 0.2])),
    lambda D, L: D.StudentT(L.tensor([0.0])),
    lambda D, L: D.HalfNormal(L.tensor([-1.0])),
    lambda D, L: D.HalfNormal(L.tensor([1.0])).log_prob(L.tensor([-1.0])),
    lambda D, L: D.HalfCauchy(L.tensor([1.0])).log_prob(L.tensor([-1.0])),
    lambda D, L: D.LogNormal(L.tensor([0.0]), L.tensor([-1.0])),
    lambda D, L: D.Gumbel(L.tensor([0.0]), L.tensor([0.0])),
    lambda D, L: D.Poisson(L.tensor([-1.0])),
    lambda D, L: D.Poisson(L.tensor([1.0])).log_prob(L.tensor([0.5])),
    lambda D, L: D.Binomial(L.tensor([2.5]), probs=L.tensor([0.5])),
    lambda D, L: D.Binomial(2, probs=L.tensor([0.5])).log_prob(L.tensor([3.0])),
    lambda D, L: D.Binomial(2, probs=L.tensor([0.5]), logits=L.tensor([0.0])),
    lambda D, L: D.Geometric(probs=L.tensor([1.5])),
    lambda D, L: D.NegativeBinomial(L.tensor([-1.0]), probs=L.tensor([0.5])),
    lambda D, L: D.NegativeBinomial(L.tensor([1.0]), probs=L.tensor([1.0])),
    lambda D, L: D.Multinomial(3, probs=L.tensor([0.5, -0.25])),
    lambda D, L: D.Multinomial(3, probs=L.tensor([0.5, 0.5])).log_prob(L.tensor([2.0, 2.0])),
    lambda D, L: D.OneHotCategorical(probs=L.tensor([0.5, 0.5])).log_prob(L.tensor([1.0, 1.0])),
    lambda D, L: D.MultivariateNormal(L.tensor(0.0), L.eye(2)),
    lambda D, L: D.MultivariateNormal(L.zeros(2)),
    lambda D, L: D.MultivariateNormal(L.zeros(2), L.eye(2), scale_tril=L.eye(2)),
    lambda D, L: D.MultivariateNormal(L.zeros(2), L.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda D, L: D.MultivariateNormal(L.zeros(2), L.tensor([[1.0, 0.5], [0.0, 1.0]])),
    lambda D, L: D.MultivariateNormal(L.zeros(2), scale_tril=L.tensor([[1.0, 0.5], [0.0, 1.0]])),
    lambda D, L: D.MultivariateNormal(L.zeros(2), precision_matrix=L.tensor([1.0, 2.0])),
    lambda D, L: D.MultivariateNormal(L.zeros(2), L.eye(2)).log_prob(L.zeros(3)),
    lambda D, L: D.RelaxedBernoulli(L.tensor(0.5), probs=L.tensor([1.5])),
    lambda D, L: D.RelaxedOneHotCategorical(L.tensor(0.5), probs=L.tensor([0.5, -0.25])),
    lambda D, L: D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(L.zeros(2), 1.0)),
    lambda D, L: D.MixtureSameFamily(D.Categorical(L.ones(3)), D.Normal(L.zeros(2), 1.0)),
    lambda D, L: D.MixtureSameFamily(D.Categorical(L.ones(3, 2)),
                                     D.Normal(L.zeros(4, 2), 1.0)),
    lambda D, L: D.TransformedDistribution(D.Normal(0.0, 1.0), [D.ExpTransform(), 3]),
    lambda D, L: D.TransformedDistribution(D.Normal(0.0, 1.0), D.StickBreakingTransform()),
    lambda D, L: D.TransformedDistribution(D.Normal(L.zeros(2), 1.0),
                                           D.ExpTransform()).log_prob(L.tensor([-1.0, 1.0])),
], ids=lambda f: "")
def test_validation_errors_match_torch(make):
    with pytest.raises(ValueError) as want:
        make(torch.distributions, torch)
    with pytest.raises(ValueError) as got:
        make(disttorch.distributions, disttorch)
    assert str(got.value).replace("disttorch.", "torch.") == str(want.value)


def test_not_implemented_as_torch():
    D = disttorch.distributions
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count"):
        D.Multinomial(disttorch.tensor(3), probs=disttorch.ones(2))
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count not supported "
                                                  "by `enumerate_support`"):
        D.Binomial(disttorch.tensor([2.0, 3.0]), probs=disttorch.tensor([0.5, 0.5])) \
            .enumerate_support()
    with pytest.raises(NotImplementedError):
        D.Poisson(disttorch.tensor([1.0])).entropy()
