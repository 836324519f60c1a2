"""``disttorch.autograd.forward_ad`` (dual tensors) against ``torch.autograd.forward_ad`` and
finite differences."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")
rng = np.random.default_rng(2)
X = rng.standard_normal((2, 3))
V = rng.standard_normal((2, 3))
Z = rng.standard_normal(3)
U = rng.standard_normal(3)


def _np(t):
    return t.detach().cpu().numpy()


FUNCTIONS = {
    "pointwise": lambda lib, x, z: (x.sin() * x.exp()).sum(0),
    "matmul": lambda lib, x, z: lib.tanh(x @ z) * z[:2],
    "two_duals": lambda lib, x, z: (x * z).softmax(dim=1).log(),
    "reduction": lambda lib, x, z: lib.logsumexp(x, 1) + x.norm() * z.max(),
    "independent_part": lambda lib, x, z: lib.cat([x.reshape(-1), lib.ones(2, dtype=x.dtype)]),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_tangents_match_torch(name):
    results = []
    for lib in (torch, disttorch):
        fwad = lib.autograd.forward_ad
        with fwad.dual_level():
            x = fwad.make_dual(lib.tensor(X), lib.tensor(V))
            z = fwad.make_dual(lib.tensor(Z), lib.tensor(U))
            out = FUNCTIONS[name](lib, x, z)
            primal, tangent = fwad.unpack_dual(out)
            assert not primal.requires_grad
            results.append((_np(primal), _np(tangent)))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_tangent_against_finite_differences():
    def f(lib, x):
        return (x.cumsum(1) * x.cos()).exp().sum(1) / (1 + x.pow(2).sum())

    eps = 1e-6
    fwad = disttorch.autograd.forward_ad
    with fwad.dual_level():
        tangent = fwad.unpack_dual(f(disttorch, fwad.make_dual(disttorch.tensor(X),
                                                               disttorch.tensor(V)))).tangent
    numeric = (_np(f(disttorch, disttorch.tensor(X + eps * V))) -
               _np(f(disttorch, disttorch.tensor(X - eps * V)))) / (2 * eps)
    np.testing.assert_allclose(_np(tangent), numeric, rtol=1e-6, atol=1e-9)


def test_unpack_cases_match_torch():
    """The dual itself, a tensor without tangent, a detached one, an integer result, the
    named tuple, and tangents gone after the level exits."""
    seen = []
    for lib in (torch, disttorch):
        fwad = lib.autograd.forward_ad
        with fwad.dual_level() as level:
            assert level == 0
            x = fwad.make_dual(lib.tensor(Z), lib.tensor(U))
            own = fwad.unpack_dual(x)
            assert type(own).__name__ == "UnpackedDualTensor"
            assert own._fields == ("primal", "tangent")
            plain = fwad.unpack_dual(lib.ones(2))
            detached = fwad.unpack_dual(x.detach() * 2)
            index = fwad.unpack_dual(x.argmax())
            y = x * x
            inside = fwad.unpack_dual(y)
            with pytest.raises(TypeError, match="must be Tensor, not int"):
                fwad.unpack_dual(3)
        after = fwad.unpack_dual(y)
        assert fwad.unpack_dual(3) == (3, None)
        assert plain.tangent is None and detached.tangent is None and index.tangent is None
        assert after.tangent is None
        seen.append([_np(own.primal), _np(own.tangent), _np(inside.tangent), _np(after.primal)])
    for got, want in zip(seen[1], seen[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_enter_exit_and_decorator():
    for lib in (torch, disttorch):
        fwad = lib.autograd.forward_ad
        assert fwad.enter_dual_level() == 0
        d = fwad.make_dual(lib.tensor(Z), lib.tensor(U))
        t = fwad.unpack_dual(d.exp()).tangent
        fwad.exit_dual_level()
        np.testing.assert_allclose(_np(t), np.exp(Z) * U, rtol=1e-12)

        @fwad.dual_level()
        def tangent_of_square(x, v):
            return fwad.unpack_dual(fwad.make_dual(x, v) ** 2).tangent
        np.testing.assert_allclose(_np(tangent_of_square(lib.tensor(Z), lib.tensor(U))),
                                   2 * Z * U, rtol=1e-12)


def test_reverse_mode_through_duals_and_parameters():
    """A dual made from a tensor that records gradient, through a module: the primal and the
    tangent stay differentiable for the parameters, as in PyTorch."""
    grads = []
    for lib in (torch, disttorch):
        fwad = lib.autograd.forward_ad
        lin = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(X))
            lin.bias.copy_(lib.tensor(Z[:2]))
        x = lib.tensor(V, requires_grad=True)
        with fwad.dual_level():
            out = lib.tanh(lin(fwad.make_dual(x, lib.tensor(X))))
            primal, tangent = fwad.unpack_dual(out)
            assert primal.requires_grad and tangent.requires_grad
            ((primal * tangent).sum() + primal.sum()).backward()
        grads.append([_np(x.grad), _np(lin.weight.grad), _np(lin.bias.grad)])
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=1e-11)


ERRORS = {
    "no_level": lambda lib: lib.autograd.forward_ad.make_dual(lib.ones(2), lib.ones(2)),
    "shape": lambda lib: _in_level(lib, lambda f: f.make_dual(lib.ones(2), lib.ones(3))),
    "integer": lambda lib: _in_level(lib, lambda f: f.make_dual(lib.ones(2, dtype=lib.long),
                                                                lib.ones(2, dtype=lib.long))),
    "nested": lambda lib: _in_level(lib, lambda f: f.enter_dual_level()),
    "dual_of_dual": lambda lib: _in_level(lib, lambda f: f.make_dual(
        f.make_dual(lib.ones(2), lib.ones(2)), lib.ones(2))),
    "dual_of_computed": lambda lib: _in_level(lib, lambda f: f.make_dual(
        f.make_dual(lib.ones(2), lib.ones(2)) * 0, lib.ones(2))),
    "exit_without_level": lambda lib: lib.autograd.forward_ad.exit_dual_level(),
}


def _in_level(lib, body):
    with lib.autograd.forward_ad.dual_level():
        return body(lib.autograd.forward_ad)


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(Exception) as got:
        ERRORS[name](disttorch)
    assert type(got.value) is type(want.value)
    assert str(got.value).replace("disttorch.", "torch.") == str(want.value)


def test_dual_tensors_on_the_simulated_cuda_device():
    fwad = disttorch.autograd.forward_ad
    with _simulated.simulate():
        with fwad.dual_level():
            x = fwad.make_dual(disttorch.tensor(X, device="cuda"),
                               disttorch.tensor(V, device="cuda"))
            primal, tangent = fwad.unpack_dual((x * x).sin())
        assert tangent.device.type == "cuda"
        np.testing.assert_allclose(_np(tangent), np.cos(X * X) * 2 * X * V, rtol=1e-12)
        np.testing.assert_allclose(_np(primal), np.sin(X * X), rtol=1e-12)
