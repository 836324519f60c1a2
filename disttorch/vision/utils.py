"""``disttorch.vision.utils``: tile a batch of images into one grid image, and save it."""
import math
import os

import numpy as np

from .. import from_numpy, stack
from ..tensor import Tensor
from .io.image import encode_image_array, save_image_array

__all__ = ["make_grid", "save_image"]


def _norm_range(array, value_range):
    low, high = value_range if value_range is not None else (array.min(), array.max())
    np.clip(array, low, high, out=array)
    array -= low
    array /= max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    r"""Tile a batch of images into one image.

    Args:
        tensor (Tensor or list of Tensor): a ``(B, C, H, W)`` batch, a list of ``(C, H, W)``
            images of one size, or a single ``(C, H, W)`` or ``(H, W)`` image. One-channel
            images become three-channel.
        nrow (int): images per row. Default: 8.
        padding (int): pixels between and around the images. Default: 2.
        normalize (bool): shift and scale to [0, 1] using ``value_range`` (default: the
            tensor's min and max). Default: ``False``.
        value_range (tuple, optional): ``(min, max)`` for ``normalize``.
        scale_each (bool): normalize each image by its own range. Default: ``False``.
        pad_value (float): value of the padding. Default: 0.

    Returns:
        Tensor: the ``(C, H', W')`` grid.
    """
    if isinstance(tensor, (list, tuple)):
        tensor = stack(list(tensor), dim=0)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor should be of type Tensor, got {type(tensor).__name__}")
    array = tensor.detach().cpu().numpy()
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        if array.shape[0] == 1:
            array = np.concatenate([array] * 3, axis=0)
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"make_grid: expected a 2-, 3- or 4-d tensor, got shape "
                         f"{tuple(tensor.shape)}")
    if array.shape[1] == 1:
        array = np.concatenate([array] * 3, axis=1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and "
                            "max are numbers")
        array = array.astype(np.result_type(array.dtype, np.float32))
        for image in (array if scale_each else [array]):
            _norm_range(image, value_range)
    if array.shape[0] == 1:
        return from_numpy(np.ascontiguousarray(array[0])).to(tensor.device)
    nmaps, channels, img_h, img_w = array.shape
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = img_h + padding, img_w + padding
    grid = np.full((channels, height * ymaps + padding, width * xmaps + padding), pad_value,
                   dtype=array.dtype)
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:(y + 1) * height,
             x * width + padding:(x + 1) * width] = array[k]
    return from_numpy(grid).to(tensor.device)


def save_image(tensor, fp, format=None, **kwargs):
    r"""Save a batch of images (or one image) as an image file, tiled by :func:`make_grid`.

    Values in [0, 1] map to 0..255. PNG, PPM and PGM are written without dependencies;
    other formats need Pillow.

    Args:
        tensor (Tensor or list of Tensor): images, as for :func:`make_grid`.
        fp (str, os.PathLike or file object): where to write.
        format (str, optional): ``"png"``, ``"ppm"``... Default: the file name's extension
            (required for file objects).
        **kwargs: passed to :func:`make_grid`.
    """
    grid = make_grid(tensor, **kwargs).cpu().numpy()
    image = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if isinstance(fp, (str, os.PathLike)):
        save_image_array(image, fp, format)
    elif format is None:
        raise ValueError("save_image to a file object needs format= (e.g. 'png')")
    else:
        fp.write(encode_image_array(image, format))
