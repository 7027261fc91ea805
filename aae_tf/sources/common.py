"""What every data source returns, and the checks every source's arrays pass."""

import dataclasses
import os
import socket
import threading
from typing import Optional, Tuple

import numpy as np

from aae_tf.errors import DataError

NETWORK_TIMEOUT_S = 3.0
#: Channels an image may have: grey or RGB (what the figures and the PNG grids draw).
IMAGE_CHANNELS = (1, 3)


@dataclasses.dataclass(frozen=True)
class RawData:
  """A source's examples before splitting.

  Images are uint8 (0..255) or float32 (0..1) arrays [N, H, W], [N, H, W, C] or, for
  plain vectors, [N, D]. Labels are int [N] in 0..K-1, or None (unlabelled). A source
  without a test split leaves `test_images` None: one is carved from the training set.
  """
  train_images: np.ndarray
  train_labels: Optional[np.ndarray]
  test_images: Optional[np.ndarray]
  test_labels: Optional[np.ndarray]
  source: str
  class_names: Optional[Tuple[str, ...]] = None


def listing(directory: str, limit: int = 8) -> str:
  """A short listing of `directory` for error messages."""
  try:
    names = sorted(os.listdir(directory))
  except OSError:
    return "nothing readable"
  if not names:
    return "nothing"
  more = f", ... ({len(names)} entries)" if len(names) > limit else ""
  return ", ".join(names[:limit]) + more


MAX_CLASSES = 65_536   # far beyond any dataset here; a larger id is a wrong column


def check_examples(images: np.ndarray, what: str) -> np.ndarray:
  """The array itself if it is usable data; else a DataError naming `what` and the fix."""
  images = np.asarray(images)
  if images.ndim not in (2, 3, 4) or min(images.shape, default=0) == 0:
    raise DataError(f"{what}: expected images [N, H, W] or [N, H, W, C], or vectors "
                    f"[N, D], with every size > 0; got shape {list(images.shape)}")
  if images.ndim == 4 and images.shape[-1] not in IMAGE_CHANNELS:
    raise DataError(f"{what}: images have {images.shape[-1]} channels; use 1 (grey) or "
                    "3 (RGB)")
  if images.dtype == np.uint8:
    return images
  if images.dtype.kind != "f":
    raise DataError(f"{what}: values are {images.dtype}; give uint8 (0..255) or floats "
                    "in [0, 1]")
  images = images.astype(np.float32, copy=False)
  if not np.all(np.isfinite(images)):
    raise DataError(f"{what}: {int(np.sum(~np.isfinite(images)))} values are NaN or "
                    "infinite")
  low, high = float(images.min()), float(images.max())
  if low < 0.0 or high > 1.0:
    raise DataError(f"{what}: float values span [{low:.4g}, {high:.4g}]; scale them to "
                    "[0, 1] (the decoder's sigmoid output range), or give uint8 0..255")
  return images


def composite_alpha(rgba: np.ndarray) -> np.ndarray:
  """uint8 RGBA -> uint8 RGB. Where the colour is one and the same everywhere and only
  the alpha varies (a pen's strokes saved on a transparent page, as drawing tools do),
  the image is in the alpha: it becomes the grey value. Otherwise the colour is composited over
  black, so transparent parts are dark, as the digits' backgrounds are."""
  colour = rgba[..., :3].astype(np.float64)
  alpha = rgba[..., 3:].astype(np.float64) / 255.0
  painted = colour.reshape(-1, 3)[alpha.reshape(-1) > 0]
  if np.ptp(alpha) > 0 and (not len(painted) or np.ptp(painted, axis=0).max() <= 2):
    return np.repeat(np.round(255 * alpha).astype(np.uint8), 3, axis=-1)
  return np.round(colour * alpha).astype(np.uint8)


def resize(image: np.ndarray, size) -> np.ndarray:
  """One [H, W, C] uint8 image resized to `size` = (H, W), bilinear (PIL)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  grey = image.shape[-1] == 1
  resized = Image.fromarray(image[..., 0] if grey else image).resize(
      (size[1], size[0]), Image.BILINEAR)
  array = np.asarray(resized, np.uint8)
  return array[..., None] if grey else array


def check_labels(labels, count: int, what: str) -> np.ndarray:
  """int32 labels [count] >= 0, or a DataError naming `what`."""
  labels = np.asarray(labels)
  if labels.ndim != 1 or labels.dtype.kind not in "ui":
    raise DataError(f"{what}: expected 1-D integer class ids, got {labels.dtype} "
                    f"{list(labels.shape)}")
  if len(labels) != count:
    raise DataError(f"{what}: {len(labels)} labels for {count} examples")
  if len(labels) and labels.min() < 0:
    raise DataError(f"{what}: label {int(labels.min())} is negative; class ids are 0..K-1")
  if len(labels) and labels.max() >= MAX_CLASSES:
    # Checked before the int32 cast, which would wrap 2**32 + 3 into class 3.
    raise DataError(f"{what}: label {int(labels.max())} is not a class id: ids are 0..K-1 "
                    f"with K <= {MAX_CLASSES:,}; renumber the classes")
  return labels.astype(np.int32)


def download_host_reachable(host, port, timeout=NETWORK_TIMEOUT_S):
  """True if a TCP connection to host:port succeeds within `timeout` s.

  The probe runs in a daemon thread because DNS resolution ignores socket
  timeouts; an answer that comes too late counts as unreachable.
  """
  result = []

  def probe():
    try:
      with socket.create_connection((host, port), timeout=timeout):
        result.append(True)
    except Exception:  # pylint: disable=broad-except
      # Any failure means "unreachable"; never let the thread crash.
      result.append(False)

  thread = threading.Thread(target=probe, daemon=True)
  thread.start()
  thread.join(timeout)
  return bool(result) and result[0]
