"""Convolutions, transposed convolutions and unfold/fold against torch; finite differences,
double backward, the Conv modules (weights copied from torch) and PyTorch's error messages."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, requires_torch, torch

# torch warns that its own 'same' padding with even kernels copies the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _conv_op(name, fn, x_shape, w_shape, bias=None):
    """``bias``: the bias length, or None for a convolution without bias."""
    def samples(rng):
        args = [randn(rng, *x_shape), randn(rng, *w_shape)]
        if bias is not None:
            args.append(randn(rng, bias))
        return [S(*args)]
    return OpInfo(name, fn, samples)


OPS = [
    _conv_op("conv1d", lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b), (2, 3, 7), (4, 3, 3), 4),
    _conv_op("conv1d_stride_pad_dil_groups",
             lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, stride=2, padding=2, dilation=2,
                                                           groups=2), (2, 4, 9), (6, 2, 3), 6),
    _conv_op("conv1d_same", lambda lib, x, w: lib.nn.functional.conv1d(x, w, padding="same"),
             (2, 3, 8), (2, 3, 4)),
    _conv_op("conv1d_unbatched", lambda lib, x, w: lib.nn.functional.conv1d(x, w, padding=1),
             (3, 6), (2, 3, 3)),
    _conv_op("conv2d", lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b), (2, 3, 6, 5),
             (4, 3, 3, 3), 4),
    _conv_op("conv2d_stride_pad", lambda lib, x, w, b: lib.nn.functional.conv2d(
        x, w, b, stride=(2, 1), padding=(1, 2)), (2, 3, 7, 6), (4, 3, 3, 2), 4),
    _conv_op("conv2d_dilation_groups", lambda lib, x, w, b: lib.nn.functional.conv2d(
        x, w, b, padding=1, dilation=(2, 1), groups=3), (2, 6, 7, 6), (9, 2, 3, 3), 9),
    _conv_op("conv2d_depthwise", lambda lib, x, w: lib.nn.functional.conv2d(
        x, w, stride=2, padding=1, groups=4), (2, 4, 7, 7), (4, 1, 3, 3)),
    _conv_op("conv2d_same_even_kernel", lambda lib, x, w, b: lib.nn.functional.conv2d(
        x, w, b, padding="same", dilation=(1, 2)), (2, 3, 6, 7), (2, 3, 4, 2), 2),
    # 3x3 stride 1, >= 16 input and 8 output channels, output width >= 10: Winograd
    # F(2x2, 3x3); odd output sizes, uneven padding
    _conv_op("conv2d_winograd", lambda lib, x, w, b: lib.nn.functional.conv2d(
        x, w, b, padding=(1, 2)), (2, 16, 7, 9), (9, 16, 3, 3), 9),
    _conv_op("conv2d_winograd_same", lambda lib, x, w: lib.nn.functional.conv2d(
        x, w, padding="same"), (1, 16, 5, 10), (8, 16, 3, 3)),
    _conv_op("conv_transpose2d_winograd", lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(
        x, w, b, padding=(0, 1)), (2, 8, 5, 10), (8, 16, 3, 3), 16),
    _conv_op("conv2d_valid", lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding="valid"),
             (1, 2, 5, 5), (3, 2, 2, 2)),
    _conv_op("conv2d_1x1_stride3", lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=3),
             (2, 5, 7, 8), (3, 5, 1, 1)),
    _conv_op("conv3d", lambda lib, x, w, b: lib.nn.functional.conv3d(
        x, w, b, stride=(1, 2, 1), padding=(1, 0, 1), groups=2), (2, 4, 4, 5, 3), (4, 2, 2, 3, 2), 4),
    _conv_op("conv_transpose1d", lambda lib, x, w, b: lib.nn.functional.conv_transpose1d(
        x, w, b, stride=3, padding=1, output_padding=2, groups=2, dilation=1),
        (2, 4, 5), (4, 3, 3), 6),
    _conv_op("conv_transpose2d", lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1), (2, 3, 4, 5), (3, 4, 3, 3), 4),
    _conv_op("conv_transpose2d_dilation_groups", lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(
        x, w, b, stride=(1, 2), padding=(2, 0), dilation=(2, 1), groups=2),
        (2, 4, 5, 4), (4, 3, 3, 2), 6),
    _conv_op("conv_transpose2d_unbatched", lambda lib, x, w: lib.nn.functional.conv_transpose2d(
        x, w, stride=2), (3, 3, 4), (3, 2, 2, 2)),
    _conv_op("conv_transpose3d", lambda lib, x, w: lib.nn.functional.conv_transpose3d(
        x, w, stride=2, padding=(0, 1, 0)), (1, 2, 3, 3, 2), (2, 3, 2, 3, 2)),
    OpInfo("unfold", lambda lib, x: lib.nn.functional.unfold(x, (2, 3), dilation=(1, 2),
                                                             padding=1, stride=(2, 1)),
           lambda rng: [S(randn(rng, 2, 3, 6, 7)), S(randn(rng, 3, 4, 5))]),
    OpInfo("fold", lambda lib, x: lib.nn.functional.fold(x, (5, 6), (2, 3), padding=1,
                                                         stride=(2, 1)),
           lambda rng: [S(randn(rng, 2, 12, 18)), S(randn(rng, 6, 18))]),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


def _double_backward(lib, x, w, conv):
    x = lib.tensor(x, requires_grad=True)
    w = lib.tensor(w, requires_grad=True)
    y = conv(lib, x, w)
    gx, gw = lib.autograd.grad((y * y * y).sum(), (x, w), create_graph=True)
    ((gx * gx).sum() + (gw * gw * gw).sum()).backward()
    return x.grad.numpy(), w.grad.numpy()


@requires_torch
@pytest.mark.parametrize("conv,w_shape", [
    (lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2, padding=1, groups=2), (4, 2, 3, 3)),
    (lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2, padding=1, groups=2),
     (4, 3, 3, 3)),
    (lambda lib, x, w: lib.nn.functional.conv2d(x.repeat(1, 4, 1, 2), w, padding=1), (8, 16, 3, 3)),
], ids=["conv2d", "conv_transpose2d", "conv2d_winograd"])
def test_double_backward(conv, w_shape):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal(w_shape)
    for got, want in zip(_double_backward(disttorch, x, w, conv), _double_backward(torch, x, w, conv)):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


def _raises(fn, message):
    with pytest.raises(RuntimeError) as d_err:
        fn(disttorch)
    assert str(d_err.value) == message
    if torch is not None:
        with pytest.raises(RuntimeError) as t_err:
            fn(torch)
        assert str(t_err.value) == message


@pytest.mark.parametrize("fn,message", [
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 4, 8, 8), lib.zeros(8, 3, 3, 3)),
     "Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 4, 8, 8] to have 3 channels, "
     "but got 4 channels instead"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3), lib.zeros(8, 3, 3, 3)),
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [2, 3]"),
    (lambda lib: lib.nn.functional.conv1d(lib.zeros(2, 4, 8, 8), lib.zeros(8, 4, 3)),
     "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [2, 4, 8, 8]"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 8, 8), lib.zeros(8, 3, 3, 3), stride=2,
                                          padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 8, 8), lib.zeros(8, 3, 3, 3),
                                          padding="foo"), "Invalid padding string: 'foo'"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 2, 2), lib.zeros(8, 3, 3, 3)),
     "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't "
     "be greater than actual input size"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 8, 8, dtype=lib.float64),
                                          lib.zeros(8, 3, 3, 3)),
     "expected scalar type Double but found Float"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 8, 8), lib.zeros(8, 3, 3, 3),
                                          bias=lib.zeros(3)),
     "Given weight of size [8, 3, 3, 3], expected bias to be 1-dimensional with 8 elements, but got "
     "bias of size [3] instead"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 4, 8, 8), lib.zeros(8, 2, 3, 3), groups=3),
     "Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of size "
     "[[8, 2, 3, 3]] instead"),
    (lambda lib: lib.nn.functional.conv_transpose2d(lib.zeros(2, 4, 8, 8), lib.zeros(3, 4, 3, 3)),
     "Given transposed=1, weight of size [3, 4, 3, 3], expected input[2, 4, 8, 8] to have 3 "
     "channels, but got 4 channels instead"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 8, 8), lib.zeros(8, 3, 3, 3), stride=0),
     "non-positive stride is not supported"),
    (lambda lib: lib.nn.functional.conv2d(lib.zeros(2, 3, 8, 8), lib.zeros(8, 3, 3, 3),
                                          padding=-1), "negative padding is not supported"),
], ids=["channels", "rank2d", "rank1d", "same_strided", "padding_string", "kernel_too_big",
        "dtype", "bias", "groups", "transposed_channels", "stride", "negative_padding"])
def test_errors(fn, message):
    _raises(fn, message)


# ---------------------------------------------------------------------------- modules
def _load_from_torch(d_module, t_module):
    state = {k: disttorch.from_numpy(v.detach().numpy().copy())
             for k, v in t_module.state_dict().items()}
    d_module.load_state_dict(state)
    return d_module


def compare_module(d_module, t_module, x, atol=1e-5, rtol=1e-4, train=True):
    """Same weights and input into both modules: outputs, input and parameter gradients."""
    _load_from_torch(d_module, t_module)
    d_module.train(train)
    t_module.train(train)
    dx = disttorch.from_numpy(x.copy()).requires_grad_()
    tx = torch.from_numpy(x.copy()).requires_grad_()
    d_out, t_out = d_module(dx), t_module(tx)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), atol=atol, rtol=rtol)
    w = np.random.default_rng(3).standard_normal(tuple(t_out.shape)).astype(x.dtype)
    d_out.backward(disttorch.from_numpy(w.copy()))
    t_out.backward(torch.from_numpy(w))
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), atol=atol * 10, rtol=rtol)
    t_params = dict(t_module.named_parameters())
    for name, p in d_module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), atol=atol * 10,
                                   rtol=rtol, err_msg=name)
    return d_module, t_module


CONV_MODULES = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1, bias=False), (2, 3, 9)),
    ("Conv1d", (4, 6, 4), dict(padding="same", dilation=2, groups=2, padding_mode="reflect"),
     (2, 4, 9)),
    ("Conv2d", (3, 8, 3), dict(padding=1), (2, 3, 7, 6)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
                                    padding_mode="replicate"), (2, 4, 7, 8)),
    ("Conv2d", (3, 4, 3), dict(padding="same", padding_mode="circular"), (2, 3, 5, 6)),
    ("Conv2d", (3, 4, 3), dict(padding=2, padding_mode="reflect", bias=False), (3, 6, 5)),
    ("Conv2d", (2, 4, 4), dict(padding="same"), (1, 2, 6, 7)),
    ("Conv2d", (2, 2, 3), dict(padding="valid", stride=2), (1, 2, 7, 7)),
    ("Conv3d", (2, 3, 2), dict(padding=1, stride=(1, 2, 1)), (1, 2, 4, 5, 3)),
    ("ConvTranspose1d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5)),
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
    ("ConvTranspose2d", (4, 2, (2, 3)), dict(stride=(1, 2), dilation=2, groups=2, bias=False),
     (2, 4, 3, 4)),
    ("ConvTranspose3d", (2, 3, 2), dict(stride=2), (1, 2, 2, 3, 2)),
]


@requires_torch
@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("Unfold", ((2, 3),), dict(dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 6, 7)),
    ("Fold", ((5, 6), (2, 3)), dict(padding=1, stride=(2, 1)), (2, 12, 18)),
], ids=["Unfold", "Fold"])
def test_fold_modules(name, args, kwargs, shape):
    d_module = getattr(nn, name)(*args, **kwargs)
    t_module = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(d_module) == repr(t_module)
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(d_module(disttorch.from_numpy(x)).numpy(),
                               t_module(torch.from_numpy(x)).numpy(), rtol=1e-12, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,shape", CONV_MODULES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONV_MODULES)])
def test_conv_module(name, args, kwargs, shape, dtype):
    torch.manual_seed(0)
    t_module = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype))
    d_module = getattr(nn, name)(*args, **kwargs).to(getattr(disttorch, dtype))
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    compare_module(d_module, t_module, x)
    assert repr(d_module) == repr(t_module)
    assert list(d_module.state_dict()) == list(t_module.state_dict())


@requires_torch
def test_conv_transpose_output_size():
    torch.manual_seed(0)
    t_module = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    d_module = _load_from_torch(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), t_module)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype("float32")
    got = d_module(disttorch.from_numpy(x), output_size=[8, 8])
    want = t_module(torch.from_numpy(x), output_size=[8, 8])
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-5)


def test_conv_module_init_statistics():
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w = conv.weight.detach().numpy()
    assert w.shape == (32, 16, 3, 3) and np.abs(w).max() <= bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert w.std() > bound / 3


@pytest.mark.parametrize("kwargs,message", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2),
     "in_channels must be divisible by groups"),
    (dict(in_channels=4, out_channels=3, kernel_size=3, groups=2),
     "out_channels must be divisible by groups"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding="full"),
     "Invalid padding string 'full', should be one of {'valid', 'same'}"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding_mode="mirror"),
     "padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], but got "
     "padding_mode='mirror'"),
])
def test_conv_module_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        nn.Conv2d(**kwargs)
    assert str(err.value) == message


@requires_torch
def test_empty_batch():
    for lib in (disttorch, torch):
        x = lib.zeros(0, 4, 6, 6, requires_grad=True)
        w = lib.ones(6, 2, 3, 3, requires_grad=True)
        y = lib.nn.functional.conv2d(x, w, padding=1, groups=2)
        y.sum().backward()
        assert tuple(y.shape) == (0, 6, 6, 6)
        assert tuple(x.grad.shape) == (0, 4, 6, 6) and float(w.grad.abs().sum()) == 0


def _small_cnn(lib):
    nn_ = lib.nn
    return nn_.Sequential(
        nn_.Conv2d(1, 4, 3, padding=1), nn_.BatchNorm2d(4), nn_.ReLU(), nn_.MaxPool2d(2),
        nn_.Conv2d(4, 6, 3, padding="same", padding_mode="reflect"), nn_.GroupNorm(2, 6),
        nn_.ReLU(), nn_.AdaptiveAvgPool2d(2), nn_.Flatten(), nn_.Linear(24, 3))


@requires_torch
def test_small_cnn_trains_like_torch():
    torch.manual_seed(0)
    t_model = _small_cnn(torch).double()
    d_model = _small_cnn(disttorch).double()
    _load_from_torch(d_model, t_model)
    rng = np.random.default_rng(0)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.1, momentum=0.9)
    d_opt = disttorch.optim.SGD(d_model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        x = rng.standard_normal((4, 1, 8, 8))
        target = rng.integers(0, 3, 4)
        for lib, model, opt in ((torch, t_model, t_opt), (disttorch, d_model, d_opt)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(target))
            loss.backward()
            opt.step()
    t_state = t_model.state_dict()
    for key, value in d_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), t_state[key].numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=key)


@requires_torch
def test_triple_backward():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3))
    results = []
    for lib in (disttorch, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(xt, wt, stride=(2, 1), padding=1)
        gw, = lib.autograd.grad((y ** 3).sum(), wt, create_graph=True)
        gx, = lib.autograd.grad((gw ** 2).sum(), xt, create_graph=True)
        (gx ** 2).sum().backward()
        results.append((xt.grad.numpy(), wt.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


CUDA_CASES = {
    "conv2d": (lambda F, x, w: F.conv2d(x, w, stride=2, padding=1, groups=2), (2, 4, 9, 8),
               (6, 2, 3, 3)),
    "conv_transpose2d": (lambda F, x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1),
                         (2, 4, 5, 4), (4, 3, 3, 3)),
    "conv2d_winograd": (lambda F, x, w: F.conv2d(x, w, padding=(1, 0)), (2, 16, 7, 12),
                        (8, 16, 3, 3)),
    "max_pool2d": (lambda F, x, w: F.max_pool2d(x * w.sum(), 3, 2, 1, ceil_mode=True,
                                                return_indices=True), (2, 3, 9, 8), (1,)),
    "avg_pool2d": (lambda F, x, w: F.avg_pool2d(x * w.sum(), 3, 2, 1, count_include_pad=False),
                   (2, 3, 9, 8), (1,)),
    "adaptive": (lambda F, x, w: F.adaptive_max_pool2d(F.adaptive_avg_pool2d(x * w.sum(), (5, 4)),
                                                       2), (2, 3, 9, 8), (1,)),
    "interpolate": (lambda F, x, w: F.interpolate(x * w.sum(), scale_factor=1.5, mode="bicubic")
                    + F.interpolate(x, size=(5, 11), mode="nearest").sum(), (2, 3, 6, 7), (1,)),
    "grid_sample": (lambda F, x, w: F.grid_sample(x, w.reshape(2, 3, 5, 2).tanh(),
                                                  padding_mode="reflection", align_corners=False),
                    (2, 3, 6, 7), (60,)),
    "batch_norm": (lambda F, x, w: F.batch_norm(x, x.detach().mean((0, 2, 3)) * 0,
                                                x.detach().var((0, 2, 3)), w, w * 2, training=True),
                   (4, 3, 5, 6), (3,)),
    "layer_group_norm": (lambda F, x, w: F.group_norm(F.layer_norm(x, (5, 6)), 3, w, w),
                         (2, 3, 5, 6), (3,)),
    "fold": (lambda F, x, w: F.fold(F.unfold(x * w.sum(), 3, padding=1), (5, 6), 3, padding=1),
             (2, 3, 5, 6), (1,)),
}


@pytest.mark.skipif(not disttorch.cuda.is_available(), reason="needs a CUDA device (CuPy)")
@pytest.mark.parametrize("name", list(CUDA_CASES))
def test_cuda_matches_cpu(name):
    fn, x_shape, w_shape = CUDA_CASES[name]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    results = []
    for device in ("cpu", "cuda"):
        xt = disttorch.tensor(x, device=device, requires_grad=True)
        wt = disttorch.tensor(w, device=device, requires_grad=True)
        outs = fn(disttorch.nn.functional, xt, wt)
        outs = outs if isinstance(outs, tuple) else (outs,)
        (outs[0] * outs[0]).sum().backward()
        results.append([o.detach().cpu().numpy() for o in outs] +
                       [xt.grad.cpu().numpy(), wt.grad.cpu().numpy()])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
