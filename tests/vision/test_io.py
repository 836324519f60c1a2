"""vision.io: the PNG codec on files encoded here per the PNG specification (every filter type,
bit depth and colour type, Adam7 interlacing; cross-checked with Pillow when installed),
PPM/PGM and NPY, and the tensor-level functions."""
import struct
import zlib

import numpy as np
import pytest

import disttorch
from disttorch.vision import io
from disttorch.vision.io import ImageReadMode, PNGError
from disttorch.vision.io._png import decode_png_array, encode_png_array


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _filter_row(kind, row, prior, bpp):
    """The encoder side of filter ``kind`` (PNG specification, section 9), byte by byte."""
    out = bytearray()
    for x, value in enumerate(row):
        a = row[x - bpp] if x >= bpp else 0
        b = prior[x]
        c = prior[x - bpp] if x >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((value - predictor) % 256)
    return bytes(out)


def _filtered(rows, bpp):
    """Rows with filters cycling 0..4 from row to row, each behind its filter-type byte."""
    raw, prior = bytearray(), bytes(len(rows[0]))
    for y, row in enumerate(rows):
        kind = y % 5
        raw += bytes([kind]) + _filter_row(kind, row, prior, bpp)
        prior = row
    return bytes(raw)


def _png(raw, width, height, depth, color_type, extra=(), interlace=0):
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + b"".join(extra)
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def encode_reference_png(rows, width, height, depth, color_type, bpp, extra=()):
    """Encode packed rows (bytes each) without interlacing."""
    return _png(_filtered(rows, bpp), width, height, depth, color_type, extra)


def encode_adam7_png(image, color_type):
    """Encode an 8-bit HWC image with Adam7 interlacing: seven sub-images, each filtered."""
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = image[y0::dy, x0::dx]
        if sub.size:
            raw += _filtered([row.tobytes() for row in sub], image.shape[2])
    return _png(raw, image.shape[1], image.shape[0], 8, color_type, interlace=1)


@pytest.mark.parametrize("channels, color_type", [(1, 0), (2, 4), (3, 2), (4, 6)])
def test_every_filter_type_at_8_bits(channels, color_type):
    image = np.random.default_rng(channels).integers(0, 256, (7, 5, channels), dtype=np.uint8)
    rows = [image[y].tobytes() for y in range(7)]
    decoded = decode_png_array(encode_reference_png(rows, 5, 7, 8, color_type, channels))
    np.testing.assert_array_equal(decoded, image[..., 0] if channels == 1 else image)


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 3, 3), (9, 13, 1), (16, 17, 4)])
def test_adam7_interlaced(shape):
    image = np.random.default_rng(shape[0]).integers(0, 256, shape, dtype=np.uint8)
    decoded = decode_png_array(encode_adam7_png(image, {1: 0, 3: 2, 4: 6}[shape[2]]))
    np.testing.assert_array_equal(decoded, image[..., 0] if shape[2] == 1 else image)


def test_16_bit_rgb():
    image = np.random.default_rng(0).integers(0, 65536, (6, 4, 3), dtype=np.uint16)
    rows = [image[y].astype(">u2").tobytes() for y in range(6)]
    decoded = decode_png_array(encode_reference_png(rows, 4, 6, 16, 2, 6))
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, image)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_low_bit_depth_grayscale_scales_to_8_bits(depth):
    levels = np.random.default_rng(depth).integers(0, 1 << depth, (5, 11), dtype=np.uint8)
    rows = []
    for row in levels:
        bits = np.unpackbits(row[:, None], axis=1)[:, 8 - depth:].reshape(-1)
        rows.append(np.packbits(bits).tobytes())
    decoded = decode_png_array(encode_reference_png(rows, 11, 5, depth, 0, 1))
    np.testing.assert_array_equal(decoded, levels * (255 // ((1 << depth) - 1)))


def test_palette_with_transparency():
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    index = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    extra = [_chunk(b"PLTE", palette.tobytes()), _chunk(b"tRNS", bytes([10, 20]))]
    data = encode_reference_png([r.tobytes() for r in index], 3, 2, 8, 3, 1, extra)
    decoded = decode_png_array(data)
    np.testing.assert_array_equal(decoded[..., :3], palette[index])
    np.testing.assert_array_equal(decoded[..., 3], np.array([10, 20, 255], np.uint8)[index])


@pytest.mark.parametrize("shape", [(9, 13), (9, 13, 2), (9, 13, 3), (9, 13, 4), (1, 1, 3)])
def test_encode_decode_round_trip(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(decode_png_array(encode_png_array(image)), image)


def test_damaged_pngs_are_reported_with_the_file_name(tmp_path):
    data = encode_png_array(np.zeros((4, 4, 3), np.uint8))
    path = tmp_path / "cut.png"
    path.write_bytes(data[:len(data) - 20])
    with pytest.raises(PNGError, match="cut.png: truncated PNG"):
        io.read_image(path)
    corrupt = bytearray(data)
    corrupt[40] ^= 0xFF
    with pytest.raises(PNGError, match="CRC mismatch"):
        decode_png_array(bytes(corrupt))
    extra_bytes = _png(_filtered([bytes(3)], 3) + b"\0", 1, 1, 8, 2)
    with pytest.raises(PNGError, match="image data has 5 bytes, expected 4"):
        decode_png_array(extra_bytes)
    with pytest.raises(PNGError, match="not a PNG"):
        decode_png_array(b"GIF89a" + bytes(20))


def test_read_image_modes_and_tensor_layout(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    path = tmp_path / "img.png"
    path.write_bytes(encode_png_array(rgba))
    img = io.read_image(path)
    assert img.dtype == disttorch.uint8 and tuple(img.shape) == (4, 5, 6)
    np.testing.assert_array_equal(img.numpy(), rgba.transpose(2, 0, 1))
    np.testing.assert_array_equal(io.read_image(path, ImageReadMode.RGB).numpy(),
                                  rgba[..., :3].transpose(2, 0, 1))
    gray = io.read_image(path, ImageReadMode.GRAY).numpy()[0]
    expected = np.round(rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114)
    np.testing.assert_array_equal(gray, expected.astype(np.uint8))


def test_encode_write_decode_png_tensors(tmp_path):
    img = disttorch.randint(0, 256, (3, 8, 5), dtype=disttorch.uint8)
    encoded = io.encode_png(img)
    assert encoded.dtype == disttorch.uint8 and encoded.dim() == 1
    assert disttorch.equal(io.decode_png(encoded), img)
    assert disttorch.equal(io.decode_image(encoded), img)
    io.write_png(img, tmp_path / "a.png")
    assert disttorch.equal(io.read_image(tmp_path / "a.png"), img)
    assert disttorch.equal(io.read_file(tmp_path / "a.png"), encoded)
    with pytest.raises(TypeError, match="CHW uint8"):
        io.encode_png(img.float())


def test_pnm_binary_ascii_and_comments(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    (tmp_path / "a.ppm").write_bytes(b"P6\n# made by hand\n4 3\n255\n" + rgb.tobytes())
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "a.ppm"), rgb)
    gray = rgb[..., 0]
    text = "P2\n4 3\n255\n" + " ".join(map(str, gray.reshape(-1))) + "\n"
    (tmp_path / "b.pgm").write_text(text)
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "b.pgm"), gray)
    wide = np.array([[0, 1000], [65535, 7]], np.uint16)
    (tmp_path / "c.pgm").write_bytes(b"P5 2 2 65535\n" + wide.astype(">u2").tobytes())
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "c.pgm"), wide)
    io.save_image_array(rgb, tmp_path / "d.ppm")
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "d.ppm"), rgb)
    (tmp_path / "e.ppm").write_bytes(b"P6\n4 3\n255\n" + rgb.tobytes()[:-1])
    with pytest.raises(ValueError, match="e.ppm: truncated"):
        io.load_image_array(tmp_path / "e.ppm")


