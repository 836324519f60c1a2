"""Values and gradients at NaN, infinities, signed zeros and the kinks of piecewise functions,
against torch: which branch a NaN takes is PyTorch's choice of comparison (``x <= 0 ? 0 : g``
passes a NaN's gradient, ``x > 0 ? g : 0`` would not), and the finite-difference checks never
visit these points."""
import math

import numpy as np
import pytest

import disttorch
from tests.cuda.conftest import on_device
from tests.ops.harness import requires_torch, torch

POINTS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 6.0, 0.5, -0.5, 3.0, -3.0,
          20.0, -20.0]


def _f(lib):
    return lib.nn.functional


FUNCTIONS = {
    "relu": lambda lib, x: _f(lib).relu(x),
    "relu6": lambda lib, x: _f(lib).relu6(x),
    "hardtanh": lambda lib, x: _f(lib).hardtanh(x),
    "threshold": lambda lib, x: _f(lib).threshold(x, 0.5, -2.0),
    "leaky_relu": lambda lib, x: _f(lib).leaky_relu(x, 0.2),
    "elu": lambda lib, x: _f(lib).elu(x),
    "selu": lambda lib, x: _f(lib).selu(x),
    "celu": lambda lib, x: _f(lib).celu(x, 1.5),
    "gelu_tanh": lambda lib, x: _f(lib).gelu(x, approximate="tanh"),
    "silu": lambda lib, x: _f(lib).silu(x),
    "mish": lambda lib, x: _f(lib).mish(x),
    "sigmoid": lambda lib, x: lib.sigmoid(x),
    "tanh": lambda lib, x: lib.tanh(x),
    "softplus": lambda lib, x: _f(lib).softplus(x),
    "hardsigmoid": lambda lib, x: _f(lib).hardsigmoid(x),
    "hardswish": lambda lib, x: _f(lib).hardswish(x),
    "logsigmoid": lambda lib, x: _f(lib).logsigmoid(x),
    "softshrink": lambda lib, x: _f(lib).softshrink(x),
    "hardshrink": lambda lib, x: _f(lib).hardshrink(x),
    "tanhshrink": lambda lib, x: _f(lib).tanhshrink(x),
    "clamp": lambda lib, x: x.clamp(-1, 1),
    "abs": lambda lib, x: x.abs(),
    "sign": lambda lib, x: x.sign() * x,
    "maximum": lambda lib, x: lib.maximum(x, lib.zeros_like(x)),
    "minimum": lambda lib, x: lib.minimum(lib.zeros_like(x), x),
    "where": lambda lib, x: lib.where(x > 0, x, x * 2),
    # an inf or NaN gradient reaching an op whose derivative is 0 (a branch not taken, a
    # piecewise-constant op, exponent 0) still gives exactly 0 there, not inf * 0
    "where_scaled": lambda lib, x: lib.where(x > 0, x, -x) * x,
    "floor_scaled": lambda lib, x: x.floor() * x,
    "pow0_scaled": lambda lib, x: x.pow(0) * x,
    "pow_tensor0_scaled": lambda lib, x: x.pow(lib.zeros_like(x)) * x,
    "std": lambda lib, x: (x * 0).std() * x,
    "softmax": lambda lib, x: lib.softmax(x, 0),
    "log_softmax": lambda lib, x: lib.log_softmax(x, 0),
    "amax": lambda lib, x: x.amax(),
    "amin": lambda lib, x: x.amin(),
    "max": lambda lib, x: x.max(),
    "norm1": lambda lib, x: x.norm(1),
    "norm_inf": lambda lib, x: x.norm(math.inf),
    "prelu": lambda lib, x: _f(lib).prelu(x, lib.tensor([0.25])),
    "logsumexp": lambda lib, x: x.logsumexp(0),
    "asin": lambda lib, x: x.asin(),
    "acos": lambda lib, x: x.acos(),
    "digamma": lambda lib, x: x.digamma(),      # its gradient is trigamma
}
# Points left out per function, on purpose: at the poles of trigamma (the non-positive
# integers) torch's series gives a large finite value (6.6e32 at -1), disttorch inf.
# hardswish at NaN: PyTorch's answer depends on the tensor's length (its scalar kernel passes
# the gradient, its vectorised one gives NaN); disttorch passes it.
SKIP = {"digamma": {-1.0, -3.0, -20.0}, "hardswish": {math.nan}}
# Left out on purpose: torch's CPU gelu(inf) is NaN (its vectorised erf), disttorch's is inf;
# softsign at +-inf, where torch differentiates x / (1 + |x|) as a quotient (inf / inf: NaN)
# and disttorch uses 1 / (1 + |x|)^2 (0).


