"""Unary ops and reductions over every dtype: the result dtype and values, or the error
(bool and integer inputs PyTorch has no kernel for), against torch's; and ``finfo``."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import (SWEEP_DTYPES as DTYPES, SWEEP_ERRORS, assert_same_outcomes,
                               dtype_tensor, outcome,
                               record_mismatch, requires_bf16, requires_torch, summary, torch)
NAMES = ["abs", "neg", "sign", "sgn", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
         "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
         "asinh", "acosh", "atanh", "sigmoid", "erf", "erfc", "erfinv", "floor", "ceil", "round",
         "trunc", "frac", "reciprocal", "square", "relu", "lgamma", "digamma", "i0", "sinc", "logit",
         "deg2rad", "rad2deg", "angle", "isnan", "isinf", "isfinite", "signbit", "bitwise_not",
         "logical_not", "nan_to_num", "positive", "fix", "clone", "cumsum", "cumprod", "sum", "mean",
         "prod", "amax", "argmax", "std", "var", "norm", "softmax", "log_softmax", "count_nonzero",
         "all", "any", "nansum", "logsumexp", "sort", "argsort", "unique", "flip", "cummax", "max",
         "min", "median", "trace", "diag", "tril", "exp_", "square_"]


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
    return outcome(lib, lambda: _call(lib, name, dtype_tensor(lib, dtype, [1, 2, 0, 3])))


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", NAMES)
def test_unary_op_dtypes_match_torch(name):
    assert_same_outcomes((f"{name}({dtype})", lambda lib, d=dtype: _outcome(lib, name, d))
                         for dtype in DTYPES)


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


# reductions, products and sorts with their dim/keepdim/dtype arguments, over every dtype
REDUCTIONS = {
    "sum": lambda lib, x: x.sum(),
    "sum_dim": lambda lib, x: x.sum(1),
    "sum_keep": lambda lib, x: x.sum(1, keepdim=True),
    "sum_dtype": lambda lib, x: x.sum(dtype=lib.float64),
    "sum_dtype_int": lambda lib, x: x.sum(1, dtype=lib.int32),
    "mean": lambda lib, x: x.mean(),
    "mean_dtype": lambda lib, x: x.mean(dtype=lib.float32),
    "prod": lambda lib, x: x.prod(),
    "prod_dim": lambda lib, x: x.prod(1),
    "cumsum": lambda lib, x: x.cumsum(1),
    "cumsum_dtype": lambda lib, x: x.cumsum(1, dtype=lib.float64),
    "cumprod": lambda lib, x: x.cumprod(0),
    "max": lambda lib, x: x.max(),
    "max_dim": lambda lib, x: x.max(1).values,
    "amax": lambda lib, x: x.amax(0),
    "min": lambda lib, x: x.min(),
    "argmax": lambda lib, x: x.argmax(),
    "argmin_dim": lambda lib, x: x.argmin(1),
    "std": lambda lib, x: x.std(),
    "var": lambda lib, x: x.var(1),
    "median": lambda lib, x: x.median(),
    "nanmean": lambda lib, x: x.nanmean(),
    "nansum": lambda lib, x: x.nansum(),
    "norm": lambda lib, x: x.norm(),
    "logsumexp": lambda lib, x: x.logsumexp(1),
    "count_nonzero": lambda lib, x: x.count_nonzero(1),
    "all": lambda lib, x: x.all(1),
    "any": lambda lib, x: x.any(),
    "aminmax": lambda lib, x: x.aminmax()[0],
    "mode": lambda lib, x: x.mode(1).values,
    "unique": lambda lib, x: x.unique(),
    "bincount": lambda lib, x: x.flatten().bincount(),
    "histc": lambda lib, x: x.histc(4),
    "sort": lambda lib, x: x.sort(1).values,
    "topk": lambda lib, x: x.topk(2).values,
    "kthvalue": lambda lib, x: x.kthvalue(1).values,
    "diff": lambda lib, x: x.diff(),
    "cummax": lambda lib, x: x.cummax(1).values,
    "quantile": lambda lib, x: x.quantile(0.5),
    "dot": lambda lib, x: x[0].dot(x[1]),
    "matmul": lambda lib, x: x @ x.T,
    "mv": lambda lib, x: x.mv(x[0]),
    "outer": lambda lib, x: x[0].outer(x[1]),
    "trace": lambda lib, x: x[:, :2].trace(), "cross": lambda lib, x: x.cross(x.flip(0), dim=1),
    "einsum": lambda lib, x: lib.einsum("ij,ij->i", x, x),
    "tensordot": lambda lib, x: lib.tensordot(x, x, dims=([1], [1])),
}


def _reduction_outcome(lib, name, dtype):
    rows = [[1, 2, 0], [3, 1, 2]]
    return outcome(lib, lambda: REDUCTIONS[name](lib, dtype_tensor(lib, dtype, rows)),
                   SWEEP_ERRORS + (IndexError, ValueError))


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_dtypes_match_torch(name):
    assert_same_outcomes((f"{name}({dtype})",
                          lambda lib, d=dtype: _reduction_outcome(lib, name, d))
                         for dtype in DTYPES)


CAST_FLOATS = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1.5, -1.5, 2.5, -2.7, 255.0,
               256.0, -1.0, 300.7, 65504.0, 70000.0, 3e38, 1e-8, 127.5, -128.5, 1e10, -1e10]
CAST_INTS = [0, 1, -1, 127, 128, 255, 256, -129, 2 ** 31 - 1, -2 ** 31, 2 ** 40]


@requires_torch
@requires_bf16
@pytest.mark.parametrize("source", ["float32", "float64", "float16", "bfloat16", "int64", "int32",
                                    "int16", "int8", "uint8", "bool"])
def test_casts_match_torch(source):
    # every value PyTorch's casts treat specially: NaN and inf to integers, negative floats to
    # uint8 (through int64), out-of-range floats and ints, half-precision rounding
    values = CAST_INTS if source in ("int64", "int32", "int16", "int8", "uint8", "bool") \
        else CAST_FLOATS
    start = "int64" if values is CAST_INTS else "float64"
    failures = []
    for target in DTYPES:
        results = []
        for lib in (torch, disttorch):
            x = lib.tensor(values, dtype=getattr(lib, start)).to(getattr(lib, source))
            results.append(summary(lib, x.to(getattr(lib, target))))
        record_mismatch(failures, f"{source} -> {target}", results[0], results[1], rtol=0)
    assert not failures, "\n".join(failures)
