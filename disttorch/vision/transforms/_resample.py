"""Resampling kernels on numpy arrays in (..., C, H, W) layout: separable resize (PyTorch's
``interpolate`` formulas, with and without antialiasing) and affine warps (``grid_sample``
with zero padding, as torchvision's tensor ``rotate`` uses it)."""
import enum
import math

import numpy as np


class InterpolationMode(enum.Enum):
    """Interpolation methods of the resizing and rotating transforms (torchvision's names)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


# PIL's resampling constants, which torchvision still accepts as ints
_PIL_CODES = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
              3: InterpolationMode.BICUBIC}


def interpolation_mode(value):
    """Accept an :class:`InterpolationMode`, its string value or PIL's integer code."""
    if isinstance(value, InterpolationMode):
        return value
    if isinstance(value, int) and value in _PIL_CODES:
        return _PIL_CODES[value]
    try:
        return InterpolationMode(value)
    except ValueError:
        raise ValueError(f"Interpolation mode {value!r} is not supported; expected one of "
                         f"{[m.value for m in InterpolationMode]}") from None


def _cubic1(x, a):
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic2(x, a):
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _antialias_weights(in_size, out_size, mode):
    """The (out_size, in_size) matrix of ATen's antialiased kernels (PIL's method): the filter
    is stretched by the scale when downsampling, so every input pixel counts."""
    from ...nn.functional._upsample import antialias_table
    index, taps = antialias_table(in_size, out_size, in_size / out_size, mode.value)
    weights = np.zeros((out_size, in_size))
    np.add.at(weights, (np.arange(out_size)[:, None], index), taps)
    return weights


def _plain_weights(in_size, out_size, mode):
    """The (out_size, in_size) matrix of ``interpolate(..., align_corners=False)`` without
    antialiasing: two taps (bilinear) or four clamped taps (bicubic, a = -0.75)."""
    scale = in_size / out_size
    src = scale * (np.arange(out_size) + 0.5) - 0.5
    weights = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if mode is InterpolationMode.BILINEAR:
        src = np.maximum(src, 0.0)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, in_size - 1)
        frac = src - i0
        np.add.at(weights, (rows, i0), 1.0 - frac)
        np.add.at(weights, (rows, i1), frac)
        return weights
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    taps = [_cubic2(t + 1.0, -0.75), _cubic1(t, -0.75), _cubic1(1.0 - t, -0.75),
            _cubic2(2.0 - t, -0.75)]
    for k, w in enumerate(taps):
        np.add.at(weights, (rows, np.clip(i0 - 1 + k, 0, in_size - 1)), w)
    return weights


def _nearest_index(in_size, out_size, exact):
    scale = np.float32(in_size) / np.float32(out_size)
    positions = np.arange(out_size, dtype=np.float32) + (np.float32(0.5) if exact else 0)
    return np.minimum(np.floor(positions * scale).astype(np.int64), in_size - 1)


def resize_array(array, size, mode, antialias):
    """Resize the last two axes of a float array to ``size`` = (height, width)."""
    (in_h, in_w), (out_h, out_w) = array.shape[-2:], size
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        exact = mode is InterpolationMode.NEAREST_EXACT
        rows = _nearest_index(in_h, out_h, exact)
        cols = _nearest_index(in_w, out_w, exact)
        return array[..., rows[:, None], cols[None, :]]
    pick = _antialias_weights if antialias else _plain_weights
    weights_h = pick(in_h, out_h, mode).astype(array.dtype)
    weights_w = pick(in_w, out_w, mode).astype(array.dtype)
    return weights_h @ (array @ weights_w.T)


def inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's inverse affine matrix (rotation by ``angle`` degrees about ``center``,
    in pixel offsets from the image centre) as the 6 numbers of a 2x3 matrix."""
    rot = math.radians(angle)
    sx, sy = (math.radians(s) for s in shear)
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty) + cx
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty) + cy
    return matrix


def affine_output_size(matrix, width, height):
    """Size (width, height) of the box holding the whole warped image (``expand=True``)."""
    corners = np.array([[-0.5 * width, -0.5 * height, 1.0], [-0.5 * width, 0.5 * height, 1.0],
                        [0.5 * width, 0.5 * height, 1.0], [0.5 * width, -0.5 * height, 1.0]],
                       np.float32)
    # torchvision bounds the corners under the (inverse) matrix itself, shifted to [0, w] x
    # [0, h] like PIL, with the precision cut to 1e-4 so that 1e-15 does not ceil to 1
    points = corners @ np.array(matrix, np.float32).reshape(2, 3).T
    shift = np.array([width * 0.5, height * 0.5], np.float32)
    tol = 1e-4
    cmax = np.ceil(np.trunc((points.max(axis=0) + shift) / tol) * tol)
    cmin = np.floor(np.trunc((points.min(axis=0) + shift) / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _sample(array, ix, iy, mode):
    """``grid_sample`` of the last two axes at pixel coordinates (ix, iy), zeros outside."""
    height, width = array.shape[-2:]
    if mode is InterpolationMode.NEAREST:
        x, y = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        out = array[..., np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)]
        return out * inside
    x0, y0 = np.floor(ix).astype(np.int64), np.floor(iy).astype(np.int64)
    fx, fy = (ix - x0).astype(array.dtype), (iy - y0).astype(array.dtype)
    out = np.zeros(array.shape[:-2] + ix.shape, array.dtype)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            x, y = x0 + dx, y0 + dy
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            out += array[..., np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)] \
                * (wx * wy * inside)
    return out


def warp_affine(array, matrix, mode, out_size, fill):
    """Warp a float array by the inverse affine ``matrix`` (output pixel -> input pixel, in
    coordinates centred on the images) into ``out_size`` = (width, height).

    ``fill`` is ``None`` (zeros outside) or one value per channel; then, as in torchvision, a
    sampled mask of ones blends the fill in (bilinear) or replaces the outside (nearest).
    """
    height, width = array.shape[-2:]
    out_w, out_h = out_size
    bx = np.arange(out_w) - out_w * 0.5 + 0.5
    by = (np.arange(out_h) - out_h * 0.5 + 0.5)[:, None]
    m = matrix
    ix = m[0] * bx + m[1] * by + m[2] + width * 0.5 - 0.5
    iy = m[3] * bx + m[4] * by + m[5] + height * 0.5 - 0.5
    out = _sample(array, ix, iy, mode)
    if fill is None:
        return out
    mask = _sample(np.ones((height, width), array.dtype), ix, iy, mode)
    fill = np.asarray(fill, array.dtype).reshape(-1, 1, 1)
    if mode is InterpolationMode.NEAREST:
        return np.where(mask < 0.5, fill, out)
    return out * mask + (1.0 - mask) * fill
