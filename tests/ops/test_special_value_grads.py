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
SKIP = {"digamma": {-1.0, -3.0, -20.0}}
# Left out on purpose: torch's CPU gelu(inf) is NaN (its vectorised erf), disttorch's is inf;
# softsign at +-inf, where torch differentiates x / (1 + |x|) as a quotient (inf / inf: NaN)
# and disttorch uses 1 / (1 + |x|)^2 (0).


def _value_and_grad(lib, name, point, device="cpu"):
    x = lib.tensor([point, 1.0, -2.5], device=device).requires_grad_()
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
