"""Every fused kernel's launch, checked on the CPU: inside ``simulate(fused_kernels=True)`` the
fused paths run and each launch is checked against the kernel's CUDA signature (argument count,
pointer dtypes, contiguity, scalar C types, grid, block, shared memory) without computing
anything. What the kernels compute is checked by ``test_kernels.py``, on a GPU and on the CPU
emulator."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
import disttorch.nn.functional as F
from disttorch.cuda import _sim_kernels, _simulated
from disttorch.cuda.kernels import amp as amp_kernels, ddp as ddp_kernels, nn as nn_kernels
from disttorch.cuda.kernels import conv as conv_kernels, pool as pool_kernels
from disttorch.cuda.kernels import bounds as bounds_kernels, scatter as scatter_kernels
from disttorch.cuda.kernels import special as special_kernels
from disttorch.optim import _cuda_kernels as optim_kernels

# every kernel of every SOURCES table, by name
KERNELS = sorted(match.group(1) for module in (nn_kernels, pool_kernels, amp_kernels, ddp_kernels,
                                               optim_kernels, special_kernels, conv_kernels,
                                               scatter_kernels, bounds_kernels)
                 for source in module.SOURCES.values()
                 for match in _sim_kernels._SIGNATURE.finditer(source))


@pytest.fixture
def fused():
    with _simulated.simulate(fused_kernels=True):
        _sim_kernels.launches.clear()
        yield _sim_kernels.launches


def _step(model, optimizer, x, y, scaler=None):
    optimizer.zero_grad()
    with disttorch.autocast("cuda", dtype=disttorch.float16, enabled=scaler is not None):
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), label_smoothing=0.1)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


def test_every_fused_kernel_launches_with_its_signature(fused):
    disttorch.manual_seed(0)
    # softmax + cross-entropy, layer norm, GELU, attention softmax (masked and not), Adam(W)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="gelu",
                                       batch_first=True)
    lm = nn.Sequential(nn.Embedding(20, 16), layer, nn.Linear(16, 20)).to("cuda")
    tokens = disttorch.randint(0, 20, (2, 5), device="cuda")
    _step(lm, disttorch.optim.AdamW(lm.parameters()), tokens, tokens)
    relu_layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).to("cuda")
    relu_layer(disttorch.randn(2, 5, 16, device="cuda")).sum().backward()   # bias + ReLU
    relu_layer.linear1.bias.requires_grad_(False)   # the derivative alone, without bias grads
    relu_layer(disttorch.randn(2, 5, 16, device="cuda")).sum().backward()
    F.gelu(disttorch.randn(7, device="cuda", requires_grad=True)).backward(
        disttorch.randn(7, device="cuda"))
    q = disttorch.randn(2, 2, 5, 8, device="cuda", requires_grad=True)
    F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    with disttorch.autocast("cuda", dtype=disttorch.float16):   # the float16 softmax kernels
        out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    out.float().sum().backward()
    # max and average pooling, forward and backward; SGD
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                        nn.Flatten(), nn.Linear(16, 5)).to("cuda")
    _step(cnn, disttorch.optim.SGD(cnn.parameters(), lr=0.1, momentum=0.9),
          disttorch.randn(2, 1, 8, 8, device="cuda", requires_grad=True),   # col2im too
          disttorch.randint(0, 5, (2,), device="cuda"))
    # the AMP unscale kernel (the model's master weights stay float32)
    mlp = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 4)).to("cuda")
    _step(mlp, disttorch.optim.Adam(mlp.parameters()), disttorch.randn(3, 8, device="cuda"),
          disttorch.randint(0, 4, (3,), device="cuda"), disttorch.amp.GradScaler("cuda"))
    # DDP's bucket copy
    targets = [disttorch.zeros(5, device="cuda")._data, disttorch.zeros(3, device="cuda")._data]
    sources = [disttorch.ones(5, device="cuda")._data, disttorch.ones(3, device="cuda")._data]
    assert ddp_kernels.copy_into(targets, sources)
    # special functions, one argument and two
    x = disttorch.rand(3, 4, device="cuda") + 0.5
    disttorch.lgamma(x), disttorch.special.zeta(x, x[0])
    # the orthogonal polynomials, in float64 and float32
    disttorch.special.hermite_polynomial_h(x.double(), 3)
    disttorch.special.legendre_polynomial_p(x, disttorch.tensor([2, 5, 1], device="cuda")[:, None])
    # the implicit gradient of gamma samples
    alpha = x.detach().requires_grad_()
    disttorch.distributions.Gamma(alpha, 1.0).rsample().sum().backward()
    # scatter maximum/minimum (scatter_reduce amax/amin), float32, float64, int64
    for dtype in (disttorch.float32, disttorch.float64, disttorch.int64):
        base = disttorch.zeros(2, 3, dtype=dtype, device="cuda")
        index = disttorch.tensor([[0, 2, 0], [1, 1, 2]], device="cuda")
        for reduce in ("amax", "amin"):
            base.scatter_reduce(1, index, disttorch.ones(2, 3, dtype=dtype, device="cuda"), reduce)
    # the device-side index checks, int64 and int32 indices
    disttorch.randn(3, 2, device="cuda").index_select(
        0, disttorch.tensor([2, 0], dtype=disttorch.int32, device="cuda"))
    # binary cross-entropy's input range check, float32 and float64
    for dtype in (disttorch.float32, disttorch.float64):
        F.binary_cross_entropy(disttorch.full((3,), 0.5, dtype=dtype, device="cuda"),
                               disttorch.ones(3, dtype=dtype, device="cuda"))
    missing = [name for name in KERNELS if not fused[name]]
    assert not missing, f"never launched: {missing}"


def test_a_wrong_scalar_type_is_caught(fused):
    kernel = _simulated.RawKernel(nn_kernels.SOURCES["gelu"], "gelu_forward")
    x = disttorch.ones(4, device="cuda")._data
    kernel((1,), (32,), (x, x, np.int64(4)))           # long long n: right
    with pytest.raises(TypeError, match="'n' is a C long long"):
        kernel((1,), (32,), (x, x, np.int32(4)))
    with pytest.raises(TypeError, match="takes 3 arguments"):
        kernel((1,), (32,), (x, x))
    with pytest.raises(TypeError, match="points to float, got a float64 array"):
        kernel((1,), (32,), (x.astype(np.float64), x, np.int64(4)))
    with pytest.raises(ValueError, match="contiguous"):
        kernel((1,), (32,), (disttorch.ones(4, 2, device="cuda")._data[:, 0], x, np.int64(4)))
    with pytest.raises(ValueError, match="threads per block"):
        kernel((1,), (2048,), (x, x, np.int64(4)))