# Tensors of 64 elements: PyTorch's CPU kernels take their vectorised path then, which is what
# real tensors meet. At NaN some of its scalar (tail) paths answer differently (hardtanh,
# the shrinks and the ELU family pass a NaN's gradient there, not in the vectorised path).
_FILL = 63


def _value_and_grad(lib, name, point, device="cpu"):
    x = lib.tensor([point, 1.0, -2.5] + [0.25] * (_FILL - 2), device=device).requires_grad_()
    y = FUNCTIONS[name](lib, x)
    y.sum().backward()
    return (np.asarray(y.detach().cpu().tolist(), dtype=float),
            np.asarray(x.grad.cpu().tolist(), dtype=float))


@requires_torch
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_value_and_gradient_at_special_points_match_torch(name):
    failures = []
    for point in POINTS:
        if point in SKIP.get(name, ()):
            continue
        expected = _value_and_grad(torch, name, point)
        actual = _value_and_grad(disttorch, name, point)
        for what, e, a in zip(("value", "gradient"), expected, actual):
            if not np.allclose(a, e, rtol=1e-5, atol=1e-6, equal_nan=True):
                failures.append(f"{name} at {point}: {what} {a.tolist()}, torch {e.tolist()}")
    assert not failures, "\n".join(failures)


@requires_torch
@pytest.mark.parametrize("kind", ["cuda-sim", "cuda-emu", "cuda"])
def test_relu_passes_a_nans_gradient_on_the_device(kind):
    # the generic ReLU, and on the emulator the fused bias + ReLU kernels of a Linear + ReLU
    weight = np.array([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], np.float32)
    x = np.array([[math.nan, 1.0], [2.0, 3.0]], np.float32)

    def run(lib, device):
        layer = lib.nn.Linear(2, 3).to(device)
        with lib.no_grad():
            layer.weight.copy_(lib.from_numpy(weight))
            layer.bias.fill_(0.5)
        model = lib.nn.Sequential(layer, lib.nn.ReLU())
        xt = lib.from_numpy(x.copy()).to(device).requires_grad_()
        model(xt).sum().backward()
        return [t.detach().cpu().numpy() for t in (xt.grad, layer.weight.grad, layer.bias.grad)]

    expected = run(torch, "cpu")
    for device in on_device(kind):
        actual = run(disttorch, device)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-6, equal_nan=True)


BINARY_POINTS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0]


def _unit(lib, b):
    return b.clamp(0, 1).nan_to_num(0.5)


BINARY = {
    "pow": lambda lib, a, b: lib.pow(a, b),
    "div": lambda lib, a, b: a / b,
    "div_floor": lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
    "remainder": lambda lib, a, b: lib.remainder(a, b),
    "fmod": lambda lib, a, b: lib.fmod(a, b),
    "atan2": lambda lib, a, b: lib.atan2(a, b),
    "hypot": lambda lib, a, b: lib.hypot(a, b),
    "copysign": lambda lib, a, b: lib.copysign(a, b),
    "xlogy": lambda lib, a, b: lib.xlogy(a, b),
    "xlog1py": lambda lib, a, b: lib.special.xlog1py(a, b),
    "logaddexp": lambda lib, a, b: lib.logaddexp(a, b),
    "logaddexp2": lambda lib, a, b: lib.logaddexp2(a, b),
    "fmax": lambda lib, a, b: lib.fmax(a, b),
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "lerp": lambda lib, a, b: lib.lerp(a, b, 0.3),
    "lerp_tensor_weight": lambda lib, a, b: lib.lerp(a, b, a),
    "addcdiv": lambda lib, a, b: lib.addcdiv(a, a, b, value=0.5),
    "dist": lambda lib, a, b: lib.dist(a, b),
    "smooth_l1": lambda lib, a, b: _f(lib).smooth_l1_loss(a, b, reduction="none", beta=0.5),
    "huber": lambda lib, a, b: _f(lib).huber_loss(a, b, reduction="none", delta=2.0),
    "l1": lambda lib, a, b: _f(lib).l1_loss(a, b, reduction="none"),
    "bce_logits": lambda lib, a, b: _f(lib).binary_cross_entropy_with_logits(
        a, _unit(lib, b), reduction="none"),
    "bce": lambda lib, a, b: _f(lib).binary_cross_entropy(a.clamp(0, 1), _unit(lib, b),
                                                          reduction="none"),
    "soft_margin": lambda lib, a, b: _f(lib).soft_margin_loss(a, b, reduction="none"),
    "poisson_nll": lambda lib, a, b: _f(lib).poisson_nll_loss(a, b, reduction="none"),
    "kl_div": lambda lib, a, b: _f(lib).kl_div(a, b, reduction="none"),
    "kl_div_log_target": lambda lib, a, b: _f(lib).kl_div(a, b, reduction="none",
                                                          log_target=True),
}


