"""``disttorch.func`` (functional_call, grad, grad_and_value, vjp) against ``torch.func``."""
import numpy as np
import pytest

import disttorch

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)
X = rng.standard_normal((5, 4))
W = {"0.weight": rng.standard_normal((3, 4)), "0.bias": rng.standard_normal(3),
     "2.weight": rng.standard_normal((1, 3)), "2.bias": rng.standard_normal(1)}


def _model(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Tanh(), lib.nn.Linear(3, 1)).double()


def _params(lib):
    return {k: lib.tensor(v) for k, v in W.items()}


def _np(t):
    return t.detach().numpy()


def test_functional_call_and_grad_of_a_dict_of_parameters():
    results = []
    for lib in (torch, disttorch):
        model = _model(lib)
        before = {k: _np(v).copy() for k, v in model.state_dict().items()}

        def loss(params, x):
            return (lib.func.functional_call(model, params, (x,)) ** 2).mean()

        grads, value = lib.func.grad_and_value(loss)(_params(lib), lib.tensor(X))
        # the module's own parameters are back, untouched
        assert all(np.array_equal(_np(v), before[k]) for k, v in model.state_dict().items())
        assert not value.requires_grad
        results.append((value.item(), {k: _np(g) for k, g in grads.items()}))
    (want_value, want), (got_value, got) = results
    assert got_value == pytest.approx(want_value, rel=1e-12)
    assert list(got) == list(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, err_msg=k)


def test_argnums_aux_nesting_and_vjp():
    for lib in (torch, disttorch):
        f = lib.func
        x, y = lib.tensor([1.0, 2.0]), lib.tensor([3.0, -1.0])
        gx, gy = f.grad(lambda a, b: (a * b * b).sum(), argnums=(0, 1))(x, y)
        g2, aux = f.grad(lambda a: ((a ** 3).sum(), a.sum()), has_aux=True)(x)
        second = f.grad(f.grad(lambda a: (a ** 3).sum()))(lib.tensor(2.0))
        out, vjp_fn = f.vjp(lambda a: a ** 2, x)
        cot, = vjp_fn(lib.tensor([1.0, 10.0]))
        unused = f.grad(lambda a: lib.tensor(1.0))(x)
        values = [gx, gy, g2, aux, second, out, cot, unused]
        if lib is torch:
            want = [_np(v) for v in values]
    for got, ref in zip(values, want):
        np.testing.assert_allclose(_np(got), ref, rtol=1e-12)


def test_grad_composes_with_autograd():
    # a parameter that records gradient keeps its graph through func.grad
    w = disttorch.tensor([0.5, -1.5], requires_grad=True)
    g = disttorch.func.grad(lambda v: (v ** 3).sum())(w)   # 3 w^2
    g.sum().backward()                                      # d/dw sum(3 w^2) = 6 w
    np.testing.assert_allclose(w.grad.numpy(), [3.0, -9.0])


@pytest.mark.parametrize("call", [
    lambda lib: lib.func.grad(lambda x: x * 2)(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: (x.sum(), 1, 2), has_aux=True)(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum(), argnums=2)(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum())(lib.ones(2, dtype=lib.long)),
    lambda lib: lib.func.functional_call(lib.nn.Linear(2, 1), {"weight": lib.ones(1, 2),
                                                               "nope": lib.zeros(1)},
                                         (lib.ones(3, 2),), strict=True),
], ids=["not_scalar", "aux_not_pair", "argnums", "integer", "strict"])
def test_errors_match_torch(call):
    with pytest.raises(RuntimeError) as want:
        call(torch)
    with pytest.raises(RuntimeError) as got:
        call(disttorch)
    assert str(got.value) == str(want.value)


def test_functional_call_buffers_and_tied_weights():
    for lib in (torch, disttorch):
        bn = lib.nn.BatchNorm1d(3).double().eval()
        out = lib.func.functional_call(bn, {"running_mean": lib.ones(3).double(),
                                            "running_var": lib.full((3,), 4.0).double()},
                                       lib.tensor(X[:, :3]))
        if lib is torch:
            want = _np(out)
    np.testing.assert_allclose(_np(out), want, rtol=1e-12)
    # tied: one tensor given for a weight shared by two modules serves both
    lin = disttorch.nn.Linear(2, 2, bias=False)
    model = disttorch.nn.Sequential(lin, lin)
    out = disttorch.func.functional_call(model, {"0.weight": 2 * disttorch.eye(2)},
                                         disttorch.ones(1, 2))
    assert out.tolist() == [[4.0, 4.0]]


def test_jacrev_and_hessian_match_torch():
    x = np.array([1.0, 2.0, 0.5])
    results = []
    for lib in (torch, disttorch):
        f = lib.func
        t = lib.tensor(x)
        jac = f.jacrev(lambda v: v ** 2 * v.sum())(t)
        hess = f.hessian(lambda v: (v ** 3).sum() * v[0])(t)
        pair = f.jacrev(lambda a, b: a * b.sin(), argnums=(0, 1))(t, 2 * t)
        with_aux, aux = f.jacrev(lambda v: (v.sin(), v.cos()), has_aux=True)(t)
        grad_aux = f.grad(lambda v: ((v ** 2).sum(), v * 3), has_aux=True)(t)[1]
        values = [jac, hess, pair[0], pair[1], with_aux, aux, grad_aux]
        assert not any(v.requires_grad for v in values)
        results.append([v.numpy() for v in values])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
