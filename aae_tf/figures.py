"""PNG figures of training and evaluation: image grids (Pillow) and the latent-code
scatter (matplotlib, drawn off-screen with the Agg canvas; pyplot is never imported, so
no global plotting state is touched).

Every PNG is written atomically (`aae_tf.atomic.write_with`): a reader never sees a
half-written file.
"""

import math
import textwrap
from typing import Optional, Sequence

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from aae_tf import atomic

# Ten colours that stay distinguishable on white (Tableau 10), as 0-255 RGB; the
# scatter's first ten classes use them too (report.py's loss curves use this list).
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]

# The scatter: 6x5 inches at 100 dpi = 600x500 pixels.
SCATTER_INCHES = (6.0, 5.0)
SCATTER_DPI = 100
# Up to this many classes get a legend entry each; more get a colour bar of class ids.
MAX_LEGEND_CLASSES = 20
UNLABELLED = -1


def _atomic_save(image: Image.Image, path: str) -> None:
  """Writes via a temporary file so a reader never sees a half-written PNG."""
  atomic.write_with(path, image.save)


# ------------------------------------------------------------------- image grids


def _as_tiles(images) -> np.ndarray:
  """[N, H, W], [N, H, W, 1|3] or vectors [N, D] -> float32 tiles [N, h, w, C]."""
  images = np.asarray(images, np.float32)
  shape = images.shape
  if images.ndim == 2:
    n, d = shape
    if d < 1:
      raise ValueError(f"vectors must have at least one value each, got shape {shape}")
    h = math.isqrt(d)
    w = -(-d // h)
    padded = np.ones((n, h * w), np.float32)
    padded[:, :d] = images
    return padded.reshape(n, h, w, 1)
  if images.ndim == 3:
    return images[..., None]
  if images.ndim == 4 and shape[-1] in (1, 3):
    return images
  raise ValueError(
      "images must be [N, H, W], [N, H, W, 1], [N, H, W, 3] or vectors [N, D], got shape "
      f"{shape}")


def image_grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> Image.Image:
  """Tiles the first `rows*cols` items, values in [0, 1], into one image on white.

  Accepts grey images [N, H, W] or [N, H, W, 1] (returns mode "L"), colour images
  [N, H, W, 3] (mode "RGB"), and plain vectors [N, D] (mode "L"): each vector is shown
  as a grey tile of h = floor(sqrt(D)) rows and w = ceil(D / h) columns, filled row by
  row, its last h*w - D cells white (so 784 -> 28x28, 64 -> 8x8, 10 -> 3x4 with 2 white
  cells). Tile (r, c) of H x W starts at row pad + r*(H + pad), column
  pad + c*(W + pad); the `pad` pixels between and around tiles are white. Values are
  clipped to [0, 1] (NaN shows black). Raises ValueError on fewer than rows*cols items,
  an empty grid, or any other shape.
  """
  if rows < 1 or cols < 1 or pad < 0:
    raise ValueError(f"need rows >= 1, cols >= 1 and pad >= 0, got rows={rows}, "
                     f"cols={cols}, pad={pad}")
  tiles = _as_tiles(images)
  count = rows * cols
  if len(tiles) < count:
    raise ValueError(f"need {count} images for a {rows}x{cols} grid, got {len(tiles)}")
  tiles = np.clip(np.nan_to_num(tiles[:count], nan=0.0), 0.0, 1.0)
  h, w, channels = tiles.shape[1:]
  canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, channels), np.float32)
  for k in range(count):
    r, c = divmod(k, cols)
    top, left = pad + r * (h + pad), pad + c * (w + pad)
    canvas[top:top + h, left:left + w] = tiles[k]
  pixels = (canvas * 255).round().astype(np.uint8)
  if channels == 1:
    return Image.fromarray(pixels[..., 0], "L")
  return Image.fromarray(pixels, "RGB")


