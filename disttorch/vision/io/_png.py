"""A dependency-free PNG codec (zlib from the standard library, filters in numpy).

Reads every PNG, plain or Adam7-interlaced: grayscale, RGB, palette, gray+alpha and RGBA at
all the bit depths the specification allows (1, 2, 4, 8, 16). Writes 8-bit grayscale,
gray+alpha, RGB and RGBA images. Arrays are HW (grayscale) or HWC, uint8 (uint16 for 16-bit files).
"""
import struct
import zlib

import numpy as np

__all__ = ["decode_png_array", "encode_png_array", "PNGError"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# color type -> samples per pixel
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ALLOWED_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_COLOR_TYPE_OF_CHANNELS = {1: 0, 2: 4, 3: 2, 4: 6}
# Adam7 interlacing: (first column, first row, column step, row step) of the seven passes
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))


class PNGError(ValueError):
    """A file is not a PNG this codec can read, or is damaged."""




def _chunks(data, name):
    if data[:8] != PNG_SIGNATURE:
        raise PNGError(f"{name}: not a PNG file (bad signature)")
    pos = 8
    while pos < len(data):
        if pos + 8 > len(data):
            raise PNGError(f"{name}: truncated PNG (chunk header at byte {pos})")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise PNGError(f"{name}: truncated PNG ({kind.decode('latin-1')} chunk at byte "
                           f"{pos} needs {length + 12} bytes, {len(data) - pos} left)")
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise PNGError(f"{name}: corrupt PNG (CRC mismatch in {kind.decode('latin-1')} "
                           f"chunk at byte {pos})")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length
    raise PNGError(f"{name}: truncated PNG (no IEND chunk)")


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _unfilter(raw, height, row_bytes, bpp, name):
    """Undo the per-row filters (None, Sub, Up, Average, Paeth) of a non-interlaced image."""
    if len(raw) != height * (row_bytes + 1):
        raise PNGError(f"{name}: image data has {len(raw)} bytes, expected "
                       f"{height * (row_bytes + 1)} for {height} rows of {row_bytes} bytes")
    rows = np.frombuffer(raw, np.uint8).reshape(height, row_bytes + 1)
    out = np.zeros((height, row_bytes), np.uint8)
    prior = np.zeros(row_bytes, np.uint8)
    pad = (-row_bytes) % bpp
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            recon = line
        elif kind == 1:
            # Sub: each byte adds the reconstructed byte bpp to its left, a running sum per
            # byte position within the pixel.
            grid = np.concatenate([line, np.zeros(pad, np.uint8)]).reshape(-1, bpp)
            recon = np.cumsum(grid, axis=0, dtype=np.uint8).reshape(-1)[:row_bytes]
        elif kind == 2:
            recon = line + prior
        elif kind in (3, 4):
            recon = np.empty(row_bytes, np.uint8)
            up = prior.astype(np.int32)
            filt = line.astype(np.int32)
            left = np.zeros(bpp, np.int32)
            upleft = np.zeros(bpp, np.int32)
            for x in range(0, row_bytes, bpp):
                n = min(bpp, row_bytes - x)
                b = up[x:x + n]
                pred = (left[:n] + b) // 2 if kind == 3 else _paeth(left[:n], b, upleft[:n])
                value = (filt[x:x + n] + pred) & 0xFF
                recon[x:x + n] = value
                left[:n], upleft[:n] = value, b
        else:
            raise PNGError(f"{name}: corrupt PNG (unknown filter type {kind} in row {y})")
        out[y] = recon
        prior = out[y]
    return out


def _to_samples(rows, width, depth, channels):
    """Unfiltered rows -> (rows, width, channels) samples (uint16 at 16 bits, else uint8)."""
    height = rows.shape[0]
    if depth == 16:
        return rows.view(">u2").astype(np.uint16).reshape(height, width, channels)
    if depth == 8:
        return rows.reshape(height, width, channels)
    bits = np.unpackbits(rows, axis=1).reshape(height, -1, depth)[:, :width]
    weights = (1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
    return (bits * weights).sum(axis=2, dtype=np.uint8)[..., None]


def decode_png_array(data, name="<bytes>"):
    """Decode PNG bytes into an HW or HWC array (uint8, or uint16 for 16-bit images).

    Palette images are expanded to RGB (RGBA when the palette has transparency).
    """
    header = None
    palette = transparency = None
    idat = []
    for kind, body in _chunks(bytes(data), name):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            transparency = np.frombuffer(body, np.uint8)
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise PNGError(f"{name}: corrupt PNG (no IHDR chunk)")
    width, height, depth, color_type, _, _, interlace = header
    if color_type not in _CHANNELS or depth not in _ALLOWED_DEPTHS[color_type]:
        raise PNGError(f"{name}: invalid PNG (bit depth {depth} with color type {color_type})")
    if interlace not in (0, 1):
        raise PNGError(f"{name}: invalid PNG (interlace method {interlace})")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise PNGError(f"{name}: corrupt PNG image data ({exc})") from exc
    channels = _CHANNELS[color_type]
    bits_per_pixel = channels * depth
    image = np.zeros((height, width, channels), np.uint16 if depth == 16 else np.uint8)
    pos = 0
    for x0, y0, dx, dy in (_ADAM7 if interlace else ((0, 0, 1, 1),)):
        pass_w, pass_h = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if pass_w <= 0 or pass_h <= 0:
            continue  # an empty pass has no bytes at all, not even filter bytes
        row_bytes = (pass_w * bits_per_pixel + 7) // 8
        size = pass_h * (row_bytes + 1)
        rows = _unfilter(raw[pos:pos + size], pass_h, row_bytes, max(1, bits_per_pixel // 8),
                         name)
        image[y0::dy, x0::dx] = _to_samples(rows, pass_w, depth, channels)
        pos += size
    if pos != len(raw):
        raise PNGError(f"{name}: image data has {len(raw)} bytes, expected {pos}")
    if color_type == 0 and depth < 8:
        image *= np.uint8(255 // ((1 << depth) - 1))
    if color_type == 3:
        if palette is None:
            raise PNGError(f"{name}: corrupt PNG (palette image without a PLTE chunk)")
        index = image[..., 0]
        if index.max(initial=0) >= len(palette):
            raise PNGError(f"{name}: corrupt PNG (pixel refers past the {len(palette)}-entry "
                           "palette)")
        image = palette[index]
        if transparency is not None:
            alpha = np.full(len(palette), 255, np.uint8)
            alpha[:len(transparency)] = transparency[:len(palette)]
            image = np.concatenate([image, alpha[index][..., None]], axis=2)
    return image[..., 0] if image.shape[2] == 1 else image


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_png_array(image, compression_level=6):
    """Encode an HW or HWC uint8 array (1 to 4 channels) as PNG bytes.

    Each row is stored with the Up filter, which suits photographs and flat areas alike.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"encode_png: expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in _COLOR_TYPE_OF_CHANNELS:
        raise ValueError(f"encode_png: expected an HW or HWC image with 1 to 4 channels, got "
                         f"shape {tuple(image.shape)}")
    if not 0 <= compression_level <= 9:
        raise ValueError(f"compression_level must be between 0 and 9, got {compression_level}")
    height, width, channels = image.shape
    rows = np.ascontiguousarray(image).reshape(height, width * channels)
    filtered = rows.copy()
    filtered[1:] -= rows[:-1]
    raw = np.concatenate([np.full((height, 1), 2, np.uint8), filtered], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE_OF_CHANNELS[channels], 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), compression_level))
            + _chunk(b"IEND", b""))
