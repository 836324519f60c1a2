"""bfloat16 kernels against torch's CPU ones: the norms, einsum/tensordot/inner, cosine
similarity, mean/var/std/sum, the activations and softmax take bfloat16 tensors (ml_dtypes,
numpy kind 'V'), compute in float32 where numpy cannot (or would round at every step) and
return bfloat16 as torch does: forward values, output dtype and gradients (values and dtypes).
"""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(disttorch.bfloat16 is None,
                                reason="bfloat16 needs the ml_dtypes package")


def _F(lib):
    return lib.nn.functional


def _arrays():
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((4, 6, 5)).astype(np.float32),
            "y": rng.standard_normal((4, 6, 5)).astype(np.float32),
            "m": rng.standard_normal((6, 5)).astype(np.float32),
            "w": rng.standard_normal((6,)).astype(np.float32) + 1.5,
            "b": rng.standard_normal((6,)).astype(np.float32),
            "w5": rng.standard_normal((5,)).astype(np.float32) + 1.5,
            "b5": rng.standard_normal((5,)).astype(np.float32),
            "sq": rng.standard_normal((5, 5)).astype(np.float32)}


# name -> fn(lib, t): t holds bfloat16 leaves requiring grad (and t.f32_* float32 ones)
CASES = {
    "layer_norm": lambda L, t: _F(L).layer_norm(t.x, (5,)),
    "layer_norm_affine": lambda L, t: _F(L).layer_norm(t.x, (5,), t.w5, t.b5),
    "layer_norm_2d": lambda L, t: _F(L).layer_norm(t.x, (6, 5), t.m),
    "layer_norm_f32_params": lambda L, t: _F(L).layer_norm(t.x, (5,), t.f32_w5, t.f32_b5),
    "group_norm": lambda L, t: _F(L).group_norm(t.x, 3),
    "group_norm_affine": lambda L, t: _F(L).group_norm(t.x, 2, t.w, t.b),
    "rms_norm": lambda L, t: _F(L).rms_norm(t.x, (5,), t.w5),
    "batch_norm_train": lambda L, t: _F(L).batch_norm(t.x, None, None, t.w, t.b, training=True),
    "batch_norm_eval": lambda L, t: _F(L).batch_norm(
        t.x, t.b.detach(), t.w.detach().abs(), t.w, t.b, training=False),
    "instance_norm": lambda L, t: _F(L).instance_norm(t.x, weight=t.w, bias=t.b),
    "einsum_bmm": lambda L, t: L.einsum("bij,bkj->bik", t.x, t.y),
    "einsum_sum": lambda L, t: L.einsum("bij->", t.x),
    "einsum_dot": lambda L, t: L.einsum("bij,bij->b", t.x, t.y),
    "einsum_three": lambda L, t: L.einsum("bij,jk,kl->bil", t.x, t.sq, t.sq),
    "einsum_diagonal": lambda L, t: L.einsum("ii->i", t.sq),
    "tensordot": lambda L, t: L.tensordot(t.x, t.y, dims=([1, 2], [1, 2])),
    "tensordot_int": lambda L, t: L.tensordot(t.x, t.sq, 1),
    "inner": lambda L, t: L.inner(t.x, t.y),
    "inner_1d": lambda L, t: L.inner(t.w, t.b),
    "cosine_similarity": lambda L, t: _F(L).cosine_similarity(t.x, t.y),
    "cosine_similarity_dim": lambda L, t: _F(L).cosine_similarity(t.x, t.y, dim=-1),
    "mean": lambda L, t: t.x.mean(),
    "mean_dim": lambda L, t: L.mean(t.x, (0, 2), keepdim=True),
    "sum": lambda L, t: t.x.sum(1),
    "var": lambda L, t: t.x.var(1),
    "var_all": lambda L, t: L.var(t.x, correction=0),
    "std": lambda L, t: t.x.std(-1),
    "norm": lambda L, t: t.x.norm(dim=-1),
    "gelu": lambda L, t: _F(L).gelu(t.x),
    "gelu_tanh": lambda L, t: _F(L).gelu(t.x, approximate="tanh"),
    "silu": lambda L, t: _F(L).silu(t.x),
    "elu": lambda L, t: _F(L).elu(t.x),
    "selu": lambda L, t: _F(L).selu(t.x),
    "celu": lambda L, t: _F(L).celu(t.x, 0.5),
    "softplus": lambda L, t: _F(L).softplus(t.x, 2.0),
    "mish": lambda L, t: _F(L).mish(t.x),
    "logsigmoid": lambda L, t: _F(L).logsigmoid(t.x),
    "hardswish": lambda L, t: _F(L).hardswish(t.x),
    "leaky_relu": lambda L, t: _F(L).leaky_relu(t.x, 0.1),
    "prelu": lambda L, t: _F(L).prelu(t.x, t.w),
    "softmax": lambda L, t: _F(L).softmax(t.x, -1),
    "log_softmax": lambda L, t: _F(L).log_softmax(t.x, 1),
    "softmin": lambda L, t: _F(L).softmin(t.x, -1),
}


