"""bfloat16 ``addmm``/``baddbmm``: ``beta * input + alpha * product`` rounded once, as PyTorch's
bfloat16 GEMMs do (float32 accumulation), bit for bit against torch's CPU build."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_bf16, requires_torch, torch

CASES = {
    "addmm": lambda L, i, a, b: L.addmm(i, a, b, beta=-4.775, alpha=2.0315),
    "addmm_beta0": lambda L, i, a, b: L.addmm(i, a, b, beta=0, alpha=0.7),
    "baddbmm": lambda L, i, a, b: L.baddbmm(i, a.unsqueeze(0).expand(2, 6, 6),
                                            b.unsqueeze(0).expand(2, 6, 6), beta=0.3, alpha=1.7),
}


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", sorted(CASES))
def test_rounded_once_like_torch(name):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((6, 6)).astype(np.float32) for _ in range(3)]
    fn = CASES[name]
    theirs = fn(torch, *[torch.from_numpy(a).bfloat16().requires_grad_() for a in arrays])
    inputs = [disttorch.from_numpy(a).bfloat16().requires_grad_() for a in arrays]
    ours = fn(disttorch, *inputs)
    assert ours.dtype == disttorch.bfloat16
    np.testing.assert_array_equal(ours.detach().float().numpy(),
                                  theirs.detach().float().numpy())
    ours.float().sum().backward()
    assert all(t.grad.dtype == disttorch.bfloat16 for t in inputs)
