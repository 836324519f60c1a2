"""Unary ops and reductions over every dtype: the result dtype and values, or the error
(bool and integer inputs PyTorch has no kernel for), against torch's; and ``finfo``."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import (SWEEP_DTYPES as DTYPES, SWEEP_ERRORS, dtype_tensor,
                               record_mismatch, requires_bf16, requires_torch, summary, torch)
NAMES = ["abs","neg","sign","sgn","exp","exp2","expm1","log","log2","log10","log1p","sqrt","rsqrt","sin","cos","tan","asin","acos","atan","sinh","cosh","tanh","asinh","acosh","atanh","sigmoid","erf","erfc","erfinv","floor","ceil","round","trunc","frac","reciprocal","square","relu","lgamma","digamma","i0","sinc","logit","deg2rad","rad2deg","angle","isnan","isinf","isfinite","signbit","bitwise_not","logical_not","nan_to_num","positive","fix","clone","cumsum","cumprod","sum","mean","prod","amax","argmax","std","var","norm","softmax","log_softmax","count_nonzero","all","any","nansum","logsumexp","sort","argsort","unique","flip","cummax","max","min","median","trace","diag","tril","exp_","square_"]


def _call(lib, name, x):
    if name in ("cumsum", "cumprod", "softmax", "log_softmax", "argsort", "cummax"):
        result = getattr(lib, name)(x, 0)
        return result.values if name == "cummax" else result
    if name == "logsumexp":
        return lib.logsumexp(x, 0)
    if name == "sort":
        return lib.sort(x).values
    if name == "trace":
        return lib.trace(x.reshape(2, 2))
    if name in ("diag", "tril"):
        return getattr(lib, name)(x.reshape(2, 2))
    if name.endswith("_"):
        return getattr(x.clone(), name)()
    if name == "norm":
        return x.norm()
    return getattr(lib, name)(x)


def _outcome(lib, name, dtype):
    try:
        return summary(lib, _call(lib, name, dtype_tensor(lib, dtype, [1, 2, 0, 3])))
    except SWEEP_ERRORS as exc:
        return type(exc).__name__


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", NAMES)
def test_unary_op_dtypes_match_torch(name):
    failures = []
    for dtype in DTYPES:
        record_mismatch(failures, f"{name}({dtype})", _outcome(torch, name, dtype),
                        _outcome(disttorch, name, dtype))
    assert not failures, "\n".join(failures)


@requires_torch
@requires_bf16
@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_finfo_matches_torch(dtype):
    ours, theirs = disttorch.finfo(getattr(disttorch, dtype)), torch.finfo(getattr(torch, dtype))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, field) == getattr(theirs, field), field


@requires_torch
@requires_bf16
def test_erf_is_accurate_near_zero():
    # float32 erf as 1 - erfc kept erfc's absolute error: erf(1e-10) came out 3e-8
    points = np.array([1e-10, -1e-7, 1e-5, 0.3, -0.7, 0.99, 1.0, 1.5, -3.0], np.float32)
    expected = torch.erf(torch.from_numpy(points)).numpy()
    np.testing.assert_allclose(disttorch.erf(disttorch.from_numpy(points)).numpy(), expected,
                               rtol=2e-7, atol=0)


@requires_torch
@requires_bf16
def test_random_fills_take_bfloat16():
    for fill in (lambda t: t.uniform_(), lambda t: t.normal_(), lambda t: t.random_(),
                 lambda t: disttorch.nn.init.kaiming_uniform_(t)):
        t = disttorch.empty(64, 4, dtype=disttorch.bfloat16)
        assert fill(t).dtype == disttorch.bfloat16
    assert disttorch.rand(3, dtype=disttorch.bfloat16).dtype == disttorch.bfloat16
    # random_'s default range is [0, 2^digits], as PyTorch's: 256 for bfloat16
    assert float(disttorch.empty(20000, dtype=disttorch.bfloat16).random_().max()) == 256.0
    nan = disttorch.tensor([float("nan"), 1.0], dtype=disttorch.bfloat16)
    assert disttorch.nan_to_num(nan).tolist() == [0.0, 1.0]