def _leaves(lib, device=None):
    ns = {}
    for name, a in _arrays().items():
        t = lib.from_numpy(a.copy())
        if device is not None:
            t = t.to(device)
        ns[name] = t.to(lib.bfloat16).requires_grad_()
        ns["f32_" + name] = t.clone().requires_grad_()
    return type("Leaves", (), ns)


def _np(t):
    return t.detach().float().cpu().numpy()


def _close(actual, expected, what, scale=1.0):
    # bfloat16 keeps 8 significand bits: 2**-8 relative rounding, a few of them along the way
    tol = 2.5e-2 * scale
    bound = tol * np.maximum(np.abs(expected).max(initial=0.0), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=bound, err_msg=what)


def _run(lib, name, device=None):
    t = _leaves(lib, device)
    out = CASES[name](lib, t)
    grad = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(np.float32)
    g = lib.from_numpy(grad)
    if device is not None:
        g = g.to(device)
    (out.float() * g).sum().backward()
    grads = {k: v.grad for k, v in vars(t).items()
             if not k.startswith("_") and getattr(v, "grad", None) is not None}
    return out, grads


@pytest.mark.parametrize("name", sorted(CASES))
def test_bfloat16_matches_torch(name):
    expected, expected_grads = _run(torch, name)
    actual, actual_grads = _run(disttorch, name)
    assert str(actual.dtype) == str(expected.dtype).replace("torch", "disttorch"), name
    assert tuple(actual.shape) == tuple(expected.shape)
    _close(_np(actual), _np(expected), name)
    assert sorted(actual_grads) == sorted(expected_grads), name
    for k, eg in expected_grads.items():
        ag = actual_grads[k]
        assert str(ag.dtype) == str(eg.dtype).replace("torch", "disttorch"), (name, k)
        # a gradient sums many bfloat16 products: a little more room
        _close(_np(ag), _np(eg), f"{name} grad {k}", scale=2.0)


def test_batch_norm_updates_bfloat16_running_stats():
    results = []
    for lib in (torch, disttorch):
        x = lib.from_numpy(_arrays()["x"]).to(lib.bfloat16)
        mean = lib.zeros(6, dtype=lib.bfloat16)
        var = lib.ones(6, dtype=lib.bfloat16)
        out = _F(lib).batch_norm(x, mean, var, training=True, momentum=0.3)
        results.append((out, mean, var))
    for expected, actual in zip(*results):
        assert str(actual.dtype) == "disttorch.bfloat16"
        _close(_np(actual), _np(expected), "batch_norm running stats")


def test_layer_norm_bfloat16_double_backward():
    results = []
    for lib in (torch, disttorch):
        a = _arrays()
        x = lib.from_numpy(a["x"]).to(lib.bfloat16).requires_grad_()
        w = lib.from_numpy(a["w5"]).to(lib.bfloat16).requires_grad_()
        out = _F(lib).layer_norm(x, (5,), w)
        gx, = lib.autograd.grad((out.float() ** 2).sum(), x, create_graph=True)
        assert gx.dtype == lib.bfloat16
        gx.float().pow(2).sum().backward()
        results.append((gx, x.grad, w.grad))
    for expected, actual in zip(*results):
        assert str(actual.dtype) == "disttorch.bfloat16"
        _close(_np(actual), _np(expected), "layer_norm double backward", scale=4.0)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_rms_norm_default_eps_is_float32_eps(dtype):
    # mean square 3.3e-5: torch adds the eps of its compute type, float32, not the input's
    x = disttorch.zeros(2, 3, dtype=getattr(disttorch, dtype))
    x[0, 0] = 0.01
    expected = torch.nn.functional.rms_norm(
        torch.from_numpy(_np(x)).to(getattr(torch, dtype)), (3,))
    actual = disttorch.nn.functional.rms_norm(x, (3,))
    assert actual.dtype == x.dtype
    _close(_np(actual), _np(expected), "rms_norm eps")


# the simulated CUDA device runs the same numpy kernels through its own array type
SIM_CASES = ["layer_norm_affine", "group_norm", "batch_norm_train", "einsum_bmm", "einsum_sum",
             "tensordot", "inner", "cosine_similarity", "mean", "var", "sum", "gelu",
             "gelu_tanh", "silu", "elu", "softplus", "softmax"]


