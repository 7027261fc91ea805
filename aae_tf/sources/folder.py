"""`--dataset=folder:PATH`: a folder of PNG / JPEG files.

Layouts:
  PATH/<class>/*.png          one subfolder per class (names sorted -> ids 0..K-1)
  PATH/*.png                  flat: unlabelled
  PATH/train/..., PATH/test/...   either of the above for each split (else a test split
                              is carved from the images)
Images must share one size unless `image_size=(H, W)` resizes them all. Colour:
`grayscale`, `rgb`, or `auto` (RGB if any file is in colour). Files with other
extensions are skipped and counted; an image file that cannot be decoded is an error
naming it.
"""

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from aae_tf.errors import DataError
from aae_tf.sources import common

EXTENSIONS = (".png", ".jpg", ".jpeg")
# How the log names Pillow's image modes.
_MODE_NAMES = {"L": "grey 8-bit", "RGB": "RGB 8-bit", "RGBA": "RGB with alpha",
               "LA": "grey with alpha", "P": "palette", "PA": "palette with alpha",
               "I;16": "grey 16-bit", "I;16B": "grey 16-bit", "I": "grey 32-bit",
               "F": "grey float", "1": "1-bit", "CMYK": "CMYK"}
COLORS = ("auto", "grayscale", "rgb")


def _is_image(name: str) -> bool:
  return not name.startswith(".") and name.lower().endswith(EXTENSIONS)


def _scan(directory: str) -> Tuple[List[Tuple[str, int]], Tuple[str, ...], int]:
  """([(file, class id or -1)], class names, skipped files) of one split's folder."""
  entries = sorted(os.listdir(directory))
  classes = [e for e in entries if os.path.isdir(os.path.join(directory, e))
             and not e.startswith(".")]
  flat = [e for e in entries if os.path.isfile(os.path.join(directory, e)) and _is_image(e)]
  if classes and flat:
    raise DataError(f"folder:{directory}: has both image files ({flat[0]}, ...) and class "
                    f"subfolders ({classes[0]}, ...); put every image in a class folder, "
                    "or use a flat folder for unlabelled data")
  files = []
  skipped = len([e for e in entries if os.path.isfile(os.path.join(directory, e))
                 and not _is_image(e)])
  if flat:
    return [(os.path.join(directory, f), -1) for f in flat], (), skipped
  for label, name in enumerate(classes):
    sub = os.path.join(directory, name)
    for root, _, names in sorted(os.walk(sub)):
      for f in sorted(names):
        if _is_image(f):
          files.append((os.path.join(root, f), label))
        else:
          skipped += 1
  return files, tuple(classes), skipped


def _pixels(image) -> np.ndarray:
  """uint8 [H, W, C] of a decoded image whatever its mode: 16-bit and 32-bit integer
  images are scaled by their bit depth (not clipped), float images from [0, 1], and
  transparency composited (`common.composite_alpha`)."""
  mode = image.mode
  if mode in ("I;16", "I;16B", "I;16L", "I;16N") or (mode == "I" and image.getextrema()[1] > 255):
    bits = 16 if mode.startswith("I;16") or image.getextrema()[1] <= 65535 else 32
    array = np.asarray(image, np.float64) / (2 ** bits - 1)
    return np.round(255 * np.clip(array, 0, 1)).astype(np.uint8)[..., None]
  if mode == "F":
    return np.round(255 * np.clip(np.asarray(image, np.float64), 0, 1)).astype(np.uint8)[..., None]
  if mode == "P" and "transparency" in image.info or mode in ("PA", "LA", "La", "RGBa"):
    image = image.convert("RGBA")
  if image.mode == "RGBA":
    return common.composite_alpha(np.asarray(image, np.uint8))
  array = np.asarray(image.convert("RGB" if image.mode not in ("L", "1", "I") else "L"),
                     np.uint8)
  return array if array.ndim == 3 else array[..., None]


