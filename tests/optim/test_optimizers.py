"""Optimizers against torch: the same tiny model trained in both libraries from the same
weights, weights compared after every step, for every optimizer and option combination; state
dict structure and round trips; parameter-group handling, hooks and validation errors.

The option grid trains in float64: the two autograd engines then agree to ~1e-16, so any
difference is the optimizer's. In float32 a gradient element that cancels to ~1e-5 differs
by a few percent between the engines, and adaptive optimizers (which normalize the gradient)
turn that into visible weight differences; float32 is covered by a well-conditioned quadratic.
With ``maximize`` the model ascends the negated loss, so the trajectory stays the same bounded
descent instead of diverging."""
import copy
import io
import itertools
import warnings

import numpy as np
import pytest

import disttorch
from disttorch import optim

torch = pytest.importorskip("torch")

STEPS = 12
RNG = np.random.default_rng(1234)
X = RNG.standard_normal((5, 4)).astype(np.float32)
Y = RNG.standard_normal((5, 4)).astype(np.float32)
W0 = RNG.standard_normal((5, 4)).astype(np.float32)
B0 = RNG.standard_normal(4).astype(np.float32)
V0 = RNG.standard_normal((1, 4)).astype(np.float32)


def _params(lib, dtype=np.float64):
    """Weights ``w``, ``b``, ``v``, plus ``unused`` that never receives a gradient."""
    return [lib.tensor(a.astype(dtype), requires_grad=True) for a in (W0, B0, V0, B0 * 0.5)]


def _forward(lib, params):
    w, b, v, _ = params
    dtype = w.detach().numpy().dtype
    x, y = lib.tensor(X.astype(dtype)), lib.tensor(Y.astype(dtype))
    hidden = lib.tanh(x * w + b)
    return (hidden * v - y) ** 2 + lib.sin(w) * 0.1


def _loss_and_backward(lib, params, sign=1.0):
    out = _forward(lib, params) * sign
    out.backward(lib.ones_like(out))
    return out


def _grid(**options):
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


CONFIGS = (
    [("SGD", c) for c in _grid(lr=[0.05], momentum=[0, 0.9], dampening=[0, 0.3],
                               weight_decay=[0, 0.1], maximize=[False, True])]
    + [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=w)) for w in (0, 0.1)]
    + [("Adam", c) for c in _grid(lr=[0.01], amsgrad=[False, True], weight_decay=[0, 0.1],
                                  maximize=[False, True])]
    + [("Adam", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-3, decoupled_weight_decay=True,
                     weight_decay=0.1))]
    + [("AdamW", c) for c in _grid(lr=[0.01], amsgrad=[False, True], weight_decay=[0, 0.1],
                                   maximize=[False, True])]
    + [("RMSprop", c) for c in _grid(lr=[0.01], centered=[False, True], momentum=[0, 0.9],
                                     weight_decay=[0, 0.1], maximize=[False, True])]
    + [("Adagrad", c) for c in _grid(lr=[0.1], lr_decay=[0, 0.05], weight_decay=[0, 0.1],
                                     initial_accumulator_value=[0, 0.2],
                                     maximize=[False, True])]
    + [("Adamax", c) for c in _grid(lr=[0.01], weight_decay=[0, 0.1], maximize=[False, True])]
    + [("NAdam", c) for c in _grid(lr=[0.01], weight_decay=[0, 0.1], momentum_decay=[4e-3, 0.1],
                                   decoupled_weight_decay=[False, True],
                                   maximize=[False, True])]
    + [("RAdam", c) for c in _grid(lr=[0.01], weight_decay=[0, 0.1],
                                   decoupled_weight_decay=[False, True],
                                   maximize=[False, True])]
    + [("Adadelta", c) for c in _grid(lr=[1.0, 0.5], rho=[0.9, 0.5], weight_decay=[0, 0.1],
                                      maximize=[False, True])]
    + [("Rprop", c) for c in _grid(lr=[0.01, 0.05], etas=[(0.5, 1.2), (0.3, 1.5)],
                                   step_sizes=[(1e-6, 50), (1e-3, 0.02)],
                                   maximize=[False, True])]
    + [("ASGD", c) for c in _grid(lr=[0.05], lambd=[1e-4, 0.1], alpha=[0.75], t0=[1e6, 3],
                                  weight_decay=[0, 0.1], maximize=[False, True])]
)


