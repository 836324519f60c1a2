"""Forward mode in ``disttorch.func`` (jvp, jacfwd, linearize, hessian) against ``torch.func``
and finite differences."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated
from disttorch.func._pytree import tree_flatten
from tests.func.test_vmap import _assert_same, _np

torch = pytest.importorskip("torch")
rng = np.random.default_rng(1)
X = rng.standard_normal(4)
Y = rng.standard_normal((2, 3))
V = rng.standard_normal(4)
W = rng.standard_normal((2, 3))


def _two(x, y):
    return x.sin() * y.sum(), (y * x[:3]).exp(), x.dot(x)


def _mixed(lib):
    return lambda x, y: lib.tanh(x[:3] @ y.T) + x.prod() * lib.nn.functional.softplus(y).sum()


JVP_CASES = {
    "single": lambda lib: lib.func.jvp(lambda x: x.exp() * x.sum(), (lib.tensor(X),),
                                       (lib.tensor(V),)),
    "two_in_three_out": lambda lib: lib.func.jvp(_two, (lib.tensor(X), lib.tensor(Y)),
                                                 (lib.tensor(V), lib.tensor(W))),
    "mixed_ops": lambda lib: lib.func.jvp(_mixed(lib), (lib.tensor(X), lib.tensor(Y)),
                                          (lib.tensor(V), lib.tensor(W))),
    "float32": lambda lib: lib.func.jvp(lambda x: x.sigmoid().cumsum(0), (lib.tensor(X).float(),),
                                        (lib.tensor(V).float(),)),
    "dict_primals": lambda lib: lib.func.jvp(lambda d: d["a"] * d["b"].sum(),
                                             ({"a": lib.tensor(X), "b": lib.tensor(Y)},),
                                             ({"a": lib.tensor(V), "b": lib.tensor(W)},)),
    "has_aux": lambda lib: lib.func.jvp(lambda x: (x ** 3, {"m": x.mean()}), (lib.tensor(X),),
                                        (lib.tensor(V),), has_aux=True),
    "output_independent": lambda lib: lib.func.jvp(lambda x: (x * 2, lib.ones(2)),
                                                   (lib.tensor(X),), (lib.tensor(V),)),
    "integer_output": lambda lib: lib.func.jvp(lambda x: (x.argmax(), x.abs()), (lib.tensor(X),),
                                               (lib.tensor(V),)),
    "matrix_ops": lambda lib: lib.func.jvp(lambda m: lib.linalg.inv(m @ m.T + lib.eye(2)),
                                           (lib.tensor(Y),), (lib.tensor(W),)),
}


@pytest.mark.parametrize("name", list(JVP_CASES))
def test_jvp_matches_torch(name):
    want = JVP_CASES[name](torch)
    got = JVP_CASES[name](disttorch)
    _assert_same(got, want, rtol=1e-5 if name == "float32" else 1e-11, atol=1e-6)
    assert not any(t.requires_grad for t in tree_flatten(got)[0]
                   if isinstance(t, disttorch.Tensor))


def test_jvp_results_do_not_record_gradient():
    out, tangent = disttorch.func.jvp(lambda x: x.sin(), (disttorch.tensor(X),),
                                      (disttorch.tensor(V),))
    assert not out.requires_grad and not tangent.requires_grad


@pytest.mark.parametrize("fn", [
    lambda lib, x: (x.sin() * x.cumsum(0)).exp() / (1 + x * x),
    lambda lib, x: lib.softmax(x.reshape(2, 2), dim=1).log() @ x.reshape(2, 2),
    lambda lib, x: lib.nn.functional.gelu(x) * lib.logsumexp(x, 0) + x.norm(),
], ids=["pointwise", "softmax_matmul", "gelu_norm"])
def test_jvp_against_finite_differences(fn):
    x, v, eps = rng.standard_normal(4), rng.standard_normal(4), 1e-6
    _, tangent = disttorch.func.jvp(lambda t: fn(disttorch, t), (disttorch.tensor(x),),
                                    (disttorch.tensor(v),))
    f = lambda a: _np(fn(disttorch, disttorch.tensor(a)))  # noqa: E731
    numeric = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(_np(tangent), numeric, rtol=1e-6, atol=1e-8)


def test_jacfwd_equals_jacrev_and_torch():
    def f(lib):
        return lambda x, y: (x.sin()[:3] * y).sum(0) + x[:3].exp()

    for argnums in (0, 1, (0, 1), -1):
        # (torch's jacfwd ignores a negative argnums and returns zeros: its jacrev is right)
        oracle = torch.func.jacrev if argnums == -1 else torch.func.jacfwd
        want = oracle(f(torch), argnums=argnums)(torch.tensor(X), torch.tensor(Y))
        got = disttorch.func.jacfwd(f(disttorch), argnums=argnums)(disttorch.tensor(X),
                                                                   disttorch.tensor(Y))
        rev = disttorch.func.jacrev(f(disttorch), argnums=argnums)(disttorch.tensor(X),
                                                                   disttorch.tensor(Y))
        _assert_same(got, want, rtol=1e-12)
        _assert_same(rev, want, rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda lib: lib.func.jacfwd(lambda x: (x.sin(), {"s": x.sum(), "o": x.outer(x)}))(
        lib.tensor(X)),
    lambda lib: lib.func.jacfwd(lambda d: d["a"] * d["b"][0])({"a": lib.tensor(X[:3]),
                                                              "b": lib.tensor(Y)}),
    lambda lib: lib.func.jacfwd(lambda x: (x.exp(), x.sum() * 2), has_aux=True)(lib.tensor(X)),
    lambda lib: lib.func.jacfwd(lambda x: x.sum())(lib.tensor(2.0)),
    lambda lib: lib.func.jacfwd(lambda x, y: x * y, argnums=(1,))(lib.tensor(X), 3.0 +
                                                                  lib.tensor(V)),
    lambda lib: lib.func.jacfwd(lambda x: x * 0 + 1)(lib.tensor(X)),
    lambda lib: lib.func.jacfwd(lambda x: x[:0])(lib.tensor(X)),
], ids=["pytree_out", "dict_in", "aux", "scalar", "argnums_1tuple", "constant", "empty_out"])
def test_jacfwd_structures_match_torch(call):
    _assert_same(call(disttorch), call(torch), rtol=1e-12)


def test_hessian_matches_torch():
    def f(x, y):
        return (x ** 3).sum() * y.sum() + (x[:3] * y).sin().sum()

    for argnums in (0, 1, (0, 1)):
        want = torch.func.hessian(f, argnums)(torch.tensor(X), torch.tensor(Y[0]))
        got = disttorch.func.hessian(f, argnums)(disttorch.tensor(X), disttorch.tensor(Y[0]))
        _assert_same(got, want, rtol=1e-11)


def test_linearize_matches_torch():
    def f(x, y):
        return x.sin() * y.sum(), (x * x).sum()

    results = []
    for lib in (torch, disttorch):
        out, jvp_fn = lib.func.linearize(f, lib.tensor(X), lib.tensor(Y))
        first = jvp_fn(lib.tensor(V), lib.tensor(W))
        second = jvp_fn(lib.ones(4, dtype=lib.float64), lib.zeros(2, 3, dtype=lib.float64))
        results.append((out, first, second))
    _assert_same(results[1], results[0], rtol=1e-12)
    with pytest.raises(RuntimeError, match="tangent:0 with shape .* doesn't match the shape"):
        jvp_fn(disttorch.ones(3, dtype=disttorch.float64), disttorch.tensor(W))
    with pytest.raises(RuntimeError, match="tangent:1 with dtype .* doesn't match the dtype"):
        jvp_fn(disttorch.tensor(V), disttorch.tensor(W).float())
    with pytest.raises(RuntimeError, match="to have the same argspec as the primals"):
        jvp_fn(disttorch.tensor(V))


def test_forward_and_reverse_compose():
    """grad of a jvp (reverse over forward), jvp of a grad (forward over reverse) and a jvp
    through a module whose parameters stay differentiable."""
    def f(x):
        return (x.sin() * x).sum() * x

    for lib in (torch, disttorch):
        x, v = lib.tensor(X), lib.tensor(V)
        rof = lib.func.grad(lambda a: lib.func.jvp(f, (a,), (v,))[1].sum())(x)
        hvp = lib.func.jvp(lib.func.grad(lambda a: (a.sin() * a).sum()), (x,), (v,))[1]
        lib.manual_seed(0)
        model = lib.nn.Linear(4, 2).double()
        with lib.no_grad():
            model.weight.copy_(lib.tensor(Y[:, :2].repeat(2, axis=1)))
            model.bias.copy_(lib.tensor(W[:, 0]))
        out, tangent = lib.func.jvp(lambda a: lib.tanh(model(a)), (x,), (v,))
        assert out.requires_grad and tangent.requires_grad
        (out.sum() + (tangent ** 2).sum()).backward()
        values = [rof, hvp, out, tangent, model.weight.grad, model.bias.grad]
        if lib is torch:
            want = values
    for g, w in zip(values, want):
        _assert_same(g, w, rtol=1e-11)


def test_jvp_of_a_tensor_that_records_gradient_keeps_its_graph():
    for lib in (torch, disttorch):
        x = lib.tensor(X, requires_grad=True)
        out, tangent = lib.func.jvp(lambda a: a.exp() * a, (x,), (lib.tensor(V),))
        assert out.requires_grad and tangent.requires_grad
        tangent.sum().backward()
        if lib is torch:
            want = x.grad
    _assert_same(x.grad, want, rtol=1e-12)


ERRORS = {
    "primals_not_tuple": lambda lib: lib.func.jvp(lambda x: x, lib.ones(2), (lib.ones(2),)),
    "structure": lambda lib: lib.func.jvp(lambda x, y: x, (lib.ones(2), lib.ones(2)),
                                          (lib.ones(2),)),
    "no_tensors": lambda lib: lib.func.jvp(lambda: 1, (), ()),
    "non_tensor_primal": lambda lib: lib.func.jvp(lambda x: x, (1.0,), (1.0,)),
    "shape": lambda lib: lib.func.jvp(lambda x: x, (lib.ones(2),), (lib.ones(3),)),
    "integer_primal": lambda lib: lib.func.jvp(lambda x: x, (lib.ones(2, dtype=lib.long),),
                                               (lib.ones(2, dtype=lib.long),)),
    "non_tensor_output": lambda lib: lib.func.jvp(lambda x: (x, 3), (lib.ones(2),),
                                                  (lib.ones(2),)),
    "empty_output": lambda lib: lib.func.jvp(lambda x: (), (lib.ones(2),), (lib.ones(2),)),
    "strict": lambda lib: lib.func.jvp(lambda x: lib.ones(2), (lib.ones(2),), (lib.ones(2),),
                                       strict=True),
    "aux_not_pair": lambda lib: lib.func.jvp(lambda x: x, (lib.ones(2),), (lib.ones(2),),
                                             has_aux=True),
    "jacfwd_argnum": lambda lib: lib.func.jacfwd(lambda x: x, argnums=2)(lib.ones(2)),
    "jacfwd_argnums_type": lambda lib: lib.func.jacfwd(lambda x: x, argnums=[0])(lib.ones(2)),
    "jacfwd_argnums_empty": lambda lib: lib.func.jacfwd(lambda x: x, argnums=())(lib.ones(2)),
    "jacfwd_argnums_repeat": lambda lib: lib.func.jacfwd(lambda x: x, argnums=(0, 0))(
        lib.ones(2)),
    "jacfwd_random": lambda lib: lib.func.jacfwd(lambda x: x * lib.rand(2))(lib.ones(2)),
    "jacfwd_randomness_value": lambda lib: lib.func.jacfwd(lambda x: x, randomness="x")(
        lib.ones(2)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(Exception) as got:
        ERRORS[name](disttorch)
    assert type(got.value) is type(want.value)
    assert str(got.value).replace("disttorch.", "torch.") == str(want.value)


def test_jacfwd_randomness_flags_let_random_ops_run():
    for flag in ("same", "different"):
        disttorch.manual_seed(0)
        jac = disttorch.func.jacfwd(lambda x: x * disttorch.rand(3), randomness=flag)(
            disttorch.ones(3))
        disttorch.manual_seed(0)
        np.testing.assert_array_equal(_np(jac), np.diag(_np(disttorch.rand(3))))


def test_forward_mode_on_the_simulated_cuda_device():
    def f(x, y):
        return (x[:3] * y).sin().sum(0) * x.sum()

    want_jvp = torch.func.jvp(f, (torch.tensor(X), torch.tensor(Y)),
                              (torch.tensor(V), torch.tensor(W)))
    want_jac = torch.func.jacfwd(f, argnums=(0, 1))(torch.tensor(X), torch.tensor(Y))
    with _simulated.simulate():
        args = [disttorch.tensor(a, device="cuda") for a in (X, Y, V, W)]
        got_jvp = disttorch.func.jvp(f, tuple(args[:2]), tuple(args[2:]))
        got_jac = disttorch.func.jacfwd(f, argnums=(0, 1))(*args[:2])
        assert all(t.device.type == "cuda" for t in (*got_jvp, *got_jac))
        _assert_same(got_jvp, want_jvp, rtol=1e-12)
        _assert_same(got_jac, want_jac, rtol=1e-12)
