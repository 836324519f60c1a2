"""Activation checkpointing: same values and gradients as the plain run, RNG replay, kwargs."""
import warnings

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from disttorch.utils.checkpoint import checkpoint, checkpoint_sequential


def _net():
    disttorch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 2))


def _grads(model):
    return [p.grad.numpy().copy() for p in model.parameters()]


def _reference(model, x):
    disttorch.manual_seed(7)
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    loss = (model(x) ** 2).sum()
    loss.backward()
    return loss.item(), _grads(model), x.grad.numpy().copy()


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_matches_plain_backward_with_dropout(use_reentrant):
    model = _net()
    x = disttorch.randn(3, 4)
    value, grads, x_grad = _reference(model, x)
    disttorch.manual_seed(7)
    model.zero_grad()
    xc = x.clone().requires_grad_(True)
    loss = (checkpoint(model, xc, use_reentrant=use_reentrant) ** 2).sum()
    loss.backward()
    assert loss.item() == pytest.approx(value)
    for a, b in zip(_grads(model), grads):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(xc.grad.numpy(), x_grad, rtol=1e-6)


def test_non_reentrant_checkpoint_reaches_parameters_without_input_grad():
    model = _net()
    x = disttorch.randn(3, 4)
    disttorch.manual_seed(1)
    (model(x) ** 2).sum().backward()
    grads = _grads(model)
    model.zero_grad()
    disttorch.manual_seed(1)
    (checkpoint(model, x, use_reentrant=False) ** 2).sum().backward()
    for a, b in zip(_grads(model), grads):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_reentrant_warns_when_no_input_requires_grad():
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        checkpoint(nn.Linear(2, 2), disttorch.ones(1, 2), use_reentrant=True)


def test_missing_use_reentrant_warns_like_pytorch():
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda t: t * 2, disttorch.ones(2, requires_grad=True))


def test_recomputation_runs_in_backward_and_restores_rng():
    calls = []

    def segment(t, scale):
        calls.append(disttorch.is_grad_enabled())
        return disttorch.nn.functional.dropout(t, 0.5) * scale

    x = disttorch.ones(50, requires_grad=True)
    out = checkpoint(segment, x, 3.0, use_reentrant=True)
    assert calls == [False]
    state = disttorch.get_rng_state()
    expected_next = disttorch.rand(1).item()
    disttorch.set_rng_state(state)
    out.sum().backward()
    assert calls == [False, True]
    # the gradient is the forward's mask (times the scale): the recomputation replayed the RNG
    np.testing.assert_allclose(x.grad.numpy(), out.detach().numpy())
    # ... and the caller's random stream continues as if nothing had been drawn
    assert disttorch.rand(1).item() == expected_next


def test_keyword_arguments_and_tuple_outputs():
    def segment(a, b, *, power):
        return a ** power, b * 2

    a = disttorch.tensor([1.0, 2.0], requires_grad=True)
    b = disttorch.tensor([3.0], requires_grad=True)
    out_a, out_b = checkpoint(segment, a, b, power=3, use_reentrant=False)
    (out_a.sum() + out_b.sum()).backward()
    assert a.grad.tolist() == [3.0, 12.0] and b.grad.tolist() == [2.0]
    with pytest.raises(ValueError, match="Unexpected keyword arguments"):
        checkpoint(segment, a, b, power=3, use_reentrant=True)


