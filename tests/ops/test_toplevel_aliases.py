"""ATen-level top-level functions (``torch.batch_norm``, ``torch.kl_div``...), ``binomial``,
``histogramdd``, ``as_strided_``, ``feature_dropout_``, ``Tensor.resize``, ``CrossMapLRN2d``
and the fractional pools' ``_with_indices`` forms."""
import warnings

import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch


def _sign(rng, n):
    return np.where(rng.standard_normal(n) > 0, 1.0, -1.0)


def _quiet_resize(x, *sizes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x.resize(*sizes)


def _bag(lib, w, mode, pad, last):
    # with include_last_offset the last offset closes the last bag (PyTorch's contract)
    offsets = [0, 2, 2, 5, 7] if last else [0, 2, 2, 5]
    out = lib.embedding_bag(w, lib.tensor([0, 2, 2, 4, 1, 3, 1]), lib.tensor(offsets),
                            False, mode, False, None, last, pad)
    return out


OPS = [
    OpInfo("batch_norm_train", lambda lib, x, w, b: lib.batch_norm(
        x, w, b, None, None, True, 0.1, 1e-5, False),
        lambda rng: [S(randn(rng, 4, 3, 5), randn(rng, 3), randn(rng, 3))]),
    OpInfo("batch_norm_eval", lambda lib, x, w, b, m, v: lib.batch_norm(
        x, w, b, m, v, False, 0.1, 1e-5, False),
        lambda rng: [S(randn(rng, 4, 3), randn(rng, 3), randn(rng, 3), randn(rng, 3),
                       positive(rng, 3), grad=[True, True, True, False, False])]),
    OpInfo("instance_norm", lambda lib, x, w, b: lib.instance_norm(
        x, w, b, None, None, True, 0.1, 1e-5, False),
        lambda rng: [S(randn(rng, 2, 3, 6), randn(rng, 3), randn(rng, 3))]),
    OpInfo("rms_norm", lambda lib, x, w: lib.rms_norm(x, (4,), w, None),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 4))]),
    OpInfo("bilinear", lambda lib, a, b, w, c: lib.bilinear(a, b, w, c),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 2), randn(rng, 5, 3, 2), randn(rng, 5))]),
    # padding rows and frequency scaling are not derivatives: compared with torch only
    OpInfo("embedding_padding", lambda lib, w: lib.embedding(w, lib.tensor([[0, 1], [4, 4]]), 4,
                                                             True),
           lambda rng: [S(randn(rng, 5, 3))], gradcheck=False),
    OpInfo("embedding", lambda lib, w: lib.embedding(w, lib.tensor([[0, 1], [4, 4]])),
           lambda rng: [S(randn(rng, 5, 3))]),
    OpInfo("embedding_bag_sum", lambda lib, w: _bag(lib, w, 0, None, False)[0],
           lambda rng: [S(randn(rng, 5, 3))]),
    OpInfo("embedding_bag_mean", lambda lib, w: _bag(lib, w, 1, 1, True)[0],
           lambda rng: [S(randn(rng, 5, 3))]),
    OpInfo("embedding_bag_max", lambda lib, w: _bag(lib, w, 2, None, False)[0],
           lambda rng: [S(randn(rng, 5, 3))]),
    OpInfo("channel_shuffle", lambda lib, x: lib.channel_shuffle(x, 3),
           lambda rng: [S(randn(rng, 2, 6, 2))]),
    OpInfo("cosine_embedding_loss", lambda lib, a, b, t: lib.cosine_embedding_loss(a, b, t, 0.1, 2),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 3), _sign(rng, 4),
                          grad=[True, True, False])]),
    OpInfo("hinge_embedding_loss", lambda lib, a, t: lib.hinge_embedding_loss(a, t, 1.0, 0),
           lambda rng: [S(randn(rng, 6), _sign(rng, 6), grad=[True, False])]),
    OpInfo("margin_ranking_loss", lambda lib, a, b, t: lib.margin_ranking_loss(a, b, t, 0.2),
           lambda rng: [S(randn(rng, 6), randn(rng, 6), _sign(rng, 6), grad=[True, True, False])]),
    OpInfo("poisson_nll_loss", lambda lib, a, t: lib.poisson_nll_loss(a, t, True, True, 1e-8, 1),
           lambda rng: [S(randn(rng, 4, 3), positive(rng, 4, 3, low=1.5, high=3),
                          grad=[True, False])]),
    OpInfo("poisson_nll_loss_rate", lambda lib, a, t: lib.poisson_nll_loss(a, t, False, False,
                                                                           1e-8, 0),
           lambda rng: [S(positive(rng, 4, 3), positive(rng, 4, 3))]),
    OpInfo("triplet_margin_loss", lambda lib, a, p, n: lib.triplet_margin_loss(
        a, p, n, 1.0, 2.0, 1e-6, True, 1),
        lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 3), randn(rng, 4, 3))]),
    OpInfo("kl_div", lambda lib, a, t: lib.kl_div(a, t, 1),
           lambda rng: [S(randn(rng, 4, 3), positive(rng, 4, 3))]),
    OpInfo("kl_div_log_target", lambda lib, a, t: lib.kl_div(a, t, 2, log_target=True),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 3))]),
    OpInfo("max_pool3d", lambda lib, x: lib.max_pool3d(x, (2, 3, 2), (1, 2, 1), 1, 1, True),
           lambda rng: [S(randn(rng, 1, 2, 4, 5, 4))]),
    OpInfo("max_pool1d_with_indices", lambda lib, x: lib.max_pool1d_with_indices(x, 3, 2, 1),
           lambda rng: [S(randn(rng, 2, 3, 7))]),
    OpInfo("grid_sampler_bilinear", lambda lib, x, g: lib.grid_sampler(x, g, 0, 2, True),
           lambda rng: [S(randn(rng, 1, 2, 4, 5), randn(rng, 1, 3, 3, 2) * 0.9)]),
    OpInfo("grid_sampler_2d_bicubic", lambda lib, x, g: lib.grid_sampler_2d(x, g, 2, 1, False),
           lambda rng: [S(randn(rng, 1, 2, 4, 5), randn(rng, 1, 3, 3, 2) * 0.9)]),
    OpInfo("grid_sampler_3d", lambda lib, x, g: lib.grid_sampler_3d(x, g, 0, 0, False),
           lambda rng: [S(randn(rng, 1, 2, 3, 4, 3), randn(rng, 1, 2, 2, 2, 3) * 0.9)]),
    OpInfo("resize", lambda lib, x: _quiet_resize(x, 4, 6), lambda rng: [S(randn(rng, 2, 3, 4))]),
    OpInfo("as_strided_", lambda lib, x: (x * 1).as_strided_((3, 2), (1, 2), 1),
           lambda rng: [S(randn(rng, 8))]),
    OpInfo("cross_map_lrn2d", lambda lib, x: lib.nn.CrossMapLRN2d(3, 0.3, 0.75, 1.5)(x),
           lambda rng: [S(randn(rng, 2, 3, 3, 4))], grad=False),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


