"""vision.utils: make_grid's layout (torchvision's definition) and save_image's files."""
import io as python_io

import numpy as np
import pytest

import disttorch
from disttorch.vision import io, utils


def batch(n=5, channels=3, h=4, w=3, seed=0):
    return disttorch.from_numpy(
        np.random.default_rng(seed).random((n, channels, h, w)).astype(np.float32))


def test_make_grid_layout():
    images = batch()
    grid = utils.make_grid(images, nrow=3, padding=2, pad_value=0.5).numpy()
    # 3 columns x 2 rows of 4x3 images, 2 pixels of padding around and between
    assert grid.shape == (3, 2 + 2 * (4 + 2), 2 + 3 * (3 + 2))
    for k in range(5):
        y, x = divmod(k, 3)
        top, left = 2 + y * 6, 2 + x * 5
        np.testing.assert_array_equal(grid[:, top:top + 4, left:left + 3], images.numpy()[k])
    assert (grid[:, :2] == 0.5).all() and (grid[:, 8:14, 12:] == 0.5).all()


def test_make_grid_gray_single_and_lists():
    gray = batch(channels=1)
    grid = utils.make_grid(gray, nrow=5, padding=0).numpy()
    assert grid.shape == (3, 4, 15)
    np.testing.assert_array_equal(grid[0], grid[2])
    single = utils.make_grid(batch(n=1)[0])
    assert tuple(single.shape) == (3, 4, 3)
    listed = utils.make_grid(list(batch(n=2)), padding=1)
    assert tuple(listed.shape) == (3, 6, 9)
    assert tuple(utils.make_grid(disttorch.zeros(4, 5)).shape) == (3, 4, 5)


def test_make_grid_normalize():
    images = batch(n=2) * 10 - 3
    grid = utils.make_grid(images, normalize=True, padding=0).numpy()
    assert grid.min() == 0 and grid.max() == 1
    each = utils.make_grid(images, normalize=True, scale_each=True, padding=0).numpy()
    assert each[:, :, :3].max() == 1 and each[:, :, 3:].max() == 1
    clipped = utils.make_grid(images, normalize=True, value_range=(0, 1), padding=0).numpy()
    expected = np.concatenate(list(np.clip(images.numpy(), 0, 1)), axis=2)
    np.testing.assert_allclose(clipped, expected)
    assert images.min().item() < 0  # the input is not modified
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        utils.make_grid(images, normalize=True, value_range=[0, 1])


def test_save_image_png_and_ppm(tmp_path):
    images = batch(n=3)
    utils.save_image(images, tmp_path / "grid.png", nrow=2)
    expected = np.clip(utils.make_grid(images, nrow=2).numpy() * 255 + 0.5, 0, 255)
    np.testing.assert_array_equal(io.read_image(tmp_path / "grid.png").numpy(),
                                  expected.astype(np.uint8))
    utils.save_image(images[0], str(tmp_path / "one.ppm"))
    assert tuple(io.read_image(tmp_path / "one.ppm").shape) == (3, 4, 3)
    buffer = python_io.BytesIO()
    utils.save_image(images, buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="format="):
        utils.save_image(images, python_io.BytesIO())
