"""interpolate / upsample, pixel (un)shuffle and pad, functions and modules, against torch;
finite differences, double backward and PyTorch's error messages."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, requires_torch, torch

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated")


def _interp(name, shape, **kwargs):
    return OpInfo(name, lambda lib, x: lib.nn.functional.interpolate(x, **kwargs),
                  lambda rng: [S(randn(rng, *shape))])


OPS = [
    _interp("nearest_scale2", (2, 3, 4, 5), scale_factor=2),
    _interp("nearest_fractional", (2, 3, 5, 7), scale_factor=(1.7, 0.6)),
    _interp("nearest_size", (2, 3, 5, 7), size=(9, 4)),
    _interp("nearest_1d", (2, 3, 5), scale_factor=2.3),
    _interp("nearest_3d", (1, 2, 3, 4, 2), size=(4, 7, 3)),
    _interp("nearest_exact", (2, 3, 5, 7), size=(3, 11), mode="nearest-exact"),
    _interp("nearest_exact_scale", (2, 3, 5, 7), scale_factor=1.5, mode="nearest-exact"),
    _interp("nearest_recompute", (2, 3, 5, 7), scale_factor=1.7, recompute_scale_factor=True),
    _interp("linear", (2, 3, 6), scale_factor=2.5, mode="linear"),
    _interp("linear_align", (2, 3, 6), size=11, mode="linear", align_corners=True),
    _interp("bilinear", (2, 3, 4, 5), scale_factor=2, mode="bilinear"),
    _interp("bilinear_down", (2, 3, 7, 9), size=(3, 4), mode="bilinear"),
    _interp("bilinear_align", (2, 3, 4, 5), size=(7, 1), mode="bilinear", align_corners=True),
    _interp("bilinear_scales", (2, 3, 4, 5), scale_factor=(1.7, 0.6), mode="bilinear"),
    _interp("bicubic", (2, 3, 4, 5), scale_factor=2, mode="bicubic"),
    _interp("bicubic_align", (2, 3, 6, 5), size=(4, 9), mode="bicubic", align_corners=True),
    _interp("trilinear", (1, 2, 3, 4, 2), size=(4, 7, 3), mode="trilinear"),
    _interp("trilinear_align", (1, 2, 3, 4, 2), scale_factor=1.5, mode="trilinear",
            align_corners=True),
    _interp("area", (2, 3, 9, 7), size=(4, 3), mode="area"),
    _interp("bilinear_antialias_down", (2, 3, 11, 9), size=(4, 5), mode="bilinear",
            antialias=True),
    _interp("bilinear_antialias_up", (1, 2, 4, 5), size=(7, 6), mode="bilinear", antialias=True),
    _interp("bilinear_antialias_align", (1, 2, 9, 8), size=(4, 3), mode="bilinear",
            antialias=True, align_corners=True),
    _interp("bicubic_antialias_scales", (2, 2, 10, 9), scale_factor=(0.37, 0.6), mode="bicubic",
            antialias=True),
    _interp("bicubic_antialias_recompute", (1, 2, 10, 9), scale_factor=0.45, mode="bicubic",
            antialias=True, recompute_scale_factor=True),
    _interp("lanczos_down", (2, 2, 13, 10), size=(5, 4), mode="lanczos", antialias=True),
    _interp("lanczos_mixed", (1, 2, 6, 12), size=(9, 5), mode="lanczos", antialias=True),
    OpInfo("upsample_bilinear", lambda lib, x: lib.nn.functional.upsample_bilinear(
        x, scale_factor=2), lambda rng: [S(randn(rng, 1, 2, 3, 4))]),
    OpInfo("upsample_nearest", lambda lib, x: lib.nn.functional.upsample_nearest(x, size=(5, 7)),
           lambda rng: [S(randn(rng, 1, 2, 3, 4))]),
    OpInfo("pixel_shuffle", lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2),
           lambda rng: [S(randn(rng, 2, 8, 3, 4)), S(randn(rng, 2, 3, 8, 2, 3))]),
    OpInfo("pixel_unshuffle", lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 3),
           lambda rng: [S(randn(rng, 2, 2, 6, 9)), S(randn(rng, 3, 3, 6))]),
    OpInfo("channel_shuffle", lambda lib, x: lib.nn.functional.channel_shuffle(x, 3),
           lambda rng: [S(randn(rng, 2, 6, 4, 3)), S(randn(rng, 2, 12, 5))]),
]
for _mode in ("constant", "reflect", "replicate", "circular"):
    OPS.append(OpInfo(f"pad_{_mode}", lambda lib, x, m=_mode: lib.nn.functional.pad(
        x, (2, 1, 3, 0), mode=m), lambda rng: [S(randn(rng, 2, 3, 5, 4)), S(randn(rng, 3, 4, 5))]))
    OPS.append(OpInfo(f"pad_{_mode}_1d", lambda lib, x, m=_mode: lib.nn.functional.pad(
        x, (2, 3), mode=m), lambda rng: [S(randn(rng, 2, 3, 5))]))
    OPS.append(OpInfo(f"pad_{_mode}_3d", lambda lib, x, m=_mode: lib.nn.functional.pad(
        x, (1, 2, 0, 1, 2, 1), mode=m), lambda rng: [S(randn(rng, 1, 2, 3, 4, 3))]))
for _mode in ("bilinear", "nearest", "bicubic"):
    for _padding in ("zeros", "border", "reflection"):
        for _align in (False, True):
            OPS.append(OpInfo(
                f"grid_sample_{_mode}_{_padding}_{'align' if _align else 'edges'}",
                lambda lib, x, g, m=_mode, p=_padding, a=_align: lib.nn.functional.grid_sample(
                    x, g, mode=m, padding_mode=p, align_corners=a),
                lambda rng: [S(randn(rng, 2, 3, 5, 6), rng.uniform(-1.3, 1.3, (2, 4, 7, 2)))]))
for _mode in ("bilinear", "nearest"):
    for _padding in ("zeros", "reflection"):
        OPS.append(OpInfo(
            f"grid_sample_3d_{_mode}_{_padding}",
            lambda lib, x, g, m=_mode, p=_padding: lib.nn.functional.grid_sample(
                x, g, mode=m, padding_mode=p, align_corners=p == "zeros"),
            lambda rng: [S(randn(rng, 2, 2, 3, 4, 5), rng.uniform(-1.3, 1.3, (2, 3, 2, 4, 3)))]))
for _align in (False, True):
    OPS.append(OpInfo(f"affine_grid_2d_{_align}", lambda lib, t, a=_align: lib.nn.functional.
                      affine_grid(t, (2, 3, 4, 5), align_corners=a),
                      lambda rng: [S(randn(rng, 2, 2, 3))]))
    OPS.append(OpInfo(f"affine_grid_3d_{_align}", lambda lib, t, a=_align: lib.nn.functional.
                      affine_grid(t, (2, 3, 4, 5, 3), align_corners=a),
                      lambda rng: [S(randn(rng, 2, 3, 4))]))
OPS.append(OpInfo("spatial_transformer", lambda lib, t, x: lib.nn.functional.grid_sample(
    x, lib.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners=False),
    padding_mode="border", align_corners=False),
    lambda rng: [S(randn(rng, 2, 2, 3) * 0.5, randn(rng, 2, 3, 5, 6))]))
OPS.append(OpInfo("pad_constant_negative", lambda lib, x: lib.nn.functional.pad(
    x, (2, -1, -2, 3, 1, 0), value=2.5), lambda rng: [S(randn(rng, 2, 3, 5, 4))]))

test_matches_torch, test_finite_differences = op_tests(OPS)


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=1.5, mode="bilinear"),
    lambda lib, x: lib.nn.functional.interpolate(x, size=(3, 7), mode="nearest"),
    lambda lib, x: lib.nn.functional.pad(x, (1, 2, 2, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x, (1, -1, 2, 0), value=1.0),
    lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2),
    lambda lib, x: lib.nn.functional.channel_shuffle(x, 2),
], ids=["bilinear", "nearest", "reflect", "constant", "pixel_shuffle", "channel_shuffle"])
def test_double_backward(fn):
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 5))
    results = []
    for lib in (disttorch, torch):
        t = lib.tensor(x, requires_grad=True)
        y = fn(lib, t)
        g, = lib.autograd.grad((y * y * y).sum(), t, create_graph=True)
        (g * g).sum().backward()
        results.append(t.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-10)


MODULES = [
    ("Upsample", (), dict(scale_factor=2, mode="nearest"), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=(7, 3), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("Upsample", (), dict(scale_factor=(2.0, 1.5), mode="bicubic"), (2, 3, 4, 5)),
    ("Upsample", (), dict(scale_factor=3, mode="linear"), (2, 3, 4)),
    ("UpsamplingNearest2d", (), dict(scale_factor=2), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", (), dict(size=(6, 9)), (2, 3, 4, 5)),
    ("PixelShuffle", (3,), {}, (2, 18, 2, 3)),
    ("PixelUnshuffle", (2,), {}, (2, 3, 4, 6)),
    ("ChannelShuffle", (2,), {}, (2, 6, 3, 2)),
    ("ZeroPad1d", ((1, 2),), {}, (2, 3, 4)),
    ("ZeroPad2d", (2,), {}, (2, 3, 4, 5)),
    ("ConstantPad1d", ((1, 2), 3.5), {}, (2, 3, 4)),
    ("ConstantPad2d", ((1, 0, 2, 1), -1.0), {}, (3, 4, 5)),
    ("ConstantPad3d", (1, 0.5), {}, (1, 2, 3, 4, 2)),
    ("ReflectionPad1d", (2,), {}, (2, 3, 4)),
    ("ReflectionPad2d", ((1, 0, 2, 1),), {}, (2, 3, 4, 5)),
    ("ReflectionPad3d", (1,), {}, (1, 2, 3, 4, 2)),
    ("ReplicationPad1d", ((3, 1),), {}, (2, 3, 4)),
    ("ReplicationPad2d", (2,), {}, (3, 4, 5)),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),), {}, (1, 2, 3, 4, 2)),
    ("CircularPad1d", (2,), {}, (2, 3, 4)),
    ("CircularPad2d", ((1, 0, 2, 1),), {}, (2, 3, 4, 5)),
    ("CircularPad3d", (1,), {}, (1, 2, 3, 4, 2)),
]


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,shape", MODULES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(MODULES)])
def test_module(name, args, kwargs, shape, dtype):
    d_module = getattr(nn, name)(*args, **kwargs)
    t_module = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(d_module) == repr(t_module)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    dx = disttorch.from_numpy(x.copy()).requires_grad_()
    tx = torch.from_numpy(x.copy()).requires_grad_()
    d_out, t_out = d_module(dx), t_module(tx)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    w = np.random.default_rng(1).standard_normal(tuple(t_out.shape)).astype(dtype)
    d_out.backward(disttorch.from_numpy(w.copy()))
    t_out.backward(torch.from_numpy(w))
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn,error,message", [
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(2, 4, 3), scale_factor=2,
                                               mode="bilinear"),
     NotImplementedError, "Got 3D input, but bilinear mode needs 4D input"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(2, 4, 3, 3), scale_factor=2, size=3),
     ValueError, "only one of size or scale_factor should be defined"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(2, 4, 3, 3), scale_factor=2,
                                               align_corners=True),
     ValueError, "align_corners option can only be set with the interpolating modes: linear | "
     "bilinear | bicubic | trilinear"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(2, 4, 3, 3)),
     ValueError, "either size or scale_factor should be defined"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(2, 4, 3, 3), size=5,
                                               recompute_scale_factor=True),
     ValueError, "recompute_scale_factor is not meaningful with an explicit size."),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(2, 4, 3), size=2, mode="linear",
                                               antialias=True),
     ValueError, "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
     "requires a 4-D tensor as input"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(1, 1, 4, 4), size=2, mode="lanczos"),
     ValueError, "Lanczos mode requires antialias=True"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(1, 1, 4, 4), size=2, mode="lanczos",
                                               antialias=True, align_corners=True),
     ValueError, "Lanczos mode does not support align_corners=True"),
    (lambda lib: lib.nn.functional.interpolate(lib.zeros(1, 1, 4, 4), size=2, mode="cubic"),
     NotImplementedError, "Input Error: Only 3D, 4D and 5D input Tensors supported (got 4D) for "
     "the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
     "nearest-exact (got cubic)"),
    (lambda lib: lib.nn.functional.pixel_shuffle(lib.zeros(2, 5, 3, 3), 2),
     RuntimeError, "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
     "square of upscale_factor, but input.size(-3)=5 is not divisible by 4"),
    (lambda lib: lib.nn.functional.pixel_unshuffle(lib.zeros(2, 5, 3, 4), 2),
     RuntimeError, "pixel_unshuffle expects height to be divisible by downscale_factor, but "
     "input.size(-2)=3 is not divisible by 2"),
    (lambda lib: lib.nn.functional.pad(lib.zeros(2, 4, 3), (3, 3), mode="reflect"),
     RuntimeError, "Argument #4: Padding size should be less than the corresponding input "
     "dimension, but got: padding (3, 3) at dimension 2 of input [2, 4, 3]"),
    (lambda lib: lib.nn.functional.pad(lib.zeros(2, 4, 3), (1, 2, 3)),
     RuntimeError, "Padding length must be divisible by 2"),
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(2, 3, 4, 5), lib.zeros(2, 6, 7, 3),
                                               align_corners=False),
     RuntimeError, "grid_sampler(): expected grid to have size 2 in last dimension, but got grid "
     "with sizes [2, 6, 7, 3]"),
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(2, 3, 4, 5), lib.zeros(3, 6, 7, 2),
                                               align_corners=False),
     RuntimeError, "grid_sampler(): expected grid and input to have same batch size, but got input "
     "with sizes [2, 3, 4, 5] and grid with sizes [3, 6, 7, 2]"),
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2, 2), lib.zeros(1, 1, 1, 1, 3),
                                               mode="bicubic", align_corners=False),
     RuntimeError, "grid_sampler(): bicubic interpolation only supports 4D input"),
    (lambda lib: lib.nn.functional.affine_grid(lib.zeros(2, 3, 3), (2, 3, 4, 5),
                                               align_corners=False),
     ValueError, "Expected a batch of 2D affine matrices of shape Nx2x3 for size (2, 3, 4, 5). Got "
     "{lib}.Size([2, 3, 3])."),
    (lambda lib: lib.nn.functional.channel_shuffle(lib.zeros(2, 5, 3), 2),
     RuntimeError, "Number of channels must be divisible by groups. Got 5 channels and 2 groups."),
], ids=["bilinear_rank", "size_and_scale", "align_corners_nearest", "no_size", "recompute_size",
        "antialias_mode", "lanczos_no_antialias", "lanczos_align", "unknown_mode",
        "shuffle_channels",
        "unshuffle_height", "reflect_too_big", "odd_pad", "grid_last_dim", "grid_batch",
        "grid_bicubic_5d", "affine_theta", "channel_shuffle_groups"])
def test_errors(fn, error, message):
    with pytest.raises(error) as err:
        fn(disttorch)
    assert str(err.value) == message.replace("{lib}", "disttorch")
    if torch is not None:
        with pytest.raises(error) as t_err:
            fn(torch)
        assert str(t_err.value) == message.replace("{lib}", "torch")


def test_grid_sample_double_backward_is_refused():
    x = disttorch.randn(1, 2, 3, 3, requires_grad=True)
    grid = disttorch.rand(1, 2, 2, 2, requires_grad=True)
    y = disttorch.nn.functional.grid_sample(x, grid, align_corners=False)
    with pytest.raises(RuntimeError, match="grid_sample: double backward is not supported"):
        disttorch.autograd.grad(y.sum(), grid, create_graph=True)


# (mode, antialias): the modes PyTorch's CPU interpolation takes uint8 images in
UINT8_MODES = [("bilinear", False), ("bilinear", True), ("bicubic", False), ("bicubic", True),
               ("lanczos", True), ("nearest", False), ("nearest-exact", False)]
# (input H, W) -> (output H, W): up, down, mixed, one axis unchanged, to and from one pixel
UINT8_SIZES = [((8, 8), (13, 11)), ((16, 12), (7, 5)), ((5, 7), (20, 3)), ((7, 5), (7, 13)),
               ((1, 6), (3, 2)), ((32, 30), (9, 31)), ((10, 10), (2, 2)), ((9, 9), (9, 9)),
               ((6, 4), (1, 1))]


@requires_torch
@pytest.mark.parametrize("channels", [1, 3, 5])
@pytest.mark.parametrize("mode,antialias,align_corners", [
    (mode, antialias, corners) for mode, antialias in UINT8_MODES for corners in (False, True)
    # align_corners exists only for the interpolating modes
    if not (corners and mode in ("lanczos", "nearest", "nearest-exact"))])
def test_uint8_images_match_torch_exactly(mode, antialias, align_corners, channels):
    """PyTorch resamples uint8 images with integer kernels (one axis at a time, rounding to
    uint8 after each); the values must be equal, not close."""
    rng = np.random.default_rng(channels)
    for (h, w), size in UINT8_SIZES:
        if channels == 3 and size == (1, 1) and mode not in ("nearest", "nearest-exact"):
            continue   # torch's AVX kernel fails an internal assert for 3 channels to 1x1
        x = rng.integers(0, 256, (2, channels, h, w), dtype=np.uint8)
        kwargs = dict(size=size, mode=mode)
        if antialias:
            kwargs["antialias"] = True
        if mode in ("bilinear", "bicubic"):
            kwargs["align_corners"] = align_corners
        theirs = torch.nn.functional.interpolate(torch.from_numpy(x), **kwargs)
        ours = nn.functional.interpolate(disttorch.from_numpy(x), **kwargs)
        assert ours.dtype == disttorch.uint8
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=f"{(h, w)}->{size}")


@requires_torch
@pytest.mark.parametrize("mode,antialias", UINT8_MODES[:5])
@pytest.mark.parametrize("scale_factor", [0.3, 0.5, 1.7, 2.0, (0.75, 1.33)])
@pytest.mark.parametrize("recompute", [None, True])
def test_uint8_scale_factors_match_torch_exactly(mode, antialias, scale_factor, recompute):
    x = np.random.default_rng(0).integers(0, 256, (1, 4, 11, 9), dtype=np.uint8)
    kwargs = dict(scale_factor=scale_factor, mode=mode, antialias=antialias,
                  recompute_scale_factor=recompute)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), **kwargs)
    ours = nn.functional.interpolate(disttorch.from_numpy(x), **kwargs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@requires_torch
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape,size", [((2, 3, 5), (11,)), ((1, 2, 3, 4, 5), (6, 2, 7))])
def test_uint8_nearest_1d_3d_match_torch(mode, shape, size):
    x = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode)
    ours = nn.functional.interpolate(disttorch.from_numpy(x), size=size, mode=mode)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