def _both(fn, *arrays):
    out = []
    for lib in (torch, disttorch):
        out.append(fn(lib, *[lib.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]))
    return out


def _same_error(fn, *arrays):
    messages = []
    for lib in (torch, disttorch):
        args = [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
        with pytest.raises(Exception) as info:
            fn(lib, *args)
        messages.append((type(info.value), str(info.value).split("\n")[0]))
    assert messages[0] == messages[1]


@requires_torch
@pytest.mark.parametrize("call", [
    lambda L, x: L.batch_norm(x, None, None, None, None, False, 0.1, 1e-5, False),
    lambda L, x: L.instance_norm(x, None, None, None, None, False, 0.1, 1e-5, False),
    lambda L, x: L.kl_div(x, x, "mean"),
    lambda L, x: L.max_pool3d(x, 2, return_indices=True),
    lambda L, x: L.channel_shuffle(x, 4),
    lambda L, x: L.channel_shuffle(x[0, 0], 2),
    lambda L, x: L.grid_sampler(x.unsqueeze(0), L.zeros(1, 2, 2, 2, 3), 2, 0, False),
    lambda L, x: L.grid_sampler_2d(x.unsqueeze(0), L.zeros(1, 2, 2, 2, 3), 0, 0, False),
    lambda L, x: L.grid_sampler_3d(x, L.zeros(1, 2, 2, 2), 0, 0, False),
    lambda L, x: L.embedding(x[0, 0], L.tensor([0.0])),
    lambda L, x: L.embedding(x[0, 0], L.tensor([9])),
    lambda L, x: L.embedding_bag(x[0, 0], L.tensor([0, 1]), L.tensor([1]), False, 0),
    lambda L, x: L.embedding_bag(x[0, 0], L.tensor([0, 1]), L.tensor([0]), False, 3),
    lambda L, x: L.embedding_bag(x[0, 0], L.tensor([0, 1]), L.tensor([0]), False, 1, False,
                                 L.ones(2)),
    lambda L, x: L.feature_dropout_(x[0, 0, 0], 0.5, True),
    lambda L, x: L.feature_dropout_(x, 1.5, True),
    lambda L, x: L.feature_alpha_dropout_(x, -0.5, True),
    lambda L, x: L.feature_dropout_(x.requires_grad_(), 0.5, True),
    lambda L, x: L.binomial(x.long(), x),
    lambda L, x: L.binomial(x, x.double()),
    lambda L, x: L.binomial(x, x.requires_grad_()).sum().backward(),
    lambda L, x: x.resize(7),
    lambda L, x: L.histogramdd(x[0, 0, 0], 3),
    lambda L, x: L.histogramdd(x[0, 0], [2, 2]),
    lambda L, x: L.histogramdd(x[0, 0], 0),
    lambda L, x: L.histogramdd(x[0, 0], 2, range=[1.0, 0.0, 0.0, 1.0, 0.0, 1.0]),
    lambda L, x: L.histogramdd(x[0, 0], 2, range=[0.0, 1.0]),
    lambda L, x: L.histogramdd(x[0, 0].long(), 2),
    lambda L, x: L.histogramdd(x[0, 0], 2, weight=L.ones(2, dtype=L.float64)),
    lambda L, x: L.nn.CrossMapLRN2d(3)(x[0]),
], ids=lambda f: "")
def test_errors_match_torch(call):
    x = np.random.default_rng(0).standard_normal((1, 3, 2, 3)).astype(np.float32)
    _same_error(call, x)


@requires_torch
@pytest.mark.parametrize("reduction", [0, 1, 2, 7])
def test_integer_reduction_enum(reduction):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    t, d = _both(lambda L, x, y: L.kl_div(x, y.abs(), reduction), a, b)
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6)
    t, d = _both(lambda L, x, y: L.hinge_embedding_loss(x, y.sign(), 0.5, reduction), a, b)
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6)


