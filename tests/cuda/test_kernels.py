"""The fused CUDA kernels: every source compiles (NVRTC, no GPU needed), and the fused paths
give the generic paths' values and gradients.

Each value test runs three ways (the ``device`` fixture below): ``cuda`` on a real GPU;
``cuda-sim`` on the simulated device, whose generic paths run instead of the kernels; and
``cuda-emu`` on the simulated device with the kernels themselves run by the CPU emulator
(``disttorch.cuda._kernel_emulator``), so the kernels' values are tested on every machine with a
C++ compiler."""
import copy

import numpy as np
import pytest

import disttorch
import disttorch.nn.functional as F
from disttorch.cuda.kernels import amp as amp_kernels, ddp as ddp_kernels, nn as nn_kernels
from disttorch.cuda.kernels import conv as conv_kernels, pool as pool_kernels
from disttorch.cuda.kernels import bounds as bounds_kernels, scatter as scatter_kernels
from disttorch.cuda.kernels import special as special_kernels
from disttorch.optim import _cuda_kernels as optim_kernels

from .conftest import WITH_SECOND_DEVICE, on_device

SOURCES = [(module.__name__, name, source)
           for module in (nn_kernels, optim_kernels, amp_kernels, ddp_kernels, pool_kernels,
                          special_kernels, conv_kernels, scatter_kernels,
                          bounds_kernels)
           for name, source in module.SOURCES.items()]


@pytest.fixture(params=WITH_SECOND_DEVICE)
def device(request):
    """The GPU; the simulated device (generic paths); the simulated device with each fused
    kernel launch run on the CPU emulator."""
    yield from on_device(request.param)


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as exc:  # no CuPy, or no libnvrtc on this machine
        pytest.skip(f"CuPy's NVRTC is not available ({type(exc).__name__}): kernel sources are "
                    f"compiled on the GPU machine instead")
    return nvrtc


@pytest.mark.parametrize("module,name,source", SOURCES, ids=[s[1] for s in SOURCES])
def test_kernel_source_compiles(module, name, source):
    nvrtc = _nvrtc()
    program = nvrtc.createProgram(source, f"{name}.cu", [], [])
    try:
        # the options CuPy's RawKernel passes to NVRTC
        nvrtc.compileProgram(program, ["-arch=compute_80", "--device-as-default-execution-space",
                                       "-ftz=true"])
    except Exception as exc:
        pytest.fail(f"{module}.{name} does not compile: {exc}\n{nvrtc.getProgramLog(program)}")


def _pair(array, device, requires_grad=True):
    cpu = disttorch.from_numpy(array.copy()).requires_grad_(requires_grad)
    dev = disttorch.from_numpy(array.copy()).to(device).requires_grad_(requires_grad)
    return cpu, dev


def _compare(cpu, dev, rtol=1e-4, atol=1e-5):
    assert dev.is_cuda
    np.testing.assert_allclose(dev.detach().cpu().numpy(), cpu.detach().numpy(), rtol=rtol,
                               atol=atol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(reduction, smoothing, device):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((6, 37)) * 3).astype(np.float32)
    target = np.array([0, 36, -100, 5, 5, 12])
    results = []
    for x, place in zip(_pair(logits, device), ("cpu", device)):
        loss = F.cross_entropy(x, disttorch.from_numpy(target).to(place), reduction=reduction,
                               label_smoothing=smoothing)
        weight = disttorch.arange(1.0, 7.0).to(place) if reduction == "none" else 1.0
        (loss * weight).sum().backward()
        results.append((loss, x.grad))
    _compare(results[0][0], results[1][0])
    _compare(results[0][1], results[1][1])


