"""Losses: functional forms through the op-table harness (values, gradients of input and
target, finite differences), modules against torch, PyTorch's error messages."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch

REDUCTIONS = ("mean", "sum", "none")
pytestmark = [pytest.mark.filterwarnings("ignore:reduction. .mean. divides the total loss"),
              pytest.mark.filterwarnings("ignore:.NLLLoss2d. has been deprecated")]


def _lib_f(lib):
    return lib.nn.functional


def _labels(rng, shape, classes, ignore=False):
    t = rng.integers(0, classes, shape).astype(np.int64)
    if ignore:
        t.reshape(-1)[0] = -100
    return t


def _probs(rng, *shape):
    p = rng.uniform(0.05, 0.95, shape)
    return p


def _for_reductions(name, fn, samples, **kw):
    return [OpInfo(f"{name}_{r}", lambda lib, *a, _r=r, **k: fn(lib, *a, reduction=_r, **k),
                   samples, **kw) for r in REDUCTIONS]


def _ce_samples(rng):
    return [S(randn(rng, 4, 5), _labels(rng, (4,), 5)),
            S(randn(rng, 3, 4, 2, 3), _labels(rng, (3, 2, 3), 4, ignore=True)),
            S(randn(rng, 5), _labels(rng, (), 5))]


def _ce_weighted(lib, x, t, w, **kw):
    return _lib_f(lib).cross_entropy(x, t, weight=w, **kw)


LOSSES = (
    _for_reductions("mse", lambda lib, x, t, **k: _lib_f(lib).mse_loss(x, t, **k),
                    lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4))])
    + _for_reductions("l1", lambda lib, x, t, **k: _lib_f(lib).l1_loss(x, t, **k),
                      lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4))])
    + _for_reductions("smooth_l1", lambda lib, x, t, **k: _lib_f(lib).smooth_l1_loss(
        x, t, beta=0.5, **k), lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4))])
    + _for_reductions("huber", lambda lib, x, t, **k: _lib_f(lib).huber_loss(x, t, delta=0.7, **k),
                      lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4))])
    + _for_reductions("cross_entropy", lambda lib, x, t, **k: _lib_f(lib).cross_entropy(x, t, **k),
                      _ce_samples)
    + _for_reductions("cross_entropy_smooth", lambda lib, x, t, **k: _lib_f(lib).cross_entropy(
        x, t, label_smoothing=0.2, **k), _ce_samples)
    + _for_reductions("cross_entropy_weight", _ce_weighted, lambda rng: [
        S(randn(rng, 6, 4), _labels(rng, (6,), 4, ignore=True), positive(rng, 4),
          grad=[True, False, False])])
    + _for_reductions("cross_entropy_weight_smooth", lambda lib, x, t, w, **k: _ce_weighted(
        lib, x, t, w, label_smoothing=0.3, **k), lambda rng: [
        S(randn(rng, 2, 4, 3), _labels(rng, (2, 3), 4, ignore=True), positive(rng, 4),
          grad=[True, False, False])])
    + _for_reductions("cross_entropy_probs", lambda lib, x, t, **k: _lib_f(lib).cross_entropy(
        x, t, label_smoothing=0.1, **k), lambda rng: [
        S(randn(rng, 4, 3), _probs(rng, 4, 3)), S(randn(rng, 2, 3, 4), _probs(rng, 2, 3, 4))])
    + _for_reductions("nll", lambda lib, x, t, **k: _lib_f(lib).nll_loss(x, t, **k), _ce_samples)
    + _for_reductions("nll_weight", lambda lib, x, t, w, **k: _lib_f(lib).nll_loss(
        x, t, weight=w, ignore_index=1, **k), lambda rng: [
        S(randn(rng, 6, 4), _labels(rng, (6,), 4), positive(rng, 4), grad=[True, False, False])])
    + _for_reductions("bce", lambda lib, x, t, **k: _lib_f(lib).binary_cross_entropy(x, t, **k),
                      lambda rng: [S(_probs(rng, 3, 4), _probs(rng, 3, 4))])
    + _for_reductions("bce_weight", lambda lib, x, t, w, **k: _lib_f(lib).binary_cross_entropy(
        x, t, weight=w, **k), lambda rng: [S(_probs(rng, 3, 4), _probs(rng, 3, 4),
                                             positive(rng, 4), grad=[True, True, False])])
    + _for_reductions("bce_logits", lambda lib, x, t, w, pw, **k:
                      _lib_f(lib).binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, **k),
                      lambda rng: [S(randn(rng, 3, 4) * 3, _probs(rng, 3, 4), positive(rng, 4),
                                     positive(rng, 4), grad=[True, True, False, False])])
    + _for_reductions("kl_div", lambda lib, x, t, **k: _lib_f(lib).kl_div(x, t, **k),
                      lambda rng: [S(randn(rng, 3, 4), _probs(rng, 3, 4))])
    + _for_reductions("kl_div_log_target", lambda lib, x, t, **k: _lib_f(lib).kl_div(
        x, t, log_target=True, **k), lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4))])
    + _for_reductions("cosine_embedding", lambda lib, a, b, y, **k:
                      _lib_f(lib).cosine_embedding_loss(a, b, y, margin=0.1, **k),
                      lambda rng: [S(randn(rng, 5, 3), randn(rng, 5, 3),
                                     np.array([1, -1, 1, -1, -1], np.int64))])
    + _for_reductions("margin_ranking", lambda lib, a, b, y, **k:
                      _lib_f(lib).margin_ranking_loss(a, b, y, margin=0.2, **k),
                      lambda rng: [S(randn(rng, 6), randn(rng, 6),
                                     np.array([1., -1, 1, -1, 1, 1]), grad=[True, True, False])])
    + _for_reductions("hinge_embedding", lambda lib, x, y, **k:
                      _lib_f(lib).hinge_embedding_loss(x, y, margin=0.8, **k),
                      lambda rng: [S(randn(rng, 6), np.array([1., -1, 1, -1, 1, -1]),
                                     grad=[True, False])])
    + _for_reductions("soft_margin", lambda lib, x, y, **k: _lib_f(lib).soft_margin_loss(x, y, **k),
                      lambda rng: [S(randn(rng, 6), np.array([1., -1, 1, -1, 1, -1]),
                                     grad=[True, False])])
    + _for_reductions("multilabel_soft_margin", lambda lib, x, y, **k:
                      _lib_f(lib).multilabel_soft_margin_loss(x, y, **k),
                      lambda rng: [S(randn(rng, 3, 4), (rng.random((3, 4)) > 0.5) * 1.0,
                                     grad=[True, False])])
    + _for_reductions("multi_margin", lambda lib, x, t, w, **k: _lib_f(lib).multi_margin_loss(
        x, t, p=2, margin=0.7, weight=w, **k), lambda rng: [
        S(randn(rng, 5, 4), _labels(rng, (5,), 4), positive(rng, 4), grad=[True, False, False])])
    + _for_reductions("multi_margin_p1", lambda lib, x, t, **k: _lib_f(lib).multi_margin_loss(
        x, t, **k), lambda rng: [S(randn(rng, 5, 4), _labels(rng, (5,), 4)),
                                 S(randn(rng, 4), _labels(rng, (), 4))])
    + _for_reductions("multilabel_margin", lambda lib, x, t, **k:
                      _lib_f(lib).multilabel_margin_loss(x, t, **k), lambda rng: [
                          S(randn(rng, 3, 4), np.array([[0, 3, -1, 1], [2, -1, 0, 0],
                                                        [1, 2, 3, 0]])),
                          S(randn(rng, 4), np.array([3, 1, -1, 2]))])
    + _for_reductions("triplet", lambda lib, a, p, n, **k: _lib_f(lib).triplet_margin_loss(
        a, p, n, margin=2.0, **k), lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 3),
                                                  randn(rng, 4, 3))])
    + _for_reductions("triplet_swap_p1", lambda lib, a, p, n, **k: _lib_f(lib).triplet_margin_loss(
        a, p, n, margin=2.0, p=1, swap=True, **k), lambda rng: [
        S(randn(rng, 4, 3), randn(rng, 4, 3), randn(rng, 4, 3))])
    + _for_reductions("poisson_nll", lambda lib, x, t, **k: _lib_f(lib).poisson_nll_loss(
        x, t, **k), lambda rng: [S(randn(rng, 3, 4), positive(rng, 3, 4), grad=[True, False])])
    + _for_reductions("poisson_nll_full", lambda lib, x, t, **k: _lib_f(lib).poisson_nll_loss(
        x, t, log_input=False, full=True, **k), lambda rng: [
        S(positive(rng, 3, 4), positive(rng, 3, 4, high=3.0), grad=[True, False])])
    + _for_reductions("gaussian_nll", lambda lib, x, t, v, **k: _lib_f(lib).gaussian_nll_loss(
        x, t, v, **k), lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4), positive(rng, 3, 4)),
                                    S(randn(rng, 3, 4), randn(rng, 3, 4), positive(rng, 3))])
)

test_losses_match_torch, test_losses_finite_differences = op_tests(LOSSES)


MODULES = [
    ("MSELoss", {}), ("L1Loss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}),
    ("HuberLoss", {"delta": 2.0}), ("CrossEntropyLoss", {"label_smoothing": 0.1}),
    ("NLLLoss", {}), ("BCELoss", {}), ("BCEWithLogitsLoss", {}), ("KLDivLoss", {"reduction":
                                                                               "batchmean"}),
    ("SoftMarginLoss", {}), ("PoissonNLLLoss", {}), ("MultiLabelSoftMarginLoss", {}),
    ("MultiMarginLoss", {"p": 2}), ("MultiLabelMarginLoss", {}), ("NLLLoss2d", {}),
]


def _inputs(name, rng):
    if name == "MultiLabelMarginLoss":
        return rng.standard_normal((4, 3)), np.array([[0, -1, 1], [2, 1, -1], [1, 0, 2],
                                                      [-1, 0, 0]])
    if name in ("CrossEntropyLoss", "NLLLoss", "NLLLoss2d", "MultiMarginLoss"):
        return rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    if name == "BCELoss":
        return rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3))
    if name in ("SoftMarginLoss",):
        return rng.standard_normal((4, 3)), np.sign(rng.standard_normal((4, 3)))
    if name == "MultiLabelSoftMarginLoss":
        return rng.standard_normal((4, 3)), (rng.random((4, 3)) > 0.5) * 1.0
    return rng.standard_normal((4, 3)), rng.uniform(0.1, 1, (4, 3))


@requires_torch
@pytest.mark.parametrize("name,kwargs", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x, t = _inputs(name, np.random.default_rng(0))
    tx, dx = torch.tensor(x, requires_grad=True), disttorch.tensor(x, requires_grad=True)
    tl, dl = theirs(tx, torch.tensor(t)), ours(dx, disttorch.tensor(t))
    np.testing.assert_allclose(dl.detach().numpy(), tl.detach().numpy(), rtol=1e-10, atol=1e-12)
    tl.backward()
    dl.backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@requires_torch
def test_weighted_loss_modules_keep_weight_buffers():
    w = np.array([0.2, 1.0, 3.0])
    ours = nn.CrossEntropyLoss(weight=disttorch.tensor(w), ignore_index=2)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=2)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    bce = nn.BCEWithLogitsLoss(pos_weight=disttorch.ones(3))
    assert list(bce.state_dict()) == list(torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.ones(3)).state_dict())
    x = np.random.default_rng(1).standard_normal((5, 3))
    t = np.array([0, 1, 2, 1, 0])
    np.testing.assert_allclose(ours(disttorch.tensor(x), disttorch.tensor(t)).item(),
                               theirs(torch.tensor(x), torch.tensor(t)).item(), rtol=1e-12)


def _torch_error(fn):
    with pytest.raises(Exception) as info:
        fn(torch)
    return info.type, str(info.value)


def _our_error(fn):
    with pytest.raises(Exception) as info:
        fn(disttorch)
    return info.type, str(info.value).replace("disttorch", "torch")


ERRORS = [
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.zeros(4, dtype=lib.long)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.zeros(3)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.tensor([0, 7, 1])),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.tensor([0, -3, 1])),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5, 2), lib.zeros(3, 4, dtype=lib.long)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.zeros(3, 5, dtype=lib.long)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.ones(3, 5) / 5,
                                                ignore_index=1),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.zeros(3, 2, dtype=lib.long)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 5), lib.zeros(3, dtype=lib.long),
                                                weight=lib.ones(4)),
    lambda lib: lib.nn.functional.nll_loss(lib.ones(3, 5), lib.zeros(3, dtype=lib.int32)),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) / 2, lib.ones(4)),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) * 2, lib.ones(3)),
    lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(lib.ones(3), lib.ones(4)),
    lambda lib: lib.nn.functional.mse_loss(lib.ones(3), lib.ones(3), reduction="avg"),
    lambda lib: lib.nn.functional.gaussian_nll_loss(lib.ones(3, 2), lib.ones(3, 2), lib.ones(2)),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) / 2, lib.ones(3, dtype=lib.long)),
    lambda lib: lib.nn.functional.binary_cross_entropy(lib.ones(3) / 2,
                                                       lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(lib.ones(3),
                                                                   lib.ones(3, dtype=lib.long)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 4), lib.ones(3, dtype=lib.long),
                                                weight=lib.ones(4, dtype=lib.float64)),
    lambda lib: lib.nn.functional.cross_entropy(lib.ones(3, 4, dtype=lib.long),
                                                lib.ones(3, dtype=lib.long)),
    lambda lib: lib.nn.functional.log_softmax(lib.ones(3, dtype=lib.long), 0),
    lambda lib: lib.nn.functional.gelu(lib.ones(3, dtype=lib.long)),
    lambda lib: lib.nn.functional.silu(lib.ones(3, dtype=lib.long)),
]


@requires_torch
@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_in_torch_words(index):
    assert _our_error(ERRORS[index]) == _torch_error(ERRORS[index])


@requires_torch
def test_size_mismatch_warns_like_torch():
    with pytest.warns(UserWarning, match=r"Using a target size \(disttorch.Size\(\[3\]\)\) that "
                                         r"is different to the input size"):
        nn.functional.mse_loss(disttorch.ones(3, 1), disttorch.ones(3))


def test_all_ignored_mean_is_nan_like_torch():
    loss = nn.functional.cross_entropy(disttorch.ones(2, 3), disttorch.tensor([-100, -100]))
    assert np.isnan(loss.item())


# (input shape, targets, keyword arguments): every target ignored, or only zero-weight classes
ZERO_TOTAL_WEIGHT = {
    "all_ignored": ((2, 3), [-100, -100], {}),
    "all_ignored_smoothing": ((2, 3), [-100, -100], {"label_smoothing": 0.1}),
    "all_ignored_spatial": ((2, 3, 2), [[0, 0], [0, 0]], {"ignore_index": 0}),
    "all_ignored_spatial_smoothing": ((2, 3, 2), [[0, 0], [0, 0]],
                                      {"ignore_index": 0, "label_smoothing": 0.2}),
    "all_ignored_unbatched": ((3,), -100, {}),
    "all_ignored_sum": ((2, 3), [-100, -100], {"reduction": "sum"}),
    "all_ignored_weighted": ((2, 3), [-100, -100], {"weight": [1.0, 0.0, 1.0]}),
    "zero_weight_class": ((2, 3), [1, 1], {"weight": [1.0, 0.0, 1.0]}),
    "zero_weight_class_smoothing": ((2, 3), [1, 1], {"weight": [1.0, 0.0, 1.0],
                                                     "label_smoothing": 0.1}),
    "zero_weight_and_ignored": ((2, 3), [1, -100], {"weight": [1.0, 0.0, 1.0]}),
    "zero_weight_and_ignored_smoothing": ((2, 3), [1, -100], {"weight": [1.0, 0.0, 1.0],
                                                              "label_smoothing": 0.1}),
}


def _zero_total_weight(lib, name, loss, double=False):
    shape, target, kwargs = ZERO_TOTAL_WEIGHT[name]
    kwargs = dict(kwargs)
    if "weight" in kwargs:
        kwargs["weight"] = lib.tensor(kwargs["weight"])
    if loss == "nll_loss":
        kwargs.pop("label_smoothing", None)
    x = lib.zeros(*shape, requires_grad=True)
    value = getattr(lib.nn.functional, loss)(x, lib.tensor(target), **kwargs)
    if not double:
        value.backward()
        return value.item(), x.grad.numpy()
    g, = lib.autograd.grad(value, x, create_graph=True)
    gg, = lib.autograd.grad((g * g).sum() + g.sum(), x)
    return g.detach().numpy(), gg.numpy()


@requires_torch
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("name", list(ZERO_TOTAL_WEIGHT))
def test_zero_total_weight_gradients_match_torch(name, loss):
    """The loss is nan; the rows of ignored targets get zero gradients (not 0 * inf = nan),
    those of zero-weight classes nan, as in torch."""
    ours, theirs = _zero_total_weight(disttorch, name, loss), _zero_total_weight(torch, name, loss)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert not np.signbit(ours[1][ours[1] == 0]).any()


@requires_torch
@pytest.mark.parametrize("name", ["all_ignored", "all_ignored_smoothing", "all_ignored_spatial"])
def test_zero_total_weight_double_backward_matches_torch(name):
    ours = _zero_total_weight(disttorch, name, "cross_entropy", double=True)
    theirs = _zero_total_weight(torch, name, "cross_entropy", double=True)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_bce_saturated_inputs_are_finite():
    loss = nn.functional.binary_cross_entropy(disttorch.tensor([0.0, 1.0]),
                                              disttorch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(100.0)


def test_cross_entropy_double_backward_matches_torch():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    out = []
    for lib in (torch, disttorch):
        xx = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(xx, lib.tensor(t), label_smoothing=0.1)
        g, = lib.autograd.grad(loss, xx, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), xx)
        out.append(gg.detach().numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-8, atol=1e-12)


def test_legacy_size_average_reduce():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = nn.MSELoss(size_average=False)
    assert m.reduction == "sum"


def _ctc_case(rng, steps=10, batch=3, classes=5, longest=4):
    x = rng.standard_normal((steps, batch, classes))
    targets = rng.integers(1, classes, (batch, longest))
    targets[0, 1] = targets[0, 0]  # a repeated label needs a blank between the two
    targets[2, 1] = targets[2, 0]  # ... so 3 frames cannot hold these 3 labels: infinite loss
    input_lengths = np.array([steps, steps - 2, 3])[:batch]
    target_lengths = np.array([longest, 2, 3])[:batch]
    return x, targets, input_lengths, target_lengths


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("flat_targets", [False, True])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_matches_torch(reduction, flat_targets, zero_infinity):
    x, targets, in_len, tg_len = _ctc_case(np.random.default_rng(1))
    if flat_targets:
        targets = np.concatenate([targets[n, :tg_len[n]] for n in range(len(tg_len))])
    out = []
    for lib in (torch, disttorch):
        logits = lib.tensor(x, requires_grad=True)
        lp = lib.nn.functional.log_softmax(logits, 2)
        lp.retain_grad()
        loss = lib.nn.CTCLoss(blank=0, reduction=reduction, zero_infinity=zero_infinity)(
            lp, lib.tensor(targets), lib.tensor(in_len), lib.tensor(tg_len))
        (loss.sum() if reduction == "none" else loss).backward()
        out.append([loss.detach().numpy(), logits.grad.numpy(), lp.grad.numpy()])
    for a, b in zip(out[1], out[0]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@requires_torch
def test_ctc_loss_unbatched_and_blank_index_match_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 4))
    target = np.array([0, 2, 2])
    out = []
    for lib in (torch, disttorch):
        lp = lib.tensor(x).log_softmax(1).detach().requires_grad_()
        loss = lib.nn.functional.ctc_loss(lp, lib.tensor(target), lib.tensor([8]),
                                          lib.tensor([3]), blank=3)
        loss.backward()
        out.append((loss.item(), lp.grad.numpy()))
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-10)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_nll_full_is_differentiable_in_the_target_like_torch(log_input):
    torch = pytest.importorskip("torch")
    x = np.array([0.5, 0.2, 1.0, 2.5])
    t = np.array([0.0, 0.5, 3.0, 7.0])
    grads = []
    for lib in (disttorch, torch):
        xi = lib.tensor(x, requires_grad=True)
        ti = lib.tensor(t, requires_grad=True)
        lib.nn.functional.poisson_nll_loss(xi, ti, log_input=log_input, full=True).backward()
        grads.append((xi.grad.numpy(), ti.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)
