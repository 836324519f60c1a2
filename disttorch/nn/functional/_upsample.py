"""Vision functions: ``interpolate`` (and the ``upsample*`` aliases), ``pixel_shuffle``,
``pixel_unshuffle``, ``channel_shuffle``, ``affine_grid`` and ``grid_sample`` (``pad`` lives
in ``_misc``).

Every interpolation mode is separable: each spatial axis is resampled in turn through a
table of taps ``(index, weight)`` (one tap for nearest, two for linear, four for cubic), a
gather whose adjoint is a scatter-add (``_windows.AxisGather``).
"""
import itertools
import math
import warnings

import numpy as np

from ..._backend import get_array_module, device_constant
from ..._threads import get_num_threads
from ...autograd.function import Node
from ...tensor import Tensor, _new
from ._windows import AxisGather, scatter_add_flat, shape_str
from ...amp.autocast_mode import autocast_args
from ...ops.indexing import scalar_type_name
from ._pool import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "affine_grid",
           "grid_sample"]

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
_CUBIC_A = -0.75
_MODES_TEXT = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


def _nearest_taps(xp, in_size, out_size, scale, exact):
    # PyTorch computes nearest source indices in single precision; so do we, to pick the same
    # pixels at exact boundaries.
    if scale is not None and scale > 0:
        ratio = np.float32(1.0 / scale)
    else:
        ratio = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    if exact:
        dst = dst + np.float32(0.5)
    src = np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)
    return [(xp.asarray(src), None)]


