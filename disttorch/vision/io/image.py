"""Reading and writing image files: PNG (built in), PPM/PGM (built in), NPY (numpy), and any
other format through Pillow when it is installed.

torchvision's functions (``read_image``, ``decode_png``, ``encode_png``, ``write_png``...)
return and take uint8 tensors in CHW layout. The datasets use :func:`load_image_array`,
which returns the HWC array that stands in for a PIL image throughout ``disttorch.vision``.
"""
import enum
import os

import numpy as np

from ... import from_numpy, uint8
from ...tensor import Tensor
from ._png import PNG_SIGNATURE, decode_png_array, encode_png_array

__all__ = ["ImageReadMode", "read_image", "decode_image", "decode_png", "encode_png",
           "write_png", "read_file", "write_file", "load_image_array", "save_image_array",
           "encode_image_array", "has_pil"]


def has_pil():
    """Whether Pillow is importable (JPEG, BMP, TIFF, WebP... go through it)."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


class ImageReadMode(enum.Enum):
    """How :func:`read_image` converts the decoded image: ``UNCHANGED`` keeps its channels,
    ``GRAY`` gives one (ITU-R 601-2 luma, as Pillow's ``convert("L")``), ``RGB`` three."""

    UNCHANGED = 0
    GRAY = 1
    RGB = 3


def _decode_pnm(data, name):
    """Binary (P5/P6) and ASCII (P2/P3) PGM/PPM; maxval above 255 gives uint16."""
    magic = data[:2]
    if magic not in (b"P2", b"P3", b"P5", b"P6"):
        raise ValueError(f"{name}: not a PGM/PPM file (magic {magic!r})")
    fields, pos = [], 2
    while len(fields) < 3:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.find(b"\n", pos)
            if pos < 0:
                break
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        fields.append(int(data[start:pos]))
    if len(fields) < 3:
        raise ValueError(f"{name}: truncated PGM/PPM header")
    width, height, maxval = fields
    channels = 3 if magic in (b"P3", b"P6") else 1
    count = width * height * channels
    dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
    if magic in (b"P5", b"P6"):
        body = data[pos + 1:pos + 1 + count * dtype.itemsize]
        if len(body) != count * dtype.itemsize:
            raise ValueError(f"{name}: truncated PGM/PPM file: {len(body)} bytes of pixels, "
                             f"expected {count * dtype.itemsize} for {width}x{height}x{channels}")
        pixels = np.frombuffer(body, dtype)
    else:
        pixels = np.array(data[pos:].split()[:count], dtype=np.int64)
        if pixels.size != count:
            raise ValueError(f"{name}: truncated PGM/PPM file: {pixels.size} values, "
                             f"expected {count}")
    pixels = pixels.astype(np.uint16 if maxval > 255 else np.uint8)
    shape = (height, width, channels) if channels == 3 else (height, width)
    return pixels.reshape(shape)


def _decode_with_pil(data, name):
    if not has_pil():
        raise RuntimeError(f"{name}: this format needs Pillow (pip install pillow); without it "
                           "disttorch.vision reads PNG, PPM/PGM and NPY files")
    import io

    from PIL import Image
    with Image.open(io.BytesIO(data)) as img:
        # palette indices, bilevel and non-RGB colour spaces become plain channels
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode == "1":
            img = img.convert("L")
        elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            img = img.convert("RGB")
        return np.asarray(img)


def _decode_array(data, name):
    if data[:8] == PNG_SIGNATURE:
        return decode_png_array(data, name)
    if data[:2] in (b"P2", b"P3", b"P5", b"P6"):
        return _decode_pnm(data, name)
    if data[:6] == b"\x93NUMPY":
        import io
        return np.load(io.BytesIO(data), allow_pickle=False)
    return _decode_with_pil(data, name)


def _convert(array, mode):
    """Apply an :class:`ImageReadMode` to an HW or HWC array."""
    mode = ImageReadMode(mode) if not isinstance(mode, ImageReadMode) else mode
    if mode is ImageReadMode.UNCHANGED:
        return array
    if array.ndim == 3 and array.shape[2] in (2, 4):
        array = array[..., :-1]  # drop alpha
    if mode is ImageReadMode.RGB:
        if array.ndim == 2:
            array = array[..., None]
        return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array
    if array.ndim == 2:
        return array
    if array.shape[2] == 1:
        return array[..., 0]
    luma = array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114
    return np.round(luma).astype(array.dtype)


def _to_chw_tensor(array):
    if array.ndim == 2:
        array = array[..., None]
    return from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def load_image_array(path, mode=ImageReadMode.UNCHANGED):
    """Read an image file into an HW or HWC numpy array (the stand-in for a PIL image).

    Args:
        path (str or os.PathLike): a PNG, PPM/PGM or NPY file, or any format Pillow reads.
        mode (ImageReadMode): channel conversion. Default: ``UNCHANGED``.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    return _convert(_decode_array(data, name), mode)


def encode_image_array(array, format):
    """Encode an HW or HWC array as ``format`` (``"png"``, ``"ppm"``, ``"pgm"``, ``"npy"``;
    other formats through Pillow) and return the bytes."""
    import io
    format = format.lower().lstrip(".")
    array = np.asarray(array)
    if format == "png":
        return encode_png_array(array)
    if format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    if format in ("ppm", "pgm", "pnm"):
        if array.dtype != np.uint8:
            raise TypeError(f"PGM/PPM output needs a uint8 image, got {array.dtype}")
        gray = array.ndim == 2 or array.shape[2] == 1
        if format == "pgm" and not gray or format == "ppm" and (gray or array.shape[2] != 3):
            raise ValueError(f"a {format.upper()} file holds "
                             f"{'one channel' if format == 'pgm' else 'three channels'}, got "
                             f"an image of shape {array.shape}")
        height, width = array.shape[:2]
        header = f"{'P5' if gray else 'P6'}\n{width} {height}\n255\n".encode()
        return header + np.ascontiguousarray(array).tobytes()
    if not has_pil():
        raise RuntimeError(f"writing {format} images needs Pillow (pip install pillow); "
                           "without it use png, ppm, pgm or npy")
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format)
    return buffer.getvalue()


def save_image_array(array, path, format=None):
    """Write an HW or HWC array to ``path`` as ``format`` (default: the file's extension):
    PNG, PPM/PGM and NPY natively, other formats through Pillow."""
    name = os.fspath(path)
    data = encode_image_array(array, format or os.path.splitext(name)[1] or "png")
    with open(name, "wb") as f:
        f.write(data)


def read_file(path):
    """The bytes of a file as a 1-D uint8 tensor."""
    with open(os.fspath(path), "rb") as f:
        return from_numpy(np.frombuffer(f.read(), np.uint8).copy())


def write_file(filename, data):
    """Write a 1-D uint8 tensor to a file."""
    with open(os.fspath(filename), "wb") as f:
        f.write(np.asarray(data.numpy() if isinstance(data, Tensor) else data).tobytes())


def decode_image(input, mode=ImageReadMode.UNCHANGED):
    """Decode PNG, PPM/PGM or NPY bytes (a 1-D uint8 tensor) into a CHW tensor; other formats
    through Pillow. 16-bit images give uint16 tensors.

    Args:
        input (Tensor or str): the encoded bytes, or a path (as torchvision accepts).
        mode (ImageReadMode): channel conversion. Default: ``UNCHANGED``.
    """
    if isinstance(input, (str, os.PathLike)):
        return read_image(input, mode)
    data = bytes(np.asarray(input.numpy(), np.uint8))
    return _to_chw_tensor(_convert(_decode_array(data, "<tensor>"), mode))


def decode_png(input, mode=ImageReadMode.UNCHANGED):
    """Decode PNG bytes (a 1-D uint8 tensor) into a CHW tensor."""
    data = bytes(np.asarray(input.numpy(), np.uint8))
    return _to_chw_tensor(_convert(decode_png_array(data, "<tensor>"), mode))


def read_image(path, mode=ImageReadMode.UNCHANGED):
    """Read an image file into a CHW tensor (uint8; uint16 for 16-bit PNG/PGM/PPM).

    Args:
        path (str or os.PathLike): the file.
        mode (ImageReadMode): channel conversion. Default: ``UNCHANGED``.

    Example::

        >>> img = read_image("digit.png", ImageReadMode.GRAY)   # (1, H, W) uint8
    """
    return _to_chw_tensor(load_image_array(path, mode))


def _hwc_uint8(input, fn):
    if not isinstance(input, Tensor) or input.dtype != uint8 or input.dim() != 3:
        raise TypeError(f"{fn}: expected a CHW uint8 tensor, got "
                        f"{type(input).__name__} {getattr(input, 'dtype', '')} "
                        f"{tuple(getattr(input, 'shape', ()))}")
    return input.numpy().transpose(1, 2, 0)


def encode_png(input, compression_level=6):
    """Encode a CHW uint8 tensor (1 to 4 channels) as PNG: a 1-D uint8 tensor of the bytes."""
    data = encode_png_array(_hwc_uint8(input, "encode_png"), compression_level)
    return from_numpy(np.frombuffer(data, np.uint8).copy())


def write_png(input, filename, compression_level=6):
    """Write a CHW uint8 tensor (1 to 4 channels) to a PNG file."""
    data = encode_png_array(_hwc_uint8(input, "write_png"), compression_level)
    with open(os.fspath(filename), "wb") as f:
        f.write(data)
