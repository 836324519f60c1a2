"""The fused CUDA kernels: every source compiles (NVRTC, no GPU needed), and the fused paths
give the generic paths' values and gradients (on the simulated device the generic path runs)."""
import numpy as np
import pytest

import disttorch
import disttorch.nn.functional as F
from disttorch.cuda.kernels import amp as amp_kernels, ddp as ddp_kernels, nn as nn_kernels
from disttorch.optim import _cuda_kernels as optim_kernels

SOURCES = [(module.__name__, name, source)
           for module in (nn_kernels, optim_kernels, amp_kernels, ddp_kernels) for name, source in module.SOURCES.items()]


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


@pytest.mark.parametrize("shape", [(3, 7, 16), (5, 1000)])
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
