"""Learning-rate schedulers against torch: the lr (and momentum) sequences over many steps,
state_dict round trips mid-way, the closed forms of ``step(epoch)`` and the warnings."""
import math
import warnings

import numpy as np
import pytest

import disttorch
from disttorch.optim import lr_scheduler as dt_sched

torch = pytest.importorskip("torch")

STEPS = 60


def _optimizers(name="SGD", groups=2, **kwargs):
    """The same optimizer in both libraries, with ``groups`` param groups of different lrs."""
    kwargs = {"lr": 0.1, **({"momentum": 0.9} if name == "SGD" else {}), **kwargs}
    result = []
    for lib in (torch, disttorch):
        params = [{"params": [lib.zeros(2, requires_grad=True)], "lr": 0.1 * (i + 1)}
                  for i in range(groups)]
        result.append(getattr(lib.optim, name)(params, **kwargs))
    return result


def _lambda(epoch):
    return 0.95 ** epoch


def _mult(epoch):
    return 0.9 if epoch % 3 else 1.0


# (scheduler name, constructor kwargs or a function of the library, optimizer name)
CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5), "SGD"),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3), "SGD"),
    ("ExponentialLR", dict(gamma=0.93), "SGD"),
    ("CosineAnnealingLR", dict(T_max=13, eta_min=0.001), "SGD"),
    ("CosineAnnealingLR", dict(T_max=7), "Adam"),
    ("LambdaLR", dict(lr_lambda=_lambda), "SGD"),
    ("LambdaLR", dict(lr_lambda=[_lambda, lambda e: 1 / (e + 1)]), "SGD"),
    ("MultiplicativeLR", dict(lr_lambda=_mult), "SGD"),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.9, total_iters=9), "SGD"),
    ("ConstantLR", dict(factor=0.5, total_iters=6), "SGD"),
    ("PolynomialLR", dict(total_iters=40, power=2.0), "SGD"),
    ("PolynomialLR", dict(total_iters=20, power=0.5), "Adam"),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.01), "SGD"),
    ("CosineAnnealingWarmRestarts", dict(T_0=8), "SGD"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD"),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=3, step_size_down=6,
                      mode="triangular2"), "SGD"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97),
     "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, cycle_momentum=False), "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, scale_fn=_lambda,
                      scale_mode="iterations"), "SGD"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS + 1), "SGD"),
    ("OneCycleLR", dict(max_lr=[0.5, 1.0], epochs=7, steps_per_epoch=9, anneal_strategy="linear",
                        three_phase=True), "SGD"),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=STEPS + 1, pct_start=0.25), "Adam"),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=STEPS + 1, cycle_momentum=False), "Adagrad"),
]


def _make(lib, name, kwargs, optimizer):
    return getattr(lib.optim.lr_scheduler, name)(optimizer, **kwargs)


def _momenta(optimizer):
    return [g.get("momentum", g.get("betas", (None,))[0]) for g in optimizer.param_groups]


def _assert_same(t_opt, d_opt, t_sched, d_sched, where):
    np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12,
                               atol=1e-15, err_msg=where)
    np.testing.assert_allclose([g["lr"] for g in d_opt.param_groups],
                               [g["lr"] for g in t_opt.param_groups], rtol=1e-12, err_msg=where)
    t_momenta, d_momenta = _momenta(t_opt), _momenta(d_opt)
    if None in t_momenta:
        assert d_momenta == t_momenta
    else:
        np.testing.assert_allclose(d_momenta, t_momenta, rtol=1e-12, err_msg=where)


@pytest.mark.parametrize("name,kwargs,opt_name", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_sequence_and_state_dict_round_trip(name, kwargs, opt_name):
    t_opt, d_opt = _optimizers(opt_name)
    t_sched = _make(torch, name, kwargs, t_opt)
    d_sched = _make(disttorch, name, kwargs, d_opt)
    _assert_same(t_opt, d_opt, t_sched, d_sched, "after construction")
    for step in range(STEPS):
        if step == STEPS // 2:
            # Resume mid-way as a training script does: build a fresh optimizer and scheduler,
            # then load both state dicts.
            state = d_sched.state_dict()
            opt_state = d_opt.state_dict()
            d_opt = _optimizers(opt_name)[1]
            d_sched = _make(disttorch, name, kwargs, d_opt)
            d_opt.load_state_dict(opt_state)
            d_sched.load_state_dict(state)
        t_opt.step()
        d_opt.step()
        t_sched.step()
        d_sched.step()
        _assert_same(t_opt, d_opt, t_sched, d_sched, f"{name} step {step}")


def test_state_dict_keys_match_torch():
    for name, kwargs, opt_name in CASES:
        t_opt, d_opt = _optimizers(opt_name)
        t_state = _make(torch, name, kwargs, t_opt).state_dict()
        d_state = _make(disttorch, name, kwargs, d_opt).state_dict()
        expected = set(t_state) - {"_get_lr_called_within_step", "_is_initial"}
        assert expected <= set(d_state), (name, expected - set(d_state))


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)), ("MultiStepLR", dict(milestones=[2, 5, 5])),
    ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.5, total_iters=4)), ("ConstantLR", dict(total_iters=3)),
    ("PolynomialLR", dict(total_iters=8, power=1.5)),
])
def test_closed_form_with_epoch(name, kwargs):
    t_opt, d_opt = _optimizers()
    t_sched = _make(torch, name, kwargs, t_opt)
    d_sched = _make(disttorch, name, kwargs, d_opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [3, 1, 7, 7, 12, 0, 5]:
            t_opt.step()
            d_opt.step()
            t_sched.step(epoch)
            d_sched.step(epoch)
            np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12)


