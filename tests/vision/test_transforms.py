"""vision.transforms against their definitions: torch's ``interpolate``/``grid_sample``/``pad``
as the oracle for the resampling, the documented formulas (and ``colorsys``) for the colour
operations, the random draws replayed from disttorch's generator; torchvision's own
functions when it is installed."""
import colorsys
import math

import numpy as np
import pytest

import disttorch
from disttorch.vision import transforms as T
from disttorch.vision.transforms import InterpolationMode
from disttorch.vision.transforms import functional as F

torch = pytest.importorskip("torch", reason="torch (the oracle) is not installed")


def image(shape=(3, 10, 12), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.random(shape).astype(dtype)


def test_to_tensor_scales_uint8_and_moves_channels_first():
    hwc = image((4, 5, 3), np.uint8)
    out = T.ToTensor()(hwc)
    assert out.dtype == disttorch.float32 and tuple(out.shape) == (3, 4, 5)
    np.testing.assert_allclose(out.numpy(), hwc.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert tuple(T.ToTensor()(hwc[..., 0]).shape) == (1, 4, 5)
    floats = image((4, 5, 2))
    np.testing.assert_array_equal(T.ToTensor()(floats).numpy(), floats.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(disttorch.zeros(3, 4, 4))


def test_pil_to_tensor_keeps_dtype():
    hwc = image((4, 5, 3), np.uint8)
    out = T.PILToTensor()(hwc)
    assert out.dtype == disttorch.uint8
    np.testing.assert_array_equal(out.numpy(), hwc.transpose(2, 0, 1))


def test_pil_images_are_accepted_when_pillow_is_installed():
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    hwc = image((4, 5, 3), np.uint8)
    pil = Image.fromarray(hwc)
    np.testing.assert_array_equal(T.PILToTensor()(pil).numpy(), hwc.transpose(2, 0, 1))
    np.testing.assert_allclose(T.ToTensor()(pil).numpy(), hwc.transpose(2, 0, 1) / 255.0)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(pil), hwc[:, ::-1])


def test_normalize_per_channel():
    x = disttorch.from_numpy(image((2, 3, 4, 5)))
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = T.Normalize(mean, std)(x)
    expected = (x.numpy() - np.array(mean, np.float32)[:, None, None]) \
        / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert not np.array_equal(out.numpy(), x.numpy())
    same = T.Normalize(mean, std, inplace=True)(x)
    assert same is x
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize(mean, std)(disttorch.zeros(3, 2, 2, dtype=disttorch.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(mean, (1.0, 0.0, 1.0))(disttorch.zeros(3, 2, 2))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("size", [(5, 7), (17, 9), (10, 12), (3, 30)])
def test_resize_matches_torch_interpolate(mode, antialias, size):
    x = image((2, 3, 10, 12))
    got = F.resize(disttorch.from_numpy(x), list(size), InterpolationMode(mode),
                   antialias=antialias)
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode,
                                               antialias=antialias and "bi" in mode, **kwargs)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_resize_uint8_rounds_and_arrays_stay_hwc():
    hwc = image((10, 12, 3), np.uint8)
    out = T.Resize((6, 8))(hwc)
    assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(hwc.transpose(2, 0, 1)[None].astype(np.float32)), size=(6, 8),
        mode="bilinear", align_corners=False, antialias=True)
    expected = reference[0].numpy().round().clip(0, 255).astype(np.uint8).transpose(1, 2, 0)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_interpolation_accepts_strings_and_pil_codes():
    x = disttorch.from_numpy(image((1, 6, 6)))
    assert disttorch.equal(T.Resize(3, interpolation=2)(x), T.Resize(3)(x))
    assert disttorch.equal(T.Resize(3, interpolation="nearest")(x),
                           T.Resize(3, interpolation=InterpolationMode.NEAREST)(x))
    with pytest.raises(ValueError, match="not supported"):
        T.Resize(3, interpolation="lanczos")


def test_resize_smaller_edge_and_max_size():
    x = disttorch.zeros(3, 20, 40)
    assert tuple(T.Resize(10)(x).shape) == (3, 10, 20)
    assert tuple(T.Resize(10, max_size=15)(x).shape) == (3, 7, 15)
    assert tuple(T.Resize([10])(disttorch.zeros(1, 30, 20)).shape) == (1, 15, 10)
    with pytest.raises(ValueError, match="max_size"):
        T.Resize((10, 10), max_size=20)(x)


@pytest.mark.parametrize("padding_mode, torch_mode", [("reflect", "reflect"),
                                                      ("edge", "replicate")])
def test_pad_modes_match_torch(padding_mode, torch_mode):
    x = image((2, 3, 6, 7))
    got = F.pad(disttorch.from_numpy(x), [1, 2, 3, 4], padding_mode=padding_mode)
    expected = torch.nn.functional.pad(torch.from_numpy(x), (1, 3, 2, 4), mode=torch_mode)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_pad_constant_symmetric_and_per_channel_fill():
    hwc = image((3, 4, 3), np.uint8)
    out = T.Pad(2, fill=(1, 2, 3))(hwc)
    assert out.shape == (7, 8, 3)
    np.testing.assert_array_equal(out[2:5, 2:6], hwc)
    np.testing.assert_array_equal(out[0, 0], [1, 2, 3])
    sym = F.pad(disttorch.arange(4.0).view(1, 1, 4), [2, 0], padding_mode="symmetric")
    np.testing.assert_array_equal(sym.numpy()[0, 0], [1, 0, 0, 1, 2, 3, 3, 2])
    cropped = F.pad(disttorch.arange(4.0).view(1, 1, 4), [-1, 0, 0, 0])
    np.testing.assert_array_equal(cropped.numpy()[0, 0], [1, 2, 3])


def test_crop_and_center_crop():
    x = image((3, 9, 10))
    t = disttorch.from_numpy(x)
    np.testing.assert_array_equal(F.crop(t, 2, 3, 4, 5).numpy(), x[:, 2:6, 3:8])
    outside = F.crop(t, -1, 8, 3, 4).numpy()
    assert outside.shape == (3, 3, 4)
    np.testing.assert_array_equal(outside[:, 1:, :2], x[:, :2, 8:])
    assert not outside[:, 0].any() and not outside[:, :, 2:].any()
    # crop_top = round((9 - 4) / 2) = 2 (half to even), crop_left = round(2.5) = 2
    np.testing.assert_array_equal(T.CenterCrop((4, 5))(t).numpy(), x[:, 2:6, 2:7])
    padded = T.CenterCrop(12)(t).numpy()
    assert padded.shape == (3, 12, 12)
    np.testing.assert_array_equal(padded[:, 1:10, 1:11], x)


def test_random_crop_replays_the_generator():
    x = image((3, 8, 8))
    transform = T.RandomCrop(6, padding=2, padding_mode="reflect")
    disttorch.manual_seed(3)
    got = transform(disttorch.from_numpy(x)).numpy()
    disttorch.manual_seed(3)
    i = int(disttorch.randint(0, 12 - 6 + 1, (1,)).item())
    j = int(disttorch.randint(0, 12 - 6 + 1, (1,)).item())
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2)], mode="reflect")
    np.testing.assert_array_equal(got, padded[:, i:i + 6, j:j + 6])
    needs_pad = T.RandomCrop((5, 9), pad_if_needed=True)(disttorch.zeros(1, 3, 4))
    assert tuple(needs_pad.shape) == (1, 5, 9)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(9)(disttorch.zeros(1, 8, 8))


