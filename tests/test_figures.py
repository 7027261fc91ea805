"""aae_tf/figures.py: image grids for every data shape, and the matplotlib latent scatter."""

import os

import matplotlib
import numpy as np
import pytest
from PIL import Image

from aae_tf import figures

SCATTER_SIZE = (600, 500)  # 6x5 inches at 100 dpi


def _old_image_grid(images, rows, cols, pad=2):
  """The Pillow grid before images of any shape: [N, 28, 28, 1] must still match it."""
  images = np.asarray(images, np.float32).reshape(len(images), *np.shape(images)[1:3])
  h, w = images.shape[1:3]
  canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), np.float32)
  for k in range(rows * cols):
    r, c = divmod(k, cols)
    top, left = pad + r * (h + pad), pad + c * (w + pad)
    canvas[top:top + h, left:left + w] = images[k]
  return Image.fromarray((np.clip(canvas, 0, 1) * 255).round().astype(np.uint8), "L")


def _leftovers(directory):
  return [name for name in os.listdir(directory) if ".tmp-" in name]


# ------------------------------------------------------------------- image grids


@pytest.mark.parametrize("shape, tile, mode", [
    ((6, 28, 28), (28, 28), "L"),
    ((6, 28, 28, 1), (28, 28), "L"),
    ((7, 32, 32, 3), (32, 32), "RGB"),   # more items than the grid needs: extra ignored
    ((6, 64), (8, 8), "L"),
    ((6, 784), (28, 28), "L"),
    ((6, 10), (3, 4), "L"),               # floor(sqrt(10)) = 3 rows, ceil(10 / 3) = 4 cols
    ((6, 1), (1, 1), "L"),
])
def test_grid_size_and_mode(shape, tile, mode):
  images = np.random.default_rng(0).uniform(size=shape)
  grid = figures.image_grid(images, rows=2, cols=3, pad=2)
  h, w = tile
  assert grid.mode == mode
  assert grid.size == (3 * (w + 2) + 2, 2 * (h + 2) + 2)  # PIL: (width, height)


def test_grid_of_mnist_images_is_unchanged():
  images = np.random.default_rng(1).uniform(-0.2, 1.2, size=(12, 28, 28, 1))
  new, old = figures.image_grid(images, 3, 4), _old_image_grid(images, 3, 4)
  assert new.mode == old.mode == "L" and new.size == old.size
  np.testing.assert_array_equal(np.asarray(new), np.asarray(old))


@pytest.mark.parametrize("pad", [0, 2, 3])
def test_a_white_image_lands_in_its_tile(pad):
  rows, cols, h, w = 3, 4, 5, 7
  images = np.zeros((rows * cols, h, w))
  r, c = 1, 2
  images[r * cols + c] = 1.0
  pixels = np.asarray(figures.image_grid(images, rows, cols, pad=pad))
  top, left = pad + r * (h + pad), pad + c * (w + pad)
  assert (pixels[top:top + h, left:left + w] == 255).all()
  # Every other tile is black, and so the only white pixels are padding and tile (r, c).
  mask = np.zeros(pixels.shape, bool)
  for k in range(rows * cols):
    rr, cc = divmod(k, cols)
    mask[pad + rr * (h + pad):][:h, pad + cc * (w + pad):][:, :w] = True
  mask[top:top + h, left:left + w] = False
  assert (pixels[mask] == 0).all()
  assert (pixels[~mask] == 255).all()


def test_a_colour_image_keeps_its_colour_and_place():
  rows, cols, h, w, pad = 2, 2, 4, 6, 2
  images = np.ones((4, h, w, 3))
  images[3] = [1.0, 0.0, 0.0]   # tile (1, 1) red
  images[1] = [0.0, 0.0, 1.0]   # tile (0, 1) blue
  pixels = np.asarray(figures.image_grid(images, rows, cols, pad=pad))
  assert pixels.shape == (rows * (h + pad) + pad, cols * (w + pad) + pad, 3)
  assert (pixels[pad + h + pad:][:h, pad + w + pad:][:, :w] == [255, 0, 0]).all()
  assert (pixels[pad:pad + h, pad + w + pad:][:, :w] == [0, 0, 255]).all()
  assert (pixels[pad:pad + h, pad:pad + w] == 255).all()


