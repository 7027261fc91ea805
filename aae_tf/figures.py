"""PNG figures drawn with Pillow (no plotting library needed)."""

import os

import numpy as np
from PIL import Image, ImageDraw

from aae_tf import atomic

# Ten colours that stay distinguishable on white (Tableau 10).
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _atomic_save(image: Image.Image, path: str) -> None:
  """Writes via a temporary file so a reader never sees a half-written PNG."""
  atomic.write_with(path, image.save)


def image_grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> Image.Image:
  """Tiles `rows*cols` images in [0, 1] of shape [N, H, W(, 1)] into one grey image."""
  images = np.asarray(images, np.float32).reshape(len(images), *np.shape(images)[1:3])
  if len(images) < rows * cols:
    raise ValueError(f"need {rows * cols} images for a {rows}x{cols} grid, got {len(images)}")
  h, w = images.shape[1:3]
  canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), np.float32)
  for k in range(rows * cols):
    r, c = divmod(k, cols)
    top, left = pad + r * (h + pad), pad + c * (w + pad)
    canvas[top:top + h, left:left + w] = images[k]
  return Image.fromarray((np.clip(canvas, 0, 1) * 255).round().astype(np.uint8), "L")


def save_image_grid(images, path: str, rows: int = 10, cols: int = 10,
                    scale: int = 2) -> Image.Image:
  """Writes the grid, enlarged `scale` times, to `path`; returns it at 1x."""
  grid = image_grid(images, rows, cols)
  _atomic_save(grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST), path)
  return grid


def project_2d(codes: np.ndarray) -> np.ndarray:
  """The codes themselves if 2-D, else their first two principal components."""
  codes = np.asarray(codes, np.float64)
  if codes.shape[1] <= 2:
    return np.pad(codes, ((0, 0), (0, 2 - codes.shape[1])))
  centred = codes - codes.mean(axis=0)
  _, _, vt = np.linalg.svd(centred, full_matrices=False)
  return centred @ vt[:2].T


def scatter(points: np.ndarray, labels: np.ndarray, size: int = 600,
            title: str = "") -> Image.Image:
  """Points coloured by label (0..9), with axes through the origin and a legend."""
  points = np.asarray(points, np.float64)
  image = Image.new("RGB", (size + 90, size), "white")
  draw = ImageDraw.Draw(image)
  lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
  span = np.maximum(hi - lo, 1e-9) * 1.1
  centre = (hi + lo) / 2
  to_px = lambda p: ((p - centre) / span + 0.5) * (size - 20) + 10
  origin = to_px(np.zeros(2))
  draw.line([(origin[0], 0), (origin[0], size)], fill=(200, 200, 200))
  draw.line([(0, size - origin[1]), (size, size - origin[1])], fill=(200, 200, 200))
  for (x, y), label in zip(to_px(points), labels):
    colour = PALETTE[int(label) % len(PALETTE)]
    draw.ellipse([x - 1.5, size - y - 1.5, x + 1.5, size - y + 1.5], fill=colour)
  for k in range(int(np.max(labels)) + 1 if len(labels) else 0):
    draw.rectangle([size + 20, 20 + 20 * k, size + 32, 32 + 20 * k], fill=PALETTE[k % 10])
    draw.text((size + 40, 20 + 20 * k), str(k), fill="black")
  if title:
    draw.text((10, 5), title, fill="black")
  return image


def save_scatter(codes, labels, path: str, title: str = ""):
  _atomic_save(scatter(project_2d(codes), labels, title=title), path)
