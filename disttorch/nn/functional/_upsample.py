"""Vision functions: ``interpolate`` (and the ``upsample*`` aliases), ``pixel_shuffle``,
``pixel_unshuffle`` and ``channel_shuffle`` (``pad`` lives in ``_misc``).

Every interpolation mode is separable: each spatial axis is resampled in turn through a
table of taps ``(index, weight)`` (one tap for nearest, two for linear, four for cubic), a
gather whose adjoint is a scatter-add (``_windows.AxisGather``).
"""
import math

import numpy as np

from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor
from ._windows import AxisGather
from ._pool import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75


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


def _source_coords(in_size, out_size, scale, align_corners, cubic, dtype):
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    elif scale is not None and scale > 0:
        ratio = 1.0 / scale
    else:
        ratio = in_size / out_size
    ratio = dtype.type(ratio)
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


def _cubic_taps(xp, in_size, out_size, scale, align_corners, dtype):
    src = _source_coords(in_size, out_size, scale, align_corners, True, dtype)
    base = np.floor(src)
    t = src - base
    a = _CUBIC_A

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    base = base.astype(np.int64)
    return [(xp.asarray(np.clip(base - 1 + k, 0, in_size - 1)), xp.asarray(w))
            for k, w in enumerate(weights)]


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
            ``'bicubic'`` (4D) | ``'trilinear'`` (5D) | ``'area'``. Default: ``'nearest'``
        align_corners: for the interpolating modes, align the centres of the corner pixels
            of input and output (``True``) or their outer edges (``False``). Default: ``False``
        recompute_scale_factor: compute the sampling ratio from the output size instead of
            using ``scale_factor`` directly
        antialias: unsupported; must be ``False``

    The interpolating modes need a floating-point input (PyTorch also takes ``uint8``).

    Shape:
        - Output: :math:`(N, C, *size)` or :math:`(N, C, \\lfloor S \\times scale \\rfloor)`
    """
    d = input.ndim - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _MODE_DIMS:
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | area | nearest-exact (got {mode})")
    if d < 1 or d > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"bicubic | trilinear | area | nearest-exact (got {mode})")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != d:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_MODE_DIMS[mode] + 2}D input")
    if antialias:
        raise RuntimeError("interpolate: antialias=True is not supported by disttorch")
    if mode in _MODE_DIMS and not input.is_floating_point():
        # PyTorch rounds uint8 results with its own integer kernels; rather than differ
        # silently, ask for a float input
        raise RuntimeError(f"interpolate: mode '{mode}' needs a floating-point input in "
                           f"disttorch, got {input.dtype}; convert it with .float() first")
    sizes, scales = _output_sizes(input, d, size, scale_factor)
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, sizes))})")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[d - 1](input, sizes)
    if recompute_scale_factor or scales is None:
        scales = [None] * d
    xp = get_array_module(input._data)
    dtype = input._data.dtype if input._data.dtype.kind == "f" else np.dtype(np.float32)
    out = input
    for i, (n, o, s) in enumerate(zip(input.shape[2:], sizes, scales)):
        if mode in ("nearest", "nearest-exact"):
            if n == o and s in (None, 1.0):
                continue
            taps = _nearest_taps(xp, n, o, s, mode == "nearest-exact")
        elif mode == "bicubic":
            taps = _cubic_taps(xp, n, o, s, align_corners, dtype)
        else:
            taps = _linear_taps(xp, n, o, s, align_corners, dtype)
        out = AxisGather.apply(out, 2 + i, taps)
    return out


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
