"""Unary math, clamp, where, lerp, addcmul/addcdiv against torch and finite differences."""
import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch


def _unit(rng, *shape):
    return np.asarray(rng.uniform(-0.9, 0.9, shape))


def _unary(name, gen=randn, **kw):
    return OpInfo(name, lambda lib, x, _n=name: getattr(lib, _n)(x),
                  lambda rng: [S(gen(rng, 3, 4)), S(gen(rng, 5)), S(gen(rng, 2, 1, 3))], **kw)


def _method(name, gen=randn, **kw):
    return OpInfo(name + "_method", lambda lib, x, _n=name: getattr(x, _n)(),
                  lambda rng: [S(gen(rng, 4, 3))], **kw)


def _away_from_int(rng, *shape):
    # keep finite differences away from the jumps of piecewise-constant ops
    return np.asarray(np.floor(rng.uniform(-3, 3, shape)) + rng.uniform(0.2, 0.8, shape))


OPS = [
    _unary("exp"), _unary("exp2"), _unary("expm1"), _unary("log", positive), _unary("log2", positive),
    _unary("log10", positive), _unary("log1p", positive), _unary("sqrt", positive),
    _unary("rsqrt", positive), _unary("sin"), _unary("cos"), _unary("tan", _unit), _unary("asin", _unit),
    _unary("acos", _unit), _unary("atan"), _unary("sinh"), _unary("cosh"), _unary("asinh"),
    _unary("acosh", lambda rng, *s: rng.uniform(1.5, 3, s)), _unary("atanh", _unit),
    _unary("tanh"), _unary("sigmoid"), _unary("erf", atol=2e-6), _unary("erfc", atol=2e-6),
    _unary("reciprocal", positive), _unary("abs", _away_from_int), _unary("neg"),
    _unary("sign", _away_from_int), _unary("floor", _away_from_int), _unary("ceil", _away_from_int),
    _unary("trunc", _away_from_int), _unary("round", _away_from_int), _unary("frac", _away_from_int),
    _unary("relu", _away_from_int), _unary("square"), _unary("deg2rad"), _unary("rad2deg"),
    _method("exp"), _method("sigmoid"), _method("tanh"), _method("abs", _away_from_int),
    OpInfo("round_decimals", lambda lib, x: lib.round(x, decimals=2),
           lambda rng: [S(rng.uniform(-3, 3, (4,)))], gradcheck=False),
    OpInfo("clamp", lambda lib, x: lib.clamp(x, -0.5, 0.7),
           lambda rng: [S(_away_from_int(rng, 4, 5) / 3)]),
    OpInfo("clamp_min", lambda lib, x: x.clamp(min=0.1), lambda rng: [S(_away_from_int(rng, 6) / 3)]),
    OpInfo("clamp_max", lambda lib, x: x.clamp(max=0.1), lambda rng: [S(_away_from_int(rng, 6) / 3)]),
    OpInfo("clamp_tensor", lambda lib, x, lo, hi: lib.clamp(x, lo, hi),
           lambda rng: [S(randn(rng, 3, 4), np.full((4,), -0.5), np.full((3, 1), 0.5))]),
    OpInfo("where", lambda lib, c, x, y: lib.where(c > 0, x, y),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4), randn(rng, 4), grad=[False, True, True])]),
    OpInfo("where_scalar", lambda lib, c, x: lib.where(c > 0, x, 0.5),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4), grad=[False, True])]),
    OpInfo("lerp", lambda lib, a, b: lib.lerp(a, b, 0.3), lambda rng: [S(randn(rng, 3), randn(rng, 3))]),
    OpInfo("lerp_tensor_weight", lambda lib, a, b, w: lib.lerp(a, b, w),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 3), randn(rng, 2, 1))]),
    OpInfo("addcmul", lambda lib, a, b, c: lib.addcmul(a, b, c, value=0.5),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4), randn(rng, 4))]),
    OpInfo("addcdiv", lambda lib, a, b, c: lib.addcdiv(a, b, c, value=-2),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3, 4), positive(rng, 4))]),
    OpInfo("nan_to_num", lambda lib, x: lib.nan_to_num(x / (x > 0), nan=0.5, posinf=9.0),
           lambda rng: [S(_away_from_int(rng, 8))], gradcheck=False, grad=False),
    OpInfo("logit", lambda lib, x: lib.logit(x), lambda rng: [S(rng.uniform(0.1, 0.9, (5,)))]),
    OpInfo("hypot", lambda lib, a, b: lib.hypot(a, b), lambda rng: [S(randn(rng, 4), randn(rng, 4))]),
    OpInfo("xlogy", lambda lib, a, b: lib.xlogy(a, b), lambda rng: [S(randn(rng, 4), positive(rng, 4))]),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


@requires_torch
@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"])
def test_predicates(name):
    data = np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
    ours = getattr(disttorch, name)(disttorch.from_numpy(data))
    theirs = getattr(torch, name)(torch.from_numpy(data))
    assert ours.dtype == disttorch.bool
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@requires_torch
@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "sigmoid", "tanh", "log1p"])
def test_int_inputs_promote_to_default_float(name):
    x = np.arange(1, 5)
    ours = getattr(disttorch, name)(disttorch.from_numpy(x))
    theirs = getattr(torch, name)(torch.from_numpy(x))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_sigmoid_is_stable_for_large_inputs():
    x = disttorch.tensor([-1000.0, 1000.0, 0.0])
    np.testing.assert_array_equal(disttorch.sigmoid(x).numpy(), [0.0, 1.0, 0.5])


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        disttorch.clamp(disttorch.ones(2))


def test_where_needs_bool_condition():
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        disttorch.where(disttorch.ones(2), disttorch.ones(2), disttorch.zeros(2))
    with pytest.raises(RuntimeError, match="but got a tensor with dtype Long$"):   # torch's name
        disttorch.where(disttorch.tensor([1, 0]), disttorch.ones(2), disttorch.zeros(2))


@pytest.mark.parametrize("name", ["exp_", "sigmoid_", "tanh_", "clamp_", "abs_", "sqrt_"])
def test_inplace_unary_matches_out_of_place(name):
    x = disttorch.tensor([0.25, 0.5, 2.0])
    args = (0.3, 1.0) if name == "clamp_" else ()
    expected = getattr(disttorch, name[:-1])(x, *args)
    version = x._version
    out = getattr(x, name)(*args)
    assert out is x and x._version == version + 1
    np.testing.assert_allclose(x.numpy(), expected.numpy())
