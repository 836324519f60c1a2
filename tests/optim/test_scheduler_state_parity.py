"""Learning-rate scheduler state_dicts against torch's: after some steps the dicts agree key for
key (in order) and value for value, and a disttorch scheduler resumed from *torch's* state_dict
(and torch's optimizer param_groups) continues with torch's learning rates."""
import copy
import math

import numpy as np
import pytest

import disttorch
from tests.optim.test_lr_scheduler import _optimizers

torch = pytest.importorskip("torch")

STEPS, MORE_STEPS = 9, 25

# Keys that hold functions or other objects and so cannot be compared by value.  With torch
# 2.x none of the schedulers tested here puts one in its state_dict: the optimizer is left out
# by every state_dict, LambdaLR/MultiplicativeLR's lr_lambdas (not tested here) and CyclicLR's
# ``_scale_fn_ref`` (a WeakMethod) are dropped, CyclicLR's ``_scale_fn_custom`` is None for a
# plain function and the object's ``__dict__`` for a callable object, and OneCycleLR keeps its
# annealing function as the string ``_anneal_func_type``.  ``_compare`` fails on any callable
# it meets, so a torch upgrade that adds one shows up here rather than being silently skipped.
SKIP_KEYS = frozenset()


class ScaleFn:
    """A callable object with state: CyclicLR saves its ``__dict__``."""

    def __init__(self, decay):
        self.decay = decay

    def __call__(self, x):
        return self.decay ** x


def _scale(x):
    return 1 / (1 + 0.1 * x)



def _simple(name, **kwargs):
    def build(lib, opt):
        return getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
    return build


def _cyclic_object(lib, opt):
    return lib.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                           scale_fn=ScaleFn(0.8), scale_mode="cycle")


def _sequential(lib, opt):
    s = lib.optim.lr_scheduler
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.1, total_iters=4),
                                s.ExponentialLR(opt, gamma=0.9),
                                s.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)],
                          milestones=[4, 15])


def _chained(lib, opt):
    s = lib.optim.lr_scheduler
    return s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=4),
                               s.ExponentialLR(opt, gamma=0.95),
                               s.StepLR(opt, step_size=6, gamma=0.5)])


# (id, builder(lib, optimizer), optimizer name)
CASES = [
    ("StepLR", _simple("StepLR", step_size=4, gamma=0.5), "SGD"),
    ("MultiStepLR", _simple("MultiStepLR", milestones=[3, 7, 7, 20], gamma=0.3), "SGD"),
    ("ExponentialLR", _simple("ExponentialLR", gamma=0.93), "SGD"),
    ("CosineAnnealingLR", _simple("CosineAnnealingLR", T_max=13, eta_min=0.001), "SGD"),
    ("CosineAnnealingWarmRestarts", _simple("CosineAnnealingWarmRestarts", T_0=4, T_mult=2,
                                            eta_min=0.01), "SGD"),
    ("LinearLR", _simple("LinearLR", start_factor=0.25, end_factor=0.9, total_iters=14), "SGD"),
    ("ConstantLR", _simple("ConstantLR", factor=0.5, total_iters=12), "SGD"),
    ("OneCycleLR", _simple("OneCycleLR", max_lr=[0.5, 1.0], total_steps=STEPS + MORE_STEPS + 1,
                           pct_start=0.4), "SGD"),
    ("OneCycleLR-adam-3phase", _simple("OneCycleLR", max_lr=0.01, epochs=5, steps_per_epoch=7,
                                       three_phase=True, anneal_strategy="linear"), "Adam"),
    ("CyclicLR", _simple("CyclicLR", base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=3,
                         step_size_down=5, mode="triangular2"), "SGD"),
    ("CyclicLR-exp-adam", _simple("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=4,
                                  mode="exp_range", gamma=0.97), "Adam"),
    ("CyclicLR-function", _simple("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=4,
                                  scale_fn=_scale, scale_mode="iterations"), "SGD"),
    ("CyclicLR-object", _cyclic_object, "SGD"),
    ("PolynomialLR", _simple("PolynomialLR", total_iters=20, power=1.7), "SGD"),
    ("SequentialLR", _sequential, "SGD"),
    ("ChainedScheduler", _chained, "SGD"),
]


def _compare(ours, theirs, where):
    """``ours`` equals ``theirs`` structurally: dict keys in the same order, the same container
    and scalar types, floats within a tight relative tolerance."""
    assert not callable(theirs) or isinstance(theirs, type), f"{where}: torch holds {theirs!r}"
    if isinstance(theirs, dict):
        assert type(ours) is type(theirs), (where, type(ours), type(theirs))   # Counter too
        keys = [k for k in theirs if k not in SKIP_KEYS]
        assert [k for k in ours if k not in SKIP_KEYS] == keys, (where, list(ours), keys)
        for k in keys:
            _compare(ours[k], theirs[k], f"{where}.{k}")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (where, ours, theirs)
        for i, (o, t) in enumerate(zip(ours, theirs)):
            _compare(o, t, f"{where}[{i}]")
    elif isinstance(theirs, float):
        assert isinstance(ours, (float, int)) and not isinstance(ours, bool), (where, ours)
        assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-15) or ours == theirs, \
            (where, ours, theirs)
    else:   # bool, int, str, None
        assert type(ours) is type(theirs) and ours == theirs, (where, ours, theirs)


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _momenta(opt):
    return [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]


