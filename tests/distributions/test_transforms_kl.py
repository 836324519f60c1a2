"""``transforms``, ``biject_to``/``transform_to`` and the added ``kl_divergence`` pairs
against torch on the same float64 inputs (values, log-determinants, gradients, shapes)."""
import numpy as np
import pytest

import disttorch

torch = pytest.importorskip("torch")
rng = np.random.default_rng(2)
X = rng.standard_normal((3, 4))
POSX = rng.uniform(0.2, 3.0, (3, 4))
SQ = rng.standard_normal((2, 3, 3))

# name -> (transform(T, lib), input)
TRANSFORMS = {
    "exp": (lambda T, L: T.ExpTransform(), X),
    "sigmoid": (lambda T, L: T.SigmoidTransform(), X),
    "tanh": (lambda T, L: T.TanhTransform(), X * 0.7),
    "softplus": (lambda T, L: T.SoftplusTransform(), X),
    "power": (lambda T, L: T.PowerTransform(L.tensor(1.7, dtype=L.float64)), POSX),
    "power_negative": (lambda T, L: T.PowerTransform(L.tensor(-0.5, dtype=L.float64)), POSX),
    "affine": (lambda T, L: T.AffineTransform(L.tensor(X[0]), L.tensor(POSX[0] - 1.0)), X),
    "affine_scalar": (lambda T, L: T.AffineTransform(1.0, -2.0), X),
    "affine_event": (lambda T, L: T.AffineTransform(0.5, L.tensor(POSX), event_dim=2), X),
    "stick_breaking": (lambda T, L: T.StickBreakingTransform(), X),
    "softmax": (lambda T, L: T.SoftmaxTransform(), X),
    "abs": (lambda T, L: T.AbsTransform(), X),
    "lower_cholesky": (lambda T, L: T.LowerCholeskyTransform(), SQ),
    "compose": (lambda T, L: T.ComposeTransform([T.AffineTransform(0.3, 2.0), T.ExpTransform(),
                                                 T.PowerTransform(L.tensor(0.5))]), X),
    "compose_event": (lambda T, L: T.ComposeTransform([T.ExpTransform(),
                                                       T.StickBreakingTransform()]), X),
    "inverse_exp": (lambda T, L: T.ExpTransform().inv, POSX),
    "inverse_sigmoid": (lambda T, L: T.SigmoidTransform().inv, 1 / (1 + np.exp(-X))),
    "independent": (lambda T, L: T.IndependentTransform(T.ExpTransform(), 1), X),
    "identity": (lambda T, L: T.identity_transform, X),
    "reshape": (lambda T, L: T.ReshapeTransform((4,), (2, 2)), X),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_matches_torch(name):
    make, x = TRANSFORMS[name]
    results = {}
    for lib in (torch, disttorch):
        t = make(lib.distributions.transforms, lib)
        xt = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        y = t(xt)
        res = {"y": y, "bijective": t.bijective, "event": (t.domain.event_dim,
                                                            t.codomain.event_dim),
               "domain": repr(t.domain), "codomain": repr(t.codomain),
               "fshape": tuple(t.forward_shape(tuple(xt.shape))),
               "ishape": tuple(t.inverse_shape(tuple(y.shape)))}
        if name not in ("softmax", "abs", "lower_cholesky"):  # (no log-determinant)
            ladj = t.log_abs_det_jacobian(xt, y)
            res["ladj"] = ladj
            loss = y.sum() + ladj.sum()
        else:
            loss = y.sum()
        res["grad"] = lib.autograd.grad(loss, xt)[0]
        res["inv"] = t.inv(y.detach())
        results[lib] = res
    want, got = results[torch], results[disttorch]
    for key in ("bijective", "event", "domain", "codomain", "fshape", "ishape"):
        assert str(got[key]).replace("disttorch.", "torch.") == str(want[key]), key
    for key in ("y", "ladj", "grad", "inv"):
        if key in want:
            np.testing.assert_allclose(got[key].detach().numpy(), want[key].detach().numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=key)


def test_transform_cache_inverse_equality_and_sign():
    T = disttorch.distributions.transforms
    t = T.ExpTransform(cache_size=1)
    x = disttorch.randn(3)
    y = t(x)
    assert t.inv(y) is x and t(x) is y
    assert T.ExpTransform().inv.inv == T.ExpTransform() and T.ExpTransform() != T.TanhTransform()
    assert T.AffineTransform(0.0, -2.0).sign == -1 and T.ExpTransform().inv.sign == 1
    assert T.ComposeTransform([T.AffineTransform(0.0, -2.0), T.ExpTransform()]).sign == -1
    assert T.identity_transform == T.ComposeTransform([])
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)


