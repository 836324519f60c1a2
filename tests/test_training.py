"""Two SGD steps of a small MLP written with raw ops match torch's to 1e-5."""
import numpy as np

import disttorch
from tests.ops.harness import requires_torch, torch


def _train(lib, weights, x, y, steps=2, lr=0.1):
    params = [lib.tensor(w, requires_grad=True) for w in weights]
    xs, ys = lib.tensor(x), lib.tensor(y)
    history = []
    for _ in range(steps):
        w1, b1, w2, b2 = params
        hidden = (xs @ w1 + b1).tanh()
        out = hidden @ w2 + b2
        loss = ((out - ys) ** 2).mean() + 0.01 * (w1 * w1).sum()
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        history.append(loss.item())
    return history, [p.detach().numpy().copy() for p in params]


@requires_torch
def test_two_mlp_steps_match_torch():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((8, 16)).astype(np.float32) * 0.3,
               np.zeros(16, np.float32),
               rng.standard_normal((16, 3)).astype(np.float32) * 0.3,
               np.zeros(3, np.float32)]
    x = rng.standard_normal((32, 8)).astype(np.float32)
    y = rng.standard_normal((32, 3)).astype(np.float32)
    ours_loss, ours = _train(disttorch, weights, x, y)
    theirs_loss, theirs = _train(torch, weights, x, y)
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-5)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
