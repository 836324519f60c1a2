"""Pooling functions and modules against torch (values, indices, gradients), finite
differences, double backward and PyTorch's error messages."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch


def _op(name, fn, *shapes, sample=randn, **kw):
    return OpInfo(name, fn, lambda rng: [S(sample(rng, *s)) for s in shapes], **kw)


def _unpool(lib, x):
    out, index = lib.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)
    return lib.nn.functional.max_unpool2d(out, index, 3, 2, 1, output_size=x.shape[-2:])


def _unpool1d(lib, x):
    out, index = lib.nn.functional.max_pool1d(x, 2, return_indices=True)
    return lib.nn.functional.max_unpool1d(out, index, 2)


_SAMPLES = np.random.default_rng(7).uniform(0, 1, (2, 3, 2))

OPS = [
    _op("max_pool1d", lambda lib, x: lib.nn.functional.max_pool1d(x, 3, 2, 1, return_indices=True),
        (2, 3, 9), (3, 8)),
    _op("max_pool1d_ceil_dilation", lambda lib, x: lib.nn.functional.max_pool1d(
        x, 2, 2, 1, dilation=2, ceil_mode=True), (2, 3, 10)),
    _op("max_pool2d", lambda lib, x: lib.nn.functional.max_pool2d(x, 2, return_indices=True),
        (2, 3, 6, 7)),
    _op("max_pool2d_overlap_pad", lambda lib, x: lib.nn.functional.max_pool2d(
        x, 3, 2, 1, return_indices=True), (2, 3, 7, 6), (3, 5, 5)),
    _op("max_pool2d_ceil", lambda lib, x: lib.nn.functional.max_pool2d(
        x, (3, 2), (2, 3), (1, 0), dilation=(1, 2), ceil_mode=True, return_indices=True),
        (2, 2, 8, 9)),
    _op("max_pool3d", lambda lib, x: lib.nn.functional.max_pool3d(
        x, 2, (1, 2, 2), ceil_mode=True, return_indices=True), (1, 2, 3, 5, 4)),
    _op("avg_pool1d", lambda lib, x: lib.nn.functional.avg_pool1d(x, 3, 2, 1), (2, 3, 9), (3, 8)),
    _op("avg_pool1d_ceil_nopad", lambda lib, x: lib.nn.functional.avg_pool1d(
        x, 4, 3, 2, ceil_mode=True, count_include_pad=False), (2, 3, 10)),
    _op("avg_pool2d", lambda lib, x: lib.nn.functional.avg_pool2d(x, 2), (2, 3, 6, 7)),
    _op("avg_pool2d_pad_ceil", lambda lib, x: lib.nn.functional.avg_pool2d(
        x, 3, 2, 1, ceil_mode=True), (2, 3, 8, 7)),
    _op("avg_pool2d_exclude_pad", lambda lib, x: lib.nn.functional.avg_pool2d(
        x, (3, 2), (2, 1), (1, 1), ceil_mode=True, count_include_pad=False), (2, 3, 8, 7)),
    _op("avg_pool2d_divisor", lambda lib, x: lib.nn.functional.avg_pool2d(
        x, 3, 2, 1, divisor_override=5), (3, 7, 6)),
    _op("avg_pool3d", lambda lib, x: lib.nn.functional.avg_pool3d(x, 2, padding=(1, 0, 1)),
        (1, 2, 3, 4, 5)),
    _op("adaptive_avg_pool1d", lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x, 4),
        (2, 3, 9), (3, 5)),
    _op("adaptive_avg_pool2d", lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (4, 3)),
        (2, 3, 9, 7)),
    _op("adaptive_avg_pool2d_none_upsample", lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(
        x, (None, 8)), (2, 3, 4, 5)),
    _op("adaptive_avg_pool2d_global", lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 1),
        (2, 3, 5, 5)),
    _op("adaptive_avg_pool3d", lambda lib, x: lib.nn.functional.adaptive_avg_pool3d(x, (2, 3, 2)),
        (1, 2, 3, 5, 4)),
    _op("adaptive_max_pool1d", lambda lib, x: lib.nn.functional.adaptive_max_pool1d(
        x, 4, return_indices=True), (2, 3, 9)),
    _op("adaptive_max_pool2d", lambda lib, x: lib.nn.functional.adaptive_max_pool2d(
        x, (4, 3), return_indices=True), (2, 3, 9, 7), (3, 5, 5)),
    _op("adaptive_max_pool3d", lambda lib, x: lib.nn.functional.adaptive_max_pool3d(x, 2),
        (1, 2, 3, 5, 4)),
    _op("lp_pool1d", lambda lib, x: lib.nn.functional.lp_pool1d(x, 2, 3, 2), (2, 3, 9)),
    _op("lp_pool2d", lambda lib, x: lib.nn.functional.lp_pool2d(x, 1.5, (2, 3), ceil_mode=True),
        (2, 3, 7, 8), sample=positive),
    # overlapping windows share maxima: unpooling writes each once, so (as in torch) the
    # composed gradient counts them per window and is not the finite-difference one
    _op("max_unpool2d_overlapping", _unpool, (2, 3, 7, 6), gradcheck=False),
    _op("max_unpool2d", lambda lib, x: lib.nn.functional.max_unpool2d(
        *lib.nn.functional.max_pool2d(x, 2, return_indices=True), 2), (2, 3, 6, 4), (3, 4, 6)),
    _op("max_unpool1d", _unpool1d, (2, 3, 8), (3, 8)),
    _op("fractional_max_pool2d", lambda lib, x: lib.nn.functional.fractional_max_pool2d(
        x, 3, output_size=(4, 5), _random_samples=lib.tensor(_SAMPLES, dtype=x.dtype)),
        (2, 3, 8, 9)),
    _op("max_unpool3d", lambda lib, x: lib.nn.functional.max_unpool3d(
        *lib.nn.functional.max_pool3d(x, 2, return_indices=True), 2, output_size=(5, 4, 5)),
        (1, 2, 5, 4, 5)),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


@requires_torch
def test_max_pool_ties_and_infinities():
    x = np.zeros((1, 1, 4, 4), dtype=np.float32)
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = 1
    x[0, 0, 3, 0] = -np.inf
    for lib in (disttorch, torch):
        t = lib.tensor(x, requires_grad=True)
        out, index = lib.nn.functional.max_pool2d(t, 3, 1, 1, return_indices=True)
        out.sum().backward()
        if lib is disttorch:
            got = (out.detach().numpy(), index.numpy(), t.grad.numpy())
        else:
            want = (out.detach().numpy(), index.numpy(), t.grad.numpy())
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@requires_torch
@pytest.mark.parametrize("nan", [False, True], ids=["ties", "nan"])
def test_max_pool_disjoint_blocks_ties(nan):
    # stride == kernel takes the blockwise path: first maximum in row-major order, NaN wins
    x = np.zeros((2, 3, 7, 9), dtype=np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = x[0, 1, 1, 1] = x[0, 1, 1, 2] = 1
    x[1, 2, :2, :3] = -np.inf
    x[1, 0] = np.random.default_rng(0).integers(0, 2, (7, 9))
    if nan:
        x[0, 2, 2, 3] = x[0, 2, 3, 2] = x[1, 1, 0, 0] = np.nan
    for kernel in (2, (2, 3), (3, 1)):
        results = []
        for lib in (disttorch, torch):
            t = lib.tensor(x, requires_grad=True)
            out, index = lib.nn.functional.max_pool2d(t, kernel, return_indices=True)
            weight = lib.arange(out.numel(), dtype=lib.float32).reshape(out.shape)
            weight[0, 0, 0, 0] = float("inf")        # an infinite gradient stays in its tap
            (out * weight).sum().backward()
            results.append((out.detach().numpy(), index.numpy(), t.grad.numpy()))
        for g, w in zip(*results):
            np.testing.assert_array_equal(g, w)


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.functional.max_pool2d(x, (2, 3)),
    lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1),
    lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (3, 2)),
    lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (3, 2)),
], ids=["max_blocks", "max", "avg", "adaptive_avg", "adaptive_max"])
def test_double_backward(fn):
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 5))
    results = []
    for lib in (disttorch, torch):
        t = lib.tensor(x, requires_grad=True)
        y = fn(lib, t)
        g, = lib.autograd.grad((y * y * y).sum(), t, create_graph=True)
        (g * g).sum().backward()
        results.append(t.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-10)


POOL_MODULES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 7)),
    ("MaxPool2d", ((3, 2),), dict(stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
     (2, 3, 8, 9)),
    ("MaxPool3d", (2,), dict(ceil_mode=True), (1, 2, 3, 5, 4)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 9)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (3, 8, 7)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (2, 3, 6, 6)),
    ("AvgPool3d", (2,), dict(stride=1), (1, 2, 3, 4, 3)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((5, None),), {}, (2, 3, 9, 7)),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 3, 5, 4)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 7, 8)),
    ("AdaptiveMaxPool3d", ((1, 2, 3),), {}, (1, 2, 3, 5, 4)),
    ("LPPool1d", (2, 3), dict(stride=2), (2, 3, 9)),
    ("LPPool2d", (3, (2, 2)), dict(ceil_mode=True), (2, 3, 5, 7)),
    ("LPPool3d", (2, 2), dict(stride=(1, 2, 1)), (1, 2, 3, 5, 4)),
]


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,shape", POOL_MODULES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL_MODULES)])
def test_pool_module(name, args, kwargs, shape, dtype):
    d_module = getattr(nn, name)(*args, **kwargs)
    t_module = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(d_module) == repr(t_module)
    x = np.abs(np.random.default_rng(0).standard_normal(shape)).astype(dtype) + 0.1
    dx = disttorch.from_numpy(x.copy()).requires_grad_()
    tx = torch.from_numpy(x.copy()).requires_grad_()
    d_out, t_out = d_module(dx), t_module(tx)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    d_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
def test_unpool_modules_and_indices():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 8)).astype(np.float32)
    results = []
    for lib in (disttorch, torch):
        pool = lib.nn.MaxPool2d(2, return_indices=True)
        unpool = lib.nn.MaxUnpool2d(2)
        t = lib.tensor(x, requires_grad=True)
        out, index = pool(t)
        restored = unpool(out, index, output_size=t.size())
        restored.sum().backward()
        results.append((index.numpy(), restored.detach().numpy(), t.grad.numpy(), repr(unpool)))
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)
    assert results[0][0].dtype == np.int64


@pytest.mark.parametrize("fn,message", [
    (lambda lib: lib.nn.functional.max_pool2d(lib.zeros(2, 4, 8, 8), 3, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
     "dilation=1"),
    (lambda lib: lib.nn.functional.avg_pool2d(lib.zeros(2, 4, 8, 8), 3, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
     "dilation=1"),
    (lambda lib: lib.nn.functional.max_pool2d(lib.zeros(4, 3), 2),
     "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda lib: lib.nn.functional.max_pool1d(lib.zeros(2, 4, 3, 3), 2),
     "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, "
     "but got:[2, 4, 3, 3]"),
    (lambda lib: lib.nn.functional.avg_pool2d(lib.zeros(2, 4, 2, 2), 3),
     "Given input size: (4x2x2). Calculated output size: (4x0x0). Output size is too small"),
    (lambda lib: lib.nn.functional.adaptive_avg_pool2d(lib.zeros(4), 2),
     "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [4]"),
], ids=["max_pad", "avg_pad", "max_rank", "max1d_rank", "too_small", "adaptive_rank"])
def test_errors(fn, message):
    with pytest.raises(RuntimeError) as err:
        fn(disttorch)
    assert str(err.value) == message
    if torch is not None:
        with pytest.raises(RuntimeError) as t_err:
            fn(torch)
        assert str(t_err.value) == message


@pytest.mark.parametrize("fn", [
    lambda F, x: F.adaptive_avg_pool2d(x, (2, 3)),
    lambda F, x: F.adaptive_max_pool2d(x, 3),
    lambda F, x: F.max_pool2d(x, 3, 2, 1),
    lambda F, x: F.avg_pool2d(x, 2, ceil_mode=True),
], ids=["adaptive_avg", "adaptive_max", "max", "avg"])
def test_backward_twice_with_retained_graph(fn):
    x = disttorch.randn(2, 3, 5, 7, requires_grad=True)
    y = fn(disttorch.nn.functional, x)
    g = disttorch.randn(*y.shape)
    y.backward(g, retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    y.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), first)


@requires_torch
def test_integer_inputs():
    x = np.random.default_rng(0).integers(-50, 50, (2, 3, 7, 6))
    results = []
    for lib in (disttorch, torch):
        t = lib.tensor(x)
        F = lib.nn.functional
        outs = [F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                F.max_pool2d(t, 2, return_indices=True)[0]]
        results.append([(str(o.dtype).split(".")[-1], o.numpy()) for o in outs])
        with pytest.raises(NotImplementedError, match="\"adaptive_avg_pool2d\" not implemented "
                                                      "for 'Long'"):
            F.adaptive_avg_pool2d(t, 2)
    for (d_dtype, got), (t_dtype, want) in zip(*results):
        assert d_dtype == t_dtype
        np.testing.assert_array_equal(got, want)


def _fractional(lib, x, samples, d=2, **kwargs):
    pool = getattr(lib.nn.functional, f"fractional_max_pool{d}d")
    return pool(x, return_indices=True, _random_samples=lib.from_numpy(samples.copy()), **kwargs)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("d,x_shape,kwargs", [
    (2, (2, 3, 9, 11), dict(kernel_size=3, output_size=(5, 6))),
    (2, (2, 3, 9, 11), dict(kernel_size=(2, 3), output_ratio=(0.5, 0.6))),
    (2, (3, 9, 11), dict(kernel_size=2, output_size=(8, 2))),
    (3, (2, 2, 7, 8, 9), dict(kernel_size=2, output_size=(4, 5, 3))),
], ids=["2d_size", "2d_ratio", "2d_unbatched", "3d"])
def test_fractional_max_pool(d, x_shape, kwargs, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    planes = (1,) + x_shape[:1] if len(x_shape) == d + 1 else x_shape[:2]
    samples = rng.uniform(0, 1, planes + (d,)).astype(dtype)
    results = []
    for lib in (disttorch, torch):
        t = lib.from_numpy(x.copy()).requires_grad_()
        out, index = _fractional(lib, t, samples, d, **kwargs)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), index.numpy(), t.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_fractional_max_pool_module_and_errors():
    pool = nn.FractionalMaxPool2d(3, output_ratio=0.5)
    assert tuple(pool(disttorch.randn(2, 3, 10, 12)).shape) == (2, 3, 5, 6)
    with pytest.raises(ValueError, match="requires specifying either an output size"):
        nn.FractionalMaxPool2d(3)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool3d(2, output_ratio=1.5)
    with pytest.raises(RuntimeError, match="fractional_max_pool2d\\(\\): pool width 3 too large "
                                           "relative to input width 8"):
        disttorch.nn.functional.fractional_max_pool2d(disttorch.zeros(2, 3, 8, 8), 3,
                                                      output_size=(4, 7))