def _pixel_ratio(in_size, out_size, scale, align_corners):
    """Input pixels per output pixel (ATen's ``area_pixel_compute_scale``)."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale is not None and scale > 0:
        return 1.0 / scale
    return in_size / out_size


def _source_coords(in_size, out_size, scale, align_corners, cubic, dtype):
    ratio = dtype.type(_pixel_ratio(in_size, out_size, scale, align_corners))
    dst = np.arange(out_size, dtype=dtype)
    if align_corners:
        return dst * ratio
    src = (dst + dtype.type(0.5)) * ratio - dtype.type(0.5)
    return src if cubic else np.maximum(src, 0)


def _linear_taps(xp, in_size, out_size, scale, align_corners, dtype):
    src = _source_coords(in_size, out_size, scale, align_corners, False, dtype)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam1 = src - i0
    return [(xp.asarray(i0), xp.asarray(1 - lam1)), (xp.asarray(i1), xp.asarray(lam1))]


def _cubic_weights(t):
    """Keys' cubic convolution weights (A = -0.75) of the taps at -1, 0, 1, 2 for offset t,
    and their derivatives in t."""
    a = _CUBIC_A

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    def d_near(x):
        return (3 * (a + 2) * x - 2 * (a + 3)) * x

    def d_far(x):
        return (3 * a * x - 10 * a) * x + 8 * a

    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    slopes = [d_far(t + 1), d_near(t), -d_near(1 - t), -d_far(2 - t)]
    return weights, slopes


def _cubic_taps(xp, in_size, out_size, scale, align_corners, dtype):
    src = _source_coords(in_size, out_size, scale, align_corners, True, dtype)
    base = np.floor(src)
    weights, _ = _cubic_weights(src - base)
    base = base.astype(np.int64)
    return [(xp.asarray(np.clip(base - 1 + k, 0, in_size - 1)), xp.asarray(w))
            for k, w in enumerate(weights)]


def _aa_filter(mode):
    """ATen's antialiasing filters (PIL's): triangle, Keys cubic with a = -0.5, Lanczos-3;
    with the number of taps each spans at scale 1."""
    if mode == "bilinear":
        return 2, lambda x: np.maximum(0.0, 1.0 - np.abs(x))
    if mode == "bicubic":
        def cubic(x):
            x, a = np.abs(x), -0.5
            near = ((a + 2) * x - (a + 3)) * x * x + 1
            far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
            return np.where(x < 1, near, np.where(x < 2, far, 0.0))
        return 4, cubic
    return 6, lambda x: np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)


def _antialias_taps(xp, in_size, out_size, scale, align_corners, mode, dtype):
    """Taps of the antialiased resampling: when downsampling, the filter is stretched by the
    ratio so that every input pixel contributes (weights normalised per output pixel)."""
    index, weights = antialias_table(in_size, out_size,
                                     _pixel_ratio(in_size, out_size, scale, align_corners), mode)
    return [(xp.asarray(index[:, k]), xp.asarray(weights[:, k].astype(dtype)))
            for k in range(index.shape[1])]


def antialias_table(in_size, out_size, ratio, mode):
    """``(index, weights)``, each ``(out_size, taps)``: the input pixels and normalised weights
    of every output pixel of an antialiased resampling with input/output ``ratio`` (float64;
    padding taps repeat the last pixel with weight 0). ``mode``: bilinear, bicubic, lanczos."""
    taps, kernel = _aa_filter(mode)
    support = taps * 0.5 * ratio if ratio >= 1.0 else taps * 0.5
    invscale = 1.0 / ratio if ratio >= 1.0 else 1.0
    center = ratio * (np.arange(out_size) + 0.5)
    xmin = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)
    xsize = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - xmin
    width = max(int(xsize.max()), 1)
    j = xmin[:, None] + np.arange(width)[None, :]
    weights = np.where(np.arange(width)[None, :] < xsize[:, None],
                       kernel((j - center[:, None] + 0.5) * invscale), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, total, out=np.zeros_like(weights), where=total != 0)
    return np.minimum(j, in_size - 1), weights


def _output_sizes(input, d, size, scale_factor):
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * d
        if len(sizes) != d:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, "
                             f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                             f"output size of {sizes}. Please provide input tensor in (N, C, d1, "
                             f"d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
        return [int(s) for s in sizes], None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * d
    if len(scales) != d:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions,"
                         f" but got input with spatial dimensions of {list(input.shape[2:])} and "
                         f"scale_factor of shape {scales}. Please provide input tensor in (N, C, "
                         f"d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
    scales = [float(s) for s in scales]
    return [int(math.floor(float(n) * s)) for n, s in zip(input.shape[2:], scales)], scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Down/up samples the input to the given ``size`` or by the given ``scale_factor``.

    Args:
        input: tensor of shape :math:`(N, C, *spatial)` with 1 to 3 spatial dimensions
        size: the output spatial size (an int or a tuple)
        scale_factor: multiplier for the spatial size (a float or a tuple)
        mode: ``'nearest'`` | ``'nearest-exact'`` | ``'linear'`` (3D) | ``'bilinear'`` (4D) |
            ``'bicubic'`` (4D) | ``'trilinear'`` (5D) | ``'lanczos'`` (4D, Lanczos-3, needs
            ``antialias=True``) | ``'area'``. Default: ``'nearest'``
        align_corners: for the interpolating modes, align the centres of the corner pixels
            of input and output (``True``) or their outer edges (``False``). Default: ``False``
        recompute_scale_factor: compute the sampling ratio from the output size instead of
            using ``scale_factor`` directly
        antialias: when downsampling with ``'bilinear'``, ``'bicubic'`` or ``'lanczos'``,
            stretch the filter so that every input pixel contributes (PIL's method).
            Default: ``False``

    As in PyTorch, ``uint8`` images are taken by the nearest modes and by ``'bilinear'``,
    ``'bicubic'`` and ``'lanczos'``, which round as PyTorch's (PIL's) integer kernels do.

    Shape:
        - Output: :math:`(N, C, *size)` or :math:`(N, C, \\lfloor S \\times scale \\rfloor)`
    """
    input, = autocast_args("interpolate", input, variant=mode)
    d = input.ndim - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _MODE_DIMS:
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: {_MODES_TEXT} (got {mode})")
    if d < 1 or d > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: {_MODES_TEXT} (got {mode})")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != d:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_MODE_DIMS[mode] + 2}D input")
    sizes, scales = _output_sizes(input, d, size, scale_factor)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, sizes))})")
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         "and requires a 4-D tensor as input")
    if mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[d - 1](input, sizes)
    if recompute_scale_factor or scales is None:
        scales = [None] * d
    if input._data.dtype.kind in "iub":
        kernel = _integer_kernel(input, mode, antialias, sizes)
        if kernel is not None:
            raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                      f"'{scalar_type_name(input)}'")
        if mode not in ("nearest", "nearest-exact"):
            return _interpolate_uint8(input, mode, antialias, sizes, scales, align_corners)
    xp = get_array_module(input._data)
    dtype = input._data.dtype if input._data.dtype.kind == "f" else np.dtype(np.float32)
    out = input
    for i, (n, o, s) in enumerate(zip(input.shape[2:], sizes, scales)):
        if mode in ("nearest", "nearest-exact") and n == o and s in (None, 1.0):
            continue
        # the tap tables depend only on sizes and mode: built once per device, not per call
        key = ("interpolate", mode, bool(antialias), n, o, s, align_corners, dtype)
        taps = device_constant(xp, key, lambda n=n, o=o, s=s: _host_taps(
            mode, antialias, n, o, s, align_corners, dtype))
        out = AxisGather.apply(out, 2 + i, taps)
    return out


