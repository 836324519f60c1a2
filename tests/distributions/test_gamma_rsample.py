"""The standard-gamma sample's implicit gradient, and the reparameterized gradients of the
sampling distributions: the gradient of a Monte-Carlo mean of rsample draws against the
analytic gradient of the expectation (computed by torch on the same parameters)."""
import numpy as np
import pytest

import disttorch
from disttorch.distributions._sampling import standard_gamma_grad, standard_gamma_grad_array
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")
D = disttorch.distributions


def _grid():
    alphas, xs = [], []
    for a in [1e-3, 0.05, 0.3, 1.0, 2.5, 7.0, 30.0, 300.0, 3e3, 1e5]:
        rng = np.random.default_rng(int(a * 1000) % 2 ** 32)
        draws = np.maximum(rng.gamma(a, size=40), 1e-300)
        alphas.append(np.full(draws.shape, a))
        xs.append(draws)
    return np.concatenate(xs), np.concatenate(alphas)


def test_standard_gamma_grad_matches_torch():
    x, a = _grid()
    want = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(x)).numpy()
    got = standard_gamma_grad(disttorch.tensor(x), disttorch.tensor(a)).numpy()
    # (PyTorch's own approximations are good to about 5e-4 relative in the far tails; the
    # next test checks ours to 2e-6 against the implicit function theorem)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-300)


def test_standard_gamma_grad_matches_the_implicit_function_theorem():
    # dx/da = -(dP/da) / p(x): dP/da by central differences of disttorch's igamma in float64
    x, a = _grid()
    keep = (a >= 0.3) & (a <= 300)
    x, a = x[keep], a[keep]
    h = 1e-5 * a
    P = lambda aa: disttorch.special.gammainc(disttorch.tensor(aa), disttorch.tensor(x)).numpy()
    dP = (P(a + h) - P(a - h)) / (2 * h)
    log_density = (a - 1) * np.log(x) - x - disttorch.lgamma(disttorch.tensor(a)).numpy()
    want = -dP / np.exp(log_density)
    np.testing.assert_allclose(standard_gamma_grad_array(x, a), want, rtol=2e-6)


def test_standard_gamma_grad_edges():
    got = standard_gamma_grad_array(np.array([0.0, -1.0, 1.0, np.inf, 1e-300]),
                                    np.array([1.0, 1.0, -1.0, 2.0, 1e-2]))
    assert np.isnan(got[:4]).all() and np.isfinite(got[4]) and got[4] > 0


# name -> (disttorch constructor, torch constructor of the same, the parameters)
CASES = {
    "gamma": (lambda L, p: L.distributions.Gamma(p[0], p[1]), [[0.4, 1.5, 6.0], [0.7, 2.0, 1.3]]),
    "chi2": (lambda L, p: L.distributions.Chi2(p[0]), [[0.8, 3.0, 11.0]]),
    "beta": (lambda L, p: L.distributions.Beta(p[0], p[1]), [[0.6, 2.0, 5.0], [1.5, 0.7, 3.0]]),
    "dirichlet": (lambda L, p: L.distributions.Dirichlet(p[0]), [[0.5, 1.5, 4.0]]),
    "exponential": (lambda L, p: L.distributions.Exponential(p[0]), [[0.5, 1.0, 3.0]]),
    "laplace": (lambda L, p: L.distributions.Laplace(p[0], p[1]), [[0.0, 1.0, -2.0],
                                                                  [0.5, 1.0, 2.0]]),
    "log_normal": (lambda L, p: L.distributions.LogNormal(p[0], p[1]), [[0.0, 0.3, -0.5],
                                                                       [0.2, 0.4, 0.5]]),
    "half_normal": (lambda L, p: L.distributions.HalfNormal(p[0]), [[0.5, 1.0, 2.0]]),
    "gumbel": (lambda L, p: L.distributions.Gumbel(p[0], p[1]), [[0.0, 1.0, -1.0],
                                                                [0.5, 1.0, 2.0]]),
    "student_t": (lambda L, p: L.distributions.StudentT(p[0], p[1], p[2]),
                  [[5.0, 8.0, 12.0], [0.0, 1.0, -1.0], [0.5, 1.0, 2.0]]),
    "mvn": (lambda L, p: L.distributions.MultivariateNormal(
        p[0], scale_tril=L.tensor([[1.0, 0.0], [0.5, 1.2]], dtype=L.float64) * p[1][0]),
        [[0.5, -0.3], [1.5]]),
}


def _objective(x, name):
    # a smooth function of the sample whose expectation depends on every parameter
    if name in ("dirichlet", "mvn"):
        return (x * x).sum(-1)
    if name == "student_t":
        return x.abs()
    return x * x


