"""pad, normalize, cosine_similarity, pairwise_distance, one_hot, embedding, dropout."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _F(lib):
    return lib.nn.functional


def _pad(mode, pads, shape, value=None):
    kwargs = {} if value is None else {"value": value}
    return OpInfo(f"pad_{mode}_{'_'.join(map(str, pads))}",
                  lambda lib, x: _F(lib).pad(x, pads, mode=mode, **kwargs),
                  lambda rng: [S(randn(rng, *shape))])


MISC = [
    _pad("constant", (1, 2), (2, 3)),
    _pad("constant", (1, -1, 2, 0), (2, 3, 4), value=1.5),
    _pad("constant", (0, 0, 0, 0, 1, 1), (2, 3, 4)),
    _pad("reflect", (2, 1), (2, 3, 4)),
    _pad("reflect", (1, 2, 2, 1), (1, 2, 3, 4)),
    _pad("replicate", (3, 1), (2, 3, 4)),
    _pad("replicate", (1, 0, 2, 2, 1, 1), (1, 2, 3, 3, 2)),
    _pad("circular", (2, 1, 1, 2), (2, 3, 4)),
    OpInfo("normalize", lambda lib, x: _F(lib).normalize(x, p=2.0, dim=1),
           lambda rng: [S(randn(rng, 3, 4)), S(randn(rng, 2, 3, 4))]),
    OpInfo("normalize_p1_dim0", lambda lib, x: _F(lib).normalize(x, p=1, dim=0),
           lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("cosine_similarity", lambda lib, a, b: _F(lib).cosine_similarity(a, b),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4)), S(randn(rng, 2, 4, 3),
                                                                 randn(rng, 1, 4, 3))]),
    OpInfo("cosine_similarity_dim", lambda lib, a, b: _F(lib).cosine_similarity(a, b, dim=-1),
           lambda rng: [S(randn(rng, 5, 3), randn(rng, 5, 3))]),
    OpInfo("pairwise_distance", lambda lib, a, b: _F(lib).pairwise_distance(a, b),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4)), S(randn(rng, 4), randn(rng, 4))]),
    OpInfo("pairwise_distance_p3_keepdim", lambda lib, a, b: _F(lib).pairwise_distance(
        a, b, p=3, keepdim=True), lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4))]),
    OpInfo("pdist", lambda lib, x: _F(lib).pdist(x), lambda rng: [S(randn(rng, 5, 3))]),
    OpInfo("pdist_p1", lambda lib, x: _F(lib).pdist(x, p=1.5), lambda rng: [S(randn(rng, 4, 2))]),
    OpInfo("embedding", lambda lib, w, i: _F(lib).embedding(i, w),
           lambda rng: [S(randn(rng, 6, 3), rng.integers(0, 6, (2, 4)))]),
    OpInfo("embedding_padding_freq", lambda lib, w, i: _F(lib).embedding(
        i, w, padding_idx=2, scale_grad_by_freq=True),
           lambda rng: [S(randn(rng, 6, 3), np.array([[2, 1, 1], [0, 2, 5]]))],
           gradcheck=False),  # by design not the true gradient (padding row, frequency scale)
    OpInfo("embedding_bag_sum", lambda lib, w, i, o: _F(lib).embedding_bag(i, w, o, mode="sum"),
           lambda rng: [S(randn(rng, 6, 3), np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2, 2]))]),
    OpInfo("embedding_bag_mean_2d", lambda lib, w, i: _F(lib).embedding_bag(i, w, mode="mean"),
           lambda rng: [S(randn(rng, 6, 3), rng.integers(0, 6, (3, 4)))]),
    OpInfo("embedding_bag_max", lambda lib, w, i, o: _F(lib).embedding_bag(i, w, o, mode="max"),
           lambda rng: [S(randn(rng, 6, 3), np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2, 2, 5]))]),
    OpInfo("embedding_bag_max_2d_padding", lambda lib, w, i: _F(lib).embedding_bag(
        i, w, mode="max", padding_idx=0), lambda rng: [S(randn(rng, 6, 3),
                                                         np.array([[1, 0, 3], [0, 0, 0]]))],
           gradcheck=False),
    OpInfo("embedding_bag_weighted_padding", lambda lib, w, i, o, p: _F(lib).embedding_bag(
        i, w, o, mode="sum", per_sample_weights=p, padding_idx=2),
           lambda rng: [S(randn(rng, 6, 3), np.array([1, 2, 4, 2]), np.array([0, 1]),
                          randn(rng, 4))], gradcheck=False),
    OpInfo("embedding_bag_weighted", lambda lib, w, i, o, p: _F(lib).embedding_bag(
        i, w, o, mode="sum", per_sample_weights=p),
           lambda rng: [S(randn(rng, 6, 3), np.array([1, 2, 4, 5]), np.array([0, 1]),
                          randn(rng, 4))]),
]

test_misc_match_torch, test_misc_finite_differences = op_tests(MISC)


@requires_torch
@pytest.mark.parametrize("values,num_classes", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5),
                                                ([], 3)])
def test_one_hot_matches_torch(values, num_classes):
    ours = nn.functional.one_hot(disttorch.tensor(values, dtype=disttorch.int64), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    assert ours.dtype == disttorch.int64 and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


ONE_HOT_ERRORS = [([1.0], -1), ([-1], 3), ([3], 3), ([], -1)]


@requires_torch
@pytest.mark.parametrize("values,num_classes", ONE_HOT_ERRORS)
def test_one_hot_errors_match_torch(values, num_classes):
    dtype = "float32" if isinstance(values[:1] and values[0], float) else "int64"
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.one_hot(torch.tensor(values, dtype=getattr(torch, dtype)), num_classes)
    with pytest.raises(RuntimeError) as ours:
        nn.functional.one_hot(disttorch.tensor(values, dtype=getattr(disttorch, dtype)),
                              num_classes)
    assert str(ours.value) == str(theirs.value)


@requires_torch
def test_pad_errors_match_torch():
    cases = [lambda lib: lib.nn.functional.pad(lib.ones(2, 3), (1,)),
             lambda lib: lib.nn.functional.pad(lib.ones(3), (1, 1, 1, 1)),
             lambda lib: lib.nn.functional.pad(lib.ones(1, 1, 4), (5, 5), mode="reflect")]
    for case in cases:
        with pytest.raises(RuntimeError) as theirs:
            case(torch)
        with pytest.raises(RuntimeError) as ours:
            case(disttorch)
        assert str(ours.value) == str(theirs.value)


@requires_torch
def test_embedding_module_matches_torch():
    theirs = torch.nn.Embedding(10, 4, padding_idx=3)
    ours = nn.Embedding(10, 4, padding_idx=3)
    assert repr(ours) == repr(theirs)
    assert np.all(ours.weight.detach().numpy()[3] == 0)
    ours.load_state_dict({"weight": disttorch.from_numpy(theirs.weight.detach().numpy().copy())})
    idx = np.array([[3, 1, 1], [0, 9, 3]])
    t_out, d_out = theirs(torch.from_numpy(idx)), ours(disttorch.from_numpy(idx))
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy())
    (t_out ** 2).sum().backward()
    (d_out ** 2).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6)
    assert np.all(ours.weight.grad.numpy()[3] == 0)


@requires_torch
def test_embedding_max_norm_renormalises_in_place_like_torch():
    w = np.random.default_rng(0).standard_normal((5, 3)) * 3
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), max_norm=1.0)
    ours = nn.Embedding.from_pretrained(disttorch.tensor(w), max_norm=1.0)
    assert not ours.weight.requires_grad
    idx = np.array([0, 2, 2])
    np.testing.assert_allclose(ours(disttorch.tensor(idx)).numpy(),
                               theirs(torch.tensor(idx)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.numpy(), rtol=1e-6)
    trainable = nn.Embedding.from_pretrained(disttorch.tensor(w), freeze=False)
    assert trainable.weight.requires_grad


@requires_torch
def test_embedding_errors_match_torch():
    for lib in (torch, disttorch):
        with pytest.raises(IndexError, match="index out of range in self"):
            lib.nn.functional.embedding(lib.tensor([5]), lib.ones(5, 2))
        with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar "
                                               "types: Long, Int"):
            lib.nn.functional.embedding(lib.tensor([1.0]), lib.ones(5, 2))


def test_embedding_default_init_is_standard_normal():
    w = nn.Embedding(2000, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_train_scaling_and_gradient(p):
    x = disttorch.ones(20000, requires_grad=True)
    y = nn.functional.dropout(x, p)
    y.sum().backward()
    kept = y.detach().numpy() != 0
    if p < 1:
        np.testing.assert_allclose(y.detach().numpy()[kept], 1 / (1 - p), rtol=1e-6)
        assert abs(kept.mean() - (1 - p)) < 0.02
        np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    else:
        assert not kept.any() and np.all(x.grad.numpy() == 0)


def test_dropout_eval_identity_and_seeded():
    m = nn.Dropout(0.5)
    x = disttorch.randn(100)
    disttorch.manual_seed(3)
    a = m(x)
    disttorch.manual_seed(3)
    b = m(x)
    assert np.array_equal(a.numpy(), b.numpy())
    m.eval()
    assert m(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got "
                                         "1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.functional.dropout(x, -0.1)


def test_dropout_inplace_and_channelwise():
    x = disttorch.ones(4, 6, 5)
    out = nn.functional.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    y = nn.Dropout1d(0.5)(disttorch.ones(8, 16, 5)).numpy()
    assert np.all(y.min(axis=2) == y.max(axis=2))
    z = nn.Dropout2d(0.5)(disttorch.ones(2, 16, 3, 3)).numpy()
    assert np.all(z.reshape(2, 16, -1).min(axis=2) == z.reshape(2, 16, -1).max(axis=2))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        nn.Dropout1d()(disttorch.ones(2, 3, 4, 5))
    w = nn.Dropout3d(0.5)(disttorch.ones(2, 4, 2, 2, 2)).numpy()
    assert np.all(w.reshape(2, 4, -1).min(axis=2) == w.reshape(2, 4, -1).max(axis=2))


def test_alpha_dropout_keeps_mean_and_variance():
    x = disttorch.randn(200000)
    y = nn.AlphaDropout(0.2)(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    assert nn.AlphaDropout(0.2).eval()(x) is x


@requires_torch
def test_dropout_reprs_match_torch():
    for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                 "FeatureAlphaDropout"):
        assert repr(getattr(nn, name)(0.25)) == repr(getattr(torch.nn, name)(0.25))
    assert repr(nn.Dropout(inplace=True)) == repr(torch.nn.Dropout(inplace=True))


@requires_torch
def test_distance_modules_match_torch():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    for name, kwargs in (("CosineSimilarity", {"dim": 1}), ("PairwiseDistance", {"p": 1.5})):
        ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(disttorch.tensor(a), disttorch.tensor(b)).numpy(),
                                   theirs(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-10)


def _f64(rng, *shape):
    return disttorch.tensor(rng.standard_normal(shape), requires_grad=True)


GRADGRAD = {
    "pad_constant": lambda rng: (lambda x: nn.functional.pad(x, (1, -1, 2, 0)), [_f64(rng, 2, 3)]),
    "pad_reflect": lambda rng: (lambda x: nn.functional.pad(x, (2, 1), mode="reflect"),
                                [_f64(rng, 1, 2, 4)]),
    "pad_circular": lambda rng: (lambda x: nn.functional.pad(x, (1, 2), mode="circular"),
                                 [_f64(rng, 1, 2, 4)]),
    "embedding": lambda rng: (lambda w: nn.functional.embedding(
        disttorch.tensor([[0, 2], [2, 1]]), w, padding_idx=1), [_f64(rng, 4, 3)]),
    "embedding_bag_weighted": lambda rng: (lambda w, p: nn.functional.embedding_bag(
        disttorch.tensor([1, 2, 0, 3, 1]), w, disttorch.tensor([0, 2]), mode="sum",
        per_sample_weights=p, padding_idx=0), [_f64(rng, 4, 3), _f64(rng, 5)]),
    "embedding_bag_mean": lambda rng: (lambda w: nn.functional.embedding_bag(
        disttorch.tensor([[1, 2, 0], [3, 3, 1]]), w, mode="mean"), [_f64(rng, 4, 3)]),
    "cross_entropy": lambda rng: (lambda x: nn.functional.cross_entropy(
        x, disttorch.tensor([0, 2, 1]), label_smoothing=0.2), [_f64(rng, 3, 4)]),
    "cross_entropy_probs": lambda rng: (lambda x, y: nn.functional.cross_entropy(x, y),
                                        [_f64(rng, 3, 4), disttorch.tensor(
                                            rng.uniform(0.1, 1, (3, 4)), requires_grad=True)]),
    "nll": lambda rng: (lambda x: nn.functional.nll_loss(
        x, disttorch.tensor([0, 2, 1]), reduction="sum"), [_f64(rng, 3, 4)]),
    "bce": lambda rng: (lambda x, t: nn.functional.binary_cross_entropy(x, t),
                        [disttorch.tensor(rng.uniform(0.2, 0.8, (2, 3)), requires_grad=True),
                         disttorch.tensor(rng.uniform(0.1, 0.9, (2, 3)), requires_grad=True)]),
    "mse": lambda rng: (lambda x, t: nn.functional.mse_loss(x, t), [_f64(rng, 2, 3),
                                                                    _f64(rng, 2, 3)]),
    "prelu": lambda rng: (lambda x, w: nn.functional.prelu(x, w),
                          [_f64(rng, 2, 3, 2), disttorch.tensor(rng.uniform(0.1, 0.5, 3),
                                                                requires_grad=True)]),
    "cosine_similarity": lambda rng: (lambda a, b: nn.functional.cosine_similarity(a, b),
                                      [_f64(rng, 3, 4), _f64(rng, 3, 4)]),
    "hardswish": lambda rng: (lambda x: nn.functional.hardswish(x), [_f64(rng, 4, 3)]),
    "logsigmoid": lambda rng: (lambda x: nn.functional.logsigmoid(x), [_f64(rng, 4, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD))
def test_double_backward_finite_differences(name):
    fn, inputs = GRADGRAD[name](np.random.default_rng(0))
    assert disttorch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scales_gradients_by_index_frequency(mode):
    # the documented rule (each row's gradient over its index's count in the input), which
    # CUDA follows; torch 2.13's CPU kernel divides by another index's count where counts
    # differ (pytorch#190063), so torch is the oracle only where every index occurs equally
    inp = disttorch.tensor([1, 2, 1, 1, 4, 2, 0, 5])
    offsets = disttorch.tensor([0, 3, 5])
    w = disttorch.ones(6, 1, requires_grad=True)
    disttorch.nn.functional.embedding_bag(inp, w, offsets, mode=mode,
                                          scale_grad_by_freq=True).sum().backward()
    if mode == "sum":   # every occurrence contributes 1, each index's total divided by its count
        want = [1.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    else:               # occurrences weighted by 1/bag size: bags of 3, 2 and 3
        want = [(1 / 3) / 1, (1 / 3 + 1 / 3 + 1 / 2) / 3, (1 / 3 + 1 / 3) / 2, 0.0, (1 / 2) / 1,
                (1 / 3) / 1]
    np.testing.assert_allclose(w.grad[:, 0].numpy(), want, rtol=1e-6)
    if torch is not None:
        equal = [[3, 5, 5, 3], [0, 2, 2, 0]]   # every index twice: torch's CPU kernel is right
        grads = []
        for lib in (disttorch, torch):
            weight = lib.tensor(np.linspace(-1, 1, 12).reshape(6, 2), requires_grad=True)
            lib.nn.functional.embedding_bag(lib.tensor(equal), weight, mode=mode,
                                            scale_grad_by_freq=True).pow(2).sum().backward()
            grads.append(weight.grad.detach().numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    with pytest.raises(RuntimeError, match="max mode does not support scaling the gradient"):
        disttorch.nn.functional.embedding_bag(inp, w, offsets, mode="max",
                                              scale_grad_by_freq=True)