def _channels_last(input):
    """Whether the strides are channels-last contiguous, by PyTorch's rule (size-1 dims do not
    count), which decides the kernel that PyTorch's CPU interpolation reaches."""
    sizes, strides = input.shape, input.stride()
    order = (1, 3, 2, 0) if input.ndim == 4 else (1, 4, 3, 2, 0)
    expected = 1
    for d in order:
        if sizes[d] != 1:
            if strides[d] != expected:
                return False
            expected *= sizes[d]
    return True


def _integer_kernel(input, mode, antialias, sizes):
    """The name of the PyTorch CPU kernel that refuses an integer (or bool) ``input`` (its
    error names the one it reached, which depends on the layout and sizes), or None where
    PyTorch takes it: uint8 in the nearest modes and in bilinear, bicubic and lanczos."""
    channels = input.shape[1]
    wide_last = _channels_last(input) and channels > 3 if input.ndim in (4, 5) else False
    if mode in ("nearest", "nearest-exact"):
        if input._data.dtype == np.uint8:
            return None
        if input.ndim == 4 and (wide_last or sum(sizes) <= 128):
            return "upsample_nearest2d_channels_last"
        if input.ndim == 5 and wide_last:
            return "upsample_nearest3d_channels_last"
        return "compute_indices_weights_nearest"
    if input._data.dtype == np.uint8 and mode in ("bilinear", "bicubic", "lanczos"):
        return None
    if antialias:
        return "compute_index_ranges_weights"
    if mode == "bilinear":
        if wide_last or sum(sizes) <= 128 or (get_num_threads() == 1 and channels == 3):
            return "upsample_bilinear2d_channels_last"
        return "compute_indices_weights_linear"
    if mode == "bicubic":
        return "compute_indices_weights_cubic"
    if mode == "trilinear" and wide_last:
        return "upsample_trilinear3d_channels_last"
    return "compute_indices_weights_linear"


# ------------------------------------------------------------------ uint8 resampling
# PyTorch resamples uint8 images (bilinear, bicubic, lanczos) as PIL does: one axis at a time,
# the last first, each pass rounding to uint8 again; the float64 tap weights of every output
# pixel become integers scaled by 2**precision (the largest precision that keeps the biggest
# weight within int16), and each output is the integer dot product plus half an LSB, shifted
# down and clamped. Its values are matched exactly here, so the tap tables are computed
# in plain float64 arithmetic, in the same order of operations.
_UINT8_TAPS = {"bilinear": 2, "bicubic": 4, "lanczos": 6}


def _keys_cubic(a):
    def cubic(x):
        x = abs(x)
        if x < 1.0:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2.0:
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        return 0.0
    return cubic


def _triangle(x):
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


def _sinc(x):
    if x == 0.0:
        return 1.0
    x *= math.pi
    return math.sin(x) / x


def _lanczos3(x):
    x = abs(x)
    return _sinc(x) * _sinc(x / 3.0) if x < 3.0 else 0.0


def _uint8_filter(mode, antialias):
    if mode == "bilinear":
        return _triangle
    if mode == "bicubic":
        # PIL's a = -0.5 when antialiasing, the float path's -0.75 otherwise
        return _keys_cubic(-0.5 if antialias else _CUBIC_A)
    return _lanczos3