def _config_id(config):
    name, kwargs = config
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _assert_params_close(t_params, d_params, where, rtol=1e-5):
    for i, (t, d) in enumerate(zip(t_params, d_params)):
        np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=1e-6,
                                   err_msg=f"{where}, param {i}")


def _train_both(name, kwargs, t_params, d_params, t_opt, d_opt, steps, start=0):
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for step in range(start, start + steps):
        for lib, params, opt in ((torch, t_params, t_opt), (disttorch, d_params, d_opt)):
            opt.zero_grad()
            _loss_and_backward(lib, params, sign)
            opt.step()
        _assert_params_close(t_params, d_params, f"{name} {kwargs} step {step}")


@pytest.mark.parametrize("config", CONFIGS, ids=[_config_id(c) for c in CONFIGS])
def test_training_matches_torch(config):
    name, kwargs = config
    t_params, d_params = _params(torch), _params(disttorch)
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    d_opt = getattr(optim, name)(d_params, **kwargs)
    _train_both(name, kwargs, t_params, d_params, t_opt, d_opt, STEPS)
    # The unused parameter has no gradient: untouched, and no state was created (Adagrad
    # creates every state at construction).
    np.testing.assert_array_equal(d_params[3].detach().numpy(), B0 * 0.5)
    assert (d_params[3] in d_opt.state) == (t_params[3] in t_opt.state)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam",
                                  "RAdam", "Adadelta", "Rprop", "ASGD"])
def test_float32_quadratic(name):
    kwargs = {**RICH_OPTIONS[name]}
    if name != "Rprop":
        kwargs["weight_decay"] = 0.01
    target = (W0 * 3).astype(np.float32)
    scale = np.linspace(0.5, 2.0, W0.size, dtype=np.float32).reshape(W0.shape)
    t_w = torch.tensor(W0, requires_grad=True)
    d_w = disttorch.tensor(W0, requires_grad=True)
    t_opt = getattr(torch.optim, name)([t_w], **kwargs)
    d_opt = getattr(optim, name)([d_w], **kwargs)
    for step in range(STEPS):
        for lib, w, opt in ((torch, t_w, t_opt), (disttorch, d_w, d_opt)):
            opt.zero_grad()
            out = (w - lib.tensor(target)) ** 2 * lib.tensor(scale)
            out.backward(lib.ones_like(out))
            opt.step()
        assert d_w.dtype == disttorch.float32
        _assert_params_close([t_w], [d_w], f"{name} float32 step {step}")


OPTIMIZER_NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                   "Adadelta", "Rprop", "ASGD"]
RICH_OPTIONS = {"SGD": dict(lr=0.05, momentum=0.9), "Adam": dict(lr=0.01, amsgrad=True),
                "AdamW": dict(lr=0.01), "RMSprop": dict(lr=0.01, centered=True, momentum=0.5),
                "Adagrad": dict(lr=0.1, lr_decay=0.01), "Adamax": dict(lr=0.01),
                "NAdam": dict(lr=0.01), "RAdam": dict(lr=0.01), "Adadelta": dict(lr=1.0),
                "Rprop": dict(lr=0.01), "ASGD": dict(lr=0.05, t0=2)}


