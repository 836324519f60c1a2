"""The added transforms, constraints and registrations, the KL pairs of the added families,
``ExponentialFamily``'s generic entropy/KL, validation errors, and the simulated device."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")
rng = np.random.default_rng(3)
X = rng.standard_normal((2, 6))
SQ = rng.standard_normal((2, 3, 3))

TRANSFORMS = {
    "corr_cholesky": (lambda T, L: T.CorrCholeskyTransform(), X * 2),
    "cat": (lambda T, L: T.CatTransform([T.ExpTransform(), T.TanhTransform()], -1, [4, 2]), X),
    "cat_batch": (lambda T, L: T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 3.0)],
                                              0, [1, 1]), X),
    "cat_event": (lambda T, L: T.CatTransform([T.IndependentTransform(T.ExpTransform(), 1),
                                               T.AffineTransform(0.5, 2.0, event_dim=1)],
                                              -1, [3, 3]), X),
    "stack": (lambda T, L: T.StackTransform([T.ExpTransform(), T.SigmoidTransform()], 0), X),
    "stack_last": (lambda T, L: T.StackTransform([T.ExpTransform()] * 3 + [T.TanhTransform()]
                                                 * 3, -1), X * 0.5),
    "cdf": (lambda T, L: T.CumulativeDistributionTransform(
        L.distributions.Normal(L.tensor(0.5, dtype=L.float64), L.tensor(2.0, dtype=L.float64))),
        X),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_matches_torch(name):
    make, x = TRANSFORMS[name]
    res = {}
    for lib in (torch, disttorch):
        t = make(lib.distributions.transforms, lib)
        xt = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        y = t(xt)
        ladj = t.log_abs_det_jacobian(xt, y)
        grad = lib.autograd.grad(y.sum() + ladj.sum(), xt)[0]
        res[lib] = dict(y=y, ladj=ladj, grad=grad, inv=t.inv(y.detach()),
                        meta=(t.bijective, t.domain.event_dim if name != "cdf" else None,
                              tuple(t.forward_shape(tuple(xt.shape))),
                              tuple(t.inverse_shape(tuple(y.shape))),
                              repr(t.domain), repr(t.codomain)),
                        check=t.codomain.check(y) if name != "cdf" else None)
    want, got = res[torch], res[disttorch]
    assert str(got["meta"]).replace("disttorch.", "torch.") == str(want["meta"])
    for key in ("y", "ladj", "grad", "inv"):
        np.testing.assert_allclose(got[key].detach().numpy(), want[key].detach().numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=key)
    if want["check"] is not None:
        np.testing.assert_array_equal(got["check"].numpy(), want["check"].numpy())


def test_corr_cholesky_log_det_is_the_jacobian():
    # the log-determinant against the finite-difference Jacobian of x -> strict lower triangle
    t = disttorch.distributions.CorrCholeskyTransform()
    x = rng.standard_normal(6)
    f = lambda v: np.tril(t(disttorch.tensor(v)).numpy(), -1)[np.tril_indices(4, -1)]
    h = 1e-6
    J = np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(6)], 1)
    xt = disttorch.tensor(x)
    np.testing.assert_allclose(t.log_abs_det_jacobian(xt, t(xt)).item(),
                               np.log(abs(np.linalg.det(J))), rtol=1e-7)


def test_positive_definite_transform_and_cache():
    T = disttorch.distributions.transforms
    for lib in (torch, disttorch):
        t = lib.distributions.transforms.PositiveDefiniteTransform()
        y = t(lib.tensor(SQ))
        assert bool(lib.distributions.constraints.positive_definite.check(y).all())
        if lib is torch:
            want = (y.numpy(), t.inv(y).numpy())
    np.testing.assert_allclose(y.numpy(), want[0], rtol=1e-12)
    np.testing.assert_allclose(t.inv(y).numpy(), want[1], rtol=1e-9, atol=1e-12)
    c = T.CatTransform([T.ExpTransform(), T.ExpTransform()], 0, [1, 1], cache_size=1)
    x = disttorch.randn(2, 3)
    assert c.inv(c(x)) is x
    with pytest.raises(AssertionError, match=r"x.size\(0\) = 2 must equal length 3"):
        T.CatTransform([T.ExpTransform()] * 2, 0, [1, 2])(x)
    with pytest.raises(AssertionError, match=r"must equal len\(transforms\) 3"):
        T.StackTransform([T.ExpTransform()] * 3, 0)(x)


CONSTRAINTS = {
    "corr_cholesky": lambda C: C.corr_cholesky,
    "cat": lambda C: C.cat([C.positive, C.real, C.interval(-1.0, 1.0)], -1, [2, 3, 1]),
    "stack": lambda C: C.stack([C.positive, C.unit_interval], 0),
    "positive_definite": lambda C: C.positive_definite,
    "positive_semidefinite": lambda C: C.positive_semidefinite,
}


@pytest.mark.parametrize("name", list(CONSTRAINTS))
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_constraint_registry_matches_torch(name, registry):
    got = {}
    for lib in (torch, disttorch):
        D = lib.distributions
        c = CONSTRAINTS[name](D.constraints)
        try:
            t = getattr(D, registry)(c)
        except NotImplementedError as e:
            got[lib] = ("raises", str(e))
            continue
        x = lib.tensor(SQ if "definite" in name else X, dtype=lib.float64)
        y = t(x)
        assert bool(c.check(y).all())
        assert (c.event_dim, c.is_discrete) == (CONSTRAINTS[name](
            torch.distributions.constraints).event_dim, False)
        got[lib] = (type(t).__name__, y.numpy(), c.check(y).numpy())
    assert got[disttorch][0] == got[torch][0]
    if got[torch][0] == "raises":
        assert got[disttorch][1] == got[torch][1]
    else:
        np.testing.assert_allclose(got[disttorch][1], got[torch][1], rtol=1e-12)
        np.testing.assert_array_equal(got[disttorch][2], got[torch][2])


def test_constraint_checks_match_torch():
    cases = [(lambda C: C.corr_cholesky, np.array([[[1.0, 0], [0.6, 0.8]], [[1.0, 0],
                                                                         [0.6, 0.7]]])),
             (lambda C: C.cat([C.positive, C.real], 0, [1, 1]), X[:, :3] * [[1], [-1]]),
             (lambda C: C.stack([C.positive, C.real], -1), X[:, :2]),
             (lambda C: C.stack([C.positive, C.unit_interval], -2), X[:, :3])]
    for make, x in cases:
        want = make(torch.distributions.constraints)
        got = make(disttorch.distributions.constraints)
        assert got.event_dim == want.event_dim
        np.testing.assert_array_equal(got.check(disttorch.tensor(x)).numpy(),
                                      want.check(torch.tensor(x)).numpy())


_LEAVES = []


def _p(lib, a):
    t = lib.tensor(np.array(a, dtype=np.float64), requires_grad=True)
    _LEAVES.append(t)
    return t


A, Bv = rng.uniform(0.5, 3.0, 4), rng.uniform(0.5, 3.0, 4)
M, S = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
P = np.array([0.2, 0.4997, 0.7, 0.9])
BIG = rng.uniform(2.5, 5.0, 4)
WF, WD = rng.standard_normal((2, 3, 2)), rng.uniform(0.5, 1.5, (2, 3))
SPD = SQ @ SQ.transpose(0, 2, 1) + np.eye(3)

KL = {
    "cb": lambda D, L: (D.ContinuousBernoulli(_p(L, P)), D.ContinuousBernoulli(_p(L, P[::-1]))),
    "cb_logits": lambda D, L: (D.ContinuousBernoulli(logits=_p(L, M)),
                               D.ContinuousBernoulli(_p(L, P))),
    "beta_cb": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)), D.ContinuousBernoulli(_p(L, P))),
    "uniform_cb": lambda D, L: (D.Uniform(_p(L, P * 0.5), _p(L, P * 0.5 + 0.3)),
                                D.ContinuousBernoulli(_p(L, P))),
    "uniform_cb_outside": lambda D, L: (D.Uniform(_p(L, M), _p(L, M + A)),
                                        D.ContinuousBernoulli(_p(L, P))),
    "cb_exponential": lambda D, L: (D.ContinuousBernoulli(_p(L, P)), D.Exponential(_p(L, A))),
    "cb_normal": lambda D, L: (D.ContinuousBernoulli(_p(L, P)), D.Normal(_p(L, M), _p(L, S))),
    "cb_uniform": lambda D, L: (D.ContinuousBernoulli(_p(L, P)),
                                D.Uniform(_p(L, [-0.5, 0.1, -1.0, -0.2]),
                                          _p(L, [1.5, 2.0, 0.9, 1.2]))),
    "beta_exponential": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)), D.Exponential(_p(L, S))),
    "beta_gamma": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)), D.Gamma(_p(L, Bv), _p(L, S))),
    "exponential_gumbel": lambda D, L: (D.Exponential(_p(L, A)), D.Gumbel(_p(L, M),
                                                                           _p(L, S))),
    "gamma_gumbel": lambda D, L: (D.Gamma(_p(L, A), _p(L, Bv)), D.Gumbel(_p(L, M), _p(L, S))),
    "normal_gumbel": lambda D, L: (D.Normal(_p(L, M), _p(L, S)), D.Gumbel(_p(L, -M),
                                                                          _p(L, A))),
    "uniform_gumbel": lambda D, L: (D.Uniform(_p(L, M), _p(L, M + A)), D.Gumbel(_p(L, S),
                                                                                _p(L, Bv))),
    "gumbel_normal": lambda D, L: (D.Gumbel(_p(L, M), _p(L, S)), D.Normal(_p(L, A),
                                                                          _p(L, Bv))),
    "pareto": lambda D, L: (D.Pareto(_p(L, S + 0.5), _p(L, A)), D.Pareto(_p(L, S), _p(L, Bv))),
    "pareto_inf": lambda D, L: (D.Pareto(_p(L, S), _p(L, A)), D.Pareto(_p(L, S + 0.5),
                                                                       _p(L, Bv))),
    "pareto_exponential": lambda D, L: (D.Pareto(_p(L, S), _p(L, A + 0.6)),
                                        D.Exponential(_p(L, Bv))),
    "pareto_gamma": lambda D, L: (D.Pareto(_p(L, S), _p(L, BIG)), D.Gamma(_p(L, A),
                                                                          _p(L, Bv))),
    "pareto_normal": lambda D, L: (D.Pareto(_p(L, S), _p(L, BIG)), D.Normal(_p(L, M),
                                                                            _p(L, A))),
    "pareto_heavy_inf": lambda D, L: (D.Pareto(_p(L, S), _p(L, [0.5, 1.5, 2.5, 0.9])),
                                      D.Normal(_p(L, M), _p(L, A))),
    "uniform_pareto": lambda D, L: (D.Uniform(_p(L, S + 0.1), _p(L, S + A)),
                                    D.Pareto(_p(L, S * [1, 1, 1, 2]), _p(L, Bv))),
    "normal_pareto_inf": lambda D, L: (D.Normal(_p(L, M), _p(L, S)), D.Pareto(_p(L, S),
                                                                              _p(L, A))),
    "pareto_cb_inf": lambda D, L: (D.Pareto(_p(L, S), _p(L, A)),
                                   D.ContinuousBernoulli(_p(L, P))),
    "gamma_cb_inf": lambda D, L: (D.Gamma(_p(L, A), _p(L, S)), D.ContinuousBernoulli(_p(L, P))),
    "lowrank": lambda D, L: (D.LowRankMultivariateNormal(_p(L, [M[:3], M[1:]]), _p(L, WF),
                                                         _p(L, WD)),
                             D.LowRankMultivariateNormal(_p(L, S[:3]), _p(L, WF[::-1]),
                                                         _p(L, WD[0]))),
    "mvn_lowrank": lambda D, L: (D.MultivariateNormal(_p(L, M[:3]), _p(L, SPD)),
                                 D.LowRankMultivariateNormal(_p(L, S[:3]), _p(L, WF),
                                                             _p(L, WD))),
    "lowrank_mvn": lambda D, L: (D.LowRankMultivariateNormal(_p(L, S[:3]), _p(L, WF),
                                                             _p(L, WD)),
                                 D.MultivariateNormal(_p(L, M[1:]), scale_tril=_p(
                                     L, np.linalg.cholesky(SPD[0])))),
    "wishart": lambda D, L: (D.Wishart(_p(L, [3.5, 6.0]), covariance_matrix=_p(L, SPD)),
                             D.Wishart(_p(L, 4.0), scale_tril=_p(L, np.linalg.cholesky(
                                 SPD[::-1])))),
    "cross_exp_family": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)), D.Dirichlet(_p(L, [A, Bv]))),
}


@pytest.mark.parametrize("name", list(KL))
def test_kl_matches_torch(name):
    res = {}
    for lib in (torch, disttorch):
        _LEAVES.clear()
        p, q = KL[name](lib.distributions, lib)
        leaves = list(_LEAVES)
        try:
            kl = lib.distributions.kl_divergence(p, q)
        except NotImplementedError as e:
            res[lib] = e
            continue
        finite = kl[lib.isfinite(kl)]
        grads = lib.autograd.grad(finite.sum(), leaves, allow_unused=True) \
            if finite.requires_grad and "inf" not in name and "outside" not in name \
            and name != "wishart" else [None] * len(leaves)
        res[lib] = (kl, [None if g is None else g.numpy() for g in grads])
    if isinstance(res[torch], Exception):
        assert isinstance(res[disttorch], NotImplementedError)
        assert str(res[disttorch]) == str(res[torch])
        return
    (kt, gt), (kd, gd) = res[torch], res[disttorch]
    assert tuple(kd.shape) == tuple(kt.shape)
    np.testing.assert_allclose(kd.detach().numpy(), kt.detach().numpy(), rtol=1e-9)
    for a, b in zip(gd, gt):
        if a is None or b is None:
            assert (a is None or not a.any()) and (b is None or not b.any())
        else:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_kl_against_monte_carlo():
    # E_p[log p - log q] from 100000 draws, to 6 standard errors: the closed forms where
    # PyTorch's boundary conventions differ from ours, and cross pairs with no torch oracle
    D = disttorch.distributions
    t = lambda a: disttorch.tensor(np.array(a, dtype=np.float64))
    pairs = [(D.Uniform(t([0.0, 0.2]), t([1.0, 0.9])), D.ContinuousBernoulli(t([0.3, 0.8]))),
             (D.ContinuousBernoulli(t([0.3, 0.8])), D.Uniform(t([0.0, -1.0]), t([1.0, 1.0]))),
             (D.Exponential(t([0.7, 2.0])), D.Gumbel(t([0.3, -1.0]), t([1.5, 0.6]))),
             (D.Pareto(t([1.0, 2.0]), t([3.5, 5.0])), D.Gamma(t([2.0, 3.0]), t([0.5, 1.5]))),
             (D.Uniform(t([1.0, 2.5]), t([3.0, 4.0])), D.Pareto(t([1.0, 2.0]), t([1.5, 0.7]))),
             (D.LowRankMultivariateNormal(t([0.1, 0.2, 0.3]), t(WF[0]), t(WD[0])),
              D.MultivariateNormal(t([0.0, 0.5, -0.2]), t(SPD[0])))]
    disttorch.manual_seed(4)
    n = 100000
    for p, q in pairs:
        x = p.sample((n,))
        ratio = (p.log_prob(x) - q.log_prob(x)).numpy()
        kl = D.kl_divergence(p, q).numpy()
        assert np.all(np.abs(ratio.mean(0) - kl) < 6 * ratio.std(0) / np.sqrt(n)), (p, q)


FAMILIES = {
    "normal": lambda D, t: D.Normal(t([0.3, -1.0]), t([0.5, 2.0])),
    "exponential": lambda D, t: D.Exponential(t([0.5, 2.0])),
    "gamma": lambda D, t: D.Gamma(t([0.7, 3.0]), t([2.0, 0.4])),
    "beta": lambda D, t: D.Beta(t([0.7, 3.0]), t([2.0, 0.4])),
    "dirichlet": lambda D, t: D.Dirichlet(t([[0.7, 3.0, 1.0], [2.0, 0.4, 5.0]])),
    "bernoulli": lambda D, t: D.Bernoulli(t([0.2, 0.7])),
    "cb": lambda D, t: D.ContinuousBernoulli(t([0.2, 0.7])),
    "wishart": lambda D, t: D.Wishart(t([3.5, 6.0]), covariance_matrix=t(SPD)),
}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_exponential_family_generic_entropy_and_kl(name):
    # the Bregman-divergence forms of ExponentialFamily against each family's closed forms,
    # in value and in gradient
    D = disttorch.distributions
    leaves = []

    def t(a):
        leaves.append(disttorch.tensor(np.array(a, dtype=np.float64), requires_grad=True))
        return leaves[-1]

    p = FAMILIES[name](D, t)
    assert isinstance(p, D.ExponentialFamily)
    if name not in ("beta", "dirichlet"):  # (no _mean_carrier_measure, as in PyTorch)
        generic = D.ExponentialFamily.entropy(p)
        closed = p.entropy()
        np.testing.assert_allclose(generic.detach().numpy(), closed.detach().numpy(),
                                   rtol=1e-10)
        _same_gradients(generic, closed, leaves)
    if name == "wishart":
        return  # (its KL is the generic one)
    leaves.clear()
    p, q = FAMILIES[name](D, t), FAMILIES[name](D, lambda a: t(np.flip(np.array(a), 0)))
    generic = D.exp_family._kl_expfamily_expfamily(p, q)
    closed = D.kl_divergence(p, q)
    np.testing.assert_allclose(generic.detach().numpy(), closed.detach().numpy(), rtol=1e-9)
    _same_gradients(generic, closed, leaves)


def _same_gradients(a, b, leaves):
    ga = disttorch.autograd.grad(a.sum(), leaves, retain_graph=True, allow_unused=True)
    gb = disttorch.autograd.grad(b.sum(), leaves, allow_unused=True)
    for x, y, leaf in zip(ga, gb, leaves):
        x = np.zeros(leaf.shape) if x is None else x.numpy()
        y = np.zeros(leaf.shape) if y is None else y.numpy()
        np.testing.assert_allclose(x, y, rtol=1e-7, atol=1e-10)


def test_mro_matches_torch():
    for name in dir(torch.distributions):
        want = getattr(torch.distributions, name)
        if isinstance(want, type) and issubclass(want, torch.distributions.Distribution):
            got = getattr(disttorch.distributions, name)
            assert [c.__name__ for c in got.__mro__] == \
                [c.__name__ for c in want.__mro__ if c.__name__ != "Generic"]


@pytest.mark.parametrize("make", [
    lambda D, L: D.LowRankMultivariateNormal(L.tensor(0.0), L.ones(2, 1), L.ones(2)),
    lambda D, L: D.LowRankMultivariateNormal(L.zeros(2), L.ones(2), L.ones(2)),
    lambda D, L: D.LowRankMultivariateNormal(L.zeros(2), L.ones(3, 1), L.ones(2)),
    lambda D, L: D.LowRankMultivariateNormal(L.zeros(2), L.ones(2, 1), L.ones(3)),
    lambda D, L: D.LowRankMultivariateNormal(L.zeros(2), L.ones(2, 1), L.tensor([1.0, -1.0])),
    lambda D, L: D.LowRankMultivariateNormal(L.zeros(2), L.ones(2, 1), L.ones(2))
    .log_prob(L.zeros(3)),
    lambda D, L: D.ContinuousBernoulli(L.tensor([0.5]), L.tensor([0.0])),
    lambda D, L: D.ContinuousBernoulli(L.tensor([1.5]), validate_args=True),
    lambda D, L: D.ContinuousBernoulli(L.tensor([0.5])).log_prob(L.tensor([1.5])),
    lambda D, L: D.Pareto(L.tensor([1.0]), L.tensor([-1.0])),
    lambda D, L: D.Pareto(L.tensor([1.0]), L.tensor([2.0])).log_prob(L.tensor([0.5])),
    lambda D, L: D.Weibull(L.tensor([0.0]), L.tensor([1.0])),
    lambda D, L: D.Weibull(L.tensor([1.0]), L.tensor([1.0])).log_prob(L.tensor([-1.0])),
    lambda D, L: D.Kumaraswamy(L.tensor([1.0]), L.tensor([-1.0])),
    lambda D, L: D.Kumaraswamy(L.tensor([1.0]), L.tensor([1.0])).log_prob(L.tensor([1.5])),
    lambda D, L: D.VonMises(L.tensor([1.0]), L.tensor([0.0])),
    lambda D, L: D.Wishart(L.tensor(1.5), L.eye(3)),
    lambda D, L: D.Wishart(L.tensor(3.5), L.ones(3)),
    lambda D, L: D.Wishart(L.tensor(3.5), L.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda D, L: D.Wishart(L.tensor(3.5), scale_tril=L.tensor([[1.0, 0.5], [0.0, 1.0]])),
    lambda D, L: D.Wishart(L.tensor(3.5), L.eye(2)).log_prob(L.tensor([[1.0, 2.0],
                                                                        [2.0, 1.0]])),
    lambda D, L: D.LKJCholesky(1),
    lambda D, L: D.LKJCholesky(2).log_prob(L.tensor([[1.0, 0.0], [0.5, 0.5]])),
    lambda D, L: D.FisherSnedecor(L.tensor([1.0]), L.tensor([0.0])),
    lambda D, L: D.FisherSnedecor(L.tensor([1.0]), L.tensor([1.0])).log_prob(L.tensor([-1.0])),
    lambda D, L: D.InverseGamma(L.tensor([1.0]), L.tensor([-1.0])),
    lambda D, L: D.InverseGamma(L.tensor([1.0]), L.tensor([1.0])).log_prob(L.tensor([-1.0])),
    lambda D, L: D.GeneralizedPareto(L.tensor([0.0]), L.tensor([-1.0]), L.tensor([0.5])),
    lambda D, L: D.LogisticNormal(L.tensor([0.0]), L.tensor([-1.0])),
    lambda D, L: D.LogisticNormal(L.zeros(2), L.ones(2)).log_prob(L.tensor([0.5, 0.6, 0.1])),
], ids=lambda f: "")
def test_validation_errors_match_torch(make):
    with pytest.raises(ValueError) as want:
        make(torch.distributions, torch)
    with pytest.raises(ValueError) as got:
        make(disttorch.distributions, disttorch)
    assert str(got.value).replace("disttorch.", "torch.") == str(want.value)


def test_wishart_and_lkj_argument_errors():
    D = disttorch.distributions
    with pytest.raises(AssertionError, match="Exactly one of covariance_matrix"):
        D.Wishart(3.0)
    with pytest.raises(AssertionError, match="Wrong domain for multivariate digamma"):
        from disttorch.distributions.wishart import _mvdigamma
        _mvdigamma(disttorch.tensor([0.4]), 3)
    # (PyTorch's message shows its internal Beta's parameters, which differ: see LKJCholesky)
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.LKJCholesky(3, disttorch.tensor([-1.0]))


def test_on_the_simulated_device():
    D = disttorch.distributions
    with _simulated.simulate():
        dev = "cuda"
        c = disttorch.tensor([0.6, 2.0], device=dev, requires_grad=True)
        eye = disttorch.eye(2, device=dev)
        for dist in (D.Pareto(c, c + 2), D.Weibull(c, c), D.Kumaraswamy(c, c),
                     D.FisherSnedecor(c * 3, c * 3), D.InverseGamma(c, c),
                     D.ContinuousBernoulli(c / 3), D.GeneralizedPareto(c, c, c / 4),
                     D.LogisticNormal(c, c),
                     D.LowRankMultivariateNormal(c, eye[:, :1] * c[:1], c),
                     D.Wishart(c[1] + 2, scale_tril=eye * c[0])):
            x = dist.rsample((3,))
            assert x.device.type == "cuda"
            grad, = disttorch.autograd.grad(x.sum(), c)
            assert grad.device.type == "cuda"
            assert dist.log_prob(x.detach()).device.type == "cuda"
            assert dist.entropy().device.type == "cuda" if not isinstance(
                dist, (D.FisherSnedecor, D.LogisticNormal)) else True
        for dist in (D.VonMises(c, c), D.LKJCholesky(3, c)):
            x = dist.sample((4,))
            assert x.device.type == "cuda"
            assert dist.log_prob(x).device.type == "cuda"
        kl = D.kl_divergence(D.Pareto(c + 1, c + 2), D.Pareto(c, c + 1))
        assert kl.device.type == "cuda"
        w = D.Wishart(c[1] + 2, scale_tril=eye)
        assert D.kl_divergence(w, D.Wishart(c[1] + 3, scale_tril=eye)).device.type == "cuda"
        t = disttorch.distributions.CorrCholeskyTransform()
        y = t(disttorch.randn(2, 3, device=dev))
        assert y.device.type == "cuda" and bool(D.constraints.corr_cholesky.check(y).all())
