"""nn.utils: gradient clipping and parameter/vector conversion against torch."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import requires_torch, torch


def _pair_with_grads(scale=1.0):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) * scale for s in [(3, 4), (4,), (2, 2, 2)]]
    ours, theirs = [], []
    for g in grads:
        p = nn.Parameter(disttorch.zeros(*g.shape, dtype=disttorch.float64))
        p.grad = disttorch.tensor(g)
        q = torch.nn.Parameter(torch.zeros(*g.shape, dtype=torch.float64))
        q.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _pair_with_grads()
    norm_type = float(norm_type)
    a = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    b = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type, foreach=True)
    assert isinstance(a, disttorch.Tensor) and a.ndim == 0 and a.dtype == disttorch.float64
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


@requires_torch
def test_total_norm_and_clip_with_norm_match_torch():
    ours, theirs = _pair_with_grads()
    a = nn.utils.get_total_norm([p.grad for p in ours], 2.0)
    b = torch.nn.utils.get_total_norm([q.grad for q in theirs], 2.0)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    nn.utils.clip_grads_with_norm_(ours, 0.3, a)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.3, b)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_single_tensor_generator_and_missing_grads():
    m = nn.Linear(3, 2)
    assert nn.utils.clip_grad_norm_(m.parameters(), 1.0).item() == 0.0
    m(disttorch.ones(4, 3)).sum().backward()
    total = nn.utils.clip_grad_norm_(m.weight, 1e-3)
    assert total.item() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(m.weight.grad.numpy()), 1e-3, rtol=1e-3)


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(disttorch.zeros(2))
    p.grad = disttorch.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from "
                                           "`parameters` is non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(nn.utils.clip_grad_norm_([p], 1.0).item())


@requires_torch
def test_clip_grad_value_matches_torch():
    ours, theirs = _pair_with_grads()
    nn.utils.clip_grad_value_(ours, 0.4)
    torch.nn.utils.clip_grad_value_(theirs, 0.4)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


@requires_torch
def test_parameters_to_vector_roundtrip_matches_torch():
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ours = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    ours.load_state_dict({k: disttorch.from_numpy(v.detach().numpy().copy())
                          for k, v in theirs.state_dict().items()})
    a = nn.utils.parameters_to_vector(ours.parameters())
    b = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert a.requires_grad
    weights = [p for p in ours.parameters()]
    nn.utils.vector_to_parameters(disttorch.arange(a.numel(), dtype=disttorch.float32),
                                  ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(b.numel(), dtype=torch.float32),
                                        theirs.parameters())
    assert all(p is q for p, q in zip(weights, ours.parameters()))
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], ours.parameters())