def test_checkpoint_sequential_matches_plain_run():
    model = _net().eval()
    x = disttorch.randn(2, 4)
    value, grads, x_grad = _reference(model, x)
    model.zero_grad()
    xc = x.clone().requires_grad_(True)
    loss = (checkpoint_sequential(model, 3, xc, use_reentrant=False) ** 2).sum()
    loss.backward()
    assert loss.item() == pytest.approx(value)
    for a, b in zip(_grads(model), grads):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_context_fn_only_without_reentrant():
    import contextlib
    entered = []

    @contextlib.contextmanager
    def mark(name):
        entered.append(name)
        yield

    x = disttorch.ones(2, requires_grad=True)
    # (exp saves its output: a segment that saves nothing is never recomputed, as in torch)
    out = checkpoint(lambda t: t.exp() * 2, x, use_reentrant=False,
                     context_fn=lambda: (mark("forward"), mark("recompute")))
    out.sum().backward()
    assert entered == ["forward", "recompute"]
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(lambda t: t, x, use_reentrant=True, context_fn=lambda: (None, None))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda t: t, x, use_reentrant=False)


def _deep(seed=0):
    disttorch.manual_seed(seed)
    return nn.Sequential(*[m for _ in range(3) for m in (nn.Linear(16, 16), nn.GELU(),
                                                          nn.LayerNorm(16))])


def test_non_reentrant_gradients_reach_everything_through_autograd_grad():
    model = _deep()
    x = disttorch.randn(5, 16, requires_grad=True)
    plain = disttorch.autograd.grad((model(x) ** 2).sum(), [x] + list(model.parameters()))
    calls = []

    def segment(t):
        calls.append(1)
        return model(t)
    out = checkpoint(segment, x, use_reentrant=False)
    got = disttorch.autograd.grad((out ** 2).sum(), [x] + list(model.parameters()),
                                  retain_graph=True)
    assert len(calls) == 2                          # the forward and one recomputation
    for a, b in zip(got, plain):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    again = disttorch.autograd.grad((out ** 2).sum(), x)   # a retained graph recomputes again
    np.testing.assert_allclose(again[0].numpy(), plain[0].numpy(), rtol=1e-5, atol=1e-6)
    assert len(calls) == 3


def test_nested_checkpoints_and_autocast_replay():
    model = _deep()
    x = disttorch.randn(5, 16)
    inner = lambda t: checkpoint(model[3:6], t, use_reentrant=False)  # noqa: E731
    outer = lambda t: model[6:](inner(model[:3](t)))                   # noqa: E731
    for context in (lambda: disttorch.autocast("cpu", dtype=disttorch.bfloat16),
                    warnings.catch_warnings):
        model.zero_grad()
        with context():
            loss = (model(x).float() ** 2).sum()
        loss.backward()
        plain = _grads(model)
        model.zero_grad()
        with context():
            loss = (checkpoint(outer, x, use_reentrant=False).float() ** 2).sum()
        loss.backward()     # outside the region: the recomputation must re-enter it
        from disttorch.amp import autocast_mode
        assert not autocast_mode._regions.cache   # and drop the casts it cached
        for a, b in zip(_grads(model), plain):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_non_reentrant_checkpoint_keeps_no_activations_on_the_device():
    from disttorch.cuda import _simulated
    with _simulated.simulate():
        disttorch.manual_seed(0)
        model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(256, 256), nn.GELU())]
                              ).cuda()
        x = disttorch.randn(512, 256, device="cuda")
        held = {}
        for name, run in (("plain", model),
                          ("checkpoint", lambda t: checkpoint(model, t, use_reentrant=False))):
            base = disttorch.cuda.memory_allocated()
            loss = run(x).pow(2).mean()
            held[name] = disttorch.cuda.memory_allocated() - base
            loss.backward()
            del loss
        assert held["checkpoint"] < held["plain"] / 4, held


def test_determinism_check_catches_a_different_recomputation():
    from disttorch.utils.checkpoint import CheckpointError
    state = {"calls": 0}

    def changing(t):
        state["calls"] += 1
        return (t.exp() if state["calls"] == 1 else t[:1].exp()).sum()
    x = disttorch.ones(3, requires_grad=True)
    with pytest.raises(CheckpointError, match="Recomputed values for the following tensors have "
                                              "different metadata"):
        checkpoint(changing, x, use_reentrant=False).backward()
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(changing, x, use_reentrant=False, determinism_check="bogus")