def test_cross_entropy_double_backward(device):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 5)).astype(np.float32)
    grads = []
    for x, place in zip(_pair(logits, device), ("cpu", device)):
        loss = F.cross_entropy(x, disttorch.tensor([1, 0, 4, 2], device=place), label_smoothing=0.2)
        g, = disttorch.autograd.grad(loss, x, create_graph=True)
        (g * g).sum().backward()
        grads.append(x.grad)
    _compare(*grads)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_all_ignored_gradient_is_zero(smoothing, device):
    """Every target ignored: a nan mean, as in PyTorch, but zero gradients (the mean's 1 / 0
    scale must not reach the ignored rows), in the kernels and in the double backward."""
    for place in ("cpu", device):
        x = disttorch.zeros(3, 5, device=place, requires_grad=True)
        target = disttorch.tensor([-100, -100, -100], device=place)
        loss = F.cross_entropy(x, target, label_smoothing=smoothing)
        g, = disttorch.autograd.grad(loss, x, create_graph=True)
        gg, = disttorch.autograd.grad((g * g).sum() + g.sum(), x)
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(g.detach().cpu().numpy(), np.zeros((3, 5), np.float32))
        np.testing.assert_array_equal(gg.cpu().numpy(), np.zeros((3, 5), np.float32))
        x.grad = None
        F.cross_entropy(x, target, label_smoothing=smoothing).backward()
        grad = x.grad.cpu().numpy()
        np.testing.assert_array_equal(grad, np.zeros((3, 5), np.float32))
        assert not np.signbit(grad).any()


@pytest.mark.parametrize("shape", [(3, 7, 16), (5, 1000), (2, 1030, 45)])  # 2060 rows: 32 lanes
def test_layer_norm(shape, device):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(shape).astype(np.float32),
              rng.standard_normal(shape[-1]).astype(np.float32),
              rng.standard_normal(shape[-1]).astype(np.float32)]
    upstream = rng.standard_normal(shape).astype(np.float32)
    results = []
    for place in ("cpu", device):
        x, w, b = [disttorch.from_numpy(a.copy()).to(place).requires_grad_() for a in arrays]
        y = F.layer_norm(x, (shape[-1],), w, b)
        # a non-contiguous upstream gradient
        g = disttorch.from_numpy(upstream.copy()).to(place).transpose(0, -1).contiguous() \
            .transpose(0, -1)
        y.backward(g)
        results.append((y, x.grad, w.grad, b.grad))
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("trainable", ["input", "params", "weight", "bias"])
def test_layer_norm_partial_grads(trainable, device):
    # only the gradients asked for are computed (the parameter kernel runs for either one)
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal((6, 37)).astype(np.float32) for _ in range(3)]
    arrays[1:] = [a[0] for a in arrays[1:]]
    wants = {"input": (True, False, False), "params": (False, True, True),
             "weight": (False, True, False), "bias": (False, False, True)}[trainable]
    results = []
    for place in ("cpu", device):
        x, w, b = [disttorch.from_numpy(a.copy()).to(place).requires_grad_(want)
                   for a, want in zip(arrays, wants)]
        (F.layer_norm(x, (37,), w, b) ** 2).sum().backward()
        grads = [t.grad for t in (x, w, b)]
        assert [g is not None for g in grads] == list(wants)
        results.append([g for g in grads if g is not None])
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=1e-4, atol=1e-4)


def test_linear_bias_grad_column_sum(device):
    rng = np.random.default_rng(13)
    data = rng.standard_normal((2100, 12)).astype(np.float32)   # 32 row lanes, 1 ragged tile
    weight = rng.standard_normal((37, 12)).astype(np.float32)
    bias = rng.standard_normal(37).astype(np.float32)
    upstream = rng.standard_normal((2100, 37)).astype(np.float32)
    results = []
    for x, w, b in zip(_pair(data, device), _pair(weight, device), _pair(bias, device)):
        F.linear(x, w, b).backward(disttorch.from_numpy(upstream.copy()).to(x.device))
        results.append((x.grad, w.grad, b.grad))
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=1e-4, atol=2e-3)


def test_layer_norm_double_backward(device):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 8)).astype(np.float32),
              rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)]
    results = []
    for place in ("cpu", device):
        x, w, b = [disttorch.from_numpy(a.copy()).to(place).requires_grad_() for a in arrays]
        y = F.layer_norm(x, (8,), w, b)
        gx, = disttorch.autograd.grad((y * y).sum(), x, create_graph=True)
        gx.sum().backward()
        results.append((x.grad, w.grad))
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=1e-3, atol=1e-4)