CONSTRAINTS = ["real", "positive", "nonnegative", "unit_interval", "simplex",
               lambda C: C.interval(-1.0, 2.0), lambda C: C.half_open_interval(0.5, 3.0),
               lambda C: C.greater_than(1.5), lambda C: C.greater_than_eq(-1.0),
               lambda C: C.less_than(2.0), "real_vector", "lower_cholesky",
               lambda C: C.independent(C.positive, 2)]


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=lambda c: c if isinstance(c, str)
                         else "")
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_constraint_registry_matches_torch(constraint, registry):
    got = {}
    for lib in (torch, disttorch):
        D = lib.distributions
        c = getattr(D.constraints, constraint) if isinstance(constraint, str) \
            else constraint(D.constraints)
        try:
            t = getattr(D, registry)(c)
        except NotImplementedError as e:
            got[lib] = ("raises", str(e))
            continue
        x = lib.tensor(SQ if constraint == "lower_cholesky" else X, dtype=lib.float64)
        y = t(x)
        assert bool(c.check(y).all())
        got[lib] = (type(t).__name__, y.numpy())
    assert got[disttorch][0] == got[torch][0]
    if got[torch][0] != "raises":
        np.testing.assert_allclose(got[disttorch][1], got[torch][1], rtol=1e-12)
    else:
        assert got[disttorch][1] == got[torch][1]


_LEAVES = []


def _p(lib, a):
    t = lib.tensor(np.array(a, dtype=np.float64), requires_grad=True)
    _LEAVES.append(t)
    return t