@pytest.mark.parametrize("name", list(CASES))
def test_rsample_gradient_is_the_expectation_gradient(name):
    make, params = CASES[name]
    # the exact gradient of E[f(X)]: from torch's own rsample, averaged over many draws, and
    # from disttorch's, with the standard error of the mean gradient as the tolerance
    n = 40000
    grads = {}
    for lib in (torch, disttorch):
        (disttorch.manual_seed if lib is disttorch else torch.manual_seed)(0)
        ps = [lib.tensor(p, dtype=lib.float64, requires_grad=True) for p in params]
        dist = make(lib, ps)
        x = dist.rsample((n,))
        per_draw = _objective(x, name).reshape(n, -1).sum(-1)
        assert per_draw.requires_grad
        total = per_draw.sum()
        flat = []
        for p in ps:
            g = lib.autograd.grad(total, p, retain_graph=True)[0]
            flat.append(np.asarray(g.detach().numpy()) / n)
        # per-draw gradient spread, from 20 blocks
        blocks = []
        for chunk in per_draw.reshape(20, -1).sum(-1):
            gs = lib.autograd.grad(chunk, ps, retain_graph=True)
            blocks.append(np.concatenate([g.detach().numpy().ravel() for g in gs]) / (n / 20))
        grads[lib] = np.concatenate([f.ravel() for f in flat]), np.std(blocks, 0) / np.sqrt(20)
    (mean_t, se_t), (mean_d, se_d) = grads[torch], grads[disttorch]
    assert np.all(np.abs(mean_d - mean_t) < 6 * np.hypot(se_t, se_d) + 1e-9), \
        (mean_d, mean_t, se_t, se_d)


def test_gamma_rsample_gradient_against_the_analytic_mean():
    # E[X] = a / b: d/da = 1/b, d/db = -a/b^2; a Monte-Carlo mean's gradient converges to it
    a = disttorch.tensor([0.3, 1.0, 4.0, 50.0], dtype=disttorch.float64, requires_grad=True)
    b = disttorch.tensor([2.0, 0.5, 1.0, 3.0], dtype=disttorch.float64, requires_grad=True)
    disttorch.manual_seed(1)
    x = D.Gamma(a, b).rsample((50000,))
    x.mean(0).sum().backward()
    # per-draw gradients in a are x/a-like with spread sqrt(1/a)/b: 6 standard errors
    tol = 6 * np.sqrt(1 / a.detach().numpy()) / b.detach().numpy() / np.sqrt(50000)
    assert np.all(np.abs(a.grad.numpy() - 1 / b.detach().numpy()) < tol + 1e-3)
    np.testing.assert_allclose(b.grad.numpy(), -(x.detach().mean(0) / b.detach()).numpy(),
                               rtol=1e-10)


def test_sampling_is_reproducible_and_shaped_like_torch():
    c = disttorch.tensor([[0.5, 2.0, 9.0]], dtype=disttorch.float32)
    for make in (lambda L, c: L.distributions.Gamma(c, 1.0),
                 lambda L, c: L.distributions.Dirichlet(c),
                 lambda L, c: L.distributions.Beta(c, c),
                 lambda L, c: L.distributions.StudentT(c),
                 lambda L, c: L.distributions.Poisson(c),
                 lambda L, c: L.distributions.Binomial(4, probs=c / 10),
                 lambda L, c: L.distributions.NegativeBinomial(c, probs=c / 10)):
        disttorch.manual_seed(5)
        first = make(disttorch, c).sample((4, 2))
        disttorch.manual_seed(5)
        second = make(disttorch, c).sample((4, 2))
        want = make(torch, torch.tensor(c.numpy())).sample((4, 2))
        np.testing.assert_array_equal(first.numpy(), second.numpy())
        assert tuple(first.shape) == tuple(want.shape)
        assert str(first.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]


def test_on_the_simulated_device():
    want = D.Gamma(disttorch.tensor([0.5, 2.0]), 1.5).log_prob(disttorch.tensor([0.3, 1.1]))
    with _simulated.simulate():
        c = disttorch.tensor([0.5, 2.0], device="cuda", requires_grad=True)
        for dist in (D.Gamma(c, 1.5), D.Beta(c, c), D.Dirichlet(c), D.StudentT(c),
                     D.Chi2(c), D.Exponential(c), D.Laplace(c, c), D.Gumbel(c, c),
                     D.LogNormal(c, c), D.HalfNormal(c), D.Cauchy(c, c),
                     D.RelaxedBernoulli(disttorch.tensor(0.5, device="cuda"), probs=c / 3)):
            x = dist.rsample((3,))
            assert x.device.type == "cuda"
            grad, = disttorch.autograd.grad(x.sum(), c)
            assert grad.device.type == "cuda"
            assert dist.log_prob(x.detach()).device.type == "cuda"
        for dist in (D.Poisson(c), D.Binomial(3, probs=c / 3), D.Geometric(probs=c / 3),
                     D.NegativeBinomial(c, probs=c / 3), D.Multinomial(3, probs=c),
                     D.OneHotCategorical(probs=c)):
            assert dist.sample((2,)).device.type == "cuda"
        m = D.MultivariateNormal(c, scale_tril=disttorch.eye(2, device="cuda"))
        assert m.log_prob(m.sample()).device.type == "cuda"
        got = D.Gamma(c, 1.5).log_prob(disttorch.tensor([0.3, 1.1], device="cuda")).cpu()
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-6)
