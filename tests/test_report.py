"""aae_tf/report.py: the matplotlib loss curves of `plot_curves` (and `save_png`).

The checks look at the pixels: a panel per metric is found by its own palette colour
inside its own cell of the grid, and cells without a metric stay white.
"""

import math

import numpy as np
import pytest
from PIL import Image

from aae_tf import figures
from aae_tf import report


def _curve(n, scale=1.0, start=0, stride=10):
  steps = start + stride * np.arange(n)
  return [(int(s), float(scale * (1.0 + np.exp(-k / (n / 4 + 1)))))
          for k, s in enumerate(steps)]


def _cell(image, index, width, height, columns):
  row, col = divmod(index, columns)
  return np.asarray(image)[row * height:(row + 1) * height, col * width:(col + 1) * width]


def _pixels_of(cell, rgb, tolerance=12):
  """How many pixels of `cell` are within `tolerance` of `rgb` on every channel."""
  return int(np.all(np.abs(cell.astype(int) - np.array(rgb)) <= tolerance, axis=-1).sum())


def _palette(i):
  return figures.PALETTE[i % len(figures.PALETTE)]


@pytest.mark.parametrize("metrics, width, height, columns", [
    (5, 320, 200, 3),     # the defaults; two rows, the last cell empty
    (1, 480, 260, 1),     # scripts/validation_curve.py
    (3, 320, 200, 3),     # exactly one row
    (7, 333, 211, 2),     # sizes whose inches are not exact in binary
])
def test_image_is_columns_times_rows_panels_in_rgb(metrics, width, height, columns):
  series = {f"m{i}": _curve(30, scale=10.0 ** (i - 3)) for i in range(metrics)}
  image = report.plot_curves(series, width=width, height=height, columns=columns)
  assert isinstance(image, Image.Image) and image.mode == "RGB"
  assert image.size == (columns * width, math.ceil(metrics / columns) * height)


def test_a_panel_per_metric_in_sorted_order_and_empty_cells_stay_white():
  width, height, columns = 320, 200, 3
  names = ["zeta_loss", "alpha_loss", "mid_metric", "beta"]   # sorted: alpha, beta, mid, zeta
  series = {name: _curve(200, scale=10.0 ** k) for k, name in enumerate(names)}
  image = report.plot_curves(series, width, height, columns)
  pixels = np.asarray(image)
  assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50   # not blank: text, curves
  for index in range(4):
    cell = _cell(image, index, width, height, columns)
    assert _pixels_of(cell, _palette(index)) > 50, f"no curve in panel {index}"
    assert (cell < 100).all(axis=-1).sum() > 200, f"no axes or text in panel {index}"
    assert _pixels_of(cell, (234, 234, 234), tolerance=8) > 300, f"no grid in panel {index}"
    for other in range(4):   # each curve in its own panel only
      if other != index:
        assert _pixels_of(cell, _palette(other)) < 5
  for index in (4, 5):
    assert (_cell(image, index, width, height, columns) == 255).all()


def test_panels_follow_the_names_not_the_insertion_order():
  width, height = 300, 200
  image = report.plot_curves({"b": _curve(50), "a": []}, width, height, columns=2)
  # "a" (no points) comes first and has no curve; "b" is drawn in the second colour.
  assert _pixels_of(_cell(image, 0, width, height, 2), _palette(0)) == 0
  assert _pixels_of(_cell(image, 1, width, height, 2), _palette(1)) > 50


def test_non_finite_values_are_dropped_and_an_all_nan_metric_gets_an_empty_panel():
  width, height, columns = 320, 200, 2
  mixed = _curve(100)
  mixed[10] = (mixed[10][0], float("nan"))
  mixed[20] = (mixed[20][0], float("inf"))
  mixed[30] = (float("nan"), 1.0)
  series = {"a_mixed": mixed, "b_all_nan": [(1, float("nan")), (2, float("-inf"))],
            "c_none": [(1, None)]}
  image = report.plot_curves(series, width, height, columns)
  assert image.size == (2 * width, 2 * height)
  assert _pixels_of(_cell(image, 0, width, height, columns), _palette(0)) > 50
  for index in (1, 2):
    cell = _cell(image, index, width, height, columns)
    assert _pixels_of(cell, _palette(index)) == 0       # no curve...
    assert (cell < 200).all(axis=-1).sum() > 100         # ...but a titled, framed panel


def test_a_single_point_is_drawn_as_a_marker():
  width, height = 320, 200
  image = report.plot_curves({"only": [(7, 3.0)]}, width, height, columns=1)
  assert image.size == (width, height)
  marker = _pixels_of(np.asarray(image), _palette(0))
  assert 4 <= marker < 100   # a dot, not a line across the panel


def test_no_metrics_gives_one_row_of_note():
  image = report.plot_curves({})
  assert image.size == (3 * 320, 200) and image.mode == "RGB"
  assert (np.asarray(image) < 200).any()   # "no metrics to plot"


def test_metrics_over_many_orders_of_magnitude_and_large_steps():
  series = {"tiny": _curve(50, scale=1e-6), "huge": _curve(50, scale=1e7),
            "negative": [(s, -v) for s, v in _curve(50, scale=300.0)],
            "late": _curve(50, start=2_000_000, stride=50_000),
            "flat": [(s, 0.5) for s, _ in _curve(50)]}
  image = report.plot_curves(series, columns=5)
  for index in range(5):
    assert _pixels_of(_cell(image, index, 320, 200, 5), _palette(index)) > 20


def test_bad_layout_raises():
  with pytest.raises(ValueError, match="columns"):
    report.plot_curves({"a": _curve(3)}, columns=0)


def test_save_png_writes_the_plot(tmp_path):
  image = report.plot_curves({"a": _curve(20), "b": _curve(20)}, width=200, height=150)
  path = report.save_png(image, str(tmp_path / "curves.png"))
  with Image.open(path) as saved:
    assert saved.format == "PNG" and saved.size == (600, 150)
    np.testing.assert_array_equal(np.asarray(saved.convert("RGB")), np.asarray(image))
  assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_twelve_metrics_of_2000_points_each_fill_their_own_panel():
  # A long run's log: every panel is drawn, in its own colour, at the promised size.
  # (How long this takes is the benchmark's business, not a test's: CI machines vary.)
  series = {f"metric_{k:02d}": _curve(2000, scale=10.0 ** (k % 8 - 4)) for k in range(12)}
  image = report.plot_curves(series)
  assert image.size == (3 * 320, 4 * 200)
  for index in range(12):
    assert _pixels_of(_cell(image, index, 320, 200, 3), _palette(index)) > 20
