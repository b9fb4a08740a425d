"""Tests of plots.py: the sample grid, its files, its pixel layout, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.image import imread

import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"
ONE_LEVEL = 1 / 255 + 1e-6  # PNG stores 8 bits per channel


def tile_centre(grid_png: np.ndarray, index: int, cols: int, side: int) -> np.ndarray:
    """The PNG pixel at the centre of tile ``index`` (row-major), all its channels."""
    row, col = divmod(index, cols)
    step, pad = (side + plots.GRID_PADDING), plots.GRID_PADDING
    y = (pad + row * step + side // 2) * plots.PIXELS_PER_IMAGE_PIXEL
    x = (pad + col * step + side // 2) * plots.PIXELS_PER_IMAGE_PIXEL
    return grid_png[y, x]


def test_writes_pdf_and_png(tmp_path):
    images = torch.rand(4, 1, 6, 6) * 2 - 1
    written = plots.save_image_grid(images, tmp_path / "runs" / "gan" / "step_1.5k")
    assert written == [tmp_path / "runs" / "gan" / "step_1.5k.pdf", tmp_path / "runs" / "gan" / "step_1.5k.png"]
    assert written[0].read_bytes().startswith(PDF_MAGIC)
    assert written[1].read_bytes().startswith(PNG_MAGIC)


def test_64_image_grid_layout_and_shades(tmp_path):
    # Tile i is a constant image of brightness i / 63, written in the (-1, 1) range.
    n, side = 64, 28
    brightness = np.arange(n) / (n - 1)
    images = np.broadcast_to((brightness * 2 - 1)[:, None, None, None], (n, 1, side, side))
    _, png = plots.save_image_grid(images.astype(np.float32), tmp_path / "grid")
    picture = imread(png)  # (rows, cols, RGBA) floats in [0, 1]

    cells = 8 * (side + plots.GRID_PADDING) + plots.GRID_PADDING  # 8 x 8 tiles and borders
    assert picture.shape[:2] == (cells * plots.PIXELS_PER_IMAGE_PIXEL,) * 2
    for index in range(n):
        red, green, blue, alpha = tile_centre(picture, index, cols=8, side=side)
        assert abs(red - brightness[index]) <= ONE_LEVEL, f"tile {index} is misplaced or mis-shaded"
        assert red == green == blue and alpha == 1.0  # grayscale, opaque
    # the top-left corner is border, not image
    np.testing.assert_allclose(picture[0, 0, :3], plots.GRID_PAD_SHADE, atol=ONE_LEVEL)


def test_partial_last_row_and_rgb(tmp_path):
    # 7 RGB images in rows of 5: pure red, green, blue, ... cycling; last row has 2 tiles.
    n, side, cols = 7, 10, 5
    images = np.zeros((n, 3, side, side), dtype=np.float32)
    for index in range(n):
        images[index, index % 3] = 1.0
    _, png = plots.save_image_grid(images, tmp_path / "rgb", nrow=cols, value_range=(0, 1))
    picture = imread(png)
    step = side + plots.GRID_PADDING
    assert picture.shape[:2] == ((2 * step + plots.GRID_PADDING) * plots.PIXELS_PER_IMAGE_PIXEL,
                                 (cols * step + plots.GRID_PADDING) * plots.PIXELS_PER_IMAGE_PIXEL)
    for index in range(n):
        colour = tile_centre(picture, index, cols, side)[:3]
        np.testing.assert_allclose(colour, np.eye(3)[index % 3], atol=ONE_LEVEL)
    empty_cell = tile_centre(picture, n, cols, side)[:3]  # the cell after the last image
    np.testing.assert_allclose(empty_cell, plots.GRID_PAD_SHADE, atol=ONE_LEVEL)


def test_values_are_clipped_to_the_range():
    images = torch.tensor([-5.0, -1.0, 0.0, 1.0, 7.0]).reshape(5, 1, 1, 1)
    grid = plots.image_grid(images, nrow=5)
    p = plots.GRID_PADDING
    shades = grid[p, p::1 + p]  # the one pixel of each tile
    np.testing.assert_allclose(shades, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_accepts_tensors_that_require_grad(tmp_path):
    images = torch.zeros(2, 1, 4, 4, requires_grad=True) * 1.0
    assert len(plots.save_image_grid(images, tmp_path / "g")) == 2


@pytest.mark.parametrize("shape", [(28, 28), (4, 28, 28), (4, 2, 28, 28), (0, 1, 28, 28), (1, 1, 1, 28, 28)])
def test_bad_shapes_are_refused(tmp_path, shape):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*got shape " + repr(shape).replace("(", r"\(").replace(")", r"\)")):
        plots.save_image_grid(np.zeros(shape), tmp_path / "bad")
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("nrow, value_range, message", [
    (0, (-1, 1), "nrow must be a positive integer"),
    (2.5, (-1, 1), "nrow must be a positive integer"),
    (8, (1, 1), "low < high"),
])
def test_bad_options_are_refused(tmp_path, nrow, value_range, message):
    with pytest.raises(ValueError, match=message):
        plots.save_image_grid(np.zeros((2, 1, 4, 4)), tmp_path / "bad", nrow=nrow, value_range=value_range)


def test_plane_panels_draw_arrows_trajectories_and_guide_lines(tmp_path):
    rng = np.random.default_rng(0)
    cloud = rng.uniform(-2, 2, size=(300, 2)) * [1, 0.25]
    positions = rng.uniform(-2, 2, size=(40, 2)) * [1, 0.25]
    extent = (-2.5, 2.5, -0.6, 0.6)
    panels = [plots.PlanePanel("field", extent, reference=cloud, field=(positions, -positions)),
              plots.PlanePanel("paths", extent, trajectories=rng.normal(size=(3, 20, 2)) * 0.3, vlines=(0.5,),
                               hlines=(-0.2,))]
    written = plots.save_plane_panels(panels, tmp_path / "wide", ncols=2, panel_size=(5.0, 2.0))
    image = imread(written[1])
    assert image.shape[1] == 2 * 5.0 * plots.DPI and image[..., :3].std() > 0.05
    with pytest.raises(ValueError, match="at least one panel"):
        plots.save_plane_panels([], tmp_path / "none")