def test_flips():
    hwc = image((4, 5, 3), np.uint8)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(hwc), hwc[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(hwc), hwc[::-1])
    assert T.RandomHorizontalFlip(p=0.0)(hwc) is hwc
    t = disttorch.from_numpy(image((2, 3, 4, 5)))
    np.testing.assert_array_equal(F.hflip(t).numpy(), t.numpy()[..., ::-1])
    disttorch.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(hwc) is not hwc for _ in range(200)]
    disttorch.manual_seed(0)
    assert flips == [disttorch.rand(1).item() < 0.5 for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_random_resized_crop_parameters():
    x = disttorch.zeros(3, 40, 60)
    disttorch.manual_seed(1)
    for _ in range(50):
        i, j, h, w = T.RandomResizedCrop.get_params(x, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i <= 40 - h and 0 <= j <= 60 - w
        assert 0.08 * 2400 * 0.9 <= h * w <= 2400
        assert 3 / 4 * 0.8 <= w / h <= 4 / 3 * 1.2
    # the first draws replayed: area fraction, log-ratio, then the position
    disttorch.manual_seed(5)
    params = T.RandomResizedCrop.get_params(x, (0.5, 0.6), (1.0, 2.0))
    disttorch.manual_seed(5)
    area = 2400 * disttorch.empty(1).uniform_(0.5, 0.6).item()
    ratio = math.exp(disttorch.empty(1).uniform_(0.0, math.log(2.0)).item())
    w, h = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
    i = int(disttorch.randint(0, 40 - h + 1, (1,)).item())
    j = int(disttorch.randint(0, 60 - w + 1, (1,)).item())
    assert params == (i, j, h, w)
    # impossible areas fall back to the central crop clamped to the ratio range
    assert T.RandomResizedCrop.get_params(x, (2.0, 3.0), (0.5, 1.0)) == (0, 10, 40, 40)
    out = T.RandomResizedCrop(16)(image((40, 60, 3), np.uint8))
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8


def _gray(x):
    return 0.2989 * x[..., 0, :, :] + 0.587 * x[..., 1, :, :] + 0.114 * x[..., 2, :, :]


def test_brightness_contrast_saturation_definitions():
    x = image((2, 3, 5, 6))
    t = disttorch.from_numpy(x)
    np.testing.assert_allclose(F.adjust_brightness(t, 1.7).numpy(), np.clip(x * 1.7, 0, 1),
                               rtol=1e-6)
    mean = _gray(x).mean(axis=(-2, -1))[..., None, None, None]
    np.testing.assert_allclose(F.adjust_contrast(t, 0.3).numpy(),
                               np.clip(0.3 * x + 0.7 * mean, 0, 1), rtol=1e-5, atol=1e-6)
    gray = _gray(x)[..., None, :, :]
    np.testing.assert_allclose(F.adjust_saturation(t, 1.5).numpy(),
                               np.clip(1.5 * x - 0.5 * gray, 0, 1), rtol=1e-5, atol=1e-6)
    u8 = image((3, 4, 5), np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(disttorch.from_numpy(u8), 0.5).numpy(),
                                  (u8.astype(np.float32) * 0.5).astype(np.uint8))


def test_hue_matches_colorsys():
    x = image((3, 4, 5), seed=3)
    got = F.adjust_hue(disttorch.from_numpy(x), 0.2).numpy()
    for r in range(4):
        for c in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[:, r, c])
            np.testing.assert_allclose(got[:, r, c], colorsys.hsv_to_rgb((h + 0.2) % 1, s, v),
                                       atol=1e-5)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(disttorch.from_numpy(x), 0.7)


def test_color_jitter_replays_the_generator():
    x = image((3, 6, 6), seed=4)
    jitter = T.ColorJitter(brightness=0.4, contrast=(0.5, 1.5), saturation=0.3, hue=0.1)
    assert jitter.brightness == (0.6, 1.4) and jitter.hue == (-0.1, 0.1)
    disttorch.manual_seed(9)
    got = jitter(disttorch.from_numpy(x)).numpy()
    disttorch.manual_seed(9)
    order = disttorch.randperm(4).tolist()
    factors = [disttorch.empty(1).uniform_(lo, hi).item()
               for lo, hi in ((0.6, 1.4), (0.5, 1.5), (0.7, 1.3), (-0.1, 0.1))]
    expected = disttorch.from_numpy(x)
    ops = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
    for k in order:
        expected = ops[k](expected, factors[k])
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-6)
    assert T.ColorJitter().brightness is None
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.6)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("angle", [31.0, -47.5, 90.0])
def test_rotate_matches_grid_sample(mode, angle):
    # (angles that put no sample point exactly half-way between pixels, where nearest's choice
    # depends on the last bit of the arithmetic)
    x = image((2, 3, 9, 9))
    got = F.rotate(disttorch.from_numpy(x), angle, InterpolationMode(mode)).numpy()
    # counter-clockwise on screen (y down): output (x, y) samples input R(-angle) (x, y)
    a = math.radians(angle)
    theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]],
                         dtype=torch.float64).expand(2, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, (2, 3, 9, 9), align_corners=False)
    expected = torch.nn.functional.grid_sample(torch.from_numpy(x).double(), grid, mode=mode,
                                               padding_mode="zeros", align_corners=False)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def test_rotate_by_quarter_turns_is_exact():
    hwc = image((6, 6, 3), np.uint8)
    np.testing.assert_array_equal(F.rotate(hwc, 90), np.rot90(hwc, 1))
    np.testing.assert_array_equal(F.rotate(hwc, 180, InterpolationMode.BILINEAR),
                                  np.rot90(hwc, 2))
    wide = disttorch.from_numpy(image((1, 4, 6)))
    expanded = F.rotate(wide, 90, expand=True)
    assert tuple(expanded.shape) == (1, 6, 4)
    np.testing.assert_array_equal(expanded.numpy()[0], np.rot90(wide.numpy()[0], 1))