def _binary_run(lib, name, pa, pb):
    a = lib.tensor([pa] + [0.7] * _FILL, dtype=lib.float64, requires_grad=True)
    b = lib.tensor([pb] + [1.3] * _FILL, dtype=lib.float64, requires_grad=True)
    try:
        y = BINARY[name](lib, a, b)
        y.sum().backward()
    except RuntimeError as exc:
        return type(exc).__name__
    return [np.asarray(t.tolist(), dtype=float).ravel()
            for t in (y.detach(), a.grad if a.grad is not None else lib.zeros(_FILL + 1),
                      b.grad if b.grad is not None else lib.zeros(_FILL + 1))]


@requires_torch
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_and_gradients_at_special_points_match_torch(name):
    failures = []
    for pa in BINARY_POINTS:
        for pb in BINARY_POINTS:
            expected = _binary_run(torch, name, pa, pb)
            actual = _binary_run(disttorch, name, pa, pb)
            if isinstance(expected, str) or isinstance(actual, str):
                if expected != actual:
                    failures.append(f"{name}({pa}, {pb}): {actual}, torch {expected}")
                continue
            for what, e, a in zip(("value", "grad a", "grad b"), expected, actual):
                if not np.allclose(a, e, rtol=1e-7, atol=1e-12, equal_nan=True):
                    failures.append(f"{name}({pa}, {pb}): {what} {a.tolist()}, torch {e.tolist()}")
    assert not failures, "\n".join(failures[:20])


@requires_torch
def test_masked_gradients_are_exact_zeros():
    # a NaN gradient reaching ReLU, hardtanh, clamp, threshold, the shrinks or an embedding's
    # padding row stays out of the places they zero, as PyTorch's where/masked_fill keeps it
    cases = [lambda lib, x: lib.relu(x), lambda lib, x: _f(lib).hardtanh(x),
             lambda lib, x: x.clamp(0, 5), lambda lib, x: _f(lib).threshold(x, 0.5, 0.0),
             lambda lib, x: _f(lib).softshrink(x, 1.5), lambda lib, x: _f(lib).hardshrink(x, 1.5),
             lambda lib, x: _f(lib).relu6(x), lambda lib, x: _f(lib).hardsigmoid(x * 3)]
    for case in cases:
        grads = []
        for lib in (torch, disttorch):
            x = lib.tensor([-1.0, 2.0, 7.0], requires_grad=True)
            (case(lib, x) * math.nan).sum().backward()
            grads.append(np.asarray(x.grad.tolist()))
        np.testing.assert_array_equal(grads[1], grads[0])
    for lib in (torch, disttorch):
        emb = lib.nn.Embedding(3, 2, padding_idx=0)
        (emb(lib.tensor([0, 1, 1])) * math.nan).sum().backward()
        grads.append(np.asarray(emb.weight.grad.tolist()))
    np.testing.assert_array_equal(grads[-1], grads[-2])


