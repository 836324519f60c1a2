"""``nn.utils.prune`` against torch: masks chosen by magnitude and by norm (the random methods by
count), successive prunings combined, global pruning, the reparameterization (``weight_orig``,
``weight_mask``, the pre-hook, gradients), ``remove``, state dicts and the errors."""
import numpy as np
import pytest

import disttorch
from disttorch.nn.utils import prune as dprune

from tests.ops.harness import requires_torch, torch

RNG = np.random.default_rng(0)
# distinct magnitudes and norms: the choice of the smallest entries is unambiguous
W_LINEAR = RNG.permutation(np.arange(1, 25)).reshape(4, 6).astype(np.float32) * \
    RNG.choice([-1, 1], (4, 6)).astype(np.float32) / 10
W_CONV = RNG.standard_normal((5, 3, 3, 3)).astype(np.float32)


def _tprune():
    import torch.nn.utils.prune as tprune
    return tprune


def _linear(lib):
    m = lib.nn.Linear(6, 4)
    with lib.no_grad():
        m.weight.copy_(lib.from_numpy(W_LINEAR.copy()))
        m.bias.copy_(lib.from_numpy(np.arange(4, dtype=np.float32) - 1.5))
    return m


def _conv(lib):
    m = lib.nn.Conv2d(3, 5, 3)
    with lib.no_grad():
        m.weight.copy_(lib.from_numpy(W_CONV.copy()))
        m.bias.copy_(lib.from_numpy(np.linspace(-1, 1, 5, dtype=np.float32)))
    return m


def _both(build, steps):
    """Run ``steps(lib, prune_module, module)`` on a fresh module of each library."""
    out = []
    for lib, pr in ((disttorch, dprune), (torch, _tprune())):
        module = build(lib)
        steps(lib, pr, module)
        out.append(module)
    return out


def _state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _assert_same_state(ours, theirs):
    a, b = _state(ours), _state(theirs)
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@requires_torch
@pytest.mark.parametrize("amount", [0, 5, 0.3, 1.0, 24])
def test_l1_unstructured_matches_torch(amount):
    ours, theirs = _both(_linear, lambda lib, pr, m: pr.l1_unstructured(m, "weight", amount))
    _assert_same_state(ours, theirs)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    assert dprune.is_pruned(ours) and "weight" not in dict(ours.named_parameters())


@requires_torch
@pytest.mark.parametrize("n, dim, amount", [(1, 0, 2), (2, 0, 0.4), (float("inf"), 1, 1),
                                            (2, -1, 1), (-2, 0, 3), (1, 0, 0)])
def test_ln_structured_matches_torch(n, dim, amount):
    ours, theirs = _both(_conv, lambda lib, pr, m: pr.ln_structured(m, "weight", amount, n, dim))
    _assert_same_state(ours, theirs)


@requires_torch
def test_frobenius_norm_over_three_dims_raises_like_torch():
    # torch.norm(p="fro") over more than two dims goes to linalg.matrix_norm, which refuses them
    for lib, pr in ((disttorch, dprune), (torch, _tprune())):
        m = _conv(lib)
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: dim must be a 2-tuple. "
                                               "Got 1 2 3"):
            pr.ln_structured(m, "weight", 1, "fro", 0)
        assert "weight" in dict(m.named_parameters())   # put back after the failure


@requires_torch
def test_successive_prunings_combine_like_torch():
    def steps(lib, pr, m):
        pr.l1_unstructured(m, "weight", 6)
        pr.ln_structured(m, "weight", 1, 2, 0)
        pr.l1_unstructured(m, "weight", 0.25)   # a quarter of the entries still alive
        pr.l1_unstructured(m, "bias", 1)
    ours, theirs = _both(_linear, steps)
    _assert_same_state(ours, theirs)
    container = [h for h in ours._forward_pre_hooks.values()
                 if isinstance(h, dprune.BasePruningMethod) and h._tensor_name == "weight"]
    assert len(container) == 1 and isinstance(container[0], dprune.PruningContainer)
    assert [type(m).__name__ for m in container[0]] == ["L1Unstructured", "LnStructured",
                                                        "L1Unstructured"]


