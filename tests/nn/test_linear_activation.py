"""Linear layers and activations: functional forms through the op-table harness, modules
against torch with copied weights, default initialisation, in-place variants."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _x(rng, *shape):
    # keep values away from the kinks of piecewise activations (finite differences)
    x = rng.standard_normal(shape) * 2
    return np.where(np.abs(x) < 0.05, 0.3, x)


def _act(name, fn, shape=(3, 5), **kw):
    return OpInfo(name, fn, lambda rng: [S(_x(rng, *shape)), S(_x(rng, 2, 3, 4))], **kw)


ACTIVATIONS = [
    _act("relu", lambda lib, x: lib.nn.functional.relu(x)),
    _act("relu6", lambda lib, x: lib.nn.functional.relu6(x * 4)),
    _act("hardtanh", lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 1.5)),
    _act("leaky_relu", lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2)),
    _act("elu", lambda lib, x: lib.nn.functional.elu(x, 0.7)),
    _act("selu", lambda lib, x: lib.nn.functional.selu(x)),
    _act("celu", lambda lib, x: lib.nn.functional.celu(x, 1.3)),
    _act("gelu", lambda lib, x: lib.nn.functional.gelu(x)),
    _act("gelu_tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh")),
    _act("silu", lambda lib, x: lib.nn.functional.silu(x)),
    _act("mish", lambda lib, x: lib.nn.functional.mish(x)),
    _act("sigmoid", lambda lib, x: lib.nn.functional.sigmoid(x)),
    _act("tanh", lambda lib, x: lib.nn.functional.tanh(x)),
    _act("softplus", lambda lib, x: lib.nn.functional.softplus(x, beta=2.0, threshold=3.0)),
    _act("softsign", lambda lib, x: lib.nn.functional.softsign(x)),
    _act("hardsigmoid", lambda lib, x: lib.nn.functional.hardsigmoid(x * 2)),
    _act("hardswish", lambda lib, x: lib.nn.functional.hardswish(x * 2)),
    _act("logsigmoid", lambda lib, x: lib.nn.functional.logsigmoid(x * 10)),
    _act("threshold", lambda lib, x: lib.nn.functional.threshold(x, 0.1, -2.0)),
    _act("tanhshrink", lambda lib, x: lib.nn.functional.tanhshrink(x)),
    _act("softshrink", lambda lib, x: lib.nn.functional.softshrink(x, 0.3)),
    _act("hardshrink", lambda lib, x: lib.nn.functional.hardshrink(x, 0.3)),
    _act("rrelu_eval", lambda lib, x: lib.nn.functional.rrelu(x)),
    _act("softmax", lambda lib, x: lib.nn.functional.softmax(x * 5, dim=-1)),
    _act("softmax_dim0", lambda lib, x: lib.nn.functional.softmax(x, dim=0)),
    _act("log_softmax", lambda lib, x: lib.nn.functional.log_softmax(x * 5, dim=1)),
    _act("softmin", lambda lib, x: lib.nn.functional.softmin(x, dim=-1)),
    _act("glu", lambda lib, x: lib.nn.functional.glu(x, 0), shape=(4, 3)),
    OpInfo("softmax_dtype", lambda lib, x: lib.nn.functional.softmax(x, -1, dtype=lib.float64),
           lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("prelu", lambda lib, x, w: lib.nn.functional.prelu(x, w),
           lambda rng: [S(_x(rng, 2, 3, 4), rng.uniform(0.1, 0.5, 3)),
                        S(_x(rng, 5, 2), rng.uniform(0.1, 0.5, 1))]),
    OpInfo("linear", lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 5, 3), randn(rng, 5)),
                        S(randn(rng, 2, 3, 3), randn(rng, 2, 3), randn(rng, 2)),
                        S(randn(rng, 3), randn(rng, 2, 3), None)]),
    OpInfo("bilinear", lambda lib, a, b, w, c: lib.nn.functional.bilinear(a, b, w, c),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 2), randn(rng, 5, 3, 2), randn(rng, 5))]),
]

test_activations_match_torch, test_activations_finite_differences = op_tests(ACTIVATIONS)


def _module_pair(name, *args, **kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: disttorch.from_numpy(v.detach().numpy().copy())
                          for k, v in theirs.state_dict().items()})


def _compare_module(ours, theirs, shapes, rtol=1e-5, atol=1e-6):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    _copy_weights(ours, theirs)
    tx = [torch.from_numpy(x.copy()).requires_grad_() for x in xs]
    dx = [disttorch.from_numpy(x.copy()).requires_grad_() for x in xs]
    to, do = theirs(*tx), ours(*dx)
    np.testing.assert_allclose(do.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    w = rng.standard_normal(tuple(to.shape)).astype(np.float32)
    to.backward(torch.from_numpy(w))
    do.backward(disttorch.from_numpy(w.copy()))
    for a, b in zip(dx, tx):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


MODULES = [("Linear", (3, 4), [(5, 3)]), ("Linear", (3, 4, False), [(2, 6, 3)]),
           ("Bilinear", (3, 2, 4), [(5, 3), (5, 2)]), ("PReLU", (), [(4, 3)]),
           ("PReLU", (3,), [(2, 3, 5)]), ("ReLU", (), [(4, 3)]), ("GELU", ("tanh",), [(4, 3)]),
           ("Softmax", (1,), [(4, 3)]), ("LogSoftmax", (-1,), [(2, 4, 3)]), ("GLU", (), [(4, 6)]),
           ("Softmax2d", (), [(2, 3, 4, 4)]), ("Identity", (), [(3,)]), ("Flatten", (), [(2, 3, 4)]),
           ("Unflatten", (1, (2, 3)), [(4, 6)])]


@requires_torch
@pytest.mark.parametrize("name,args,shapes", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(name, args, shapes):
    ours, theirs = _module_pair(name, *args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _compare_module(ours, theirs, shapes)


ACTIVATION_MODULES = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
                      "Sigmoid", "Tanh", "Softplus", "Softsign", "Hardtanh", "Hardsigmoid",
                      "Hardswish", "LogSigmoid", "Tanhshrink", "Softshrink", "Hardshrink", "RReLU"]


@requires_torch
@pytest.mark.parametrize("name", ACTIVATION_MODULES)
def test_activation_modules_match_torch(name):
    ours, theirs = _module_pair(name)
    ours.eval(), theirs.eval()
    assert repr(ours) == repr(theirs)
    _compare_module(ours, theirs, [(3, 7)])


INPLACE = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardtanh",
           "Hardsigmoid", "Hardswish"]


@requires_torch
@pytest.mark.parametrize("name", INPLACE)
def test_inplace_activations_match_torch(name):
    ours, theirs = _module_pair(name, inplace=True)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32) * 3
    tx = torch.from_numpy(x.copy()).requires_grad_()
    dx = disttorch.from_numpy(x.copy()).requires_grad_()
    t_mid, d_mid = tx * 1, dx * 1
    t_out, d_out = theirs(t_mid), ours(d_mid)
    assert d_out is d_mid
    np.testing.assert_allclose(d_mid.detach().numpy(), t_mid.detach().numpy(), rtol=1e-5, atol=1e-6)
    (t_out * t_out).sum().backward()
    (d_out * d_out).sum().backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        ours(disttorch.ones(2, requires_grad=True))
    plain = disttorch.from_numpy(x.copy())
    assert ours(plain) is plain


def test_linear_default_init_matches_torch_bounds():
    torch.manual_seed(0)
    disttorch.manual_seed(0)
    torch_m = torch.nn.Linear(400, 300)
    ours = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p, q in ((ours.weight, torch_m.weight), (ours.bias, torch_m.bias)):
        a, b = p.detach().numpy(), q.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound
        assert abs(a.std() - b.std()) < 0.1 * b.std()
    bil = nn.Bilinear(20, 10, 5)
    assert np.abs(bil.weight.detach().numpy()).max() <= 1 / math.sqrt(20)


LINEAR_ERRORS = [
    lambda lib: lib.nn.functional.linear(lib.ones(2, 3, dtype=lib.int64), lib.ones(4, 3)),
    lambda lib: lib.nn.functional.linear(lib.ones(2, 3, dtype=lib.float64), lib.ones(4, 3)),
    lambda lib: lib.nn.functional.linear(lib.ones(2, 3, dtype=lib.float64), lib.ones(4, 3),
                                         lib.ones(4)),
    lambda lib: lib.nn.functional.linear(lib.ones(2, 3), lib.ones(4, 3),
                                         lib.ones(4, dtype=lib.float64)),
    lambda lib: lib.nn.functional.linear(lib.ones(2, 5, 3), lib.ones(4, 3), lib.ones(5)),
    lambda lib: lib.nn.functional.linear(lib.ones(2, 5, 4), lib.ones(4, 3)),
    lambda lib: lib.nn.functional.linear(lib.ones(4), lib.ones(4, 3)),
    lambda lib: lib.nn.Linear(3, 2)(lib.ones(4, 5)),
]


@requires_torch
@pytest.mark.parametrize("index", range(len(LINEAR_ERRORS)))
def test_linear_errors_in_torch_words(index):
    with pytest.raises(RuntimeError) as theirs:
        LINEAR_ERRORS[index](torch)
    with pytest.raises(RuntimeError) as ours:
        LINEAR_ERRORS[index](disttorch)
    assert str(ours.value) == str(theirs.value)


def test_linear_dtype_and_device_kwargs():
    m = nn.Linear(2, 3, dtype=disttorch.float64)
    assert m.weight.dtype == disttorch.float64 and m.bias.dtype == disttorch.float64
    assert m(disttorch.ones(1, 2, dtype=disttorch.float64)).dtype == disttorch.float64


def test_softmax_implicit_dim_warns_and_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = nn.functional.softmax(disttorch.from_numpy(x))
    np.testing.assert_allclose(ours.numpy(), torch.softmax(torch.from_numpy(x), 1).numpy(),
                               rtol=1e-6)


def test_softmax_is_stable_for_large_inputs():
    x = disttorch.tensor([[1000.0, 0.0, -1000.0]])
    assert np.all(np.isfinite(nn.functional.log_softmax(x, 1).numpy()))
    np.testing.assert_allclose(nn.functional.softmax(x, 1).numpy(), [[1.0, 0.0, 0.0]])


def test_softmax_double_backward_matches_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    for lib in (torch, disttorch):
        t = lib.tensor(x, requires_grad=True)
        for fn in (lambda v: lib.nn.functional.softmax(v, 1),
                   lambda v: lib.nn.functional.log_softmax(v, 1)):
            y = (fn(t) * lib.tensor(np.arange(12.0).reshape(3, 4))).sum()
            g, = lib.autograd.grad(y, t, create_graph=True)
            gg, = lib.autograd.grad((g * g).sum(), t)
            results.append(gg.detach().numpy())
    for a, b in zip(results[2:], results[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "mish", "softplus", "linear"])
def test_double_backward_matches_torch(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((2, 4))
    results = []
    for lib in (torch, disttorch):
        t = lib.tensor(x, requires_grad=True)
        weight = lib.tensor(w, requires_grad=True)
        fn = getattr(lib.nn.functional, name)
        y = fn(t, weight) if name == "linear" else fn(t)
        g, = lib.autograd.grad((y * y).sum(), t, create_graph=True)
        gg = lib.autograd.grad(g.sum(), [t, weight] if name == "linear" else [t])
        results.append([v.detach().numpy() for v in gg])
    for a, b in zip(results[1], results[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_rrelu_training_slopes_in_range_and_seeded():
    x = -disttorch.ones(1000)
    disttorch.manual_seed(0)
    a = nn.functional.rrelu(x, 0.1, 0.3, training=True)
    disttorch.manual_seed(0)
    b = nn.functional.rrelu(x, 0.1, 0.3, training=True)
    assert np.array_equal(a.numpy(), b.numpy())
    assert a.numpy().min() >= -0.3 and a.numpy().max() <= -0.1


def test_activation_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        nn.functional.glu(disttorch.ones(3, 3))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        nn.functional.gelu(disttorch.ones(2), approximate="fast")
    with pytest.raises(ValueError, match="max_val must be greater than min_val"):
        nn.Hardtanh(1.0, 0.0)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        nn.PReLU(3)(disttorch.ones(2, 4))


def test_gumbel_softmax_soft_and_hard_straight_through():
    logits = disttorch.randn(64, 5, requires_grad=True)
    disttorch.manual_seed(0)
    soft = nn.functional.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1.0, rtol=1e-5)
    disttorch.manual_seed(0)
    hard = nn.functional.gumbel_softmax(logits, tau=0.5, hard=True)
    values = hard.detach().numpy()
    assert set(np.unique(values)) == {0.0, 1.0} and np.all(values.sum(1) == 1)
    assert np.array_equal(values.argmax(1), soft.detach().numpy().argmax(1))
    w = disttorch.randn(64, 5)
    g_hard, = disttorch.autograd.grad((hard * w).sum(), logits)
    g_soft, = disttorch.autograd.grad((soft * w).sum(), logits)
    np.testing.assert_allclose(g_hard.numpy(), g_soft.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("name,args,bounded", [("Linear", (300, 200), True),
                                               ("Bilinear", (30, 20, 40), True),
                                               ("Embedding", (300, 50), False),
                                               ("PReLU", (8,), True)])
def test_default_init_statistics_match_torch(name, args, bounded):
    torch.manual_seed(0)
    disttorch.manual_seed(0)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    for (pname, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        a, b = p.detach().numpy(), q.detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype, pname
        if bounded:
            spread = b.max() - b.min()
            assert a.min() >= b.min() - 0.05 * spread - 1e-6, pname
            assert a.max() <= b.max() + 0.05 * spread + 1e-6, pname
        n = a.size
        assert abs(a.std() - b.std()) <= 4 / np.sqrt(2 * n) * b.std() + 1e-6, pname
        assert abs(a.mean() - b.mean()) <= 6 / np.sqrt(n) * b.std() + 1e-6, pname


@pytest.mark.parametrize("op", [o for o in ACTIVATIONS if o.name not in ("bilinear", "rrelu_eval")],
                         ids=lambda o: o.name)
def test_activations_double_backward_finite_differences(op):
    sample = op.samples(np.random.default_rng(0))[0]
    inputs = [disttorch.tensor(a.astype(np.float64), requires_grad=True) if a is not None else None
              for a in sample.args]
    tensors = [t for t in inputs if t is not None]

    def fn(*ts):
        it = iter(ts)
        return op.fn(disttorch, *[next(it) if t is not None else None for t in inputs])
    assert disttorch.autograd.gradgradcheck(fn, tensors)


def test_tensor_softmax_methods():
    x = disttorch.tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(x.softmax(1).numpy(), nn.functional.softmax(x, 1).numpy())
    np.testing.assert_allclose(x.log_softmax(-1).numpy(), nn.functional.log_softmax(x, -1).numpy())
    assert x.softmax(1, dtype=disttorch.float64).dtype == disttorch.float64


def test_bilinear_double_backward_finite_differences():
    rng = np.random.default_rng(0)
    args = [disttorch.tensor(rng.standard_normal(s), requires_grad=True)
            for s in [(3, 2), (3, 4), (5, 2, 4), (5,)]]
    assert disttorch.autograd.gradgradcheck(nn.functional.bilinear, args)
