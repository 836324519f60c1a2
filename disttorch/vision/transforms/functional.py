"""``disttorch.vision.transforms.functional``: the image operations behind the transforms.

Two kinds of image are accepted, as in torchvision:

* a **tensor** in ``(..., C, H, W)`` layout (any leading batch dimensions), float in [0, 1]
  or integer in [0, 255]; the result is a tensor of the same dtype;
* a **numpy array** in ``HWC`` (or ``HW``) layout, the stand-in for a PIL image: this is
  what the datasets return; the result is an array of the same layout and dtype. PIL images
  are accepted when Pillow is installed and come back as such arrays.

Geometric and colour operations follow the formulas of torchvision's tensor backend;
arrays go through the same code (so they may differ from PIL's rounding by one level).
"""
import numbers

import numpy as np

from ... import from_numpy
from ... import float32 as _float32
from ... import get_default_dtype
from ...tensor import Tensor
from ._resample import (InterpolationMode, affine_output_size, interpolation_mode,
                        inverse_affine_matrix, resize_array, warp_affine)

__all__ = ["InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
           "to_tensor", "pil_to_tensor", "normalize", "hflip", "vflip", "crop", "center_crop",
           "pad", "resize", "resized_crop", "rotate", "rgb_to_grayscale", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue", "convert_image_dtype"]


def _is_pil(img):
    return type(img).__module__.startswith("PIL.")


def _to_chw(img):
    """(array in (..., C, H, W) layout, function that turns a result back into img's kind)."""
    if isinstance(img, Tensor):
        device = img.device
        array = img.detach().cpu().numpy()

        def back(out):
            return from_numpy(np.ascontiguousarray(out)).to(device)
        return array, back
    if _is_pil(img):
        img = np.asarray(img)
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img[None], lambda out: np.ascontiguousarray(out[0])
        if img.ndim == 3:
            return img.transpose(2, 0, 1), lambda out: np.ascontiguousarray(out.transpose(1, 2, 0))
        raise ValueError(f"an image array must be HW or HWC, got shape {img.shape}")
    raise TypeError(f"img should be a Tensor, a numpy array or a PIL Image. Got {type(img)}")


def _bound(dtype):
    return 1.0 if dtype.kind == "f" else float(np.iinfo(dtype).max)


def _cast_back(out, dtype):
    """Float result to ``dtype``: integer images round (as torchvision's ``_cast_squeeze_out``)."""
    if dtype.kind == "f":
        return out.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    return np.clip(np.round(out), info.min, info.max).astype(dtype)


def _work_dtype(dtype):
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def get_dimensions(img):
    """``[channels, height, width]`` of an image."""
    array, _ = _to_chw(img)
    return [int(array.shape[-3]) if array.ndim >= 3 else 1, int(array.shape[-2]),
            int(array.shape[-1])]


def get_image_size(img):
    """``[width, height]`` of an image."""
    _, height, width = get_dimensions(img)
    return [width, height]


def get_image_num_channels(img):
    """Number of channels of an image."""
    return get_dimensions(img)[0]


def to_tensor(pic):
    """Convert an HWC (or HW) numpy array or PIL image to a CHW tensor; uint8 values are
    scaled to float in [0, 1], other dtypes are kept as they are (torchvision's ``ToTensor``).
    """
    if _is_pil(pic):
        mode = pic.mode
        pic = np.array(pic, copy=True)
        if mode == "1":
            pic = pic.astype(np.uint8) * 255
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if pic.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    img = from_numpy(pic.transpose(2, 0, 1).copy())
    if pic.dtype == np.uint8:
        return img.to(get_default_dtype()).div(255)
    return img


def pil_to_tensor(pic):
    """Convert a PIL image (or its HWC/HW uint8 array stand-in) to a CHW tensor of the same
    dtype, without scaling."""
    if _is_pil(pic):
        pic = np.array(pic, copy=True)
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    return from_numpy(pic.transpose(2, 0, 1).copy())


def convert_image_dtype(image, dtype=_float32):
    """Convert a tensor image to ``dtype``, rescaling values (uint8 255 <-> float 1.0)."""
    from ... import _dtype
    if not isinstance(image, Tensor):
        raise TypeError(f"Input img should be Tensor Image. Got {type(image)}")
    array = image.detach().cpu().numpy()
    src, dst = array.dtype, np.dtype(_dtype.to_numpy_dtype(dtype))
    if src == dst:
        return image
    if dst.kind == "f":
        out = array.astype(dst)
        if src.kind != "f":
            out /= np.iinfo(src).max
    elif src.kind == "f":
        # torchvision scales by max + 1 - eps so that 1.0 maps to max and the levels are even
        out = (array * (np.iinfo(dst).max + 1.0 - 1e-3)).astype(dst)
    else:
        out = (array.astype(np.float64) * np.iinfo(dst).max / np.iinfo(src).max).astype(dst)
    return from_numpy(out).to(image.device)


def normalize(tensor, mean, std, inplace=False):
    """Normalize a float tensor image per channel: ``(tensor - mean[c]) / std[c]``."""
    from ... import as_tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.dim() < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}")
    if not inplace:
        tensor = tensor.clone()
    mean = as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std = as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if bool((std == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading "
                         "to division by zero.")
    if mean.dim() == 1:
        mean = mean.view(-1, 1, 1)
    if std.dim() == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)


