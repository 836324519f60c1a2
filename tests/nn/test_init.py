"""nn.init against torch: gains and fans exactly, distributions statistically."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import requires_torch, torch


@requires_torch
@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("conv2d", None),
                                                ("sigmoid", None), ("tanh", None),
                                                ("relu", None), ("leaky_relu", None),
                                                ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == \
        torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        nn.init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        nn.init.calculate_gain("leaky_relu", True)


@requires_torch
@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (2, 6, 7)])
def test_fans_match_torch(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(disttorch.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def _stats(ours_fn, torch_fn, shape):
    torch.manual_seed(0)
    disttorch.manual_seed(0)
    a = disttorch.empty(*shape)
    t = torch.empty(*shape)
    ours_fn(a)
    torch_fn(t)
    return a.numpy(), t.numpy()


DISTRIBUTIONS = [
    ("uniform_", {"a": -0.5, "b": 2.0}),
    ("normal_", {"mean": 1.0, "std": 0.3}),
    ("trunc_normal_", {"mean": 0.0, "std": 1.0, "a": -1.0, "b": 1.5}),
    ("trunc_normal_", {"mean": 1.0, "std": 2.0, "a": -3.0, "b": -1.0}),   # < 30% of the mass
    ("xavier_uniform_", {"gain": 2.0}),
    ("xavier_normal_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out"}),
    ("sparse_", {"sparsity": 0.3}),
]


@requires_torch
@pytest.mark.parametrize("name,kwargs", DISTRIBUTIONS)
def test_distributions_statistically_match_torch(name, kwargs):
    shape = (300, 200)
    a, t = _stats(lambda x: getattr(nn.init, name)(x, **kwargs),
                  lambda x: getattr(torch.nn.init, name)(x, **kwargs), shape)
    if "uniform" in name or "trunc" in name:
        # bounded distributions: the same support
        assert a.min() >= t.min() - 0.01 * abs(t.min()) - 1e-3
        assert a.max() <= t.max() + 0.01 * abs(t.max()) + 1e-3
    assert abs(a.mean() - t.mean()) < 0.02 * (t.std() + abs(t.mean()))
    assert abs(a.std() - t.std()) < 0.03 * t.std()
    assert abs((a == 0).mean() - (t == 0).mean()) < 0.01


def test_trunc_normal_far_in_the_tail_returns_the_right_distribution():
    # [8, 9] holds 6e-16 of N(0, 1): redrawing normals until they land there never ended
    t = disttorch.empty(100_000)
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        nn.init.trunc_normal_(t, mean=0.0, std=1.0, a=8.0, b=9.0)
    values = t.numpy()
    assert values.min() >= 8.0 and values.max() <= 9.0

    def pdf(x):
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    mass = 0.5 * (math.erfc(8 / math.sqrt(2)) - math.erfc(9 / math.sqrt(2)))
    assert values.mean() == pytest.approx((pdf(8) - pdf(9)) / mass, abs=2e-3)


def test_trunc_normal_empty_interval_is_refused_like_torch():
    with pytest.raises(RuntimeError, match=r"uniform_ expects to return a \[from, to\) range, "
                                           r"but found from=2.5 > to=1.5"), \
            pytest.warns(UserWarning, match="mean is more than 2 std"):   # torch warns too
        nn.init.trunc_normal_(disttorch.empty(3), a=2.5, b=1.5)


@requires_torch
def test_deterministic_initialisers_match_torch():
    for name, shape, kwargs in [("constant_", (3, 4), {"val": 0.7}), ("ones_", (2, 3), {}),
                                ("zeros_", (2, 3), {}), ("eye_", (3, 5), {}),
                                ("dirac_", (4, 2, 3, 3), {}), ("dirac_", (6, 2, 3), {"groups": 2})]:
        a, t = _stats(lambda x: getattr(nn.init, name)(x, **kwargs),
                      lambda x: getattr(torch.nn.init, name)(x, **kwargs), shape)
        np.testing.assert_array_equal(a, t, err_msg=name)


def test_orthogonal_is_orthogonal_and_scaled():
    for shape in [(6, 4), (4, 6), (3, 2, 2)]:
        w = nn.init.orthogonal_(disttorch.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        small = min(w.shape)
        gram = w @ w.T if w.shape[0] == small else w.T @ w
        np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-5)


def test_init_is_in_place_without_history_and_seeded():
    p = nn.Parameter(disttorch.empty(5, 5))
    version = p._version
    out = nn.init.kaiming_uniform_(p, a=math.sqrt(5))
    assert out is p and p.grad_fn is None and p.requires_grad and p._version > version
    g = disttorch.Generator().manual_seed(7)
    a = nn.init.normal_(disttorch.empty(4), generator=g).numpy().copy()
    g.manual_seed(7)
    assert np.array_equal(a, nn.init.normal_(disttorch.empty(4), generator=g).numpy())
    disttorch.manual_seed(1)
    b = nn.Linear(3, 3).weight.detach().numpy().copy()
    disttorch.manual_seed(1)
    assert np.array_equal(b, nn.Linear(3, 3).weight.detach().numpy())


def test_init_errors_match_torch_text():
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with "
                                         "fewer than 2 dimensions"):
        nn.init.xavier_uniform_(disttorch.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_normal_(disttorch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        nn.init.eye_(disttorch.empty(3))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        nn.init.dirac_(disttorch.empty(3, 3))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(disttorch.empty(0, 3))


def test_deprecated_aliases_warn_and_work():
    with pytest.warns(FutureWarning, match="`nn.init.xavier_uniform` is now deprecated in favor "
                                           "of `nn.init.xavier_uniform_`"):
        w = nn.init.xavier_uniform(disttorch.empty(3, 3))
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 6)