def save_image_grid(images, path: str, rows: int = 10, cols: int = 10,
                    scale: int = 2) -> Image.Image:
  """Writes the grid, enlarged `scale` times (nearest neighbour), to `path`; returns it
  at 1x (mode "L" or "RGB", see `image_grid`)."""
  grid = image_grid(images, rows, cols)
  _atomic_save(grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST), path)
  return grid


# ---------------------------------------------------------------- latent scatter


def project_2d(codes: np.ndarray) -> np.ndarray:
  """The codes themselves if 2-D, else their first two principal components."""
  codes = np.asarray(codes, np.float64)
  if codes.shape[1] <= 2:
    return np.pad(codes, ((0, 0), (0, 2 - codes.shape[1])))
  centred = codes - codes.mean(axis=0)
  _, _, vt = np.linalg.svd(centred, full_matrices=False)
  return centred @ vt[:2].T


def class_colours(num_classes: int) -> np.ndarray:
  """[num_classes, 4] RGBA: Tableau 10 up to 10 classes, tab20 up to 20, else turbo."""
  if num_classes <= 10:
    return matplotlib.colormaps["tab10"](np.arange(num_classes))
  if num_classes <= 20:
    return matplotlib.colormaps["tab20"](np.arange(num_classes))
  return matplotlib.colormaps["turbo"](np.linspace(0.0, 1.0, num_classes))


def _view_limits(points: np.ndarray):
  """(lo, hi, points outside) that keep far outliers (a diverged code) from squashing
  the rest, or None when every point is within reach.

  The reach on each axis is the central 99% of the points widened by half its span on
  either side, so a well-behaved cloud (a Gaussian's tails) is always drawn whole; the
  view is then the extent of the points within reach.
  """
  lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
  span = np.maximum(hi - lo, 1e-9)
  reach_lo, reach_hi = lo - span / 2, hi + span / 2
  outside = np.any((points < reach_lo) | (points > reach_hi), axis=1)
  if not outside.any():
    return None
  within = (points >= reach_lo) & (points <= reach_hi)  # per axis; never empty
  view_lo = np.where(within, points, np.inf).min(axis=0)
  view_hi = np.where(within, points, -np.inf).max(axis=0)
  margin = np.maximum(view_hi - view_lo, 1e-9) * 0.05
  return view_lo - margin, view_hi + margin, int(outside.sum())