def hflip(img):
    """Flip an image left to right."""
    array, back = _to_chw(img)
    return back(array[..., ::-1])


def vflip(img):
    """Flip an image upside down."""
    array, back = _to_chw(img)
    return back(array[..., ::-1, :])


def _pad_array(array, left, top, right, bottom, fill=0, padding_mode="constant"):
    if min(left, top, right, bottom) < 0:
        # negative padding crops, as in torchvision
        height, width = array.shape[-2:]
        array = array[..., max(-top, 0):height - max(-bottom, 0),
                      max(-left, 0):width - max(-right, 0)]
        left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode != "constant":
        return np.pad(array, widths, mode=padding_mode)
    fill = np.asarray(0 if fill is None else fill, dtype=np.float64)
    if fill.size == 1:
        return np.pad(array, widths, mode="constant", constant_values=fill.item())
    out = np.pad(array, widths, mode="constant")
    mask = np.ones(array.shape[-2:], bool)
    mask = ~np.pad(mask, widths[-2:], mode="constant")
    out[..., mask] = fill.astype(array.dtype).reshape(-1, 1)
    return out


def _parse_padding(padding):
    if isinstance(padding, numbers.Number):
        padding = [int(padding)]
    padding = list(padding)
    if len(padding) not in (1, 2, 4):
        raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    return padding


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders of an image.

    Args:
        padding (int or sequence): one value for all borders, (left/right, top/bottom), or
            (left, top, right, bottom).
        fill (number or sequence): the constant for ``padding_mode="constant"`` (one per
            channel with a sequence).
        padding_mode (str): ``"constant"``, ``"edge"``, ``"reflect"`` (no repeat of the edge)
            or ``"symmetric"`` (edge repeated).
    """
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    array, back = _to_chw(img)
    return back(_pad_array(array, left, top, right, bottom, fill, padding_mode))


def crop(img, top, left, height, width):
    """Crop the box at (``top``, ``left``) of size (``height``, ``width``); the parts of the
    box outside the image are zero-padded."""
    array, back = _to_chw(img)
    img_h, img_w = array.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > img_w or bottom > img_h:
        padded = _pad_array(array[..., max(top, 0):bottom, max(left, 0):right],
                            max(-left, 0), max(-top, 0), max(right - img_w, 0),
                            max(bottom - img_h, 0))
        return back(padded)
    return back(array[..., top:bottom, left:right])


def _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(error_msg)
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    """Crop the centre of an image (zero-padding it first where it is smaller)."""
    crop_height, crop_width = _setup_size(output_size)
    _, image_height, image_width = get_dimensions(img)
    if crop_width > image_width or crop_height > image_height:
        padding = [(crop_width - image_width) // 2 if crop_width > image_width else 0,
                   (crop_height - image_height) // 2 if crop_height > image_height else 0,
                   (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
                   (crop_height - image_height + 1) // 2 if crop_height > image_height else 0]
        img = pad(img, padding, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def _resized_output_size(height, width, size, max_size):
    if isinstance(size, numbers.Number):
        size = [size]
    size = list(size)
    if len(size) == 2:
        if max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of "
                             "the smaller edge, i.e. size should be an int or a sequence of "
                             f"length 1 in torchscript mode, got size={size}")
        return int(size[0]), int(size[1])
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = int(size[0]), int(int(size[0]) * long / short)
    if max_size is not None:
        if max_size <= size[0]:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                             f"requested size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize an image.

    Args:
        size (int or sequence): (height, width), or the length of the smaller edge (the other
            follows the aspect ratio, capped by ``max_size``).
        interpolation (InterpolationMode): ``NEAREST``, ``NEAREST_EXACT``, ``BILINEAR``
            (default) or ``BICUBIC``; the formulas of ``nn.functional.interpolate`` with
            ``align_corners=False``.
        antialias (bool): when shrinking with bilinear or bicubic, widen the filter so every
            input pixel contributes (PIL's method, torch's ``antialias=True``). Default:
            ``True``, as in torchvision.
    """
    mode = interpolation_mode(interpolation)
    array, back = _to_chw(img)
    height, width = array.shape[-2:]
    out_h, out_w = _resized_output_size(height, width, size, max_size)
    if (out_h, out_w) == (height, width):
        return back(array)
    work = array.astype(_work_dtype(array.dtype), copy=False)
    out = resize_array(work, (out_h, out_w), mode, antialias)
    return back(_cast_back(out, array.dtype))


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    """:func:`crop` then :func:`resize` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    """Rotate an image by ``angle`` degrees counter-clockwise.

    Args:
        interpolation (InterpolationMode): ``NEAREST`` (default) or ``BILINEAR``.
        expand (bool): enlarge the output to hold the whole rotated image. Default: ``False``.
        center (sequence, optional): (x, y) pixel to rotate about. Default: the centre.
        fill (number or sequence, optional): value of the area outside the rotated image.
            Default: zeros.
    """
    mode = interpolation_mode(interpolation)
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"rotate supports NEAREST and BILINEAR interpolation, got {mode}")
    array, back = _to_chw(img)
    channels = array.shape[-3] if array.ndim >= 3 else 1
    height, width = array.shape[-2:]
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    out_size = affine_output_size(matrix, width, height) if expand else (width, height)
    if fill is not None:
        fill = [float(fill)] * channels if isinstance(fill, numbers.Number) else list(fill)
        if len(fill) not in (1, channels):
            raise ValueError(f"The number of elements in 'fill' does not match the number of "
                             f"channels of the image ({len(fill)} != {channels})")
    work = array.astype(_work_dtype(array.dtype), copy=False)
    out = warp_affine(work, matrix, mode, out_size, fill)
    return back(_cast_back(out, array.dtype))


def _gray(array):
    """ITU-R 601-2 luma of a (..., 3, H, W) array, kept at (..., 1, H, W) in its dtype."""
    work = array.astype(_work_dtype(array.dtype), copy=False)
    r, g, b = work[..., 0, :, :], work[..., 1, :, :], work[..., 2, :, :]
    luma = 0.2989 * r + 0.587 * g + 0.114 * b
    return luma.astype(array.dtype)[..., None, :, :]


def rgb_to_grayscale(img, num_output_channels=1):
    """Convert an RGB image to grayscale (``L = 0.2989 R + 0.587 G + 0.114 B``): a tensor
    keeps its layout, an HWC array becomes HW for one output channel (PIL's "L" mode)."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    array, back = _to_chw(img)
    if array.shape[-3] != 3:
        raise TypeError(f"Input image tensor permitted channel values are [3], but found "
                        f"{array.shape[-3]}")
    gray = _gray(array)
    if num_output_channels == 3:
        gray = np.broadcast_to(gray, array.shape)
    out = back(gray)
    if isinstance(out, np.ndarray) and num_output_channels == 1:
        return out[..., 0]  # an "L" image, as PIL's convert("L") gives
    return out


def _blend(array, other, ratio):
    work = _work_dtype(array.dtype)
    out = ratio * array.astype(work, copy=False) + (1.0 - ratio) * np.asarray(other, work)
    return np.clip(out, 0, _bound(array.dtype)).astype(array.dtype)


def _check_channels(array, allowed, fn):
    if array.shape[-3] not in allowed:
        raise TypeError(f"{fn}: input image permitted channel values are {list(allowed)}, but "
                        f"found {array.shape[-3]}")


def adjust_brightness(img, brightness_factor):
    """Scale the intensities (0 gives black, 1 the original image)."""
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    array, back = _to_chw(img)
    _check_channels(array, (1, 3), "adjust_brightness")
    return back(_blend(array, 0.0, float(brightness_factor)))


def adjust_contrast(img, contrast_factor):
    """Blend with the mean gray level (0 gives a uniform gray image, 1 the original)."""
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    array, back = _to_chw(img)
    _check_channels(array, (1, 3), "adjust_contrast")
    gray = _gray(array) if array.shape[-3] == 3 else array
    mean = gray.astype(_work_dtype(array.dtype)).mean(axis=(-3, -2, -1), keepdims=True)
    return back(_blend(array, mean, float(contrast_factor)))


def adjust_saturation(img, saturation_factor):
    """Blend with the grayscale image (0 gives gray, 1 the original, 2 doubles saturation)."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    array, back = _to_chw(img)
    _check_channels(array, (1, 3), "adjust_saturation")
    if array.shape[-3] == 1:
        return back(array)
    return back(_blend(array, _gray(array), float(saturation_factor)))


def _rgb_to_hsv(rgb):
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    equal = maxc == minc
    chroma = maxc - minc
    s = chroma / np.where(equal, 1.0, maxc)
    divisor = np.where(equal, 1.0, chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    h = ((maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
         + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc))
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return h, s, maxc


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    sector = [i == k for k in range(6)]
    r = np.select(sector, [v, q, p, p, t, v])
    g = np.select(sector, [t, v, v, q, p, p])
    b = np.select(sector, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3)


def adjust_hue(img, hue_factor):
    """Shift the hue by ``hue_factor`` turns (in [-0.5, 0.5]) in HSV space."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    array, back = _to_chw(img)
    _check_channels(array, (1, 3), "adjust_hue")
    if array.shape[-3] == 1:
        return back(array)
    dtype = array.dtype
    work = array.astype(_work_dtype(dtype))
    if dtype.kind != "f":
        work /= _bound(dtype)
    h, s, v = _rgb_to_hsv(work)
    rgb = _hsv_to_rgb(np.fmod(h + hue_factor, 1.0) % 1.0, s, v).astype(work.dtype)
    if dtype.kind != "f":
        rgb = rgb * (_bound(dtype) + 1.0 - 1e-3)
    return back(rgb.astype(dtype))
