"""The families added last (LowRankMultivariateNormal, ContinuousBernoulli, Pareto, Weibull,
Kumaraswamy, VonMises, Wishart, LKJCholesky, FisherSnedecor, InverseGamma, GeneralizedPareto,
LogisticNormal) against ``torch.distributions`` on the same float64 parameters: shapes,
constraints, moments, log_prob/entropy/cdf/icdf and their parameter gradients, expand; sample
moments within standard errors; reparameterized gradients against torch's; validation errors."""
import math
import warnings

import numpy as np
import pytest

import disttorch

torch = pytest.importorskip("torch")
rng = np.random.default_rng(7)

B = (3, 4)
LOC, SCALE = rng.standard_normal(B), rng.uniform(0.5, 2.0, B)
POS, POS2 = rng.uniform(0.6, 3.0, B), rng.uniform(0.6, 3.0, B)
BIG = rng.uniform(4.5, 9.0, B)  # (finite variances for the heavy tails)
PROB = np.array([[0.1, 0.3, 0.4995, 0.5], [0.7, 0.9, 0.2, 0.5004], [0.05, 0.45, 0.55, 0.95]])
W = rng.standard_normal((2, 4, 2))
DIAG = rng.uniform(0.5, 1.5, (2, 4))
MLOC = rng.standard_normal((2, 4))
A = rng.standard_normal((2, 3, 3))
SPD = A @ A.transpose(0, 2, 1) + 2 * np.eye(3)
TRIL = np.linalg.cholesky(SPD)