def test_npy_files_keep_dtype_and_refuse_pickles(tmp_path):
    array = np.random.default_rng(3).standard_normal((4, 4, 2)).astype(np.float32)
    io.save_image_array(array, tmp_path / "a.npy")
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "a.npy"), array)
    np.save(tmp_path / "b.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        io.load_image_array(tmp_path / "b.npy")


def test_other_formats_need_pillow(tmp_path):
    if io.has_pil():
        pytest.skip("Pillow is installed: JPEG goes through it")
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(16))
    with pytest.raises(RuntimeError, match="needs Pillow"):
        io.read_image(tmp_path / "a.jpg")
    with pytest.raises(RuntimeError, match="needs Pillow"):
        io.save_image_array(np.zeros((2, 2, 3), np.uint8), tmp_path / "b.jpg")


@pytest.fixture
def pil_image():
    pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    from PIL import Image
    return Image


@pytest.mark.parametrize("mode, channels", [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
def test_png_interoperates_with_pillow(pil_image, tmp_path, mode, channels):
    rng = np.random.default_rng(channels)
    # smooth content makes Pillow's encoder pick the predictive filters
    ramp = np.add.outer(np.arange(20), np.arange(30)).astype(np.uint8)[..., None]
    image = ramp + rng.integers(0, 3, (20, 30, channels), dtype=np.uint8)
    image = image[..., 0] if channels == 1 else image
    pil_image.fromarray(image, mode).save(tmp_path / "pil.png", optimize=True)
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "pil.png"), image)
    (tmp_path / "ours.png").write_bytes(encode_png_array(image))
    with pil_image.open(tmp_path / "ours.png") as reread:
        assert reread.mode == mode
        np.testing.assert_array_equal(np.asarray(reread), image)


def test_pillow_palette_and_bilevel_pngs(pil_image, tmp_path):
    rgb = np.random.default_rng(4).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    paletted = pil_image.fromarray(rgb).quantize(colors=5)
    paletted.save(tmp_path / "p.png")
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "p.png"),
                                  np.asarray(paletted.convert("RGB")))
    bits = np.random.default_rng(5).integers(0, 2, (5, 9)).astype(bool)
    pil_image.fromarray(bits).save(tmp_path / "b.png")
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "b.png"), bits * 255)


def test_pillow_reads_the_interlaced_reference_files(pil_image, tmp_path):
    image = np.random.default_rng(7).integers(0, 256, (11, 9, 3), dtype=np.uint8)
    (tmp_path / "i.png").write_bytes(encode_adam7_png(image, 2))
    with pil_image.open(tmp_path / "i.png") as reread:
        np.testing.assert_array_equal(np.asarray(reread), image)
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "i.png"), image)


def test_jpeg_goes_through_pillow(pil_image, tmp_path):
    rgb = np.full((8, 8, 3), 128, np.uint8)
    pil_image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    img = io.read_image(tmp_path / "a.jpg")
    assert tuple(img.shape) == (3, 8, 8)
    assert np.abs(img.numpy().astype(int) - 128).max() <= 2


def test_pillow_palette_formats_decode_to_rgb(pil_image, tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = [200, 10, 30]
    pil_image.fromarray(rgb).quantize(colors=2).save(tmp_path / "a.gif")
    np.testing.assert_array_equal(io.load_image_array(tmp_path / "a.gif"), rgb)
