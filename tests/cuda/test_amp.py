"""Autocast (op dtypes and values against torch's CPU autocast) and GradScaler."""
import numpy as np
import pytest

import disttorch

from tests.ops.harness import requires_bf16, requires_torch, torch

from .conftest import WITH_SECOND_DEVICE, on_device


@pytest.fixture(params=WITH_SECOND_DEVICE)
def device(request):
    """Also ``cuda-emu``: the float16 softmax and GradScaler kernels run by the CPU emulator."""
    yield from on_device(request.param)

# (name, fn(lib, x, w, b), PyTorch's CUDA autocast output dtype: "low" or float32; on the CPU,
# softmax and the normalisations stay in the low-precision dtype)
AUTOCAST_OPS = [
    ("linear", lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), "low"),
    ("matmul", lambda lib, x, w, b: lib.matmul(x, w.t()), "low"),
    ("addmm", lambda lib, x, w, b: lib.addmm(b, x, w.t()), "low"),
    ("bmm", lambda lib, x, w, b: lib.bmm(x.unsqueeze(0), w.t().unsqueeze(0)), "low"),
    ("conv1d", lambda lib, x, w, b: lib.nn.functional.conv1d(x.t().unsqueeze(0), w.unsqueeze(-1), b),
     "low"),
    ("softmax", lambda lib, x, w, b: lib.softmax(lib.matmul(x, w.t()), -1), "float32"),
    ("log_softmax", lambda lib, x, w, b: lib.log_softmax(lib.matmul(x, w.t()), -1), "float32"),
    ("layer_norm", lambda lib, x, w, b: lib.nn.functional.layer_norm(lib.matmul(x, w.t()), (5,)),
     "float32"),
    ("cross_entropy", lambda lib, x, w, b: lib.nn.functional.cross_entropy(
        lib.matmul(x, w.t()), lib.tensor([0, 1, 2, 3], device=x.device)), "float32"),
    ("mse_loss", lambda lib, x, w, b: lib.nn.functional.mse_loss(lib.matmul(x, w.t()), b.expand(4, 5)),
     "float32"),
]


def _inputs(lib, rng, device="cpu"):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (5, 3), (5,))]
    if lib is torch:
        return [torch.from_numpy(a).requires_grad_() for a in arrays]
    return [disttorch.from_numpy(a).to(device).requires_grad_() for a in arrays]


def _run(lib, fn, device_type, dtype, rng, device="cpu"):
    inputs = _inputs(lib, rng, device)
    with lib.autocast(device_type, dtype=dtype):
        out = fn(lib, *inputs)
    out.float().sum().backward()
    return out, inputs


# layer_norm has no bfloat16 kernel on the CPU yet (numpy's einsum refuses ml_dtypes' bfloat16)
CPU_OPS = [o for o in AUTOCAST_OPS if o[0] != "layer_norm"]


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name,fn,kind", CPU_OPS, ids=[o[0] for o in CPU_OPS])
def test_cpu_bfloat16_autocast_matches_torch(name, fn, kind):
    expected, t_in = _run(torch, fn, "cpu", torch.bfloat16, np.random.default_rng(0))
    actual, d_in = _run(disttorch, fn, "cpu", disttorch.bfloat16, np.random.default_rng(0))
    assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(actual.detach().float().numpy(), expected.detach().float().numpy(),
                               rtol=2e-2, atol=2e-2, err_msg=name)
    for t, d in zip(t_in, d_in):
        if t.grad is None:
            assert d.grad is None
            continue
        assert d.grad.dtype == disttorch.float32
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
@pytest.mark.parametrize("name,fn,kind", AUTOCAST_OPS, ids=[o[0] for o in AUTOCAST_OPS])
def test_cuda_autocast_dtypes(name, fn, kind, low, device):
    if getattr(disttorch, low) is None:
        pytest.skip("bfloat16 needs the ml_dtypes package (pip install ml_dtypes)")
    low = getattr(disttorch, low)
    out, inputs = _run(disttorch, fn, "cuda", low, np.random.default_rng(0), device)
    assert out.is_cuda
    assert out.dtype == (low if kind == "low" else disttorch.float32)
    assert all(t.grad.dtype == disttorch.float32 and t.grad.is_cuda for t in inputs
               if t.grad is not None)
    reference = fn(disttorch, *[t.detach().cpu() for t in inputs])
    np.testing.assert_allclose(out.detach().float().cpu().numpy(), reference.numpy(), rtol=3e-2,
                               atol=3e-2, err_msg=name)