def test_random_rotation_fill_and_draws():
    x = disttorch.ones(3, 8, 8)
    disttorch.manual_seed(2)
    out = T.RandomRotation((40, 50), fill=0.5)(x).numpy()
    disttorch.manual_seed(2)
    angle = disttorch.empty(1).uniform_(40.0, 50.0).item()
    expected = F.rotate(x, angle, fill=[0.5] * 3).numpy()
    np.testing.assert_array_equal(out, expected)
    assert out[:, 0, 0].tolist() == [0.5] * 3 and out[:, 4, 4].tolist() == [1.0] * 3
    with pytest.raises(ValueError, match="must be positive"):
        T.RandomRotation(-3)


def test_grayscale_compose_lambda_and_repr():
    x = image((3, 4, 4))
    gray = T.Grayscale(3)(disttorch.from_numpy(x)).numpy()
    np.testing.assert_allclose(gray[1], _gray(x), rtol=1e-6)
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.CenterCrop(2)])
    out = pipeline(image((4, 4, 3), np.uint8, seed=1))
    expected = image((4, 4, 3), np.uint8, seed=1).transpose(2, 0, 1)[:, 1:3, 1:3] / 255 * 2
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert repr(pipeline).startswith("Compose(\n    ToTensor()\n    Lambda()")
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_convert_image_dtype():
    u8 = disttorch.tensor([[[0, 128, 255]]], dtype=disttorch.uint8)
    f = T.ConvertImageDtype(disttorch.float32)(u8)
    np.testing.assert_allclose(f.numpy(), [[[0, 128 / 255, 1]]], rtol=1e-6)
    assert T.ConvertImageDtype(disttorch.uint8)(f).tolist() == [[[0, 128, 255]]]