def test_vectors_fill_row_by_row_and_pad_with_white():
  vectors = np.arange(10)[None] / 16  # D = 10 -> a 3x4 tile; k / 16 is exact in float32
  pixels = np.asarray(figures.image_grid(vectors, 1, 1, pad=0))
  assert pixels.shape == (3, 4)
  expected = np.append(np.arange(10) / 16, [1.0, 1.0]).reshape(3, 4)
  np.testing.assert_array_equal(pixels, (expected * 255).round().astype(np.uint8))


def test_values_are_clipped():
  images = np.array([[[-3.0, 0.5, 7.0]]])  # [1, 1, 3]: one 1x3 grey image
  pixels = np.asarray(figures.image_grid(images, 1, 1, pad=0))
  np.testing.assert_array_equal(pixels, [[0, 128, 255]])


@pytest.mark.parametrize("shape, rows, cols, message", [
    ((5, 28, 28, 1), 2, 3, "need 6 images for a 2x3 grid, got 5"),
    ((3, 64), 2, 2, "need 4 images"),
    ((0, 8, 8, 3), 1, 1, "need 1 images"),
    ((4, 8, 8, 2), 2, 2, "got shape (4, 8, 8, 2)"),
    ((4, 8, 8, 4), 2, 2, "[N, H, W, 3]"),
    ((4,), 2, 2, "vectors [N, D]"),
    ((4, 2, 8, 8, 1), 2, 2, "got shape"),
    ((4, 0), 2, 2, "at least one value"),
    ((4, 8, 8), 0, 2, "rows >= 1"),
])
def test_bad_grids_raise(shape, rows, cols, message):
  with pytest.raises(ValueError) as error:
    figures.image_grid(np.zeros(shape), rows, cols)
  assert message in str(error.value)


@pytest.mark.parametrize("shape, mode", [((4, 28, 28, 1), "L"), ((4, 16, 16, 3), "RGB"),
                                         ((4, 64), "L")])
def test_save_image_grid_writes_it_enlarged(tmp_path, shape, mode):
  images = np.random.default_rng(2).uniform(size=shape)
  path = str(tmp_path / "out" / "samples.png")
  grid = figures.save_image_grid(images, path, rows=2, cols=2, scale=3)
  assert grid.mode == mode
  with Image.open(path) as saved:
    assert saved.format == "PNG" and saved.mode == mode
    assert saved.size == (grid.width * 3, grid.height * 3)
    expected = np.asarray(grid).repeat(3, axis=0).repeat(3, axis=1)
    np.testing.assert_array_equal(np.asarray(saved), expected)
  assert not _leftovers(tmp_path / "out")


# ---------------------------------------------------------------- latent scatter


def _codes(n, dims, seed=3):
  return np.random.default_rng(seed).normal(size=(n, dims))


def _check_png(path):
  with Image.open(path) as image:
    assert image.format == "PNG"
    assert image.size == SCATTER_SIZE
    image.load()
    pixels = np.asarray(image.convert("RGB"))
  # Mostly a white background, but something (axes, points) is drawn on it.
  white = (pixels == 255).all(axis=-1).mean()
  assert 0.3 < white < 0.99, white
  return pixels


def _legend_texts(figure):
  legend = figure.axes[0].get_legend()
  return None if legend is None else [text.get_text() for text in legend.get_texts()]


@pytest.mark.parametrize("dims, axis_labels", [(2, ("z[0]", "z[1]")),
                                               (8, ("PC 1", "PC 2"))])
def test_scatter_of_labelled_codes(tmp_path, dims, axis_labels):
  labels = np.arange(500) % 10
  path = str(tmp_path / "latent.png")
  assert figures.save_scatter(_codes(500, dims), labels, path, title="test codes") == path
  pixels = _check_png(path)
  # Points of class 0 (Tableau blue) and class 1 (orange) are drawn: opaque enough that
  # some pixels come close to the pure colours, whatever the blending with white.
  for colour in figures.PALETTE[:2]:
    assert (np.abs(pixels.astype(int) - colour).max(axis=-1) < 40).any(), colour
  assert not _leftovers(tmp_path)

  figure = figures.draw_scatter(_codes(500, dims), labels, title="test codes")
  axes = figure.axes[0]
  assert (axes.get_xlabel(), axes.get_ylabel()) == axis_labels
  # The caller names the codes; the figure says how they were drawn (one place).
  assert axes.get_title() == "test codes" + (
      " (first 2 principal components)" if dims > 2 else "")
  assert _legend_texts(figure) == [str(k) for k in range(10)]
  assert axes.get_legend().get_title().get_text() == "class"
  assert [label.get_text() for label in axes.get_xticklabels() if label.get_text()]