def draw_scatter(codes, labels=None, title: str = "",
                 class_names: Optional[Sequence[str]] = None,
                 axis_names: Optional[Sequence[str]] = None) -> Figure:
  """The latent scatter as a matplotlib Figure (Agg canvas attached), 600x500 px.

  `codes` [N, D]: D <= 2 is drawn as is (axes "z[0]", "z[1]"), D > 2 as its first two
  principal components ("PC 1", "PC 2"). Non-finite rows are dropped (and counted in
  the figure). `labels` [N] are class ids >= 0, or -1 (any negative: unlabelled); None
  means all -1. `axis_names` name 2-D codes' axes (e.g. a caller's own projection).
  With no labelled point everything is one colour and there is no legend; otherwise
  class k has colour k of `class_colours(max id + 1)` (stable from figure to figure),
  unlabelled points are grey, and the legend names each class present through
  `class_names[k]` (else the id). Beyond MAX_LEGEND_CLASSES classes a colour bar of
  class ids replaces the legend. Points are drawn in a fixed shuffled order so no class
  systematically hides another.
  """
  codes = np.asarray(codes, np.float64)
  if codes.ndim == 1:
    codes = codes[:, None]
  if codes.ndim != 2:
    raise ValueError(f"codes must be [N, D], got shape {codes.shape}")
  n, dims = codes.shape
  labels = (np.full(n, UNLABELLED, np.int64) if labels is None
            else np.asarray(labels).reshape(-1).astype(np.int64))
  if len(labels) != n:
    raise ValueError(f"{n} codes but {len(labels)} labels")

  finite = np.all(np.isfinite(codes), axis=1)
  dropped = int(n - finite.sum())
  codes, labels = codes[finite], labels[finite]
  points = project_2d(codes) if len(codes) else np.zeros((0, 2))
  projected = dims > 2

  labelled = labels >= 0
  names = [str(name) for name in class_names] if class_names is not None else []
  num_classes = max(int(labels.max()) + 1, len(names)) if labelled.any() else 0
  if num_classes:
    palette = class_colours(num_classes)
    colours = np.where(labelled[:, None], palette[np.maximum(labels, 0)],
                       mcolors.to_rgba("0.6"))
  else:
    colours = np.tile(class_colours(1), (len(points), 1))

  figure = Figure(figsize=SCATTER_INCHES, dpi=SCATTER_DPI, layout="constrained")
  FigureCanvasAgg(figure)
  axes = figure.add_subplot()
  order = np.random.default_rng(0).permutation(len(points))
  axes.scatter(points[order, 0], points[order, 1], c=colours[order], s=5, linewidths=0,
               alpha=0.8)
  axes.axhline(0.0, color="0.85", linewidth=0.8, zorder=0)
  axes.axvline(0.0, color="0.85", linewidth=0.8, zorder=0)
  if projected:
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
  elif axis_names:
    axes.set_xlabel(axis_names[0])
    axes.set_ylabel(axis_names[1])
  else:
    axes.set_xlabel("z[0]")
    axes.set_ylabel("z[1]" if dims >= 2 else "(1-D codes: 0)")
  # The one place that says how the codes were drawn: callers name only what they are.
  title = (title or "latent codes") + (" (first 2 principal components)" if projected else "")
  axes.set_title(textwrap.fill(title, 60), fontsize=10)

  notes = []
  if len(points) > 1:
    limits = _view_limits(points)
    if limits:
      lo, hi, outside = limits
      axes.set_xlim(lo[0], hi[0])
      axes.set_ylim(lo[1], hi[1])
      notes.append(f"{outside} of {len(points)} points outside the view")
  if dropped:
    notes.append(f"{dropped} non-finite codes not drawn")
  if not len(points):
    notes.append("no points to draw")
  if notes:
    axes.text(0.01, 0.01, "; ".join(notes), transform=axes.transAxes, fontsize=7,
              color="0.3", va="bottom")

  if num_classes > MAX_LEGEND_CLASSES:
    mappable = ScalarMappable(mcolors.Normalize(-0.5, num_classes - 0.5),
                              mcolors.ListedColormap(palette))
    figure.colorbar(mappable, ax=axes, label="class")
  elif num_classes:
    handles = [Line2D([], [], linestyle="", marker="o", markersize=5, color=palette[k],
                      label=names[k] if k < len(names) else str(k))
               for k in np.unique(labels[labelled])]
    if not labelled.all():
      handles.append(Line2D([], [], linestyle="", marker="o", markersize=5, color="0.6",
                            label="unlabelled"))
    axes.legend(handles=handles, title="class", loc="upper left",
                bbox_to_anchor=(1.02, 1.0), fontsize=8, title_fontsize=8, frameon=False,
                borderaxespad=0.0)
  return figure


def render_with_axes(figure: Figure):
  """(uint8 RGB image, (x_min, x_max, y_min, y_max), (left, top, right, bottom)): the
  figure drawn, its first axes' data limits and where those axes lie in the image's
  pixels (to turn a click on the image back into data coordinates)."""
  figure.canvas.draw()
  image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
  axes = figure.axes[0]
  x0, y0, x1, y1 = axes.get_window_extent().extents   # display pixels, origin bottom-left
  height = image.shape[0]
  box = (int(round(x0)), int(round(height - y1)), int(round(x1)), int(round(height - y0)))
  return image, (*axes.get_xlim(), *axes.get_ylim()), box


def save_scatter(codes, labels, path: str, title: str = "",
                 class_names: Optional[Sequence[str]] = None) -> str:
  """Writes `draw_scatter(codes, labels, title, class_names)` to `path` as a 600x500
  PNG, atomically; returns `path`."""
  figure = draw_scatter(codes, labels, title=title, class_names=class_names)
  return atomic.write_with(
      path, lambda tmp: figure.savefig(tmp, format="png", dpi=SCATTER_DPI))
