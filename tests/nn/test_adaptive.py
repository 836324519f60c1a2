"""``nn.AdaptiveLogSoftmaxWithLoss`` against PyTorch on the same weights and data."""
import numpy as np
import pytest

import disttorch
from disttorch.autograd import gradcheck

torch = pytest.importorskip("torch", reason="torch (the oracle) is not installed")


def _pair(in_features=12, n_classes=30, cutoffs=(5, 12, 20), div_value=2.0, head_bias=True):
    torch.manual_seed(0)
    ref = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs),
                                              div_value=div_value, head_bias=head_bias).double()
    mine = disttorch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs),
                                                   div_value=div_value,
                                                   head_bias=head_bias).double()
    mine.load_state_dict({k: disttorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    return ref, mine


def test_structure_matches_torch():
    ref, mine = _pair(div_value=4.0)
    assert [(n, tuple(p.shape)) for n, p in mine.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert (mine.shortlist_size, mine.n_clusters, mine.head_size, mine.cutoffs) == \
        (ref.shortlist_size, ref.n_clusters, ref.head_size, ref.cutoffs)


@pytest.mark.parametrize("head_bias", [False, True])
def test_forward_backward_log_prob_predict_match_torch(head_bias):
    ref, mine = _pair(head_bias=head_bias)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((11, 12))
    # every cluster is hit, with its first and last class
    t = np.array([0, 4, 5, 11, 12, 19, 20, 29, 3, 25, 7])
    xt = torch.tensor(x, requires_grad=True)
    xd = disttorch.tensor(x, requires_grad=True)
    out_t, out_d = ref(xt, torch.tensor(t)), mine(xd, disttorch.tensor(t))
    assert type(out_d).__name__ == "_ASMoutput" and out_d._fields == ("output", "loss")
    np.testing.assert_allclose(out_d.output.detach().numpy(), out_t.output.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_d.loss.item(), out_t.loss.item(), rtol=1e-12)
    (out_t.loss + out_t.output[3]).backward()
    (out_d.loss + out_d.output[3]).backward()
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), q in zip(ref.named_parameters(), mine.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_allclose(mine.log_prob(xd).detach().numpy(),
                               ref.log_prob(xt).detach().numpy(), rtol=1e-12, atol=1e-12)
    # scaled inputs push some rows' best head entry into a cluster, some not
    for scale in (1.0, 5.0, 50.0):
        np.testing.assert_array_equal(mine.predict(xd.detach() * scale).numpy(),
                                      ref.predict(xt.detach() * scale).numpy())


def test_unbatched_and_single_cluster_rows():
    ref, mine = _pair()
    x = np.random.default_rng(1).standard_normal(12)
    for target in (2, 17):
        out_t = ref(torch.tensor(x), torch.tensor(target))
        out_d = mine(disttorch.tensor(x), disttorch.tensor(target))
        assert out_d.output.shape == () and out_d.loss.shape == ()
        np.testing.assert_allclose(out_d.output.item(), out_t.output.item(), rtol=1e-12)


def test_gradcheck_float64():
    _, mine = _pair(in_features=6, n_classes=9, cutoffs=(3, 6))
    x = disttorch.tensor(np.random.default_rng(2).standard_normal((5, 6)), requires_grad=True)
    t = disttorch.tensor([0, 3, 8, 5, 2])
    assert gradcheck(lambda a: mine(a, t).loss, (x,))
    assert gradcheck(lambda a: mine.log_prob(a), (x,))


@pytest.mark.parametrize("cutoffs", [[], [5, 3], [0, 4], [30], [5, 5], [2.5]])
def test_bad_cutoffs(cutoffs):
    with pytest.raises(ValueError) as expected:
        torch.nn.AdaptiveLogSoftmaxWithLoss(8, 30, cutoffs)
    with pytest.raises(ValueError) as got:
        disttorch.nn.AdaptiveLogSoftmaxWithLoss(8, 30, cutoffs)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("case", ["out_of_range", "negative", "2d_target", "batch_mismatch",
                                  "0d_target_2d_input", "1d_target_1d_input"])
def test_bad_targets(case):
    ref, mine = _pair()
    x = np.random.default_rng(3).standard_normal((4, 12))
    inputs, target = {"out_of_range": (x, [0, 30, 2, 1]), "negative": (x, [0, -1, 2, 1]),
                      "2d_target": (x, [[1], [2], [3], [4]]), "batch_mismatch": (x, [1, 2]),
                      "0d_target_2d_input": (x, 3), "1d_target_1d_input": (x[0], [1])}[case]
    with pytest.raises(RuntimeError) as expected:
        ref(torch.tensor(inputs), torch.tensor(target))
    with pytest.raises(RuntimeError) as got:
        mine(disttorch.tensor(inputs), disttorch.tensor(target))
    assert str(got.value) == str(expected.value).replace("torch.Size", "disttorch.Size")