def _spd(n, shape):
    m = rng.standard_normal(shape + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def _corr_cholesky(shape, d):
    c = _spd(d, shape)
    s = np.sqrt(np.diagonal(c, axis1=-2, axis2=-1))
    return np.linalg.cholesky(c / s[..., :, None] / s[..., None, :])


def _simplex(shape):
    x = rng.uniform(0.1, 1.0, shape)
    return x / x.sum(-1, keepdims=True)


# name -> (constructor(D, lib, params), params, value for log_prob)
CASES = {
    "lowrank": (lambda D, L, p: D.LowRankMultivariateNormal(p[0], p[1], p[2]),
                [MLOC, W, DIAG], rng.standard_normal((3, 2, 4))),
    "lowrank_broadcast": (lambda D, L, p: D.LowRankMultivariateNormal(p[0], p[1], p[2]),
                          [MLOC[0], W, DIAG[:1]], rng.standard_normal((2, 4))),
    "cb_probs": (lambda D, L, p: D.ContinuousBernoulli(probs=p[0]), [PROB],
                 rng.uniform(0.01, 0.99, B)),
    "cb_logits": (lambda D, L, p: D.ContinuousBernoulli(logits=p[0]), [LOC],
                  rng.uniform(0.01, 0.99, (2,) + B)),
    "cb_scalar": (lambda D, L, p: D.ContinuousBernoulli(0.3), [], rng.uniform(0, 1, 3)),
    "pareto": (lambda D, L, p: D.Pareto(p[0], p[1]), [SCALE, POS * 2],
               SCALE * (1 + rng.exponential(1.0, B))),
    "weibull": (lambda D, L, p: D.Weibull(p[0], p[1]), [SCALE, POS], rng.weibull(1.5, B)),
    "kumaraswamy": (lambda D, L, p: D.Kumaraswamy(p[0], p[1]), [POS, POS2],
                    rng.uniform(0.02, 0.98, B)),
    "von_mises": (lambda D, L, p: D.VonMises(p[0], p[1]), [LOC, POS * 3],
                  rng.uniform(-5, 5, B)),
    "wishart_cov": (lambda D, L, p: D.Wishart(p[0], covariance_matrix=p[1]),
                    [np.array([3.5, 6.0]), SPD[:2]], _spd(3, (4, 2)) / 3),
    "wishart_tril": (lambda D, L, p: D.Wishart(p[0], scale_tril=p[1]),
                     [np.array(4.0), TRIL], _spd(3, (2,)) / 3),
    "wishart_precision": (lambda D, L, p: D.Wishart(5.0, precision_matrix=p[0]),
                          [SPD[0]], _spd(3, (2,)) / 3),
    "lkj": (lambda D, L, p: D.LKJCholesky(3, p[0]), [np.array([0.5, 1.0, 3.0])],
            _corr_cholesky((2, 3), 3)),
    "lkj_scalar": (lambda D, L, p: D.LKJCholesky(4, 1.5), [], _corr_cholesky((2,), 4)),
    "fisher": (lambda D, L, p: D.FisherSnedecor(p[0], p[1]), [POS * 2, BIG * 2],
               rng.f(3.0, 5.0, B)),
    "fisher_small": (lambda D, L, p: D.FisherSnedecor(p[0], p[1]),
                     [np.array([1.0, 3.0, 5.0]), np.array([1.5, 3.0, 5.0])], rng.f(3, 5, 3)),
    "inverse_gamma": (lambda D, L, p: D.InverseGamma(p[0], p[1]), [BIG, POS],
                      1 / rng.gamma(3.0, size=B)),
    "inverse_gamma_heavy": (lambda D, L, p: D.InverseGamma(p[0], 2.0),
                            [np.array([0.5, 1.5, 2.5])], 1 / rng.gamma(3.0, size=3)),
    "gen_pareto": (lambda D, L, p: D.GeneralizedPareto(p[0], p[1], p[2]),
                   [LOC, SCALE, np.array([0.2, 0.0, 0.45, 0.8])],
                   LOC + rng.exponential(1.0, B)),
    "gen_pareto_negative": (lambda D, L, p: D.GeneralizedPareto(p[0], p[1], p[2]),
                            [LOC[0], SCALE[0], np.array([-0.3, -1.0, -0.1, -0.6])],
                            LOC[0] + SCALE[0] * rng.uniform(0, 0.9, 4)),
    "logistic_normal": (lambda D, L, p: D.LogisticNormal(p[0], p[1]), [LOC, SCALE],
                        _simplex((2, 3, 5))),
    "logistic_normal_scalar": (lambda D, L, p: D.LogisticNormal(0.3, 1.5), [],
                               _simplex((4, 2))),
}
HAS_CDF = {"cb_probs", "cb_logits", "pareto", "weibull", "gen_pareto", "gen_pareto_negative"}
HAS_ICDF = HAS_CDF
# PyTorch's log I0 is a polynomial fit good to about 1e-7 (ours is the exact one); the scalar
# cases have float32 parameters
LOOSE = {"von_mises": 1e-6, "cb_scalar": 1e-6, "lkj_scalar": 1e-6,
         "logistic_normal_scalar": 1e-6, "inverse_gamma_heavy": 1e-7}
# PyTorch's GeneralizedPareto compares its parameters with a float32 zero: float64 ones raise
FLOAT32 = {"gen_pareto", "gen_pareto_negative"}


def _build(lib, name, requires_grad=False):
    make, params, value = CASES[name]
    dtype = lib.float32 if name in FLOAT32 else lib.float64
    tensors = [lib.tensor(p, dtype=dtype, requires_grad=requires_grad) for p in params]
    return make(lib.distributions, lib, tensors), tensors, lib.tensor(value, dtype=dtype)


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
    rtol = LOOSE.get(name, 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (td, tp, tv), (dd, dp, dv) = _build(torch, name, True), _build(disttorch, name, True)
    assert tuple(dd.batch_shape) == tuple(td.batch_shape)
    assert tuple(dd.event_shape) == tuple(td.event_shape)
    assert dd.has_rsample == td.has_rsample
    assert dd.has_enumerate_support == td.has_enumerate_support
    assert type(dd.support).__name__ == type(td.support).__name__
    if not name.startswith(("pareto", "gen_pareto")):  # (their bounds print as tensors)
        assert repr(dd.support).replace("disttorch.", "torch.") == repr(td.support)
    assert set(dd.arg_constraints) == set(td.arg_constraints)
    assert [c.__name__ for c in type(dd).__mro__[1:]] == \
        [c.__name__ for c in type(td).__mro__[1:]]
    for attr in ("mean", "variance", "stddev", "mode"):
        if attr == "mode" and name == "kumaraswamy":
            continue  # (PyTorch's is NaN everywhere: ours is checked below)
        _same_or_both_raise(lambda: getattr(td, attr), lambda: getattr(dd, attr), attr,
                            rtol=rtol)
    lp_t, lp_d = td.log_prob(tv), dd.log_prob(dv)
    assert tuple(lp_d.shape) == tuple(lp_t.shape)
    _close(lp_d, lp_t, rtol=rtol, atol=1e-7 if name in LOOSE else 1e-12, what="log_prob")
    loss_t, loss_d = lp_t.sum(), lp_d.sum()
    ent = _same_or_both_raise(td.entropy, dd.entropy, "entropy", rtol=rtol)
    if ent is not None:
        loss_t, loss_d = loss_t + td.entropy().sum(), loss_d + ent.sum()
    if name in HAS_CDF:
        cdf = _same_or_both_raise(lambda: td.cdf(tv), lambda: dd.cdf(dv), "cdf")
        loss_t, loss_d = loss_t + td.cdf(tv).sum(), loss_d + cdf.sum()
    if name in HAS_ICDF:
        q = rng.uniform(0.05, 0.95, tuple(td.batch_shape))
        icdf = _same_or_both_raise(lambda: td.icdf(torch.tensor(q)),
                                   lambda: dd.icdf(disttorch.tensor(q)), "icdf")
        loss_t = loss_t + td.icdf(torch.tensor(q)).sum()
        loss_d = loss_d + icdf.sum()
    if tp:
        grads_t = torch.autograd.grad(loss_t, tp, allow_unused=True)
        grads_d = disttorch.autograd.grad(loss_d, dp, allow_unused=True)
        for gd, gt in zip(grads_d, grads_t):
            if name == "wishart_tril" and gd.dim() >= 2:
                # (the density reads only the lower triangle: PyTorch's cholesky_solve puts a
                # gradient on the upper one too, ours is zero there)
                assert not bool((gd.triu(1) != 0).any())
                gd, gt = gd.tril(), gt.tril()
            _close(gd, gt, rtol=max(rtol, 1e-8), atol=1e-10, what="gradient")


@pytest.mark.parametrize("name", list(CASES))
def test_expand_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        td, _, _ = _build(torch, name)
        dd, _, _ = _build(disttorch, name)
        target = (2,) + tuple(td.batch_shape)
        te, de = td.expand(target), dd.expand(target)
        assert type(de) is type(dd)
        assert tuple(de.batch_shape) == tuple(te.batch_shape) == target
        assert tuple(de.event_shape) == tuple(te.event_shape)
        value = te.sample()
        _close(de.log_prob(disttorch.tensor(value.numpy())), te.log_prob(value),
               rtol=LOOSE.get(name, 1e-8), atol=1e-7 if name in LOOSE else 1e-12,
               what="log_prob")
        assert tuple(de.sample((3,)).shape) == tuple(te.sample((3,)).shape)


# name -> number of draws; mean and variance within 6 of their standard errors
SAMPLED = {"lowrank": 10000, "cb_probs": 10000, "cb_logits": 10000, "pareto": 10000,
           "weibull": 10000, "kumaraswamy": 10000, "wishart_cov": 10000, "fisher": 10000,
           "inverse_gamma": 10000, "gen_pareto_negative": 10000, "logistic_normal": 10000}


@pytest.mark.parametrize("name", list(SAMPLED))
def test_sample_statistics(name):
    n = SAMPLED[name]
    disttorch.manual_seed(0)
    dd, _, _ = _build(disttorch, name)
    td, _, _ = _build(torch, name)
    draws = dd.sample((n,))
    with warnings.catch_warnings():  # (PyTorch's Wishart warns of singular samples wrongly)
        warnings.simplefilter("ignore")
        want = td.sample((2,))
    assert tuple(draws.shape[1:]) == tuple(want.shape[1:])
    assert str(draws.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    assert draws.requires_grad is False
    assert bool(dd.support.check(draws).all())
    if name == "logistic_normal":  # (moments of the base normal, through the inverse map)
        x = _np(dd.transforms[0].inv(draws))
        mean, var = _np(dd.base_dist.mean), _np(dd.base_dist.variance)
    else:
        x = _np(draws)
        mean, var = _np(dd.mean), _np(dd.variance)
    finite = np.isfinite(var)
    se = np.sqrt(var / n)
    assert np.all(np.abs(x.mean(0) - mean)[finite] < 6 * se[finite]), name
    fourth = ((x - mean) ** 4).mean(0)
    var_se = np.sqrt(np.maximum(fourth - var ** 2, 0) / n)
    ok = np.abs(x.var(0) - var) < 6 * var_se + 1e-12
    heavy = name in ("pareto", "fisher", "inverse_gamma")  # (infinite fourth moments)
    assert heavy or np.all(ok[finite]), name
    disttorch.manual_seed(0)
    np.testing.assert_array_equal(_np(dd.sample((n,))), _np(draws))  # the seed reproduces


def test_von_mises_log_prob_and_samples():
    # the exact normalizer, from mpmath's I0
    mpmath = pytest.importorskip("mpmath")
    kappa = np.array([1e-3, 0.5, 2.0, 30.0, 700.0])
    d = disttorch.distributions.VonMises(disttorch.tensor(0.3, dtype=disttorch.float64),
                                         disttorch.tensor(kappa))
    want = [k * math.cos(1.1 - 0.3) - math.log(2 * math.pi) - float(mpmath.log(mpmath.besseli(
        0, k))) for k in kappa]
    np.testing.assert_allclose(d.log_prob(disttorch.tensor(1.1, dtype=disttorch.float64))
                               .numpy(), want, rtol=1e-13)
    # samples: in [-pi, pi), E[cos(x - loc)] = I1/I0 = 1 - circular variance, E[sin] = 0
    disttorch.manual_seed(1)
    n = 20000
    for dtype in (disttorch.float32, disttorch.float64):
        loc = disttorch.tensor([3.0, -1.0, 0.0, 2.0], dtype=dtype)
        conc = disttorch.tensor([1e-6, 0.3, 4.0, 200.0], dtype=dtype)
        d = disttorch.distributions.VonMises(loc, conc)
        x = d.sample((n,))
        assert x.dtype == dtype and tuple(x.shape) == (n, 4)
        x = _np(x).astype(np.float64)
        assert np.all((x >= -math.pi) & (x <= math.pi))
        c, s = np.cos(x - _np(loc)), np.sin(x - _np(loc))
        r = 1 - _np(d.variance).astype(np.float64)
        assert np.all(np.abs(c.mean(0) - r) < 6 * c.std(0) / np.sqrt(n) + 1e-6)
        assert np.all(np.abs(s.mean(0)) < 6 * s.std(0) / np.sqrt(n) + 1e-6)


def test_lkj_samples():
    # every off-diagonal correlation of LKJ(d, eta) is 2 Beta(b, b) - 1, b = eta - 1 + d/2:
    # mean 0, variance 1 / (2 eta + d - 1) (PyTorch's sampler gets this wrong beyond row 1)
    disttorch.manual_seed(2)
    n, d = 20000, 4
    eta = np.array([0.5, 1.0, 4.0])
    dist = disttorch.distributions.LKJCholesky(d, disttorch.tensor(eta))
    L = dist.sample((n,))
    assert tuple(L.shape) == (n, 3, d, d) and bool(dist.support.check(L).all())
    corr = _np(L @ L.mT)
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, rtol=1e-12)
    var = 1 / (2 * eta + d - 1)
    b = eta - 1 + d / 2
    var_se = np.sqrt((3 / ((2 * b + 1) * (2 * b + 3)) - var ** 2) / n)  # (fourth moment)
    for i, j in ((1, 0), (2, 0), (3, 1), (3, 2)):
        r = corr[..., i, j]
        assert np.all(np.abs(r.mean(0)) < 6 * np.sqrt(var / n))
        assert np.all(np.abs(r.var(0) - var) < 6 * var_se), (i, j)
    assert bool(disttorch.isfinite(dist.log_prob(L)).all())


# name -> (the objective's form, number of draws)
RSAMPLED = {"weibull": "sqrt", "pareto": "sqrt", "kumaraswamy": "square", "fisher": "sqrt",
            "inverse_gamma": "sqrt", "cb_probs": "square", "cb_logits": "square",
            "gen_pareto_negative": "square", "lowrank": "square", "logistic_normal": "square"}


@pytest.mark.parametrize("name", list(RSAMPLED))
def test_rsample_gradient_is_the_expectation_gradient(name):
    # the gradient of a Monte-Carlo mean of f(rsample) from both libraries, to within the
    # standard errors of the two estimates (from 20 blocks of draws)
    # (the gamma-based ones on one row of parameters: each block's backward evaluates the
    # implicit gamma gradient of every draw on the host)
    few = name in ("fisher", "inverse_gamma")
    n = 10000 if few else 20000
    grads = {}
    for lib in (torch, disttorch):
        (disttorch.manual_seed if lib is disttorch else torch.manual_seed)(0)
        _, params, _ = CASES[name]
        ps = [lib.tensor(p[:1] if few else p, dtype=lib.float64, requires_grad=True)
              for p in params]
        dist = CASES[name][0](lib.distributions, lib, ps)
        x = dist.rsample((n,))
        f = x.abs().sqrt() if RSAMPLED[name] == "sqrt" else x * x
        per_draw = f.reshape(n, -1).sum(-1)
        blocks = []
        for chunk in per_draw.reshape(20, -1).sum(-1):
            gs = lib.autograd.grad(chunk, ps, retain_graph=True)
            blocks.append(np.concatenate([g.detach().numpy().ravel() for g in gs]) / (n / 20))
        blocks = np.array(blocks)
        grads[lib] = blocks.mean(0), blocks.std(0) / np.sqrt(20)
    (mean_t, se_t), (mean_d, se_d) = grads[torch], grads[disttorch]
    assert np.all(np.abs(mean_d - mean_t) < 6 * np.hypot(se_t, se_d) + 1e-9), \
        (mean_d, mean_t, se_t, se_d)


def test_wishart_samples_and_reparameterized_gradient():
    # (PyTorch's Wishart.rsample fails under autograd here: its singular-sample correction
    # runs on every draw and writes in place; the gradient is checked against the mean's)
    n = 10000
    df = disttorch.tensor([3.5, 8.0], dtype=disttorch.float64, requires_grad=True)
    tril = disttorch.tensor(TRIL[:2], requires_grad=True)
    C = disttorch.tensor(rng.standard_normal((3, 3)))
    dist = disttorch.distributions.Wishart(df, scale_tril=tril)
    disttorch.manual_seed(3)
    x = dist.rsample((n,))
    mean, var = _np(dist.mean), _np(dist.variance)
    assert np.all(np.abs(_np(x).mean(0) - mean) < 6 * np.sqrt(var / n))
    # d/dtheta of E[sum(X * C)] = sum(df L L^T * C): the Monte-Carlo mean's gradient against it
    per_draw = (x * C).sum((-2, -1)).sum(-1)
    blocks = []
    for chunk in per_draw.reshape(20, -1).sum(-1):
        gs = disttorch.autograd.grad(chunk, [df, tril], retain_graph=True)
        blocks.append(np.concatenate([_np(g).ravel() for g in gs]) / (n / 20))
    blocks = np.array(blocks)
    exact = disttorch.autograd.grad((dist.mean * C).sum(), [df, tril])
    exact = np.concatenate([_np(g).ravel() for g in exact])
    assert np.all(np.abs(blocks.mean(0) - exact) < 6 * blocks.std(0) / np.sqrt(20) + 1e-9)


def test_wishart_singular_samples_are_redrawn():
    # a scale so small (1e-322, a few subnormal steps) that the products underflow and
    # draws come out singular, to be redrawn (1e-320 left that to the draws' luck)
    d = disttorch.distributions.Wishart(
        1.5, covariance_matrix=disttorch.eye(2, dtype=disttorch.float64) * 1e-322)
    with pytest.warns(UserWarning, match="Singular sample detected"):
        s = d.rsample((5,), max_try_correction=2)
    assert tuple(s.shape) == (5, 2, 2)
    with pytest.warns(UserWarning, match="Low df values detected"):
        disttorch.distributions.Wishart(1.5, covariance_matrix=disttorch.eye(2))


def test_generalized_pareto_in_float64():
    # (PyTorch's raises on float64 parameters): cdf(icdf(u)) = u, the density is the cdf's
    # derivative, and xi -> 0 is the exponential
    D = disttorch.distributions
    xi = disttorch.tensor([-0.4, 0.0, 1e-9, 0.3], dtype=disttorch.float64)
    d = D.GeneralizedPareto(0.5, 2.0, xi)
    u = disttorch.tensor([0.1, 0.5, 0.7, 0.95], dtype=disttorch.float64)
    x = d.icdf(u)
    np.testing.assert_allclose(d.cdf(x).numpy(), u.numpy(), rtol=1e-12)
    h = 1e-6
    slope = (d.cdf(x + h) - d.cdf(x - h)).numpy() / (2 * h)
    np.testing.assert_allclose(np.exp(d.log_prob(x).numpy()), slope, rtol=1e-7)
    e = D.Exponential(0.5).log_prob(disttorch.tensor(1.5, dtype=disttorch.float64))
    np.testing.assert_allclose(d.log_prob(x * 0 + 2.0).numpy()[1:3], float(e), rtol=1e-8)