@requires_torch
def test_global_and_custom_masks_match_torch():
    def steps(lib, pr, m):
        pr.global_unstructured([(m[0], "weight"), (m[2], "weight"), (m[0], "bias")],
                               pruning_method=pr.L1Unstructured, amount=0.4)
        pr.custom_from_mask(m[2], "bias", mask=lib.tensor([1.0, 0.0, 1.0]))

    def build(lib):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(6, 4), lib.nn.ReLU(), lib.nn.Linear(4, 3))
        rng = np.random.default_rng(3)
        with lib.no_grad():
            for p in m.parameters():
                p.copy_(lib.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
        return m
    ours, theirs = _both(build, steps)
    _assert_same_state(ours, theirs)


@requires_torch
def test_gradients_flow_to_the_original_through_the_mask():
    grads = []
    for lib, pr in ((disttorch, dprune), (torch, _tprune())):
        m = _linear(lib)
        pr.l1_unstructured(m, "weight", 10)
        x = lib.from_numpy(np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 6))
        m(x).pow(2).sum().backward()
        grads.append(m.weight_orig.grad.numpy())
        # the hook recomputes the pruned weight from the current original
        with lib.no_grad():
            m.weight_orig.mul_(2)
        m(x)
        np.testing.assert_allclose(m.weight.detach().numpy(),
                                   m.weight_orig.detach().numpy() * m.weight_mask.numpy(),
                                   rtol=1e-6)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
    assert (grads[0][np.abs(W_LINEAR) <= 1.0] == 0).all()   # pruned entries get no gradient


@requires_torch
def test_remove_makes_pruning_permanent_like_torch():
    def steps(lib, pr, m):
        pr.l1_unstructured(m, "weight", 7)
        weight_orig = m.weight_orig
        pr.remove(m, "weight")
        assert m.weight is weight_orig      # the same Parameter object, now pruned
    ours, theirs = _both(_linear, steps)
    _assert_same_state(ours, theirs)
    assert not dprune.is_pruned(ours)
    assert isinstance(ours.weight, disttorch.nn.Parameter)


def test_random_methods_prune_the_requested_counts():
    disttorch.manual_seed(0)
    m = _conv(disttorch)
    dprune.random_unstructured(m, "weight", 0.5)
    assert int((m.weight_mask == 0).sum()) == round(0.5 * W_CONV.size)
    m2 = _conv(disttorch)
    dprune.random_structured(m2, "weight", 2, dim=0)
    alive = (m2.weight_mask.sum(dim=(1, 2, 3)) != 0).numpy()
    assert alive.sum() == 3
    np.testing.assert_array_equal(m2.weight_mask.numpy()[alive], 1.0)


@requires_torch
def test_errors_match_torch():
    for lib, pr in ((disttorch, dprune), (torch, _tprune())):
        m = _linear(lib)
        with pytest.raises(ValueError, match=r"amount=-1 should either be a float in the range "
                                             r"\[0, 1\] or a non-negative integer"):
            pr.l1_unstructured(m, "weight", -1)
        with pytest.raises(ValueError, match="amount=30 should be smaller than the number of "
                                             "parameters to prune=24"):
            pr.l1_unstructured(m, "weight", 30)
        # nothing was changed by the failed calls
        assert "weight" in dict(m.named_parameters()) and not pr.is_pruned(m)
        with pytest.raises(TypeError, match="Invalid type for amount"):
            pr.l1_unstructured(m, "weight", "half")
        with pytest.raises(ValueError, match="Structured pruning can only be applied to "
                                             "multidimensional tensors"):
            pr.ln_structured(m, "bias", 1, 2, 0)
        with pytest.raises(IndexError, match="Invalid index 3 for tensor of size"):
            pr.ln_structured(m, "weight", 1, 2, 3)
        with pytest.raises(ValueError, match="Parameter 'weight' of module Linear.* has to be "
                                             "pruned before pruning can be removed"):
            pr.remove(m, "weight")
        with pytest.raises(TypeError, match="parameters is not an Iterable"):
            pr.global_unstructured(5, pr.L1Unstructured, amount=1)