@pytest.fixture
def torchvision_functional():
    tv = pytest.importorskip("torchvision",
                             reason="torchvision is not installed (it needs another torch)")
    return tv.transforms.functional


def test_against_torchvision(torchvision_functional):
    TF = torchvision_functional
    x = image((3, 12, 10))
    ours, theirs = disttorch.from_numpy(x), torch.from_numpy(x)
    pairs = [(F.resize(ours, [7, 5]), TF.resize(theirs, [7, 5], antialias=True)),
             (F.rotate(ours, 33.0), TF.rotate(theirs, 33.0)),
             (F.adjust_hue(ours, 0.3), TF.adjust_hue(theirs, 0.3)),
             (F.adjust_contrast(ours, 0.4), TF.adjust_contrast(theirs, 0.4)),
             (F.center_crop(ours, [14, 6]), TF.center_crop(theirs, [14, 6]))]
    for got, expected in pairs:
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_grayscale_of_an_array_is_an_l_image():
    hwc = image((4, 5, 3), np.uint8)
    gray = T.Grayscale()(hwc)
    assert gray.shape == (4, 5) and gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, _gray(hwc.transpose(2, 0, 1).astype(np.float32))
                                  .astype(np.uint8))
    assert T.Grayscale(3)(hwc).shape == (4, 5, 3)