A, Bv = rng.uniform(0.5, 3.0, 4), rng.uniform(0.5, 3.0, 4)
M, S = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
P = rng.uniform(0.1, 0.9, 4)
KL = {
    "beta": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)), D.Beta(_p(L, Bv), _p(L, A + 0.3))),
    "binomial": lambda D, L: (D.Binomial(5, _p(L, P)), D.Binomial(5, _p(L, P[::-1]))),
    "binomial_more_trials": lambda D, L: (D.Binomial(L.tensor([7.0, 5.0]), _p(L, P[:2])),
                                          D.Binomial(5, _p(L, P[2:]))),
    "dirichlet": lambda D, L: (D.Dirichlet(_p(L, [A, Bv])), D.Dirichlet(_p(L, [Bv, A]))),
    "exponential": lambda D, L: (D.Exponential(_p(L, A)), D.Exponential(_p(L, Bv))),
    "gamma": lambda D, L: (D.Gamma(_p(L, A), _p(L, Bv)), D.Gamma(_p(L, Bv), _p(L, A))),
    "chi2_gamma": lambda D, L: (D.Chi2(_p(L, A)), D.Gamma(_p(L, Bv), _p(L, A))),
    "gumbel": lambda D, L: (D.Gumbel(_p(L, M), _p(L, S)), D.Gumbel(_p(L, -M), _p(L, A))),
    "geometric": lambda D, L: (D.Geometric(_p(L, P)), D.Geometric(_p(L, P[::-1]))),
    "half_normal": lambda D, L: (D.HalfNormal(_p(L, S)), D.HalfNormal(_p(L, A))),
    "laplace": lambda D, L: (D.Laplace(_p(L, M), _p(L, S)), D.Laplace(_p(L, -M), _p(L, A))),
    "cauchy": lambda D, L: (D.Cauchy(_p(L, M), _p(L, S)), D.Cauchy(_p(L, -M), _p(L, A))),
    "log_normal": lambda D, L: (D.LogNormal(_p(L, M), _p(L, S)),
                                D.LogNormal(_p(L, -M), _p(L, A))),
    "poisson": lambda D, L: (D.Poisson(_p(L, A)), D.Poisson(_p(L, Bv))),
    "one_hot": lambda D, L: (D.OneHotCategorical(_p(L, [A, Bv])),
                             D.OneHotCategorical(logits=_p(L, [M, S]))),
    "mvn": lambda D, L: (D.MultivariateNormal(_p(L, [M[:3], M[1:]]), covariance_matrix=_p(
        L, SQ[0] @ SQ[0].T + np.eye(3))), D.MultivariateNormal(
        _p(L, S[:3]), scale_tril=_p(L, np.linalg.cholesky(SQ[1] @ SQ[1].T + np.eye(3))))),
    "exponential_normal": lambda D, L: (D.Exponential(_p(L, A)), D.Normal(_p(L, M), _p(L, S))),
    "gamma_normal": lambda D, L: (D.Gamma(_p(L, A), _p(L, Bv)), D.Normal(_p(L, M), _p(L, S))),
    "laplace_normal": lambda D, L: (D.Laplace(_p(L, M), _p(L, A)), D.Normal(_p(L, S),
                                                                             _p(L, Bv))),
    "beta_normal": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)), D.Normal(_p(L, M), _p(L, S))),
    "uniform_normal": lambda D, L: (D.Uniform(_p(L, M), _p(L, M + A)),
                                    D.Normal(_p(L, S), _p(L, Bv))),
    "normal_laplace": lambda D, L: (D.Normal(_p(L, M), _p(L, S)), D.Laplace(_p(L, -M),
                                                                             _p(L, A))),
    "exponential_gamma": lambda D, L: (D.Exponential(_p(L, A)), D.Gamma(_p(L, Bv), _p(L, S))),
    "gamma_exponential": lambda D, L: (D.Gamma(_p(L, A), _p(L, Bv)), D.Exponential(_p(L, S))),
    "bernoulli_poisson": lambda D, L: (D.Bernoulli(_p(L, P)), D.Poisson(_p(L, A))),
    "uniform_exponential": lambda D, L: (D.Uniform(_p(L, M), _p(L, M + A)),
                                         D.Exponential(_p(L, S))),
    "uniform_gamma": lambda D, L: (D.Uniform(_p(L, np.abs(M) * [0, 1, 1, 1]),
                                             _p(L, np.abs(M) + A)), D.Gamma(_p(L, Bv),
                                                                            _p(L, S))),
    "uniform_beta": lambda D, L: (D.Uniform(_p(L, P * 0.5), _p(L, P * 0.5 + 0.4)),
                                  D.Beta(_p(L, A), _p(L, Bv))),
    "uniform_beta_outside": lambda D, L: (D.Uniform(_p(L, M), _p(L, M + A)),
                                          D.Beta(_p(L, A), _p(L, Bv))),
    "beta_uniform": lambda D, L: (D.Beta(_p(L, A), _p(L, Bv)),
                                  D.Uniform(_p(L, -P), _p(L, 1 + P * [0, 1, 1, 0] - 0.01))),
    "normal_gamma_inf": lambda D, L: (D.Normal(_p(L, M), _p(L, S)), D.Gamma(_p(L, A),
                                                                            _p(L, Bv))),
    "gamma_uniform_inf": lambda D, L: (D.Gamma(_p(L, A), _p(L, Bv)), D.Uniform(
        _p(L, M), _p(L, M + A))),
    "poisson_binomial_inf": lambda D, L: (D.Poisson(_p(L, A)), D.Binomial(3, _p(L, P))),
    "independent_gamma": lambda D, L: (D.Independent(D.Gamma(_p(L, A), _p(L, Bv)), 1),
                                       D.Independent(D.Gamma(_p(L, Bv), _p(L, A)), 1)),
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
        # (where q has no density, PyTorch's gradients mix NaNs in: values only there)
        grads = lib.autograd.grad(finite.sum(), leaves, allow_unused=True) if \
            finite.requires_grad and "inf" not in name and "outside" not in name \
            else [None] * len(leaves)
        res[lib] = (kl, [None if g is None else g.numpy() for g in grads])
    if isinstance(res[torch], Exception):
        assert isinstance(res[disttorch], NotImplementedError)
        assert str(res[disttorch]) == str(res[torch])
        return
    (kt, gt), (kd, gd) = res[torch], res[disttorch]
    assert tuple(kd.shape) == tuple(kt.shape)
    np.testing.assert_allclose(kd.detach().numpy(), kt.detach().numpy(), rtol=1e-9)
    assert len(gd) == len(gt)
    for a, b in zip(gd, gt):
        if a is None or b is None:
            assert (a is None or not a.any()) and (b is None or not b.any())
        else:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_kl_mvn_event_shape_mismatch():
    D = disttorch.distributions
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(D.MultivariateNormal(disttorch.zeros(2), disttorch.eye(2)),
                        D.MultivariateNormal(disttorch.zeros(3), disttorch.eye(3)))