def test_gelu(device):
    rng = np.random.default_rng(4)
    data = (rng.standard_normal((9, 13)) * 2).astype(np.float32)
    results = []
    for x in _pair(data, device):
        y = F.gelu(x)
        (y * y).sum().backward()
        results.append((y, x.grad))
    for cpu, dev in zip(*results):
        _compare(cpu, dev)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_linear_activation(activation, device):
    from disttorch.nn.functional._linear import linear_activation
    rng = np.random.default_rng(6)
    data = rng.standard_normal((3, 5, 12)).astype(np.float32)
    weight = rng.standard_normal((20, 12)).astype(np.float32) * 0.3
    bias = rng.standard_normal(20).astype(np.float32)
    results = []
    for x, w, b in zip(_pair(data, device), _pair(weight, device), _pair(bias, device)):
        y = linear_activation(x, w, b, activation)
        (y * y).sum().backward()
        results.append((y, x.grad, w.grad, b.grad))
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=1e-4, atol=1e-4)
    # a frozen bias (the derivative kernel alone) and a tall input (32 row lanes)
    tall = rng.standard_normal((2050, 12)).astype(np.float32)
    for frozen in (True, False):
        results = []
        for x, w, b in zip(_pair(tall, device), _pair(weight, device),
                           _pair(bias, device, requires_grad=not frozen)):
            (linear_activation(x, w, b, activation) ** 2).sum().backward()
            results.append((x.grad, w.grad) + (() if frozen else (b.grad,)))
        for cpu, dev in zip(*results):
            _compare(cpu, dev, rtol=1e-4, atol=2e-3)
    # NaN goes through both activations, as through the generic ops
    data[0, 0, 0] = np.nan
    x, w, b = (_pair(a, device, requires_grad=False)[1] for a in (data, weight, bias))
    assert np.isnan(linear_activation(x, w, b, activation)[0, 0].cpu().numpy()).all()


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_linear_activation_double_backward(activation, device):
    from disttorch.nn.functional._linear import linear_activation
    rng = np.random.default_rng(7)
    data = rng.standard_normal((4, 6)).astype(np.float32)
    weight = rng.standard_normal((5, 6)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    grads = []
    for x, w, b in zip(_pair(data, device), _pair(weight, device),
                       _pair(bias, device, requires_grad=False)):
        y = linear_activation(x, w, b, activation)
        gx, = disttorch.autograd.grad((y * y).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        grads.append((x.grad, w.grad))
    for cpu, dev in zip(*grads):
        _compare(cpu, dev, rtol=1e-3, atol=1e-4)


def test_linear_relu_output_changed_in_place_is_refused(device):
    # the fused node keeps ReLU's output for its backward, as the generic ReLU does
    from disttorch.nn.functional._linear import linear_activation
    x = disttorch.randn(2, 3, 6, device=device, requires_grad=True)
    w = disttorch.randn(5, 6, device=device, requires_grad=True)
    y = linear_activation(x, w, disttorch.randn(5, device=device), "relu")
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_sequential_linear_activation_pairs(device):
    # Sequential runs a hook-free Linear + ReLU/GELU as one fused node on the GPU: same values
    # and gradients as the two modules on the CPU, and hooks still run where there are some
    nn = disttorch.nn
    disttorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.GELU(),
                          nn.Linear(8, 8), nn.ReLU(inplace=True), nn.Linear(8, 3))
    seen = []
    model[4].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    data = np.random.default_rng(8).standard_normal((5, 6)).astype(np.float32)
    results = []
    for place, net in (("cpu", copy.deepcopy(model)), (device, copy.deepcopy(model).to(device))):
        x = disttorch.from_numpy(data.copy()).to(place).requires_grad_()
        out = net(x)
        (out * out).sum().backward()
        results.append([out, x.grad] + [p.grad for p in net.parameters()])
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=1e-4, atol=1e-5)
    assert seen == [(5, 8), (5, 8)]


def test_transformer_feedforward_keeps_linear1_hooks(device):
    # with a hook on linear1 the fused bias + activation must not skip it
    disttorch.manual_seed(0)
    layer = disttorch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    layer = layer.to(device)
    seen = []
    layer.linear1.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    layer(disttorch.randn(2, 3, 8, device=device))
    assert seen == [(2, 3, 16)]