def test_warm_restarts_fractional_epochs():
    for t_mult in (1, 2, 3):
        t_opt, d_opt = _optimizers()
        t_sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(t_opt, 3, t_mult, 0.001)
        d_sched = dt_sched.CosineAnnealingWarmRestarts(d_opt, 3, t_mult, 0.001)
        for epoch in np.arange(0, 30, 0.37):
            t_sched.step(float(epoch))
            d_sched.step(float(epoch))
            np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12)
            assert d_sched.T_i == t_sched.T_i and d_sched.last_epoch == t_sched.last_epoch


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("min", "abs"), ("max", "rel"),
                                                 ("max", "abs")])
def test_reduce_lr_on_plateau(mode, threshold_mode):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8] * 4
    if mode == "max":
        metrics = [-m for m in metrics]
    kwargs = dict(mode=mode, factor=0.5, patience=2, threshold=0.01, threshold_mode=threshold_mode,
                  cooldown=1, min_lr=[0.02, 0.0], eps=1e-3)
    t_opt, d_opt = _optimizers()
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    d_sched = dt_sched.ReduceLROnPlateau(d_opt, **kwargs)
    for i, metric in enumerate(metrics):
        if i == len(metrics) // 2:
            state = d_sched.state_dict()
            d_sched = dt_sched.ReduceLROnPlateau(d_opt, **kwargs)
            d_sched.load_state_dict(state)
        t_sched.step(metric)
        d_sched.step(disttorch.tensor(metric))
        np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12)
        assert d_sched.num_bad_epochs == t_sched.num_bad_epochs
        assert d_sched.cooldown_counter == t_sched.cooldown_counter


def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=5),
                                s.ExponentialLR(opt, gamma=0.9),
                                s.CosineAnnealingLR(opt, T_max=10)], milestones=[5, 20])


def _chained(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=4),
                               s.ExponentialLR(opt, gamma=0.95),
                               s.StepLR(opt, step_size=6, gamma=0.5)])


@pytest.mark.parametrize("build", [_sequential, _chained])
def test_sequential_and_chained(build):
    t_opt, d_opt = _optimizers()
    t_sched, d_sched = build(torch, t_opt), build(disttorch, d_opt)
    np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12)
    for step in range(STEPS):
        if step == 13:
            state, opt_state = d_sched.state_dict(), d_opt.state_dict()
            d_opt = _optimizers()[1]
            d_sched = build(disttorch, d_opt)
            d_opt.load_state_dict(opt_state)
            d_sched.load_state_dict(state)
        t_opt.step()
        d_opt.step()
        t_sched.step()
        d_sched.step()
        np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12,
                                   err_msg=f"step {step}")
        np.testing.assert_allclose([g["lr"] for g in d_opt.param_groups],
                                   [g["lr"] for g in t_opt.param_groups], rtol=1e-12)


def test_initial_lr_and_base_lrs():
    _, opt = _optimizers()
    sched = dt_sched.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert sched.base_lrs == [0.1, 0.2] and sched.last_epoch == 0
    with pytest.raises(KeyError, match=r"initial_lr.*param_groups\[0\]"):
        dt_sched.StepLR(_optimizers()[1], step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        dt_sched.StepLR(object(), step_size=2)


def test_step_order_warning():
    _, opt = _optimizers()
    sched = dt_sched.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before"):
        sched.step()
    _, opt = _optimizers()
    sched = dt_sched.ExponentialLR(opt, gamma=0.5)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_tensor_lr_is_filled_in_place():
    for lib in (torch, disttorch):
        lr = lib.tensor(0.5)
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=lr)
        sched = lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] is lr
        assert math.isclose(float(lr), 0.25)


@pytest.mark.parametrize("name,kwargs,match", [
    ("ConstantLR", dict(factor=1.5), "between 0 and 1"),
    ("LinearLR", dict(start_factor=0), "greater than 0"),
    ("LinearLR", dict(end_factor=2), "Ending multiplicative"),
    ("CosineAnnealingWarmRestarts", dict(T_0=0), "positive integer T_0"),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0), "T_mult >= 1"),
    ("OneCycleLR", dict(max_lr=1.0), "total_steps OR"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=10, pct_start=2.0), "pct_start"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=10, anneal_strategy="x"), "anneal_strategy"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, mode="x"), "mode is invalid"),
    ("CyclicLR", dict(base_lr=[0.1], max_lr=1.0), "same length"),
    ("ReduceLROnPlateau", dict(factor=1.0), "Factor should be"),
    ("ReduceLROnPlateau", dict(mode="x"), "mode x is unknown"),
    ("MultiplicativeLR", dict(lr_lambda=3), "should be a function"),
    ("LambdaLR", dict(lr_lambda=[_lambda]), "Expected 2 lr_lambdas"),
])
def test_validation(name, kwargs, match):
    for lib in (torch, disttorch):
        _, opt = _optimizers()
        if lib is torch:
            opt = _optimizers()[0]
        with pytest.raises((ValueError, TypeError), match=match):
            _make(lib, name, kwargs, opt)


def test_one_cycle_raises_past_total_steps():
    _, opt = _optimizers()
    sched = dt_sched.OneCycleLR(opt, max_lr=1.0, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_cycle_momentum_needs_momentum():
    _, opt = _optimizers("Adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        dt_sched.CyclicLR(opt, 0.01, 0.1)