def _read(path: str, color: str, image_size: Optional[Sequence[int]], modes: Dict[str, int]):
  from PIL import Image, UnidentifiedImageError  # pylint: disable=import-outside-toplevel
  try:
    with Image.open(path) as image:
      image.load()
      modes[image.mode] = modes.get(image.mode, 0) + 1
      array = _pixels(image)
  except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
    raise DataError(f"folder: {path} cannot be decoded as an image ({e})") from None
  if color == "grayscale" and array.shape[-1] == 3:   # Pillow's own luma, as before
    array = np.asarray(Image.fromarray(array).convert("L"), np.uint8)[..., None]
  elif color != "grayscale" and array.shape[-1] == 1:
    array = np.repeat(array, 3, axis=-1)
  return common.resize(array, image_size) if image_size else array


def _is_grey(images: np.ndarray) -> bool:
  return bool(np.all(images[..., 0] == images[..., 1]) and np.all(images[..., 1] == images[..., 2]))


def _stack(files, color, image_size, root, modes) -> np.ndarray:
  arrays = []
  for path, _ in files:
    array = _read(path, color, image_size, modes)
    if arrays and array.shape != arrays[0].shape:
      raise DataError(f"folder:{root}: {path} is {array.shape[1]}x{array.shape[0]} but "
                      f"{files[0][0]} is {arrays[0].shape[1]}x{arrays[0].shape[0]}; pass "
                      "--image_size=H,W to resize every image")
    arrays.append(array)
  return np.stack(arrays)


def load(path: str, color: str = "auto",
         image_size: Optional[Sequence[int]] = None) -> common.RawData:
  if color not in COLORS:
    raise DataError(f"unknown color {color!r}; use one of {', '.join(COLORS)}")
  if not os.path.isdir(path):
    raise DataError(f"folder:{path}: no such directory")
  split_dirs = {p: os.path.join(path, p) for p in ("train", "test")
                if os.path.isdir(os.path.join(path, p))}
  if split_dirs and "train" not in split_dirs:
    raise DataError(f"folder:{path}: has test/ but no train/")
  scans: Dict[str, tuple] = {part: _scan(d) for part, d in split_dirs.items()} or {
      "train": _scan(path)}
  files, names, skipped = scans["train"]
  if not files:
    raise DataError(f"folder:{path}: no {'/'.join(EXTENSIONS)} images found (found: "
                    f"{common.listing(path)})")
  if "test" in scans:
    test_files, test_names, more = scans["test"]
    skipped += more
    if test_names != names:
      raise DataError(f"folder:{path}: train/ classes {list(names)} differ from test/ "
                      f"classes {list(test_names)}")
    if not test_files:
      raise DataError(f"folder:{path}/test: no images found")
  # "auto" reads RGB and keeps one channel if no pixel of any image has colour.
  modes: Dict[str, int] = {}
  train = _stack(files, color, image_size, path, modes)
  labels = np.array([label for _, label in files], np.int32) if names else None
  test = test_labels = None
  if "test" in scans:
    test = _stack(scans["test"][0], color, image_size, path, modes)
    if test.shape[1:] != train.shape[1:]:
      raise DataError(f"folder:{path}: test images are {test.shape[1:]} but train images "
                      f"{train.shape[1:]}; pass --image_size=H,W")
    test_labels = np.array([label for _, label in scans["test"][0]], np.int32) if names else None
  if color == "auto":
    grey = _is_grey(train) and (test is None or _is_grey(test))
    color = "grayscale" if grey else "rgb"
    if grey:
      train, test = train[..., :1], (None if test is None else test[..., :1])
  note = f", {skipped} non-image files skipped" if skipped else ""
  note += " from " + ", ".join(f"{count} {_MODE_NAMES.get(mode, mode)}"
                                  for mode, count in sorted(modes.items()))
  return common.RawData(train, labels, test, test_labels,
                        f"image folder {path} ({color}{note})", names or None)