@pytest.mark.parametrize("name", ["sgd", "sgd_nesterov", "adam", "adamw_maximize"])
def test_optimizer_steps(name, device):
    make = {
        "sgd": lambda p: disttorch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1,
                                             weight_decay=0.01),
        "sgd_nesterov": lambda p: disttorch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda p: disttorch.optim.Adam(p, lr=0.01, weight_decay=0.1),
        "adamw_maximize": lambda p: disttorch.optim.AdamW(p, lr=0.01, maximize=True),
    }[name]
    rng = np.random.default_rng(5)
    shapes = [(3, 4), (4,), (1000,)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]
    final = []
    for place in ("cpu", device):
        params = [disttorch.from_numpy(a.copy()).to(place).requires_grad_() for a in init]
        optimizer = make(params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = disttorch.from_numpy(g.copy()).to(place)
            optimizer.step()
        final.append(params)
    for cpu, dev in zip(*final):
        _compare(cpu, dev, rtol=1e-5, atol=1e-6)


def test_device_convolutions_take_im2col_not_winograd(device, monkeypatch):
    # Winograd's many small transform passes suit CPU caches; on a GPU they would be dozens of
    # launches per call, so device arrays go to im2col + one GEMM
    from disttorch.nn.functional import _conv
    calls = []
    real = _conv.winograd_conv
    monkeypatch.setattr(_conv, "winograd_conv", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    expected = F.conv2d(disttorch.tensor(x), disttorch.tensor(w), padding=1).numpy()
    assert calls == [1]                 # the CPU takes Winograd for this shape
    got = F.conv2d(disttorch.tensor(x, device=device), disttorch.tensor(w, device=device),
                   padding=1)
    assert calls == [1]
    np.testing.assert_allclose(got.cpu().numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1)),
    dict(kernel_size=2, stride=1, return_indices=True)], ids=str)
def test_max_pool2d(kwargs, device):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    x[0, 0, :2, :2] = 1.5     # ties inside a window: the first maximum wins
    x[1, 2, 4, 4] = np.nan    # a NaN wins its windows
    outs = []
    for t, place in zip(_pair(x, device), ("cpu", device)):
        result = F.max_pool2d(t, **kwargs)
        y, index = result if kwargs.get("return_indices") else (result, None)
        weight = np.random.default_rng(7).standard_normal(tuple(y.shape)).astype(np.float32)
        (disttorch.nan_to_num(y) * disttorch.from_numpy(weight).to(place)).sum().backward()
        outs.append((y.detach(), index, t.grad))
    (cpu_y, cpu_i, cpu_g), (dev_y, dev_i, dev_g) = outs
    np.testing.assert_array_equal(dev_y.cpu().numpy(), cpu_y.numpy())
    if cpu_i is not None:
        np.testing.assert_array_equal(dev_i.cpu().numpy(), cpu_i.numpy())
    _compare(cpu_g, dev_g)


def test_max_pool2d_double_backward(device):
    x = np.random.default_rng(5).standard_normal((1, 2, 6, 6)).astype(np.float32)
    grads = []
    for t, place in zip(_pair(x, device), ("cpu", device)):
        y = F.max_pool2d(t, 3, stride=2, padding=1)
        g, = disttorch.autograd.grad((y * y).sum(), t, create_graph=True)
        (g * g).sum().backward()
        grads.append(t.grad)
    _compare(*grads)


@pytest.mark.parametrize("mask", ["none", "causal", "learned", "empty_row"])
def test_attention_softmax(mask, device):
    rng = np.random.default_rng(6)
    q, k, v = (rng.standard_normal((2, 3, 5, 8)).astype(np.float32) for _ in range(3))
    m = None
    if mask != "none":
        m = np.triu(np.full((5, 5), -np.inf, np.float32), 1) if mask != "learned" else \
            rng.standard_normal((5, 5)).astype(np.float32)
        if mask == "empty_row":
            m[2] = -np.inf     # scaled_dot_product_attention gives that query zeros
    results = []
    for place in ("cpu", device):
        ts = [disttorch.from_numpy(a.copy()).to(place).requires_grad_() for a in (q, k, v)]
        tm = None if m is None else disttorch.from_numpy(m.copy()).to(place).requires_grad_(
            mask == "learned")
        out = F.scaled_dot_product_attention(*ts, attn_mask=tm)
        (out * out).sum().backward()
        results.append([out] + [t.grad for t in ts] + ([tm.grad] if mask == "learned" else []))
    for cpu, dev in zip(*results):
        _compare(cpu, dev)


def test_multi_head_attention_weights(device):
    disttorch.manual_seed(0)
    mha = disttorch.nn.MultiheadAttention(16, 4, batch_first=True)
    x = np.random.default_rng(8).standard_normal((2, 6, 16)).astype(np.float32)
    mask = disttorch.nn.Transformer.generate_square_subsequent_mask(6)
    results = []
    for place in ("cpu", device):
        module = copy.deepcopy(mha).to(place)
        t = disttorch.from_numpy(x.copy()).to(place).requires_grad_()
        out, weights = module(t, t, t, attn_mask=mask.to(place))
        (out.sum() + (weights * weights).sum()).backward()
        results.append([out, weights, t.grad] + [p.grad for p in module.parameters()])
    for cpu, dev in zip(*results):
        _compare(cpu, dev)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, divisor_override=4)], ids=str)