def test_grid_sampler_refuses_unknown_enums():
    x, g = disttorch.zeros(1, 1, 3, 3), disttorch.zeros(1, 2, 2, 2)
    with pytest.raises(RuntimeError, match="interpolation_mode"):
        disttorch.grid_sampler(x, g, 3, 0, False)
    with pytest.raises(RuntimeError, match="padding_mode"):
        disttorch.grid_sampler(x, g, 0, -1, False)


@requires_torch
def test_embedding_negative_padding_idx_means_none():
    w = np.random.default_rng(4).standard_normal((5, 3))
    for lib in (torch, disttorch):
        weight = lib.tensor(w, requires_grad=True)
        lib.embedding(weight, lib.tensor([0, 4, 4]), -1).sum().backward()
        assert weight.grad[4].tolist() == [2.0, 2.0, 2.0]


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("pad", [None, 1])
@pytest.mark.parametrize("last", [False, True])
def test_embedding_bag_auxiliary_outputs(dtype, mode, pad, last):
    w = np.random.default_rng(5).standard_normal((5, 3)).astype(dtype)
    t, d = _both(lambda L, x: _bag(L, x, mode, pad, last), w)
    for k, (a, b) in enumerate(zip(t, d)):
        assert tuple(a.shape) == tuple(b.shape), k
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5,
                                   err_msg=f"output {k}")


@requires_torch
def test_batch_and_instance_norm_running_stats():
    rng = np.random.default_rng(6)
    for x in (rng.standard_normal((1, 3)), rng.standard_normal((4, 3, 5))):
        stats = []
        for lib in (torch, disttorch):
            mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
            out = lib.batch_norm(lib.tensor(x), None, None, mean, var, True, 0.2, 1e-5, False)
            stats.append((out.numpy(), mean.numpy(), var.numpy()))
        for a, b in zip(*stats):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    x = rng.standard_normal((2, 3, 4))
    stats = []
    for lib in (torch, disttorch):
        mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        out = lib.instance_norm(lib.tensor(x), None, None, mean, var, True, 0.3, 1e-5, False)
        stats.append((out.numpy(), mean.numpy(), var.numpy()))
    for a, b in zip(*stats):
        np.testing.assert_allclose(b, a, rtol=1e-6)


def test_binomial_moments_and_dtype():
    disttorch.manual_seed(0)
    count = disttorch.full((20000,), 12.0, dtype=disttorch.float64)
    prob = disttorch.full((20000,), 0.25, dtype=disttorch.float64)
    draws = disttorch.binomial(count, prob)
    assert draws.dtype == disttorch.float64 and draws.shape == (20000,)
    values = draws.numpy()
    assert np.all(values == np.round(values)) and values.min() >= 0 and values.max() <= 12
    assert abs(values.mean() - 3.0) < 0.06
    assert abs(values.var() - 2.25) < 0.1
    edge = disttorch.binomial(disttorch.tensor([[5.0], [-2.0]]), disttorch.tensor([1.0, 0.0]))
    assert edge.tolist() == [[5.0, 0.0], [0.0, 0.0]]
    nan = disttorch.binomial(disttorch.tensor([float("nan")]), disttorch.tensor([0.5]))
    assert np.isnan(nan.item())