@pytest.mark.parametrize("dims", [2, 8])
def test_scatter_of_unlabelled_codes_has_one_colour_and_no_legend(tmp_path, dims):
  labels = np.full(400, -1)
  path = str(tmp_path / "latent.png")
  figures.save_scatter(_codes(400, dims), labels, path)
  pixels = _check_png(path)
  orange = figures.PALETTE[1]
  assert not (np.abs(pixels.astype(int) - orange).max(axis=-1) < 40).any()

  figure = figures.draw_scatter(_codes(400, dims), labels)
  assert _legend_texts(figure) is None and len(figure.axes) == 1
  colours = figure.axes[0].collections[0].get_facecolors()
  assert len(np.unique(colours, axis=0)) == 1
  # No title given: a default one, naming the projection when there is one.
  assert figure.axes[0].get_title() == (
      "latent codes" + (" (first 2 principal components)" if dims > 2 else ""))


def test_scatter_with_class_names(tmp_path):
  names = ["T-shirt", "trouser", "pullover"]
  labels = np.array([2, 0, 2, -1] * 50)
  path = str(tmp_path / "latent.png")
  figures.save_scatter(_codes(200, 8), labels, path, title="codes", class_names=names)
  _check_png(path)
  figure = figures.draw_scatter(_codes(200, 8), labels, class_names=names)
  # Only the classes present, in id order, then the unlabelled points.
  assert _legend_texts(figure) == ["T-shirt", "pullover", "unlabelled"]
  # Colours belong to class ids, not to the order of appearance.
  handles = figure.axes[0].get_legend().legend_handles
  tab10 = matplotlib.colormaps["tab10"]
  assert matplotlib.colors.same_color(handles[0].get_color(), tab10(0))
  assert matplotlib.colors.same_color(handles[1].get_color(), tab10(2))


def test_scatter_of_many_classes():
  labels = np.arange(600) % 15
  figure = figures.draw_scatter(_codes(600, 4), labels)
  assert _legend_texts(figure) == [str(k) for k in range(15)]
  colours = np.unique(figure.axes[0].collections[0].get_facecolors(), axis=0)
  assert len(colours) == 15
  # Too many for a legend: a colour bar (a second axes) of class ids instead.
  figure = figures.draw_scatter(_codes(600, 4), np.arange(600) % 60)
  assert _legend_texts(figure) is None and len(figure.axes) == 2
  assert figure.axes[1].get_ylabel() == "class"


def test_scatter_keeps_outliers_and_non_finite_codes_from_ruining_it(tmp_path):
  codes = _codes(1000, 2)
  codes[0] = [1e6, -1e6]
  codes[1, 0] = np.nan
  figure = figures.draw_scatter(codes, np.zeros(1000))
  axes = figure.axes[0]
  # The view hugs the other points (a standard normal cloud), not the outlier's side.
  assert 2 < axes.get_xlim()[1] < 5 and -5 < axes.get_ylim()[0] < -2
  notes = " ".join(text.get_text() for text in axes.texts)
  assert "1 of 999 points outside the view" in notes
  assert "1 non-finite codes not drawn" in notes
  # A well-behaved cloud is drawn whole.
  figure = figures.draw_scatter(_codes(10_000, 2), np.zeros(10_000))
  assert not figure.axes[0].texts


def test_scatter_writes_png_whatever_the_extension(tmp_path):
  path = str(tmp_path / "latent.figure")
  figures.save_scatter(_codes(100, 3), np.zeros(100), path)
  _check_png(path)


def test_scatter_of_10000_points_draws_them_all_in_one_collection(tmp_path):
  # One PathCollection for the whole cloud (not one artist per point or per class) is
  # what keeps a 10,000-point test set cheap to draw; how long it takes is the
  # benchmark's business, not a test's.
  codes, labels = _codes(10_000, 8), np.arange(10_000) % 10
  figure = figures.draw_scatter(codes, labels)
  drawn = [c for c in figure.axes[0].collections if len(c.get_offsets()) > 0]
  assert len(drawn) == 1 and len(drawn[0].get_offsets()) == 10_000
  figures.save_scatter(codes, labels, str(tmp_path / "latent.png"))
  _check_png(str(tmp_path / "latent.png"))


def test_scatter_rejects_mismatched_labels(tmp_path):
  with pytest.raises(ValueError, match="100 codes but 99 labels"):
    figures.save_scatter(_codes(100, 2), np.zeros(99), str(tmp_path / "latent.png"))
  assert not os.listdir(tmp_path)