def _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, where):
    np.testing.assert_allclose(d_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12,
                               atol=1e-15, err_msg=where)
    np.testing.assert_allclose(_lrs(d_opt), _lrs(t_opt), rtol=1e-12, atol=1e-15, err_msg=where)
    np.testing.assert_allclose(_momenta(d_opt), _momenta(t_opt), rtol=1e-12, err_msg=where)


def _step(opt, sched, metric=None):
    opt.step()
    if metric is None:
        sched.step()
    else:
        sched.step(metric)


def _resume_from_torch(t_opt, t_sched, build, opt_name):
    """A fresh disttorch optimizer and scheduler that load torch's state (deep copies, so that
    nothing is shared with the torch objects)."""
    d_opt = _optimizers(opt_name)[1]
    d_sched = build(disttorch, d_opt)
    opt_state = t_opt.state_dict()
    assert opt_state["state"] == {}   # no gradients were ever taken: param_groups only
    d_opt.load_state_dict(copy.deepcopy(opt_state))
    d_sched.load_state_dict(copy.deepcopy(t_sched.state_dict()))
    return d_opt, d_sched


@pytest.mark.parametrize("build,opt_name", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_state_dict_equals_torch_and_resumes_from_it(build, opt_name):
    t_opt, d_opt = _optimizers(opt_name)
    t_sched, d_sched = build(torch, t_opt), build(disttorch, d_opt)
    _compare(d_sched.state_dict(), t_sched.state_dict(), "initial")
    for step in range(STEPS):
        _step(t_opt, t_sched)
        _step(d_opt, d_sched)
        _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, f"step {step}")
    _compare(d_sched.state_dict(), t_sched.state_dict(), f"after {STEPS} steps")

    d_opt, d_sched = _resume_from_torch(t_opt, t_sched, build, opt_name)
    _compare(d_sched.state_dict(), t_sched.state_dict(), "loaded from torch")
    _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, "loaded from torch")
    for step in range(MORE_STEPS):
        _step(t_opt, t_sched)
        _step(d_opt, d_sched)
        _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, f"resumed step {step}")
    _compare(d_sched.state_dict(), t_sched.state_dict(), "at the end")


def test_cyclic_callable_object_state_is_restored_from_torch():
    # The object's __dict__ travels in the state_dict: torch's decay overrides ours.
    t_opt, _ = _optimizers()
    t_sched = _cyclic_object(torch, t_opt)
    t_sched._scale_fn_custom.decay = 0.5
    for _ in range(5):
        _step(t_opt, t_sched)
    assert t_sched.state_dict()["_scale_fn_custom"] == {"decay": 0.5}
    d_opt, d_sched = _resume_from_torch(t_opt, t_sched, _cyclic_object, "SGD")
    assert d_sched._scale_fn_custom.decay == 0.5
    for step in range(10):
        _step(t_opt, t_sched)
        _step(d_opt, d_sched)
        _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, f"step {step}")


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.8, 0.81, 0.82, 0.83,
                   0.84, 0.7, 0.75, 0.75, 0.75, 0.75] * 2


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reduce_lr_on_plateau_state_dict_equals_torch(mode, threshold_mode):
    metrics = PLATEAU_METRICS if mode == "min" else [-m for m in PLATEAU_METRICS]
    kwargs = dict(mode=mode, factor=0.5, patience=2, threshold=0.01, threshold_mode=threshold_mode,
                  cooldown=1, min_lr=[0.02, 0.0], eps=1e-3)
    t_opt, d_opt = _optimizers()
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    d_sched = disttorch.optim.lr_scheduler.ReduceLROnPlateau(d_opt, **kwargs)

    def build(lib, opt):
        return lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)

    _compare(d_sched.state_dict(), t_sched.state_dict(), "initial")
    half = len(metrics) // 2
    for i, metric in enumerate(metrics[:half]):
        _step(t_opt, t_sched, metric)
        _step(d_opt, d_sched, metric)
        _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, f"step {i}")
        _compare(d_sched.state_dict(), t_sched.state_dict(), f"step {i}")

    d_opt, d_sched = _resume_from_torch(t_opt, t_sched, build, "SGD")
    _compare(d_sched.state_dict(), t_sched.state_dict(), "loaded from torch")
    for i, metric in enumerate(metrics[half:]):
        _step(t_opt, t_sched, metric)
        # a 0-dim tensor metric, as a training loop passes its loss
        _step(d_opt, d_sched, disttorch.tensor(metric, dtype=disttorch.float64))
        _assert_same_lrs(t_opt, d_opt, t_sched, d_sched, f"resumed step {i}")
        _compare(d_sched.state_dict(), t_sched.state_dict(), f"resumed step {i}")