REDUCTION_INPUTS = {
    "plain": [[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]],
    "nan": [[math.nan, 1.0, 2.0], [3.0, -1.0, 0.0]],
    "inf": [[math.inf, 1.0, -math.inf], [2.0, math.inf, 0.0]],
    "zeros": [[0.0, 0.0, 1.0], [0.0, 2.0, 3.0]],
    "ties": [[2.0, 2.0, 1.0], [-1.0, -1.0, -1.0]],
    "empty": [[], []],
}
REDUCTIONS = {
    "sum": lambda x: x.sum(1), "mean": lambda x: x.mean(1), "prod": lambda x: x.prod(1),
    "prod_all": lambda x: x.prod(), "std": lambda x: x.std(1), "var": lambda x: x.var(1),
    "var_biased": lambda x: x.var(1, correction=0), "norm": lambda x: x.norm(dim=1),
    "norm1": lambda x: x.norm(1, dim=1), "norm3": lambda x: x.norm(3, dim=1),
    "norm0": lambda x: x.norm(0, dim=1), "norm_inf": lambda x: x.norm(math.inf, dim=1),
    "logsumexp": lambda x: x.logsumexp(1), "softmax": lambda x: x.softmax(1),
    "log_softmax": lambda x: x.log_softmax(1), "cumsum": lambda x: x.cumsum(1),
    "cummax": lambda x: x.cummax(1).values, "logcumsumexp": lambda x: x.logcumsumexp(1),
    "amax": lambda x: x.amax(1), "max": lambda x: x.max(1).values, "min_all": lambda x: x.min(),
    "median": lambda x: x.median(1).values, "nanmedian": lambda x: x.nanmedian(1).values,
    "nansum": lambda x: x.nansum(1), "nanmean": lambda x: x.nanmean(1),
    "sort": lambda x: x.sort(1).values, "topk": lambda x: x.topk(1, 1).values,
    "quantile": lambda x: x.quantile(0.3, dim=1), "nanquantile": lambda x: x.nanquantile(0.3, dim=1),
    "renorm": lambda x: x.renorm(2, 0, 1.0), "diff": lambda x: x.diff(dim=1),
    "std_all": lambda x: x.std(), "norm_all": lambda x: x.norm(),
}
# Left out on purpose: cumprod through infinities (torch's formula divides by the input and is
# NaN-prone in its own way), and which of several equal values kthvalue and mode pick (not
# specified by PyTorch).


def _reduction_run(lib, name, data):
    x = lib.tensor(data, dtype=lib.float64).reshape(2, -1).requires_grad_()
    try:
        y = REDUCTIONS[name](x)
        weights = lib.arange(1, y.numel() + 1, dtype=lib.float64).reshape(y.shape)
        (y * weights).sum().backward()
    except (RuntimeError, IndexError, ValueError) as exc:
        return type(exc).__name__
    return (np.asarray(y.detach().tolist(), dtype=float).ravel(),
            None if x.grad is None else np.asarray(x.grad.tolist(), dtype=float).ravel())


@requires_torch
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_at_special_points_match_torch(name):
    failures = []
    for kind, data in REDUCTION_INPUTS.items():
        expected, actual = _reduction_run(torch, name, data), _reduction_run(disttorch, name, data)
        if isinstance(expected, str) or isinstance(actual, str):
            if type(expected) is not type(actual):
                failures.append(f"{name} on {kind}: {actual}, torch {expected}")
            continue
        (ev, eg), (av, ag) = expected, actual
        same = av.shape == ev.shape and np.allclose(av, ev, rtol=1e-7, atol=1e-12, equal_nan=True)
        same = same and (eg is None) == (ag is None) and (
            eg is None or (ag.shape == eg.shape and
                           np.allclose(ag, eg, rtol=1e-7, atol=1e-12, equal_nan=True)))
        if not same:
            failures.append(f"{name} on {kind}: {av.tolist()} / {ag}, torch {ev.tolist()} / {eg}")
    assert not failures, "\n".join(failures)


@requires_torch
@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_backward_twice_with_broadcasting(name):
    # the backward must not touch the node's saved shapes: a second pass (retain_graph) of a
    # broadcast product sums to the inputs' shapes again
    grads = []
    for lib in (torch, disttorch):
        fn = lib.xlogy if name == "xlogy" else lib.special.xlog1py
        x = lib.tensor([[0.0, 2.0, 3.0]], requires_grad=True)
        y = lib.tensor([[1.5], [0.5]], requires_grad=True)
        z = fn(x, y).sum()
        z.backward(retain_graph=True)
        z.backward()
        grads.append([np.asarray(t.grad.tolist()) for t in (x, y)])
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
