"""``disttorch.func.vmap`` (and ``stack_module_state``) against ``torch.func``."""
import collections
import functools

import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)
A = rng.standard_normal((4, 3))
B = rng.standard_normal((3, 4))
C = rng.standard_normal((3,))
Pair = collections.namedtuple("Pair", "a b")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else t


def _assert_same(got, want, rtol=1e-12, atol=1e-14):
    """Same pytree structure, shapes, dtypes and values (torch's result is ``want``)."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, disttorch.Tensor), type(got)
        assert tuple(got.shape) == tuple(want.shape)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(_np(got), _np(want), rtol=rtol, atol=atol)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want)
        for k in want:
            _assert_same(got[k], want[k], rtol, atol)
    elif isinstance(want, (tuple, list)):
        assert type(got).__name__ == type(want).__name__ and len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w, rtol, atol)
    else:
        assert got == want


def _both(call):
    """``call(lib)`` in torch and in disttorch, compared."""
    want = call(torch)
    got = call(disttorch)
    _assert_same(got, want)
    return got


CASES = {
    "sum": lambda lib: lib.func.vmap(lambda x: x.sum())(lib.tensor(A)),
    "matvec_in_dims_none": lambda lib: lib.func.vmap(lambda x, w: x @ w, in_dims=(0, None))(
        lib.tensor(A), lib.tensor(B)),
    "in_dim_1": lambda lib: lib.func.vmap(lambda x: x * 2, in_dims=1)(lib.tensor(A)),
    "negative_in_dim": lambda lib: lib.func.vmap(lambda x, y: x * y, in_dims=(-1, 0))(
        lib.tensor(A).T, lib.tensor(A)),
    "out_dim_1": lambda lib: lib.func.vmap(lambda x: x.exp(), out_dims=1)(lib.tensor(A)),
    "negative_out_dim": lambda lib: lib.func.vmap(lambda x: x.outer(x), out_dims=-2)(
        lib.tensor(A)),
    "tuple_out_dims": lambda lib: lib.func.vmap(lambda x: (x.sin(), x.sum()), out_dims=(1, 0))(
        lib.tensor(A)),
    "one_tuple_out_dims": lambda lib: lib.func.vmap(lambda x: x.cos(), out_dims=(1,))(
        lib.tensor(A)),
    "pytree_out_dims": lambda lib: lib.func.vmap(
        lambda x: [x, {"k": x * 2, "n": x.sum()}], out_dims=[0, {"k": 1, "n": 0}])(
        lib.tensor(A)),
    "dict_in_dims": lambda lib: lib.func.vmap(
        lambda d, s: d["a"] * d["b"] + s, in_dims=({"a": 0, "b": None}, None))(
        {"a": lib.tensor(A), "b": lib.tensor(C)}, 1.5),
    "list_and_namedtuple": lambda lib: lib.func.vmap(
        lambda pair, xs: pair.a * pair.b + xs[0] - xs[1],
        in_dims=(Pair(0, None), [1, 0]))(
        Pair(lib.tensor(A), lib.tensor(C)), [lib.tensor(A).T, lib.tensor(A)]),
    "kwargs_unbatched": lambda lib: lib.func.vmap(lambda x, scale=None: x * scale)(
        lib.tensor(A), scale=lib.tensor(C)),
    "out_dims_none_unbatched": lambda lib: lib.func.vmap(
        lambda x, w: (x * 2, w, 3), in_dims=(0, None), out_dims=(0, None, None))(
        lib.tensor(A), lib.tensor(C)),
    "unbatched_output_expanded": lambda lib: lib.func.vmap(
        lambda x, w: w * 2, in_dims=(0, None))(lib.tensor(A), lib.tensor(C)),
    "namedtuple_out": lambda lib: lib.func.vmap(lambda x: Pair(x, x.sum()))(lib.tensor(A)),
    "float32_int": lambda lib: lib.func.vmap(lambda x, i: x.float() * i)(
        lib.tensor(A), lib.arange(4)),
    "empty_batch": lambda lib: lib.func.vmap(lambda x: (x.sum(), x * 2))(lib.zeros(0, 3)),
    "empty_batch_out_dim": lambda lib: lib.func.vmap(lambda x: x.outer(x), out_dims=2)(
        lib.zeros(0, 3)),
    "nested": lambda lib: lib.func.vmap(lib.func.vmap(lambda x, y: x * y.sum(), in_dims=(0, 1)),
                                        in_dims=(1, None))(lib.tensor(A), lib.tensor(B)),
    "nested_three": lambda lib: lib.func.vmap(lib.func.vmap(lib.func.vmap(lambda x: x ** 2)))(
        lib.tensor(A).reshape(2, 3, 2)),
    "partial": lambda lib: lib.func.vmap(functools.partial(lambda x, y: x + y, y=1.0))(
        lib.tensor(A)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_vmap_matches_torch(name):
    _both(CASES[name])


def test_top_level_alias():
    assert disttorch.vmap is disttorch.func.vmap
    assert disttorch.vmap(lambda x: x)(disttorch.ones(2)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("chunk_size", [None, 1, 2, 3, 10])
def test_chunk_size_gives_the_same_results(chunk_size):
    def call(lib):
        return lib.func.vmap(lambda x, y: (x @ y, x.sum()), in_dims=(0, None),
                             chunk_size=chunk_size)(lib.tensor(A), lib.tensor(B))
    _both(call)


def _mlp(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2)).double()
    state = {"0.weight": rng.standard_normal((5, 3)), "0.bias": rng.standard_normal(5),
             "2.weight": rng.standard_normal((2, 5)), "2.bias": rng.standard_normal(2)}
    return model, state


def test_per_sample_gradients_of_an_mlp():
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    model_d, state = _mlp(disttorch)
    model_t, _ = _mlp(torch)

    def loss_of(lib, model):
        def loss(params, xi, yi):
            out = lib.func.functional_call(model, params, (xi.unsqueeze(0),))
            return lib.nn.functional.mse_loss(out, yi.unsqueeze(0))
        return loss

    params_d = {k: disttorch.tensor(v) for k, v in state.items()}
    params_t = {k: torch.tensor(v) for k, v in state.items()}
    got = disttorch.func.vmap(disttorch.func.grad(loss_of(disttorch, model_d)),
                              in_dims=(None, 0, 0))(params_d, disttorch.tensor(x),
                                                    disttorch.tensor(y))
    want = torch.func.vmap(torch.func.grad(loss_of(torch, model_t)),
                           in_dims=(None, 0, 0))(params_t, torch.tensor(x), torch.tensor(y))
    _assert_same(got, want, rtol=1e-10)
    # and against a plain loop of torch's per-sample backward passes
    for i in range(6):
        p = {k: torch.tensor(v, requires_grad=True) for k, v in state.items()}
        loss_of(torch, model_t)(p, torch.tensor(x[i]), torch.tensor(y[i])).backward()
        for k in state:
            np.testing.assert_allclose(_np(got[k][i]), _np(p[k].grad), rtol=1e-10)
    assert all(not g.requires_grad for g in got.values())


def test_vmap_of_jacrev_jacfwd_jvp_and_hessian():
    f = (lambda lib: lambda x: x.sin() * x.sum())
    X = lambda lib: lib.tensor(A)  # noqa: E731
    _both(lambda lib: lib.func.vmap(lib.func.jacrev(f(lib)))(X(lib)))
    _both(lambda lib: lib.func.vmap(lib.func.jacfwd(f(lib)))(X(lib)))
    _both(lambda lib: lib.func.vmap(lib.func.hessian(lambda x: (x ** 3).sum() * x[0]))(X(lib)))
    _both(lambda lib: lib.func.vmap(lambda x, v: lib.func.jvp(f(lib), (x,), (v,)))(
        X(lib), X(lib).cos()))
    _both(lambda lib: lib.func.vmap(lib.func.grad(lambda x, y: (x * y).sum() ** 2),
                                    in_dims=(0, None))(X(lib), lib.tensor(C)))


def test_gradients_flow_through_vmap():
    results = []
    for lib in (torch, disttorch):
        x = lib.tensor(A, requires_grad=True)
        w = lib.tensor(B, requires_grad=True)
        out = lib.func.vmap(lambda row, m: (row @ m).tanh(), in_dims=(0, None))(x, w)
        (out ** 2).sum().backward()
        results.append((_np(out), _np(x.grad), _np(w.grad)))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_grad_of_vmap():
    _both(lambda lib: lib.func.grad(lambda x: lib.func.vmap(lambda r: r.sin().sum() * r[0])(x)
                                    .sum())(lib.tensor(A)))


ERRORS = {
    "sizes": lambda lib: lib.func.vmap(lambda a, b: a + b)(lib.ones(2, 3), lib.ones(3, 3)),
    "sizes_three": lambda lib: lib.func.vmap(lambda a, b, c: a)(lib.ones(2, 3), lib.ones(3, 3),
                                                                lib.ones(2)),
    "in_dims_none": lambda lib: lib.func.vmap(lambda a: a, in_dims=None)(lib.ones(2)),
    "in_dims_list": lambda lib: lib.func.vmap(lambda a, b: a, in_dims=[0, 0])(lib.ones(2),
                                                                               lib.ones(2)),
    "in_dims_float": lambda lib: lib.func.vmap(lambda a: a, in_dims=(1.0,))(lib.ones(2)),
    "nothing_batched": lambda lib: lib.func.vmap(lambda a: a, in_dims=(None,))(lib.ones(2)),
    "no_inputs": lambda lib: lib.func.vmap(lambda: 1)(),
    "in_dim_range": lambda lib: lib.func.vmap(lambda a: a, in_dims=3)(lib.ones(2, 3)),
    "in_dim_negative_range": lambda lib: lib.func.vmap(lambda a: a, in_dims=-3)(lib.ones(2, 3)),
    "zero_dim_input": lambda lib: lib.func.vmap(lambda a: a)(lib.tensor(1.0)),
    "in_dims_length": lambda lib: lib.func.vmap(lambda a, b: a, in_dims=(0,))(lib.ones(2),
                                                                               lib.ones(2)),
    "in_dims_structure": lambda lib: lib.func.vmap(lambda a: a[0], in_dims=((0, 0),))(
        [lib.ones(2, 3)]),
    "in_dims_dict_keys": lambda lib: lib.func.vmap(lambda d: d["a"], in_dims=({"a": 0, "c": 0},))(
        {"a": lib.ones(2), "b": lib.ones(2)}),
    "non_tensor_batched": lambda lib: lib.func.vmap(lambda a, b: a, in_dims=(0, 0))(
        lib.ones(2), 3),
    "none_batched": lambda lib: lib.func.vmap(lambda a, b: a)(lib.ones(2), None),
    "returns_int": lambda lib: lib.func.vmap(lambda a: 1)(lib.ones(2)),
    "returns_none": lambda lib: lib.func.vmap(lambda a: None)(lib.ones(2)),
    "batched_with_out_dims_none": lambda lib: lib.func.vmap(lambda a: a * 2, out_dims=None)(
        lib.tensor([1.0, 2.0])),
    "out_dims_structure": lambda lib: lib.func.vmap(lambda a: (a, a), out_dims=(0, 0, 0))(
        lib.ones(2)),
    "out_dims_list_for_tuple": lambda lib: lib.func.vmap(lambda a: (a, a), out_dims=[0, 1])(
        lib.ones(2, 3)),
    "out_dims_pair_for_tensor": lambda lib: lib.func.vmap(lambda a: a, out_dims=(1, 0))(
        lib.ones(2, 3)),
    "out_dims_type": lambda lib: lib.func.vmap(lambda a: a, out_dims="x")(lib.ones(2)),
    "out_dims_float": lambda lib: lib.func.vmap(lambda a: a, out_dims=(1.0,))(lib.ones(2)),
    "out_dim_range": lambda lib: lib.func.vmap(lambda a: a, out_dims=2)(lib.ones(2)),
    "chunk_size_zero": lambda lib: lib.func.vmap(lambda a: a, chunk_size=0),
    "chunk_size_negative": lambda lib: lib.func.vmap(lambda a: a, chunk_size=-1),
    "randomness_value": lambda lib: lib.func.vmap(lambda a: a, randomness="foo"),
    "random_op": lambda lib: lib.func.vmap(lambda a: a + lib.rand(2))(lib.ones(3, 2)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(Exception) as got:
        ERRORS[name](disttorch)
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value)


# ------------------------------------------------------------------ randomness
RANDOM_OPS = {
    "rand": lambda lib, x: x + lib.rand(3),
    "randn": lambda lib, x: x + lib.randn(3, dtype=lib.float64),
    "randint": lambda lib, x: x + lib.randint(0, 10, (3,)),
    "rand_like": lambda lib, x: x + lib.rand_like(x),
    "randn_like": lambda lib, x: x + lib.randn_like(x),
    "normal": lambda lib, x: x + lib.normal(0.0, 1.0, (3,)),
    "normal_tensor": lambda lib, x: lib.normal(x, 1.0),
    "bernoulli": lambda lib, x: lib.bernoulli(lib.full_like(x, 0.5)),
    "multinomial": lambda lib, x: x + lib.multinomial(lib.ones(3), 3).to(x.dtype),
    "randperm": lambda lib, x: x + lib.randperm(3).to(x.dtype),
    "dropout": lambda lib, x: lib.nn.functional.dropout(x, 0.5, training=True),
    "dropout_module": lambda lib, x: lib.nn.Dropout(0.5)(x),
    "normal_": lambda lib, x: x.clone().normal_(),
    "uniform_": lambda lib, x: x.clone().uniform_(),
}


def _rows(lib, op, randomness, n=4):
    x = lib.ones(n, 3, dtype=lib.float64)
    return lib.func.vmap(lambda r: RANDOM_OPS[op](lib, r), randomness=randomness)(x)


@pytest.mark.parametrize("op", list(RANDOM_OPS))
def test_randomness_error_raises_torch_error(op):
    with pytest.raises(RuntimeError) as want:
        _rows(torch, op, "error")
    with pytest.raises(RuntimeError) as got:
        _rows(disttorch, op, "error")
    assert str(got.value) == str(want.value)
    disttorch.rand(2)  # the flag is gone after the failed call


def _distinct_rows(out):
    rows = [tuple(r) for r in _np(out).tolist()]
    return len(set(rows))


@pytest.mark.parametrize("op", ["rand", "randn", "normal", "normal_tensor", "dropout",
                                "normal_", "uniform_", "rand_like", "bernoulli"])
def test_randomness_same_and_different(op):
    # torch refuses 'same' for ops that take a batched tensor (normal(mean), bernoulli(p));
    # disttorch gives every sample the same draws there too
    refused = op in ("normal_tensor", "bernoulli")
    for lib in (torch, disttorch):
        lib.manual_seed(3)
        if lib is torch and refused:
            with pytest.raises(RuntimeError, match="same randomness with a batched tensor"):
                _rows(lib, op, "same", n=8)
        else:
            same = _rows(lib, op, "same", n=8)
            assert _distinct_rows(same) == 1, lib.__name__
        different = _rows(lib, op, "different", n=8)
        assert _distinct_rows(different) > 1, lib.__name__


def test_randomness_same_replays_one_draw_and_advances_once():
    disttorch.manual_seed(5)
    one = disttorch.rand(3)
    after_one = disttorch.rand(3)
    disttorch.manual_seed(5)
    same = disttorch.func.vmap(lambda r: r + disttorch.rand(3), randomness="same")(
        disttorch.zeros(4, 3))
    np.testing.assert_array_equal(_np(same), np.tile(_np(one), (4, 1)))
    np.testing.assert_array_equal(_np(disttorch.rand(3)), _np(after_one))
    # 'different': the draws of a plain loop, in order
    disttorch.manual_seed(5)
    different = disttorch.func.vmap(lambda r: r + disttorch.rand(3), randomness="different")(
        disttorch.zeros(2, 3))
    np.testing.assert_array_equal(_np(different[0]), _np(one))
    np.testing.assert_array_equal(_np(different[1]), _np(after_one))


def test_randomness_of_nested_levels_and_explicit_generators():
    def inner(r):
        return r + disttorch.rand(2)

    x = disttorch.zeros(3, 4, 2)
    # same across the outer dimension, different across the inner one
    out = disttorch.func.vmap(disttorch.func.vmap(inner, randomness="different"),
                              randomness="same")(x)
    for i in range(1, 3):
        np.testing.assert_array_equal(_np(out[i]), _np(out[0]))
    assert _distinct_rows(out[0]) == 4
    # different outside, same inside
    out = disttorch.func.vmap(disttorch.func.vmap(inner, randomness="same"),
                              randomness="different")(x)
    assert all(_distinct_rows(out[i]) == 1 for i in range(3))
    assert len({tuple(_np(out[i, 0])) for i in range(3)}) == 3
    # an 'error' level anywhere in the stack refuses
    with pytest.raises(RuntimeError, match="randomness error mode"):
        disttorch.func.vmap(disttorch.func.vmap(inner, randomness="same"))(x)
    # a generator passed explicitly follows the flag too
    gen = disttorch.Generator().manual_seed(1)
    out = disttorch.func.vmap(lambda r: r + disttorch.rand(2, generator=gen),
                              randomness="same")(disttorch.zeros(5, 2))
    assert _distinct_rows(out) == 1


def test_in_place_changes():
    # to a mapped input: written through to it, as in torch
    _both(lambda lib: (lambda x: (lib.func.vmap(lambda r: r.mul_(2))(x), x))(lib.tensor(A)))
    # to an unmapped one: torch applies it once (or refuses a batched value); the per-sample
    # loop would apply it once per sample, so disttorch refuses
    with pytest.raises(RuntimeError, match="modified in place an input that is not mapped"):
        disttorch.func.vmap(lambda r, w: w.add_(1) * r, in_dims=(0, None))(
            disttorch.tensor(A), disttorch.zeros(3))
    with pytest.raises(RuntimeError, match="modified in place an input that is not mapped"):
        disttorch.func.vmap(lambda r, w: w.add_(r))(disttorch.tensor(A), w=disttorch.zeros(3))


def test_dropout_in_eval_is_not_random():
    model = disttorch.nn.Sequential(disttorch.nn.Linear(3, 3), disttorch.nn.Dropout(0.5)).eval()
    out = disttorch.func.vmap(model)(disttorch.ones(4, 3))
    assert out.shape == (4, 3)


# ------------------------------------------------------------------ stack_module_state
def test_stack_module_state_ensemble_matches_torch():
    weights = [(rng.standard_normal((2, 3)), rng.standard_normal(2)) for _ in range(4)]
    data = rng.standard_normal((5, 3))
    results = []
    for lib in (torch, disttorch):
        models = []
        for w, b in weights:
            m = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.BatchNorm1d(2)).double().eval()
            with lib.no_grad():
                m[0].weight.copy_(lib.tensor(w))
                m[0].bias.copy_(lib.tensor(b))
            models.append(m)
        params, buffers = lib.func.stack_module_state(models)
        assert all(p.is_leaf and p.requires_grad for p in params.values())
        assert list(buffers) == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]

        def one(p, b, x, model=models[0]):
            return lib.func.functional_call(model, (p, b), (x,))
        out = lib.func.vmap(one, in_dims=(0, 0, None))(params, buffers, lib.tensor(data))
        out.sum().backward()
        results.append((out, {k: v.grad for k, v in params.items()}, buffers))
    _assert_same(results[1][0], results[0][0])
    _assert_same(results[1][1], results[0][1])
    _assert_same(results[1][2], results[0][2])


@pytest.mark.parametrize("call", [
    lambda lib: lib.func.stack_module_state([]),
    lambda lib: lib.func.stack_module_state([lib.nn.Linear(1, 1), lib.nn.Linear(1, 1).eval()]),
    lambda lib: lib.func.stack_module_state([lib.nn.Linear(1, 1), lib.nn.Tanh()]),
    lambda lib: lib.func.stack_module_state([lib.nn.Linear(1, 1),
                                             lib.nn.Linear(1, 1).requires_grad_(False)]),
], ids=["empty", "modes", "classes", "requires_grad"])
def test_stack_module_state_errors_match_torch(call):
    with pytest.raises(RuntimeError) as want:
        call(torch)
    with pytest.raises(RuntimeError) as got:
        call(disttorch)
    assert str(got.value) == str(want.value)


# ------------------------------------------------------------------ simulated CUDA device
def test_vmap_on_the_simulated_cuda_device():
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5,))
    w = rng.standard_normal(3)

    def loss(lib, wv, xi, yi):
        return (lib.tanh(xi @ wv) - yi) ** 2

    want = torch.func.vmap(torch.func.grad(functools.partial(loss, torch)),
                           in_dims=(None, 0, 0))(torch.tensor(w), torch.tensor(x),
                                                 torch.tensor(y))
    with _simulated.simulate():
        got = disttorch.func.vmap(disttorch.func.grad(functools.partial(loss, disttorch)),
                                  in_dims=(None, 0, 0))(
            disttorch.tensor(w, device="cuda"), disttorch.tensor(x, device="cuda"),
            disttorch.tensor(y, device="cuda"))
        assert got.device.type == "cuda"
        # the device generator follows the randomness flag too (dropout draws on the device)
        ones = disttorch.ones(6, 8, device="cuda")
        same = disttorch.func.vmap(lambda r: disttorch.nn.functional.dropout(r, 0.5),
                                   randomness="same")(ones)
        different = disttorch.func.vmap(lambda r: disttorch.nn.functional.dropout(r, 0.5),
                                        randomness="different")(ones)
        with pytest.raises(RuntimeError, match="randomness error mode"):
            disttorch.func.vmap(lambda r: disttorch.nn.functional.dropout(r, 0.5))(ones)
        assert same.device.type == "cuda"
        np.testing.assert_allclose(_np(got), _np(want), rtol=1e-12)
        assert _distinct_rows(same) == 1 and _distinct_rows(different) > 1