def _uint8_taps(mode, antialias, in_size, out_size, scale, align_corners):
    """``(index, weights, precision)``: per output pixel the input pixels ``(o, K)`` and their
    integer weights ``(o, K)`` (0 past the pixel's span), scaled by ``2**precision``."""
    taps = _UINT8_TAPS[mode]
    kernel = _uint8_filter(mode, antialias)
    ratio = float(_pixel_ratio(in_size, out_size, scale, align_corners))
    if antialias:
        support = taps * 0.5 * ratio if ratio >= 1.0 else taps * 0.5
        width = int(math.ceil(support)) * 2 + 1
        invscale = 1.0 / ratio if ratio >= 1.0 else 1.0
    else:
        width, half = taps, taps // 2
    starts = np.zeros(out_size, np.int64)
    weights = np.zeros((out_size, width))
    largest = 0.0
    for i in range(out_size):
        row = weights[i]
        if antialias:
            center = ratio * (i + 0.5)
            start = max(int(center - support + 0.5), 0)
            count = min(max(min(int(center + support + 0.5), in_size) - start, 0), width)
            total = 0.0
            for j in range(count):
                w = kernel((j + start - center + 0.5) * invscale)
                row[j] = w
                total += w
            if total != 0.0:
                for j in range(count):
                    row[j] /= total
                    largest = max(largest, row[j])
        else:
            if align_corners:
                real = ratio * i
            else:
                real = ratio * (i + 0.5) - 0.5
                if taps == 2 and real < 0:
                    real = 0.0
            # PyTorch floors the source coordinate in single precision
            index = min(int(math.floor(np.float32(real))), in_size - 1)
            lam = min(max(real - index, 0.0), 1.0)
            low = index - half + 1
            start = max(low, 0)
            count = min(max(min(index + half + 1, in_size) - start, 0), width)
            # taps that fall outside the input add their weight to the edge pixel's
            k = 0
            for j in range(width):
                w = kernel(float(j + 1 - half) - lam)
                if low + j <= 0:
                    k = 0
                elif low + j >= in_size - 1:
                    k = count - 1
                row[k] += w
                largest = max(largest, row[k])
                k += 1
        starts[i] = start
    precision = 0
    while precision < 22 and int(0.5 + largest * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = weights * (1 << precision)
    # rounded half away from zero, as a C cast of v +- 0.5
    ints = np.trunc(np.where(scaled < 0, scaled - 0.5, scaled + 0.5)).astype(np.int16)
    index = np.minimum(starts[:, None] + np.arange(width)[None, :], in_size - 1)
    return index, ints.astype(np.int32), precision


def _uint8_pass(xp, data, axis, table):
    index, weights, precision = table
    shape = (-1,) + (1,) * (data.ndim - 1 - axis)
    acc = xp.full(data.shape[:axis] + (index.shape[0],) + data.shape[axis + 1:],
                  1 << (precision - 1), dtype=np.int32)
    for k in range(index.shape[1]):
        acc += xp.take(data, index[:, k], axis=axis).astype(np.int32) * \
            weights[:, k].reshape(shape)
    return xp.clip(acc >> precision, 0, 255).astype(np.uint8)


def _interpolate_uint8(input, mode, antialias, sizes, scales, align_corners):
    xp = get_array_module(input._data)
    data = input._data
    d = input.ndim - 2
    # the last axis first, then the others from the back; an axis of unchanged size is not
    # resampled at all
    for i in [d - 1] + list(range(d - 2, -1, -1)):
        n, o, s = input.shape[2 + i], sizes[i], scales[i]
        if n == o:
            continue
        key = ("interpolate_uint8", mode, bool(antialias), n, o, s, align_corners)
        table = device_constant(xp, key, lambda n=n, o=o, s=s: _uint8_taps(
            mode, antialias, n, o, s, align_corners))
        data = _uint8_pass(xp, data, 2 + i, table)
    return _new(data.copy() if data is input._data else data)


def _host_taps(mode, antialias, n, o, s, align_corners, dtype):
    """``[(index, weight or None), ...]`` numpy tables resampling one axis from ``n`` to ``o``."""
    if mode in ("nearest", "nearest-exact"):
        return _nearest_taps(np, n, o, s, mode == "nearest-exact")
    if antialias:
        return _antialias_taps(np, n, o, s, align_corners, mode, dtype)
    if mode == "bicubic":
        return _cubic_taps(np, n, o, s, align_corners, dtype)
    return _linear_taps(np, n, o, s, align_corners, dtype)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Upsamples the input; an alias of :func:`interpolate` (deprecated in PyTorch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Upsamples the input with nearest neighbours' pixel values (``mode='nearest'``)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Upsamples a 4D input with bilinear interpolation and ``align_corners=True``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------- pixel shuffle
def _shuffle(x, r):
    lead = x.shape[:-3]
    c, h, w = x.shape[-3:]
    k = len(lead)
    y = x.reshape(lead + (c // (r * r), r, r, h, w))
    y = y.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return y.reshape(lead + (c // (r * r), h * r, w * r))


def _unshuffle(x, r):
    lead = x.shape[:-3]
    c, h, w = x.shape[-3:]
    k = len(lead)
    y = x.reshape(lead + (c, h // r, r, w // r, r))
    y = y.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return y.reshape(lead + (c * r * r, h // r, w // r))


class PixelShuffle(Node):
    def forward(self, x, r):
        self.r = r
        return _shuffle(x, r)

    def backward(self, g):
        if isinstance(g, Tensor):
            return PixelUnshuffle.apply(g, self.r), None
        return _unshuffle(g, self.r), None


class PixelUnshuffle(Node):
    def forward(self, x, r):
        self.r = r
        return _unshuffle(x, r)

    def backward(self, g):
        if isinstance(g, Tensor):
            return PixelShuffle.apply(g, self.r), None
        return _shuffle(g, self.r), None


def pixel_shuffle(input, upscale_factor):
    """Rearranges :math:`(*, C r^2, H, W)` into :math:`(*, C, H r, W r)`.

    Args:
        input: the input tensor, at least 3D
        upscale_factor: the factor :math:`r` to increase the spatial resolution by
    """
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    if input.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible "
                           f"by the square of upscale_factor, but input.size(-3)="
                           f"{input.shape[-3]} is not divisible by {r * r}")
    return PixelShuffle.apply(input, r)


def pixel_unshuffle(input, downscale_factor):
    """Rearranges :math:`(*, C, H r, W r)` into :math:`(*, C r^2, H, W)`, the inverse of
    :func:`pixel_shuffle`.

    Args:
        input: the input tensor, at least 3D
        downscale_factor: the factor :math:`r` to decrease the spatial resolution by
    """
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    for axis, name in ((-2, "height"), (-1, "width")):
        if input.shape[axis] % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({axis})={input.shape[axis]} is "
                               f"not divisible by {r}")
    return PixelUnshuffle.apply(input, r)


def _channel_shuffle(x, groups):
    n, c = x.shape[:2]
    grid = x.reshape((n, groups, c // groups) + x.shape[2:])
    return grid.swapaxes(1, 2).reshape(x.shape)


class ChannelShuffle(Node):
    """``(N, g * k, *)`` -> ``(N, k * g, *)``: the channel order of a ``g x k`` grid
    transposed. Its backward is the shuffle with ``k`` groups."""

    def forward(self, x, groups):
        self.groups = groups
        return _channel_shuffle(x, groups)

    def backward(self, g):
        inverse = g.shape[1] // self.groups
        if isinstance(g, Tensor):
            return ChannelShuffle.apply(g, inverse), None
        return _channel_shuffle(g, inverse), None


def channel_shuffle(input, groups):
    """Divides the channels of :math:`(N, C, *)` into ``groups`` groups and interleaves them:
    channel ``i * (C / groups) + j`` moves to ``j * groups + i``.

    Args:
        input: tensor with at least 3 dimensions
        groups: number of groups; must divide :math:`C`

    Shape:
        - Output: same shape as ``input``
    """
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    if input.shape[1] % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got "
                           f"{input.shape[1]} channels and {groups} groups.")
    return ChannelShuffle.apply(input, int(groups))


native_channel_shuffle = channel_shuffle


# ---------------------------------------------------------------------------- spatial transformers
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False "
                  "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
                  "See the documentation of grid_sample for details.")


def _grid_axis(steps, align_corners):
    # normalised pixel centres in [-1, 1]: the corner pixels' centres (align_corners) or edges
    if steps <= 1:
        return np.zeros(max(steps, 1))
    axis = np.linspace(-1.0, 1.0, steps)
    return axis if align_corners else axis * (steps - 1) / steps


def affine_grid(theta, size, align_corners=None):
    """Generates the sampling grid of a batch of affine transforms, for :func:`grid_sample`.

    Args:
        theta: affine matrices, :math:`(N, 2, 3)` for 2D or :math:`(N, 3, 4)` for 3D
        size: the target output size :math:`(N, C, H, W)` or :math:`(N, C, D, H, W)`
        align_corners: whether -1 and 1 are the centres (``True``) or the outer edges
            (``False``) of the corner pixels. Default: ``False``

    Shape:
        - Output: :math:`(N, H, W, 2)` or :math:`(N, D, H, W, 3)`
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise ValueError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine "
                         f"transforms, respectively. Got size {size}.")
    d = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (d, d + 1):
        raise ValueError(f"Expected a batch of {d}D affine matrices of shape Nx{d}x{d + 1} for "
                         f"size {size}. Got {theta.shape}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    spatial = size[2:]
    # homogeneous coordinates (x, y[, z], 1) of every output position, x along the last dim
    axes = [_grid_axis(n, align_corners) for n in reversed(spatial)]
    mesh = np.meshgrid(*axes, indexing="xy" if d == 2 else "ij")
    if d == 3:
        mesh = [m.transpose(2, 1, 0) for m in mesh]
    base = np.stack(list(mesh) + [np.ones(spatial)], axis=-1).reshape(1, -1, d + 1)
    base = _new(get_array_module(theta._data).asarray(base, dtype=theta._data.dtype))
    grid = base.matmul(theta.transpose(1, 2))
    return grid.reshape(size[0], *spatial, d)


def _unnormalize(coord, size, align_corners):
    """Pixel coordinate of a normalised one, and d(pixel)/d(coord)."""
    if align_corners:
        return (coord + 1) * ((size - 1) / 2), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _pad_coordinate(pixel, size, padding_mode, align_corners):
    """PyTorch's ``compute_coordinates``: the pixel coordinate after border clipping or
    reflection, and its derivative (0 where clipped, -1 where reflected)."""
    xp = get_array_module(pixel)
    slope = xp.ones(pixel.shape, dtype=pixel.dtype)
    if padding_mode == "reflection":
        low, high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        if low == high:
            return xp.zeros_like(pixel), xp.zeros_like(slope)
        start, span = low / 2, (high - low) / 2
        shifted = pixel - start
        slope = xp.where(shifted < 0, -slope, slope)
        shifted = xp.abs(shifted)
        extra = xp.fmod(shifted, span)
        even = xp.floor(shifted / span) % 2 == 0
        pixel = xp.where(even, extra + start, span - extra + start)
        slope = xp.where(even, slope, -slope)
    if padding_mode in ("border", "reflection"):
        slope = slope * ((pixel > 0) & (pixel < size - 1))
        pixel = xp.clip(pixel, 0, size - 1)
    return pixel, slope


def _axis_taps(coord, size, mode, padding_mode, align_corners, dtype):
    """Per axis: ``[(pixel index, weight, d weight / d coord)]`` of the sampled pixels."""
    xp = get_array_module(coord)
    pixel, scale = _unnormalize(coord, size, align_corners)
    if mode == "bicubic":
        # the taps' integer coordinates are padded, the interpolation offset is not
        base = xp.floor(pixel)
        weights, slopes = _cubic_weights((pixel - base).astype(dtype, copy=False))
        return [(_pad_coordinate(base + offset, size, padding_mode, align_corners)[0], w,
                 d * scale) for offset, w, d in zip((-1, 0, 1, 2), weights, slopes)]
    pixel, slope = _pad_coordinate(pixel, size, padding_mode, align_corners)
    slope = (slope * scale).astype(dtype, copy=False)
    if mode == "nearest":
        # round half to even, as nearbyint does
        return [(xp.rint(pixel), xp.ones(pixel.shape, dtype), xp.zeros(pixel.shape, dtype))]
    base = xp.floor(pixel)
    frac = (pixel - base).astype(dtype, copy=False)
    return [(base, 1 - frac, -slope), (base + 1, frac, slope)]


class GridSample(Node):
    """Nearest, (bi/tri)linear or bicubic sampling of ``(N, C, *S)`` at ``grid``
    (``(N, *So, d)``, ``grid[..., 0]`` indexing the last axis): a gather of every combination
    of the per-axis taps, weighted by the product of the per-axis weights."""

    def forward(self, x, grid, mode, padding_mode, align_corners):
        xp = get_array_module(x)
        n, c = x.shape[:2]
        spatial = x.shape[2:]
        d = len(spatial)
        length = math.prod(grid.shape[1:-1])
        per_axis = [_axis_taps(grid[..., d - 1 - axis].reshape(n, length), size, mode,
                               padding_mode, align_corners, x.dtype)
                    for axis, size in enumerate(spatial)]
        flat = x.reshape(n, c, math.prod(spatial))
        out = xp.zeros((n, c, length), dtype=x.dtype)
        corners = []
        for combo in itertools.product(*per_axis):
            inside = xp.ones((n, length), dtype=bool)
            index = xp.zeros((n, length), dtype=xp.int64)
            weight = xp.ones((n, length), dtype=x.dtype)
            for (coord, w, _), size in zip(combo, spatial):
                inside &= (coord >= 0) & (coord <= size - 1)
                index = index * size + coord.astype(xp.int64)
                weight = weight * w
            index = xp.where(inside, index, 0)
            value = xp.take_along_axis(flat, index[:, None, :], axis=2) * inside[:, None, :]
            out += value * weight[:, None, :]
            corners.append((combo, index, weight * inside, value))
        self.meta = (x.shape, grid.shape, corners)
        return out.reshape((n, c) + tuple(grid.shape[1:-1]))

    def backward(self, g):
        if isinstance(g, Tensor):
            raise RuntimeError("grid_sample: double backward is not supported by disttorch")
        shape, grid_shape, corners = self.meta
        xp = get_array_module(g)
        n, c = shape[:2]
        d = len(shape) - 2
        g = g.reshape(n, c, math.prod(grid_shape[1:-1]))
        gx = ggrid = None
        if self.next_edges[0] is not None:
            values = xp.concatenate([g * weight[:, None, :] for _, _, weight, _ in corners],
                                    axis=2)
            index = xp.concatenate([index for _, index, _, _ in corners], axis=1)
            gx = scatter_add_flat(values, index[:, None, :], math.prod(shape[2:])).reshape(shape)
        if self.next_edges[1] is not None:
            ggrid = xp.zeros((n, math.prod(grid_shape[1:-1]), d), dtype=g.dtype)
            weighted = [(combo, (value * g).sum(axis=1)) for combo, _, _, value in corners]
            for axis in range(d):
                total = 0
                for combo, contribution in weighted:
                    # d(product of weights)/d(coord): this axis' slope times the others' weights
                    factor = combo[axis][2]
                    for other in range(d):
                        if other != axis:
                            factor = factor * combo[other][1]
                    total = total + contribution * factor
                ggrid[..., d - 1 - axis] = total
            ggrid = ggrid.reshape(grid_shape)
        return gx, ggrid, None, None, None


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples ``input`` at the normalised locations of ``grid`` (spatial transformers).

    ``grid[n, h, w]`` holds ``(x, y)`` in :math:`[-1, 1]` (the input's left/top to right/bottom);
    values outside are handled by ``padding_mode``. 5-D inputs take ``(x, y, z)`` grids.

    Args:
        input: tensor of shape :math:`(N, C, H_{in}, W_{in})` or :math:`(N, C, D, H, W)`
        grid: tensor of shape :math:`(N, H_{out}, W_{out}, 2)` or :math:`(N, D', H', W', 3)`
        mode: ``'bilinear'`` (trilinear on 5-D inputs), ``'nearest'`` or ``'bicubic'``
            (4-D only). Default: ``'bilinear'``
        padding_mode: ``'zeros'``, ``'border'`` or ``'reflection'``. Default: ``'zeros'``
        align_corners: whether -1 and 1 are the centres (``True``) or the outer edges
            (``False``) of the corner pixels. Default: ``False``

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})` or :math:`(N, C, D', H', W')`

    Double backward is not supported.
    """
    input, grid = autocast_args("grid_sample", input, grid)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' "
                         f"or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if mode == "bicubic" and input.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if grid.ndim != input.ndim or grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last "
                           f"dimension, but got grid with sizes {shape_str(grid.shape)}")
    if input.ndim not in (4, 5) or input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but "
                           f"got input with sizes {shape_str(input.shape)} and grid with sizes "
                           f"{shape_str(grid.shape)}")
    if grid.dtype != input.dtype:
        names = {"float32": "Float", "float64": "Double", "float16": "Half"}
        have = str(grid._data.dtype)
        want = str(input._data.dtype)
        raise RuntimeError(f"expected scalar type {names.get(want, want)} but found "
                           f"{names.get(have, have)}")
    return GridSample.apply(input, grid, mode, padding_mode, bool(align_corners))