def _groups(lib, params, name):
    # Two groups with different options exercise per-group defaults and state-dict indices.
    override = {"lr": RICH_OPTIONS[name]["lr"] * 0.5}
    override.update({"etas": (0.4, 1.3)} if name == "Rprop" else {"weight_decay": 0.05})
    return [{"params": params[:2]}, {"params": params[2:], **override}]


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_param_groups(name):
    t_params, d_params = _params(torch), _params(disttorch)
    t_opt = getattr(torch.optim, name)(_groups(torch, t_params, name), **RICH_OPTIONS[name])
    d_opt = getattr(optim, name)(_groups(disttorch, d_params, name), **RICH_OPTIONS[name])
    for step in range(STEPS):
        for lib, params, opt in ((torch, t_params, t_opt), (disttorch, d_params, d_opt)):
            opt.zero_grad()
            _loss_and_backward(lib, params)
            opt.step()
        _assert_params_close(t_params, d_params, f"{name} step {step}", rtol=1e-9)


def _assert_state_dicts_equal(d_state, t_state):
    assert set(d_state) == {"state", "param_groups"}
    assert len(d_state["param_groups"]) == len(t_state["param_groups"])
    for d_group, t_group in zip(d_state["param_groups"], t_state["param_groups"]):
        assert d_group == t_group
    assert set(d_state["state"]) == set(t_state["state"])
    for index, t_entry in t_state["state"].items():
        d_entry = d_state["state"][index]
        assert set(d_entry) == set(t_entry), index
        for key, t_value in t_entry.items():
            d_value = d_entry[key]
            assert isinstance(d_value, disttorch.Tensor), (index, key)
            assert str(d_value.dtype).split(".")[-1] == str(t_value.dtype).split(".")[-1], key
            assert tuple(d_value.shape) == tuple(t_value.shape), key
            np.testing.assert_allclose(d_value.numpy(), t_value.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_state_dict_structure_and_round_trip(name):
    kwargs = RICH_OPTIONS[name]
    t_params, d_params = _params(torch), _params(disttorch)
    t_opt = getattr(torch.optim, name)(_groups(torch, t_params, name), **kwargs)
    d_opt = getattr(optim, name)(_groups(disttorch, d_params, name), **kwargs)
    _train_both(name, kwargs, t_params, d_params, t_opt, d_opt, 4)
    _assert_state_dicts_equal(d_opt.state_dict(), t_opt.state_dict())

    # A new optimizer over copies of the parameters, loaded from the state dict, continues
    # exactly like the original.
    saved = d_opt.state_dict()
    copies = [disttorch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in d_params]
    resumed = getattr(optim, name)(_groups(disttorch, copies, name), **kwargs)
    resumed.load_state_dict(saved)
    assert resumed.state[copies[0]] is not d_opt.state[d_params[0]]
    _train_both(name, kwargs, t_params, copies, t_opt, resumed, 4, start=4)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam"])
def test_load_torch_state_dict(name):
    """A torch optimizer's state dict, with tensors converted, loads into ours."""
    kwargs = RICH_OPTIONS[name]
    t_params, d_params = _params(torch), _params(disttorch)
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    d_opt = getattr(optim, name)(d_params, **kwargs)
    _train_both(name, kwargs, t_params, d_params, t_opt, d_opt, 3)
    converted = {"state": {i: {k: disttorch.tensor(v.numpy()) for k, v in entry.items()}
                           for i, entry in t_opt.state_dict()["state"].items()},
                 "param_groups": t_opt.state_dict()["param_groups"]}
    d_opt.load_state_dict(converted)
    _train_both(name, kwargs, t_params, d_params, t_opt, d_opt, 3, start=3)


def test_load_state_dict_casts_to_param_dtype_but_keeps_step():
    params = [disttorch.zeros(3, dtype=disttorch.float64, requires_grad=True)]
    opt = optim.Adam(params)
    state = {"state": {0: {"step": disttorch.tensor(3.0),
                           "exp_avg": disttorch.ones(3, dtype=disttorch.float32),
                           "exp_avg_sq": disttorch.ones(3, dtype=disttorch.float32)}},
             "param_groups": opt.state_dict()["param_groups"]}
    opt.load_state_dict(state)
    loaded = opt.state[params[0]]
    assert loaded["exp_avg"].dtype == disttorch.float64
    assert loaded["step"].dtype == disttorch.float32
    assert loaded["exp_avg"] is not state["state"][0]["exp_avg"]


def test_load_old_style_state_dict():
    """Number steps and groups lacking newer options (older checkpoints) still load."""
    params = [disttorch.zeros(3, requires_grad=True)]
    opt = optim.Adam(params)
    old_group = {k: v for k, v in opt.state_dict()["param_groups"][0].items()
                 if k not in ("maximize", "foreach", "decoupled_weight_decay")}
    opt.load_state_dict({"state": {0: {"step": 4, "exp_avg": disttorch.zeros(3),
                                       "exp_avg_sq": disttorch.zeros(3)}},
                         "param_groups": [old_group]})
    assert opt.param_groups[0]["maximize"] is False
    assert opt.state[params[0]]["step"].dtype == disttorch.float32
    params[0].grad = disttorch.ones(3)
    opt.step()
    assert float(opt.state[params[0]]["step"]) == 5.0


def test_adagrad_param_group_added_later():
    a, b = disttorch.zeros(2, requires_grad=True), disttorch.zeros(2, requires_grad=True)
    opt = optim.Adagrad([a], lr=0.1, initial_accumulator_value=0.5)
    opt.add_param_group({"params": [b]})
    b.grad = disttorch.ones(2)
    opt.step()
    np.testing.assert_allclose(opt.state[b]["sum"].numpy(), [1.5, 1.5])


def test_load_state_dict_mismatch_errors():
    opt = optim.SGD([disttorch.zeros(2, requires_grad=True)], lr=0.1)
    other = optim.SGD([{"params": [disttorch.zeros(2, requires_grad=True)]},
                       {"params": [disttorch.zeros(2, requires_grad=True)]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    bigger = optim.SGD([disttorch.zeros(2, requires_grad=True),
                        disttorch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(bigger.state_dict())


def test_lr_as_tensor():
    t_params, d_params = _params(torch), _params(disttorch)
    t_opt = torch.optim.Adam(t_params, lr=torch.tensor(0.01))
    d_opt = optim.Adam(d_params, lr=disttorch.tensor(0.01))
    _train_both("Adam", {}, t_params, d_params, t_opt, d_opt, 3)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.SGD(d_params, lr=disttorch.tensor([0.1, 0.2]))


def test_closure_runs_with_grad_enabled_and_returns_loss():
    params = _params(disttorch)
    opt = optim.SGD(params, lr=0.1)
    seen = []

    def closure():
        seen.append(disttorch.is_grad_enabled())
        opt.zero_grad()
        return _loss_and_backward(disttorch, params)

    with disttorch.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert isinstance(loss, disttorch.Tensor)


def test_zero_grad():
    params = _params(disttorch)
    opt = optim.SGD(params, lr=0.1)
    _loss_and_backward(disttorch, params)
    grad = params[0].grad
    version = grad._version
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and grad._version == version + 1
    assert not grad.numpy().any()
    assert params[3].grad is None
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_bumps_version_and_skips_params_without_grad():
    params = _params(disttorch)
    opt = optim.Adam(params)
    _loss_and_backward(disttorch, params)
    versions = [p._version for p in params]
    opt.step()
    assert [p._version for p in params] == [v + 1 for v in versions[:3]] + [versions[3]]
    assert params[3] not in opt.state


def test_step_hooks():
    params = _params(disttorch)
    opt = optim.SGD(params, lr=0.1)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    opt.step()
    assert calls == [("pre", True), ("post", True)]
    pre.remove()
    opt.step()
    assert calls[2:] == [("post", True)]


def test_subclass_calling_super_step_runs_hooks_once():
    class Logged(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    params = _params(disttorch)
    opt = Logged(params, lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    opt.step()
    assert calls == ["pre"]


def test_add_param_group():
    a, b, c = (disttorch.zeros(2, requires_grad=True) for _ in range(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"] == [b] or opt.param_groups[1]["params"][0] is b
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a, c]})
    with pytest.raises(TypeError, match="organized in ordered collections"):
        opt.add_param_group({"params": {c}})
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [c * 2]})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        opt.add_param_group({"params": [1.0]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([c])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.add_param_group({"params": [c, c]})
    assert "duplicate parameters" in str(caught[0].message)


def test_named_parameters():
    w = disttorch.zeros(2, requires_grad=True)
    opt = optim.Adam([("w", w)])
    assert opt.param_groups[0]["param_names"] == ["w"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w"]


def test_constructor_errors():
    w = disttorch.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="differentiable=True.* not supported"):
        optim.Adam([w], differentiable=True)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        optim.SGD([w], lr=0.1, fused=True, foreach=True)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)


@pytest.mark.parametrize("name,kwargs,message", [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(lr=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    ("Adam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("AdamW", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("RMSprop", dict(alpha=-1), "Invalid alpha value: -1"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("Adamax", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("RAdam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    ("ASGD", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
])
def test_validation_messages(name, kwargs, message):
    for lib in (torch, disttorch):
        with pytest.raises(ValueError) as info:
            getattr(lib.optim, name)([lib.zeros(2, requires_grad=True)], **kwargs)
        assert str(info.value).startswith(message)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_defaults_match_torch(name):
    kwargs = {"lr": 0.1} if name == "SGD" else {}
    t_opt = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    d_opt = getattr(optim, name)([disttorch.zeros(2, requires_grad=True)], **kwargs)
    assert d_opt.defaults == t_opt.defaults
    assert d_opt.state_dict()["param_groups"] == t_opt.state_dict()["param_groups"]


def _mlp_weights(seed=7):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * 0.5 for shape in ((6, 8), (8,), (8, 3), (3,))]


def _mlp_loss(lib, params, x, y):
    w1, b1, w2, b2 = params
    out = lib.relu(x @ w1 + b1) @ w2 + b2
    return ((out - y) ** 2).mean()


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_mlp_with_scheduler_matches_torch(name):
    """A 2-layer MLP on a fixed batch, trained with a scheduler stepping every iteration."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 6)), rng.standard_normal((16, 3))
    runs = []
    for lib in (torch, disttorch):
        params = [lib.tensor(w, requires_grad=True) for w in _mlp_weights()]
        opt = getattr(lib.optim, name)(params, **RICH_OPTIONS[name])
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=1e-4)
        runs.append((lib, params, opt, sched, lib.tensor(x), lib.tensor(y)))
    for step in range(20):
        losses = []
        for lib, params, opt, sched, xt, yt in runs:
            opt.zero_grad()
            loss = _mlp_loss(lib, params, xt, yt)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-9, err_msg=f"step {step}")
        _assert_params_close(runs[0][1], runs[1][1], f"{name} MLP step {step}", rtol=1e-9)


def test_nn_module_parameters():
    """Optimizers take ``module.parameters()`` (Parameters) and train nn.Linear like torch."""
    t_model, d_model = torch.nn.Linear(5, 2), disttorch.nn.Linear(5, 2)
    with torch.no_grad():
        weights = [p.detach().numpy().copy() for p in t_model.parameters()]
    d_model.load_state_dict({"weight": disttorch.tensor(weights[0]),
                             "bias": disttorch.tensor(weights[1])})
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    d_opt = optim.SGD(d_model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    for _ in range(5):
        for lib, model, opt in ((torch, t_model, t_opt), (disttorch, d_model, d_opt)):
            opt.zero_grad()
            lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.zeros(4, 2)).backward()
            opt.step()
    _assert_params_close(list(t_model.parameters()), list(d_model.parameters()), "Linear")


@pytest.mark.parametrize("kwargs", [
    dict(), dict(lr=0.5, history_size=3), dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=7, max_eval=9),
    dict(lr=0.1, tolerance_change=1e-3),
])
def test_lbfgs_matches_torch(kwargs):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((16, 6)), rng.standard_normal((16, 3))
    runs = []
    for lib in (torch, disttorch):
        params = [lib.tensor(w, requires_grad=True) for w in _mlp_weights()]
        opt = lib.optim.LBFGS(params, **kwargs)
        runs.append((lib, params, opt, lib.tensor(x), lib.tensor(y)))
    for step in range(4):
        losses, evals = [], []
        for lib, params, opt, xt, yt in runs:
            def closure(lib=lib, params=params, opt=opt, xt=xt, yt=yt):
                opt.zero_grad()
                loss = _mlp_loss(lib, params, xt, yt)
                loss.backward()
                return loss
            losses.append(opt.step(closure).item())
            evals.append(opt.state[params[0]]["func_evals"])
        # 20 quasi-Newton iterations a step amplify the last-bit differences of float64 sums.
        assert evals[0] == evals[1], f"step {step}"
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)
        _assert_params_close(runs[0][1], runs[1][1], f"LBFGS {kwargs} step {step}", rtol=1e-6)


def test_lbfgs_errors_and_state_dict():
    a, b = disttorch.zeros(2, requires_grad=True), disttorch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = optim.LBFGS([a], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = ((a - 1.0) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    opt = optim.LBFGS([a])
    opt.step(closure)
    state = opt.state_dict()["state"][0]
    assert {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss",
            "func_evals", "n_iter"} <= set(state)
    buffer = io.BytesIO()
    disttorch.save(opt.state_dict(), buffer, format="torch")
    buffer.seek(0)
    copy = disttorch.tensor(a.detach().numpy().copy(), requires_grad=True)
    resumed = optim.LBFGS([copy])
    resumed.load_state_dict(disttorch.load(buffer))

    def closure_copy():
        resumed.zero_grad()
        loss = ((copy - 1.0) ** 2).sum()
        loss.backward()
        return loss

    a.detach().numpy()[...] = [0.3, -0.2]
    copy.detach().numpy()[...] = [0.3, -0.2]
    opt.step(closure)
    resumed.step(closure_copy)
    np.testing.assert_array_equal(copy.detach().numpy(), a.detach().numpy())
    assert resumed.state[copy]["n_iter"] == opt.state[a]["n_iter"]


def test_pre_hook_can_replace_arguments_and_repr_and_deepcopy():
    params = _params(disttorch)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    calls = []

    def closure():
        calls.append("closure")
        return disttorch.tensor(1.0)

    opt.register_step_pre_hook(lambda o, args, kwargs: ((closure,), {}))
    assert float(opt.step()) == 1.0 and calls == ["closure"]
    opt.register_step_pre_hook(lambda o, args, kwargs: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    momentum: 0.9" in text

    _loss_and_backward(disttorch, params)
    plain = optim.Adam(params)
    plain.step()
    clone = copy.deepcopy(plain)
    assert clone._step_pre_hooks == {} and len(clone.state) == len(plain.state)
    assert repr(clone) == repr(plain)


def test_state_dict_hooks_match_torch():
    def trace(lib):
        log = []
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        p.grad = lib.ones(2)
        opt.step()
        opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
        opt.register_state_dict_pre_hook(lambda o: log.append("pre-first"), prepend=True)

        def post(o, state_dict):
            log.append("post")
            state_dict["extra"] = 1
        opt.register_state_dict_post_hook(post)
        state_dict = opt.state_dict()
        log.append(sorted(state_dict))

        def load_pre(o, state_dict):
            log.append("load-pre")
            state_dict = dict(state_dict)
            state_dict.pop("extra")
            return state_dict
        opt.register_load_state_dict_pre_hook(load_pre)
        handle = opt.register_load_state_dict_post_hook(lambda o: log.append("load-post"))
        opt.load_state_dict(state_dict)
        handle.remove()
        opt.load_state_dict(state_dict)
        return log
    assert trace(disttorch) == trace(torch)