def test_avg_pool2d(kwargs, device):
    x = np.random.default_rng(9).standard_normal((2, 3, 9, 8)).astype(np.float32)
    outs = []
    for t, place in zip(_pair(x, device), ("cpu", device)):
        y = F.avg_pool2d(t, **kwargs)
        weight = np.random.default_rng(10).standard_normal(tuple(y.shape)).astype(np.float32)
        (y * disttorch.from_numpy(weight).to(place)).sum().backward()
        outs.append((y, t.grad))
    for cpu, dev in zip(*outs):
        _compare(cpu, dev)


def test_avg_pool2d_double_backward(device):
    x = np.random.default_rng(11).standard_normal((1, 2, 6, 6)).astype(np.float32)
    grads = []
    for t, place in zip(_pair(x, device), ("cpu", device)):
        y = F.avg_pool2d(t, 3, stride=2, padding=1, count_include_pad=False)
        g, = disttorch.autograd.grad((y * y).sum(), t, create_graph=True)
        (g * g).sum().backward()
        grads.append(t.grad)
    _compare(*grads)


@pytest.mark.parametrize("mask", ["none", "causal", "float"])
def test_attention_softmax_half(mask, device):
    """float16 scores: the kernel computes in float32 and rounds once, so the result is the
    float32 computation on the same float16 inputs, to float16 precision."""
    rng = np.random.default_rng(12)
    q, k, v = (rng.standard_normal((2, 2, 6, 8)).astype(np.float16).astype(np.float32)
               for _ in range(3))
    m = None if mask != "float" else \
        rng.standard_normal((6, 6)).astype(np.float16).astype(np.float32)
    results = []
    for place, dtype in (("cpu", disttorch.float32), (device, disttorch.float16)):
        ts = [disttorch.from_numpy(a.copy()).to(place).to(dtype).requires_grad_()
              for a in (q, k, v)]
        tm = None if m is None else disttorch.from_numpy(m.copy()).to(place).to(dtype)
        out = F.scaled_dot_product_attention(*ts, attn_mask=tm, is_causal=mask == "causal")
        out.float().sum().backward()
        results.append([out.float()] + [t.grad.float() for t in ts])
    for cpu, dev in zip(*results):
        _compare(cpu, dev, rtol=2e-2, atol=5e-3)


@pytest.mark.parametrize("poison", [None, "inf", "nan"])
def test_grad_scaler_unscale(poison, device):
    # sizes across one block, one tensor row of blocks, and the grid-stride loop
    rng = np.random.default_rng(9)
    grads = [rng.standard_normal(n).astype(np.float32) for n in (7, 300, 70_000)]
    if poison:
        grads[1][123] = np.inf if poison == "inf" else np.nan
    params = [disttorch.zeros(len(g), device=device, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = disttorch.from_numpy(g.copy()).to(device)
    optimizer = disttorch.optim.SGD(params, lr=1.0)
    scaler = disttorch.amp.GradScaler("cuda", init_scale=1024.0)
    scaler.scale(disttorch.zeros((), device=device))   # creates the scale, as a loss would
    scaler.unscale_(optimizer)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.cpu().numpy(), g / np.float32(1024.0))
    scaler.step(optimizer)
    scaler.update()
    stepped = [not np.all(p.detach().cpu().numpy() == 0) for p in params]
    assert stepped == [poison is None] * 3
    assert scaler.get_scale() == (1024.0 if poison is None else 512.0)


def test_ddp_bucket_copy(device):
    rng = np.random.default_rng(10)
    sizes = (5, 256, 70_000)
    sources = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    targets = [disttorch.zeros(n, device=device)._data for n in sizes]
    fused = ddp_kernels.copy_into(targets, [disttorch.from_numpy(s).to(device)._data
                                            for s in sources])
    assert fused == ddp_kernels.fusable(targets[0])
    if fused:
        for target, source in zip(targets, sources):
            np.testing.assert_array_equal(disttorch.as_tensor(target).cpu().numpy(), source)