@pytest.mark.parametrize("name", SIM_CASES)
def test_bfloat16_on_simulated_cuda_matches_cpu(name):
    expected, expected_grads = _run(disttorch, name)
    with _simulated.simulate():
        actual, actual_grads = _run(disttorch, name, "cuda")
        assert actual.is_cuda and actual.dtype == expected.dtype, name
        assert sorted(actual_grads) == sorted(expected_grads)
        for k, eg in expected_grads.items():
            assert actual_grads[k].is_cuda and actual_grads[k].dtype == eg.dtype, (name, k)
            np.testing.assert_allclose(_np(actual_grads[k]), _np(eg), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(_np(actual), _np(expected), rtol=1e-6, atol=1e-6)


# CUDA autocast leaves these ops alone: bfloat16 inputs give bfloat16 (the float16 side of these
# cases is in tests/amp/test_autocast_lists.py)
AUTOCAST_LOW = {
    "einsum": lambda L, x, img: L.einsum("ij,kj->ik", x, x),
    "tensordot": lambda L, x, img: L.tensordot(x, x.t(), 1),
    "mean": lambda L, x, img: x.mean(),
    "var": lambda L, x, img: x.var(),
    "gelu": lambda L, x, img: _F(L).gelu(x),
    "silu": lambda L, x, img: _F(L).silu(x),
    "elu": lambda L, x, img: _F(L).elu(x),
    "batch_norm": lambda L, x, img: _F(L).batch_norm(img, None, None, training=True),
    "softmax_dtype": lambda L, x, img: L.softmax(x, -1, dtype=L.bfloat16),
}
AUTOCAST_FP32 = {
    "softplus": lambda L, x, img: _F(L).softplus(x),
    "softmax": lambda L, x, img: L.softmax(x, -1),
    "log_softmax": lambda L, x, img: _F(L).log_softmax(x, -1),
    "layer_norm": lambda L, x, img: _F(L).layer_norm(x, (5,)),
    "group_norm": lambda L, x, img: _F(L).group_norm(img, 2),
}


@pytest.mark.parametrize("name", sorted(AUTOCAST_LOW) + sorted(AUTOCAST_FP32))
def test_simulated_cuda_autocast_bfloat16(name):
    fn = AUTOCAST_LOW.get(name) or AUTOCAST_FP32[name]
    with _simulated.simulate():
        x = disttorch.from_numpy(_arrays()["m"]).cuda().bfloat16()
        img = disttorch.from_numpy(_arrays()["x"]).cuda().bfloat16()
        with disttorch.autocast("cuda", dtype=disttorch.bfloat16):
            out = fn(disttorch, x, img)
        assert out.is_cuda
        assert out.dtype == (disttorch.bfloat16 if name in AUTOCAST_LOW else disttorch.float32)


def test_prelu_autocast_cpu_and_cuda():
    a = _arrays()
    # CPU autocast lowers prelu's input and weight to bfloat16, as torch does
    for lib in (torch, disttorch):
        x, w = lib.from_numpy(a["x"]), lib.from_numpy(a["w"])
        with lib.autocast("cpu", dtype=lib.bfloat16):
            assert _F(lib).prelu(x, w).dtype == lib.bfloat16
    with _simulated.simulate():
        x, w = disttorch.from_numpy(a["x"]).cuda(), disttorch.from_numpy(a["w"]).cuda()
        with disttorch.autocast("cuda", dtype=disttorch.bfloat16):
            assert _F(disttorch).prelu(x, w).dtype == disttorch.bfloat16


@pytest.mark.parametrize("op", [
    lambda x: x + 2.5, lambda x: x * 0.1, lambda x: x - 2.5, lambda x: x / 0.3,
    lambda x: 2.5 - x, lambda x: 2.5 / x, lambda x: x ** 2.0, lambda x: x / 2,
    lambda x: 2.0 ** x], ids=["add", "mul", "sub", "div", "rsub", "rdiv", "pow", "div_int",
                              "rpow"])
def test_bfloat16_with_python_number_stays_bfloat16(op):
    # ml_dtypes meets a Python number in float32; PyTorch rounds back to bfloat16
    values = [1.0, 0.3, 7.1]
    expected = op(torch.tensor(values, dtype=torch.bfloat16))
    got = op(disttorch.tensor(values, dtype=disttorch.bfloat16))
    assert got.dtype == disttorch.bfloat16
    np.testing.assert_array_equal(got.float().numpy(), expected.float().numpy())
