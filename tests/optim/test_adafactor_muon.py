"""Adafactor and Muon against torch: the same parameters trained in both libraries, compared
after every step over an option grid; state dicts, defaults, validation messages, and the
simulated device."""
import itertools

import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

from tests.ops.harness import requires_bf16

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(5)
# a matrix, a vector and a 3-d parameter (Adafactor factors its last two dims)
SHAPES = [(5, 4), (4,), (2, 3, 4)]
INITS = [RNG.standard_normal(s) for s in SHAPES]
MUON_SHAPES = [(5, 4), (3, 6)]     # tall and wide: Muon orthogonalizes the transpose of tall ones
MUON_INITS = [RNG.standard_normal(s) for s in MUON_SHAPES]


def _loss(lib, params):
    if params[0].dtype == lib.float32:
        # a quadratic: both engines compute its gradient exactly alike, while tanh's differ in
        # the last float32 bit, which Adafactor's normalized step amplifies near the minimum
        return sum(((p - 0.3) ** 2).sum() * 0.5 for p in params)
    return sum(lib.tanh(p * 1.5).sum() + ((p - 0.3) ** 2).sum() * 0.5 for p in params)


def _train(lib, name, kwargs, inits, dtype, steps=10, device=None):
    params = [lib.tensor(a.astype(dtype), requires_grad=True) for a in inits]
    if device is not None:
        params = [p.detach().to(device).requires_grad_() for p in params]
    opt = getattr(lib.optim, name)(params, **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    history = []
    for _ in range(steps):
        opt.zero_grad()
        (_loss(lib, params) * sign).backward()
        opt.step()
        history.append([p.detach().cpu().numpy().copy() for p in params])
    return history, opt


def _grid(**options):
    return [dict(zip(options, values)) for values in itertools.product(*options.values())]


ADAFACTOR = _grid(lr=[0.01, 0.3], weight_decay=[0.0, 0.1], maximize=[False, True]) + [
    dict(lr=0.05, eps=(1e-6, 1e-2), d=2.0, beta2_decay=-0.5),
    dict(lr=0.05, eps=(None, 0.5)),
]


@pytest.mark.parametrize("kwargs", ADAFACTOR, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adafactor_trains_like_torch(kwargs, dtype):
    ours, _ = _train(disttorch, "Adafactor", kwargs, INITS, dtype)
    theirs, _ = _train(torch, "Adafactor", kwargs, INITS, dtype)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for step, (o, t) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(o, t)):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"step {step} param {i}")


MUON = [dict(lr=0.05), dict(lr=0.05, nesterov=False), dict(lr=0.02, weight_decay=0.0,
                                                          adjust_lr_fn="match_rms_adamw"),
        dict(lr=0.05, momentum=0.5, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3),
        dict(lr=0.05, adjust_lr_fn="original")]


@requires_bf16
@pytest.mark.parametrize("kwargs", MUON, ids=str)
def test_muon_trains_like_torch(kwargs):
    ours, _ = _train(disttorch, "Muon", kwargs, MUON_INITS, np.float32)
    theirs, _ = _train(torch, "Muon", kwargs, MUON_INITS, np.float32)
    for step, (o, t) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(o, t)):
            # bfloat16 products rounded exactly as torch's: only float32 ulps remain
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"step {step} param {i}")


@requires_bf16
@pytest.mark.parametrize("name, kwargs, inits", [
    ("Adafactor", dict(lr=0.05, weight_decay=0.1), INITS),
    ("Muon", dict(lr=0.05), MUON_INITS)])
def test_state_dict_matches_torch_and_round_trips(name, kwargs, inits):
    ours, opt = _train(disttorch, name, kwargs, inits, np.float32, steps=3)
    _, ref = _train(torch, name, kwargs, inits, np.float32, steps=3)
    state, ref_state = opt.state_dict(), ref.state_dict()
    assert state["param_groups"] == ref_state["param_groups"]
    assert set(state["state"]) == set(ref_state["state"])
    for index, entry in ref_state["state"].items():
        assert set(state["state"][index]) == set(entry)
        for key, value in entry.items():
            mine = state["state"][index][key]
            assert tuple(mine.shape) == tuple(value.shape), key
            assert str(mine.dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    # a fresh optimizer loaded from it continues exactly like the original
    params = [disttorch.tensor(p, requires_grad=True) for p in ours[-1]]
    resumed = getattr(disttorch.optim, name)(params, **kwargs)
    resumed.load_state_dict(state)
    originals = opt.param_groups[0]["params"]
    for optimizer, group in ((resumed, params), (opt, originals)):
        optimizer.zero_grad()
        _loss(disttorch, group).backward()
        optimizer.step()
    for a, b in zip(params, originals):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_defaults_match_torch(name):
    ours = getattr(disttorch.optim, name)([disttorch.zeros(2, 2, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.zeros(2, 2, requires_grad=True)])
    assert ours.defaults == theirs.defaults


@pytest.mark.parametrize("name, kwargs, message", [
    ("Adafactor", dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    ("Adafactor", dict(weight_decay=-0.1), "weight_decay should be >= 0 but is: -0.1"),
    ("Muon", dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    ("Muon", dict(momentum=-1.0), "momentum should be >= 0 but is: -1.0"),
    ("Muon", dict(weight_decay=-1.0), "weight decay should be >= 0 but is: -1.0"),
    ("Muon", dict(adjust_lr_fn="bogus"), "Adjust learning rate function bogus is not supported"),
])
def test_validation_messages_match_torch(name, kwargs, message):
    for lib in (disttorch, torch):
        with pytest.raises(ValueError) as info:
            getattr(lib.optim, name)([lib.zeros(2, 2, requires_grad=True)], **kwargs)
        assert str(info.value) == message


def test_parameter_errors_match_torch():
    for lib in (disttorch, torch):
        with pytest.raises(ValueError, match=r"Muon only supports 2D parameters whereas we found "
                                             r"a parameter with size: .*\[3\]\)"):
            lib.optim.Muon([lib.zeros(3, requires_grad=True)])
        z = lib.zeros(2, 2, dtype=lib.complex64)  # (disttorch records no complex autograd)
        opt = lib.optim.Adafactor([z])
        z.grad = lib.ones_like(z)
        with pytest.raises(RuntimeError, match="Adafactor does not support complex parameters"):
            opt.step()
        w = lib.zeros(2, 2, requires_grad=True)
        opt = lib.optim.Muon([w], ns_steps=100)
        w.grad = lib.ones_like(w)
        with pytest.raises(ValueError, match="Number of steps must be less than 100"):
            opt.step()


@requires_bf16
@pytest.mark.parametrize("name, kwargs, inits", [
    ("Adafactor", dict(lr=0.05, weight_decay=0.1), INITS),
    ("Muon", dict(lr=0.05), MUON_INITS)])
def test_simulated_device_gives_the_cpu_result(name, kwargs, inits):
    cpu, _ = _train(disttorch, name, kwargs, inits, np.float32, steps=4)
    with _simulated.simulate():
        sim, opt = _train(disttorch, name, kwargs, inits, np.float32, steps=4, device="cuda")
        assert all(v.device.type == "cuda" for s in opt.state.values() for k, v in s.items()
                   if k != "step")
    for a, b in zip(cpu[-1], sim[-1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
