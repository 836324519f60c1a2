"""Pooling (max with indices, average with count_include_pad/divisor_override, power-average,
adaptive max and average) over kernel, stride, padding, dilation and ceil_mode, on an input
holding NaNs, and interpolate over every mode, size, scale, align_corners and
recompute_scale_factor: values and gradients against torch."""
import itertools

import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

_RNG = np.random.default_rng(1)
X = _RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)
X[0, 0, 0, :3] = np.nan   # a NaN stays in its own windows; a max takes the last NaN


def _run(lib, fn, x):
    t = lib.tensor(x, requires_grad=True)
    try:
        y = fn(lib, t)
        y = y[0] if isinstance(y, tuple) else y
        weights = (np.arange(int(np.prod(y.shape))) % 5).astype(np.float32).reshape(
            tuple(y.shape))
        (y * lib.tensor(weights)).sum().backward()
    except (RuntimeError, ValueError) as exc:
        return type(exc).__name__
    return y.detach().numpy(), t.grad.numpy()


def _compare(fn, x, label):
    expected, actual = _run(torch, fn, x), _run(disttorch, fn, x)
    if isinstance(expected, str) or isinstance(actual, str):
        assert actual == expected, label
        return
    assert actual[0].shape == expected[0].shape, label
    np.testing.assert_allclose(actual[0], expected[0], atol=1e-5, equal_nan=True, err_msg=label)
    np.testing.assert_allclose(actual[1], expected[1], atol=1e-4, equal_nan=True, err_msg=label)


def _pool_cases():
    for k, s, p, d, ceil in itertools.product((2, 3), (1, 2, 3), (0, 1), (1, 2), (False, True)):
        yield (f"max k{k} s{s} p{p} d{d} ceil{ceil}",
               lambda lib, t, k=k, s=s, p=p, d=d, c=ceil: lib.nn.functional.max_pool2d(
                   t, k, s, p, d, ceil_mode=c, return_indices=True))
        if d == 1:
            for include, divisor in itertools.product((True, False), (None, 3)):
                yield (f"avg k{k} s{s} p{p} ceil{ceil} include{include} div{divisor}",
                       lambda lib, t, k=k, s=s, p=p, c=ceil, i=include, v=divisor:
                       lib.nn.functional.avg_pool2d(t, k, s, p, ceil_mode=c,
                                                    count_include_pad=i, divisor_override=v))
            yield (f"lp k{k} s{s} ceil{ceil}",
                   lambda lib, t, k=k, s=s, c=ceil: lib.nn.functional.lp_pool2d(
                       t.abs() + 0.1, 2, k, s, ceil_mode=c))
    for size in ((1, 1), (3, 2), (4, 5), (9, 8), (5, None), (10, 3)):
        yield (f"adaptive max {size}",
               lambda lib, t, z=size: lib.nn.functional.adaptive_max_pool2d(t, z))
        yield (f"adaptive avg {size}",
               lambda lib, t, z=size: lib.nn.functional.adaptive_avg_pool2d(t, z))


POOL_CASES = list(_pool_cases())


@requires_torch
@pytest.mark.parametrize("label,fn", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pooling_matches_torch(label, fn):
    _compare(fn, X, label)


_INPUTS = {1: _RNG.standard_normal((2, 3, 7)).astype(np.float32),
           2: _RNG.standard_normal((2, 3, 5, 6)).astype(np.float32),
           3: _RNG.standard_normal((1, 2, 3, 4, 5)).astype(np.float32)}
_MODES = {1: ["nearest", "linear", "nearest-exact", "area"],
          2: ["nearest", "bilinear", "bicubic", "nearest-exact", "area"],
          3: ["nearest", "trilinear", "area", "nearest-exact"]}
_SMOOTH = ("linear", "bilinear", "bicubic", "trilinear")


@requires_torch
@pytest.mark.parametrize("d,mode", [(d, m) for d in (1, 2, 3) for m in _MODES[d]])
def test_interpolate_matches_torch(d, mode):
    x = _INPUTS[d]
    for size, scale in ((None, 2.0), (None, 0.5), (None, 1.7), (None, 0.3), ((3,) * d, None),
                        ((11,) * d, None)):
        for corners in ((None, False, True) if mode in _SMOOTH else (None,)):
            for recompute in ((None, True) if scale is not None else (None,)):
                _compare(lambda lib, t: lib.nn.functional.interpolate(
                    t, size=size, scale_factor=scale, mode=mode, align_corners=corners,
                    recompute_scale_factor=recompute), x,
                    f"{mode} size={size} scale={scale} corners={corners} recompute={recompute}")