def test_feature_dropout_inplace_zeroes_whole_channels():
    disttorch.manual_seed(1)
    x = disttorch.ones(8, 16, 3, 3)
    before = x._version
    out = disttorch.feature_dropout_(x, 0.5, True)
    assert out is x and x._version > before
    per_channel = x.numpy().reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    y = disttorch.ones(8, 16, 3)
    disttorch.feature_alpha_dropout_(y, 0.5, True)
    values = np.unique(y.numpy()[:, :, 0])
    assert len(values) == 2 and np.all((y.numpy() == y.numpy()[:, :, :1]))
    z = disttorch.ones(2, 3)
    assert disttorch.feature_dropout_(z, 0.5, False).tolist() == [[1.0] * 3] * 2


def test_feature_dropout_inplace_is_differentiable_on_non_leaves():
    disttorch.manual_seed(2)
    x = disttorch.randn(4, 6, 2, requires_grad=True)
    y = x * 1
    disttorch.feature_dropout_(y, 0.5, True)
    y.sum().backward()
    grad = x.grad.numpy()
    assert set(np.unique(grad)) <= {0.0, 2.0}
    np.testing.assert_array_equal(grad, (y.detach().numpy() != 0) * 2.0)


@requires_torch
def test_as_strided_inplace_view_semantics():
    for lib in (torch, disttorch):
        base = lib.arange(6.0)
        out = lib.as_strided_(base, (2, 2), (1, 2), 1)
        assert out is base and base.tolist() == [[1.0, 3.0], [2.0, 4.0]]


@requires_torch
def test_resize_warns_like_torch():
    for lib in (torch, disttorch):
        x = lib.arange(6.0)
        with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
            assert x.resize(2, 3).shape == (2, 3)
        with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
            assert x.resize_as(lib.ones(3, 2)).shape == (3, 2)


@requires_torch
@pytest.mark.parametrize("case", range(6))
def test_histogramdd_matches_torch(case):
    rng = np.random.default_rng(case)
    x = rng.standard_normal((30, 2))
    calls = [
        lambda L, x: L.histogramdd(x, 3),
        lambda L, x: L.histogramdd(x.float(), [3, 4], range=[-1.0, 1.0, 0.0, 2.0]),
        lambda L, x: L.histogramdd(x.reshape(5, 6, 2), [3, 4], weight=x[:, 0].abs().reshape(5, 6),
                                   density=True),
        lambda L, x: L.histogramdd(x, [L.tensor([-1.0, 0, 1], dtype=L.float64),
                                       L.tensor([-2.0, 0.5, 3], dtype=L.float64)]),
        lambda L, x: L.histogramdd(x[:0], 3),
        lambda L, x: L.histogramdd(L.ones(4, 3, dtype=L.float64), 2),
    ]
    t, d = _both(calls[case], x)
    np.testing.assert_allclose(d.hist.numpy(), t.hist.numpy(), rtol=1e-6)
    assert d.hist.dtype.itemsize == t.hist.dtype.itemsize
    assert len(d.bin_edges) == len(t.bin_edges)
    for a, b in zip(t.bin_edges, d.bin_edges):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("size", [1, 2, 3, 6])
def test_cross_map_lrn2d_gradient_is_exact(size):
    # PyTorch's hand-written backward is not the derivative of its forward; disttorch's is
    x = np.random.default_rng(size).standard_normal((2, 5, 2, 3))
    module = disttorch.nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5)
    t = disttorch.tensor(x, requires_grad=True)
    direction = np.random.default_rng(9).standard_normal(x.shape)
    module(t).backward(disttorch.ones(2, 5, 2, 3))
    eps = 1e-6
    with disttorch.no_grad():
        plus = module(disttorch.tensor(x + eps * direction)).sum().item()
        minus = module(disttorch.tensor(x - eps * direction)).sum().item()
    assert abs((plus - minus) / (2 * eps) - float((t.grad.numpy() * direction).sum())) < 1e-6
    assert repr(module) == repr(torch.nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5))


@requires_torch
@pytest.mark.parametrize("d", [2, 3])
def test_fractional_max_pool_with_indices(d):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((2, 3) + (7,) * d)
    samples = rng.uniform(size=(2, 3, d))
    results = []
    for lib in (torch, disttorch):
        fn = getattr(lib.nn.functional, f"fractional_max_pool{d}d_with_indices")
        results.append(fn(lib.tensor(x), 2, output_size=(4,) * d,
                          _random_samples=lib.tensor(samples)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