def test_autocast_region_rules(device):
    x = disttorch.ones(2, 2, device=device)
    with disttorch.autocast("cuda"):
        assert disttorch.is_autocast_enabled("cuda") and not disttorch.is_autocast_enabled("cpu")
        assert disttorch.get_autocast_dtype("cuda") == disttorch.float16
        assert (x @ x).dtype == disttorch.float16
        assert (disttorch.ones(2, 2) @ disttorch.ones(2, 2)).dtype == disttorch.float32
        assert (x.double() @ x.double()).dtype == disttorch.float64
        with disttorch.autocast("cuda", enabled=False):
            assert (x @ x).dtype == disttorch.float32
        assert (x @ x).dtype == disttorch.float16
    assert not disttorch.is_autocast_enabled("cuda")

    @disttorch.autocast("cuda")
    def decorated(a):
        return a @ a
    assert decorated(x).dtype == disttorch.float16
    from disttorch.cuda.amp import autocast as cuda_autocast
    with cuda_autocast():
        assert (x @ x).dtype == disttorch.float16


def test_autocast_argument_errors():
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'xla'"):
        disttorch.autocast("xla")
    # like PyTorch: an unsupported target dtype warns and turns autocast off
    with pytest.warns(UserWarning, match="only supports"):
        region = disttorch.autocast("cpu", dtype=disttorch.float64)
    with region:
        assert not disttorch.is_autocast_enabled("cpu")
    with disttorch.autocast("cpu", dtype=disttorch.float32, enabled=False):
        pass


def _scaled_steps(lib, device, grads_per_step, **scaler_kwargs):
    weight = lib.zeros(3, device=device, requires_grad=True)
    optimizer = lib.optim.SGD([weight], lr=0.1)
    scaler = lib.amp.GradScaler(device.split(":")[0], **scaler_kwargs)
    scales, weights = [], []
    for grad in grads_per_step:
        optimizer.zero_grad()
        loss = (weight * lib.tensor(grad, device=device)).sum()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scales.append(scaler.get_scale())
        weights.append(weight.detach().cpu().numpy().copy())
    return scales, weights, scaler


GRADS = [[1.0, 2.0, 3.0], [float("inf"), 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, float("nan")],
         [1.0, -1.0, 2.0], [2.0, 2.0, 2.0]]


@requires_torch
def test_grad_scaler_matches_torch(device):
    kwargs = dict(init_scale=1024.0, growth_interval=2)
    expected = _scaled_steps(torch, "cpu", GRADS, **kwargs)
    actual = _scaled_steps(disttorch, device, GRADS, **kwargs)
    assert actual[0] == expected[0]
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-6)
    assert actual[2].state_dict() == expected[2].state_dict()


@requires_torch
@pytest.mark.parametrize("kwargs", [
    dict(init_scale=2.0 ** 127, growth_interval=1),                 # the grown scale overflows
    dict(init_scale=3.0, growth_factor=1.7, backoff_factor=0.3, growth_interval=3),
], ids=["overflow", "odd-factors"])
def test_grad_scaler_update_rule_matches_torch(device, kwargs):
    # the fused update kernel (cuda-emu) and the array ops (cuda-sim) against torch's rule:
    # products formed in double, a non-finite grown scale kept out, the tracker restarted
    grads = [[1.0, 2.0, 3.0]] * 4 + [[float("inf"), 1.0, 1.0]] + [[1.0, 1.0, 1.0]] * 3
    expected = _scaled_steps(torch, "cpu", grads, **kwargs)
    actual = _scaled_steps(disttorch, device, grads, **kwargs)
    assert actual[0] == expected[0]
    assert actual[2].state_dict() == expected[2].state_dict()


def test_grad_scaler_unscale_and_state(device):
    weight = disttorch.ones(2, device=device, requires_grad=True)
    optimizer = disttorch.optim.SGD([weight], lr=1.0)
    scaler = disttorch.amp.GradScaler("cuda", init_scale=8.0)
    scaler.scale((weight * 3).sum()).backward()
    np.testing.assert_allclose(weight.grad.cpu().numpy(), [24.0, 24.0])
    scaler.unscale_(optimizer)
    np.testing.assert_allclose(weight.grad.cpu().numpy(), [3.0, 3.0])
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(optimizer)
    scaler.step(optimizer)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(optimizer)
    scaler.update()
    other = disttorch.amp.GradScaler("cuda")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 8.0
    disabled = disttorch.amp.GradScaler("cuda", enabled=False)
    assert disabled.state_dict() == {} and disabled.get_scale() == 1.0
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        other.load_state_dict({})


