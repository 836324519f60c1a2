"""``disttorch.distributions`` against ``torch.distributions``: densities, entropies, moments,
cdf/icdf, shapes, KL divergences and their gradients on the same parameters; sampling by its
statistics; validation errors; and a run on the simulated CUDA device."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)

PROBS = rng.uniform(0.05, 0.95, (3, 4))
CAT = rng.uniform(0.1, 2.0, (3, 4))
LOC, SCALE = rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4))
LOW = rng.standard_normal((3, 4))
HIGH = LOW + rng.uniform(0.5, 2.0, (3, 4))

# (name, constructor(lib, params), param arrays, values for log_prob / cdf)
CASES = [
    ("normal", lambda D, p: D.Normal(p[0], p[1]), [LOC, SCALE], rng.standard_normal((2, 3, 4))),
    ("normal_scalar", lambda D, p: D.Normal(p[0], 2.0), [np.array(0.5)], rng.standard_normal(5)),
    ("uniform", lambda D, p: D.Uniform(p[0], p[1]), [LOW, HIGH],
     LOW + (HIGH - LOW) * rng.uniform(0, 1, (2, 3, 4))),
    ("bernoulli_probs", lambda D, p: D.Bernoulli(probs=p[0]), [PROBS],
     rng.integers(0, 2, (2, 3, 4)).astype(np.float64)),
    ("bernoulli_logits", lambda D, p: D.Bernoulli(logits=p[0]), [LOC],
     rng.integers(0, 2, (3, 4)).astype(np.float64)),
    ("categorical_probs", lambda D, p: D.Categorical(probs=p[0]), [CAT],
     rng.integers(0, 4, (2, 3))),
    ("categorical_logits", lambda D, p: D.Categorical(logits=p[0]), [LOC],
     rng.integers(0, 4, (3,))),
    ("independent_normal", lambda D, p: D.Independent(D.Normal(p[0], p[1]), 1), [LOC, SCALE],
     rng.standard_normal((2, 3, 4))),
]


def _build(lib, case, requires_grad=False):
    name, make, params, value = case
    tensors = [lib.tensor(p, dtype=lib.float64, requires_grad=requires_grad) for p in params]
    dist = make(lib.distributions, tensors)
    return dist, tensors, lib.tensor(value)


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(case):
    (td, tp, tv), (dd, dp, dv) = _build(torch, case, True), _build(disttorch, case, True)
    assert tuple(dd.batch_shape) == tuple(td.batch_shape)
    assert tuple(dd.event_shape) == tuple(td.event_shape)
    assert dd.has_rsample == td.has_rsample
    assert type(dd.support).__name__ == type(td.support).__name__
    if not case[0].startswith("uniform"):  # (its bounds print as tensors, formatted apart)
        assert repr(dd.support) == repr(td.support)
    for attr in ("mean", "variance", "stddev", "mode"):
        np.testing.assert_allclose(_np(getattr(dd, attr)), _np(getattr(td, attr)), rtol=1e-12,
                                   err_msg=attr)
    np.testing.assert_allclose(_np(dd.entropy()), _np(td.entropy()), rtol=1e-12)
    np.testing.assert_allclose(_np(dd.perplexity()), _np(td.perplexity()), rtol=1e-12)
    lp_t, lp_d = td.log_prob(tv), dd.log_prob(dv)
    np.testing.assert_allclose(_np(lp_d), _np(lp_t), rtol=1e-12)
    # gradients of log_prob and entropy with respect to the parameters
    (lp_t.sum() + td.entropy().sum()).backward()
    (lp_d.sum() + dd.entropy().sum()).backward()
    for a, b in zip(dp, tp):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-10, atol=1e-12)
    if case[0].startswith(("normal", "uniform")):
        np.testing.assert_allclose(_np(dd.cdf(dv)), _np(td.cdf(tv)), rtol=1e-12)
        q = rng.uniform(0.01, 0.99, tuple(td.batch_shape))
        np.testing.assert_allclose(_np(dd.icdf(disttorch.tensor(q))),
                                   _np(td.icdf(torch.tensor(q))), rtol=1e-10)
    if td.has_enumerate_support:
        np.testing.assert_array_equal(_np(dd.enumerate_support()), _np(td.enumerate_support()))
        np.testing.assert_array_equal(_np(dd.enumerate_support(False)),
                                      _np(td.enumerate_support(False)))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_samples(case):
    disttorch.manual_seed(0)
    dist, params, _ = _build(disttorch, case)
    draws = dist.sample((20000,))
    assert tuple(draws.shape) == (20000,) + tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert bool(dist.support.check(draws).all())
    values = _np(draws).astype(np.float64)
    if not case[0].startswith("categorical"):
        scale = np.sqrt(_np(dist.variance))
        assert np.all(np.abs(values.mean(0) - _np(dist.mean)) < 5 * scale / np.sqrt(20000))
        np.testing.assert_allclose(values.std(0), scale, rtol=0.05)
    else:
        freq = np.stack([(values == k).mean(0) for k in range(4)], -1)
        np.testing.assert_allclose(freq, _np(dist.probs), atol=0.02)


def test_rsample_is_differentiable():
    loc = disttorch.tensor([0.5, -1.0], requires_grad=True)
    scale = disttorch.tensor([2.0, 0.5], requires_grad=True)
    x = disttorch.distributions.Normal(loc, scale).rsample((3,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [3.0, 3.0])
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-6)
    low, high = disttorch.tensor(0.0, requires_grad=True), disttorch.tensor(2.0,
                                                                            requires_grad=True)
    u = disttorch.distributions.Uniform(low, high).rsample((5,))
    u.sum().backward()
    np.testing.assert_allclose(low.grad.item() + high.grad.item(), 5.0, rtol=1e-6)
    with pytest.raises(NotImplementedError):
        disttorch.distributions.Categorical(logits=disttorch.zeros(3)).rsample()


KL_PAIRS = [
    ("normal", lambda D: (D.Normal(torch_or(D, LOC), torch_or(D, SCALE)),
                          D.Normal(torch_or(D, LOW), torch_or(D, SCALE[::-1].copy())))),
    ("bernoulli", lambda D: (D.Bernoulli(probs=torch_or(D, PROBS)),
                             D.Bernoulli(logits=torch_or(D, LOC)))),
    ("bernoulli_edges", lambda D: (D.Bernoulli(probs=torch_or(D, np.array([0.0, 1.0, 0.5]))),
                                   D.Bernoulli(probs=torch_or(D, np.array([0.3, 1.0, 0.0]))))),
    ("categorical", lambda D: (D.Categorical(probs=torch_or(D, CAT)),
                               D.Categorical(logits=torch_or(D, LOC)))),
    ("categorical_zeros", lambda D: (D.Categorical(probs=torch_or(D, np.array([0.0, 1.0, 1.0]))),
                                     D.Categorical(probs=torch_or(D, np.array([1.0, 0.0, 1.0]))))),
    ("uniform", lambda D: (D.Uniform(torch_or(D, LOW), torch_or(D, HIGH)),
                           D.Uniform(torch_or(D, LOW - 0.5), torch_or(D, HIGH + (LOC > 0))))),
    ("independent", lambda D: (D.Independent(D.Normal(torch_or(D, LOC), torch_or(D, SCALE)), 2),
                               D.Independent(D.Normal(torch_or(D, LOW), torch_or(D, SCALE)), 2))),
]


def torch_or(D, array):
    lib = torch if D is torch.distributions else disttorch
    return lib.tensor(array, dtype=lib.float64)


@pytest.mark.parametrize("name,make", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence_matches_torch(name, make):
    want = torch.distributions.kl_divergence(*make(torch.distributions))
    got = disttorch.distributions.kl_divergence(*make(disttorch.distributions))
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-12)


def test_kl_lookup_and_registration():
    D = disttorch.distributions
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p "
                                                  "type Normal and q type Categorical"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(disttorch.ones(2)))

    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl(p, q):
        return disttorch.tensor(-1.0)
    assert D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0)).item() == -1.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), Wide(0.0, 1.0)).item() == 0.0  # (Normal, Normal)


@pytest.mark.parametrize("make", [
    lambda D, lib: D.Normal(lib.zeros(2), -1.0),
    lambda D, lib: D.Uniform(2.0, 1.0),
    lambda D, lib: D.Bernoulli(probs=lib.tensor([1.5])),
    lambda D, lib: D.Bernoulli(probs=lib.tensor([0.5]), logits=lib.tensor([0.0])),
    lambda D, lib: D.Bernoulli(probs=lib.tensor([0.3])).log_prob(lib.tensor([2.0])),
    lambda D, lib: D.Categorical(probs=lib.tensor([0.5, -0.1])),
    lambda D, lib: D.Categorical(logits=lib.zeros(2, 3)).log_prob(lib.tensor([3, 0])),
    lambda D, lib: D.Normal(lib.zeros(2), 1.0).log_prob(lib.zeros(3)),
    lambda D, lib: D.Independent(D.Normal(0.0, 1.0), 1),
], ids=["scale", "uniform", "probs", "both", "support", "simplex", "categorical_support",
        "broadcast", "independent"])
def test_validation_errors_match_torch(make):
    with pytest.raises(ValueError) as want:
        make(torch.distributions, torch)
    with pytest.raises(ValueError) as got:
        make(disttorch.distributions, disttorch)
    assert str(got.value).replace("disttorch.", "torch.") == str(want.value)


def test_validation_can_be_turned_off():
    D = disttorch.distributions
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    D.Distribution.set_default_validate_args(False)
    try:
        D.Bernoulli(probs=disttorch.tensor([2.0]))
    finally:
        D.Distribution.set_default_validate_args(True)


def test_policy_gradient_step_matches_torch():
    # REINFORCE with a categorical policy and a Gaussian one: the same actions, the same grads
    obs = rng.standard_normal((5, 3))
    w = rng.standard_normal((3, 4)) * 0.5
    actions, cont = rng.integers(0, 4, 5), rng.standard_normal((5, 4))
    adv = rng.standard_normal(5)
    grads = []
    for lib in (torch, disttorch):
        W = lib.tensor(w, requires_grad=True)
        logits = lib.tensor(obs) @ W
        cat = lib.distributions.Categorical(logits=logits)
        gauss = lib.distributions.Independent(lib.distributions.Normal(logits, 0.5), 1)
        loss = -(cat.log_prob(lib.tensor(actions)) * lib.tensor(adv)).mean() \
            - (gauss.log_prob(lib.tensor(cont)) * lib.tensor(adv)).mean() - 0.01 * cat.entropy().mean()
        loss.backward()
        grads.append(_np(W.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10)


def test_on_the_simulated_device():
    D = disttorch.distributions
    want = D.Categorical(logits=disttorch.tensor(LOC)).log_prob(disttorch.tensor([0, 1, 3]))
    with _simulated.simulate():
        logits = disttorch.tensor(LOC, device="cuda")
        cat = D.Categorical(logits=logits)
        assert cat.sample((7,)).device.type == "cuda"
        got = cat.log_prob(disttorch.tensor([0, 1, 3], device="cuda"))
        normal = D.Normal(logits, 1.0)
        x = normal.rsample()
        assert x.device.type == "cuda" and normal.log_prob(x).device.type == "cuda"
        kl = D.kl_divergence(normal, D.Normal(logits * 0, 2.0))
        assert kl.device.type == "cuda"
        got = got.cpu()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_expand_matches_torch(case):
    td, _, _ = _build(torch, case)
    dd, _, _ = _build(disttorch, case)
    target = (2,) + tuple(td.batch_shape)
    te, de = td.expand(target), dd.expand(target)
    assert tuple(de.batch_shape) == tuple(te.batch_shape) == target
    assert tuple(de.event_shape) == tuple(te.event_shape)
    value = td.sample()
    np.testing.assert_allclose(_np(de.log_prob(disttorch.tensor(value.numpy()))),
                               _np(te.log_prob(value)), rtol=1e-12)
    np.testing.assert_allclose(_np(de.entropy()), _np(te.entropy()), rtol=1e-12)
    assert tuple(de.sample((3,)).shape) == tuple(te.sample((3,)).shape)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        disttorch.distributions.Normal(disttorch.zeros(3), 1.0).expand((2, 4))
