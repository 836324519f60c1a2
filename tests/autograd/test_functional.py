"""``autograd.functional``: jacobian, hessian, vjp, jvp, hvp, vhp against torch."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

pytestmark = requires_torch


def _lib_inputs(lib, arrays):
    return tuple(lib.from_numpy(a.copy()) for a in arrays)


def _assert_nested_close(ours, ref):
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _assert_nested_close(a, b)
        return
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)


def _two_outputs(x, y):
    return x.exp() * y.sum(), (x * y).sin()


def _scalar(x):
    return (x ** 3).sum() * x[0] + x.prod()


def _scalar_pair(x, y):
    return (x.sin() * y).sum() + (x * x).sum() * y[0]


CASES = [
    ("single", lambda x: x ** 2 * x.sum(), [np.array([1.0, 2.0, 3.0])]),
    ("matrix_in", lambda x: x @ x, [np.array([[1.0, 2.0], [0.5, -1.0]])]),
    ("tuple_in_out", _two_outputs, [np.array([0.1, 0.2, 0.3]), np.array([1.0, -2.0, 0.5])]),
    ("scalar_out", lambda x: (x * x).sum(), [np.array([1.0, -2.0])]),
]


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_jacobian_matches_torch(name, fn, arrays):
    inputs_d = _lib_inputs(disttorch, arrays)
    inputs_t = _lib_inputs(torch, arrays)
    if len(arrays) == 1:
        inputs_d, inputs_t = inputs_d[0], inputs_t[0]
    ours = disttorch.autograd.functional.jacobian(fn, inputs_d)
    ref = torch.autograd.functional.jacobian(fn, inputs_t)
    _assert_nested_close(ours, ref)


@pytest.mark.parametrize("fn,arrays", [(_scalar, [np.array([0.5, -1.0, 2.0])]),
                                       (_scalar_pair, [np.array([0.3, 0.7]),
                                                       np.array([2.0, -1.0])])])
def test_hessian_matches_torch(fn, arrays):
    inputs_d = _lib_inputs(disttorch, arrays)
    inputs_t = _lib_inputs(torch, arrays)
    if len(arrays) == 1:
        inputs_d, inputs_t = inputs_d[0], inputs_t[0]
    _assert_nested_close(disttorch.autograd.functional.hessian(fn, inputs_d),
                         torch.autograd.functional.hessian(fn, inputs_t))


@pytest.mark.parametrize("what", ["vjp", "jvp", "hvp", "vhp"])
def test_products_match_torch(what):
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    fn = (lambda t: t.sin() * t.sum()) if what in ("vjp", "jvp") else _scalar
    ours = getattr(disttorch.autograd.functional, what)(fn, disttorch.from_numpy(x),
                                                       disttorch.from_numpy(v))
    ref = getattr(torch.autograd.functional, what)(fn, torch.from_numpy(x), torch.from_numpy(v))
    _assert_nested_close(ours, ref)


def test_vjp_of_a_scalar_output_needs_no_vector():
    out, grad = disttorch.autograd.functional.vjp(lambda t: (t * t).sum(),
                                                  disttorch.tensor([1.0, 3.0]))
    assert out.item() == 10.0 and grad.tolist() == [2.0, 6.0]
    with pytest.raises(RuntimeError, match="can only be None"):
        disttorch.autograd.functional.vjp(lambda t: t * 2, disttorch.tensor([1.0, 3.0]))


def test_independent_inputs_give_zeros_or_raise_in_strict_mode():
    f = disttorch.autograd.functional
    x, y = disttorch.tensor([1.0, 2.0]), disttorch.tensor([3.0])
    jac = f.jacobian(lambda a, b: a * 2, (x, y))
    assert jac[1].abs().sum().item() == 0 and tuple(jac[1].shape) == (2, 1)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        f.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    assert f.hessian(lambda a: a.sum(), x).abs().sum().item() == 0


def test_create_graph_gives_differentiable_results():
    x = disttorch.tensor([1.0, 2.0], dtype=disttorch.float64, requires_grad=True)
    jac = disttorch.autograd.functional.jacobian(lambda t: t ** 3, x, create_graph=True)
    assert jac.requires_grad
    jac.trace().backward()
    # d/dx sum_i 3 x_i^2 = 6 x
    assert x.grad.tolist() == [6.0, 12.0]
    plain = disttorch.autograd.functional.jacobian(lambda t: t ** 3, x)
    assert not plain.requires_grad


def test_argument_errors():
    f = disttorch.autograd.functional
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        f.jacobian(lambda t: t, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        f.hessian(lambda t: t * 2, disttorch.ones(2))
    with pytest.raises(RuntimeError, match="invalid size"):
        f.jvp(lambda t: t * 2, disttorch.ones(2), disttorch.ones(3))
    with pytest.raises(NotImplementedError, match="vectorize=True"):
        f.jacobian(lambda t: t, disttorch.ones(2), strategy="forward-mode")
    forward = f.jacobian(lambda t: t * 3, disttorch.ones(2), vectorize=True,
                         strategy="forward-mode")
    assert forward.tolist() == [[3.0, 0.0], [0.0, 3.0]]