def test_autocast_linear_keeps_a_float32_bias(device):
    # Under float16 autocast the float32 bias is rounded to float16 and added to the float16
    # product, and its gradient is the float16 column sum cast to float32 (PyTorch's cast bias).
    # On the emulator the fused kernels take the float32 bias as it is (bias_add_half,
    # column_sum_half); on the simulated device the bias is cast. Both must give these values.
    # Small integers and halves keep every product and sum exact, except where rounding to
    # float16 is the point: 0.1 + 2**-12 for the bias, and the bias gradient's column sums.
    from disttorch.cuda import _sim_kernels, _simulated
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (2, 3, 4)).astype(np.float32)
    w = (rng.integers(-2, 3, (5, 4)) / 2).astype(np.float32)
    b = np.array([0.1 + 2.0 ** -12, 1.0, -3.0, 2.5, 0.0], np.float32)
    gy = np.full((2, 3, 5), 1 + 2.0 ** -10, np.float32)     # 6 rows: sums need 13 bits
    xt, wt, bt = (disttorch.from_numpy(a).to(device).requires_grad_() for a in (x, w, b))
    launched = _sim_kernels.launches["bias_add_half"], _sim_kernels.launches["column_sum_half"]
    with disttorch.autocast("cuda", dtype=disttorch.float16):
        y = disttorch.nn.functional.linear(xt, wt, bt)
    assert y.dtype == disttorch.float16
    (y.float() * disttorch.from_numpy(gy).to(device)).sum().backward()
    if _simulated.runs_kernels():
        assert (_sim_kernels.launches["bias_add_half"],
                _sim_kernels.launches["column_sum_half"]) == (launched[0] + 1, launched[1] + 1)
    b16 = b.astype(np.float16).astype(np.float64)
    expected_y = (x.astype(np.float64) @ w.T.astype(np.float64) + b16).astype(np.float16)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), expected_y)
    g16 = gy.astype(np.float16).astype(np.float64).reshape(-1, 5)
    expected_gb = g16.sum(0).astype(np.float16).astype(np.float32)
    assert bt.grad.dtype == disttorch.float32
    np.testing.assert_array_equal(bt.grad.cpu().numpy(), expected_gb)
    assert expected_gb[0] != np.float32(g16.sum(0)[0])      # the rounding is tested
    np.testing.assert_array_equal(wt.grad.cpu().numpy(),
                                  (g16.T @ x.reshape(-1, 4)).astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(xt.grad.cpu().numpy(),
                                  (g16 @ w).reshape(x.shape).astype(np.float16).astype(np.float32))


def test_linear_refuses_a_float32_bias_outside_autocast(device):
    x = disttorch.ones(2, 4, dtype=disttorch.float16, device=device)
    w = disttorch.ones(3, 4, dtype=disttorch.float16, device=device)
    b = disttorch.ones(3, device=device)
    with pytest.raises(RuntimeError, match="self and mat2 must have the same dtype"):
        disttorch.nn.functional.linear(x, w, b)


def test_autocast_linear_float32_bias_double_backward():
    # create_graph through the kept float32 bias (the emulated kernels) gives what the generic
    # path (bias cast to float16) gives
    from disttorch.cuda import _kernel_emulator, _simulated
    if not _kernel_emulator.available():
        pytest.skip("no C++ compiler to run the fused kernels on the CPU emulator")
    rng = np.random.default_rng(3)
    arrays = [rng.integers(-2, 3, s).astype(np.float32) for s in ((3, 4), (5, 4), (5,))]
    results = []
    for mode in (False, "run"):
        with _simulated.simulate(fused_kernels=mode):
            x, w, b = (disttorch.from_numpy(a).to("cuda").requires_grad_() for a in arrays)
            with disttorch.autocast("cuda", dtype=disttorch.float16):
                y = disttorch.nn.functional.linear(x, w, b)
            gb, = disttorch.autograd.grad(y.float().pow(2).sum(), b, create_graph=True)
            gx, gw = disttorch.autograd.grad(gb.sum(), (x, w))
            results.append([t.detach().cpu().numpy() for t in (gb, gx, gw)])
    assert results[1][0].dtype == np.float32
    for fused, generic in zip(results[1], results[0]):
        np.testing.assert_array_equal(fused, generic)
