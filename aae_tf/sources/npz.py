"""`--dataset=npz:PATH`: NumPy arrays saved with `np.savez`.

Keys: `x_train` (required), `y_train`, `x_test`, `y_test` (optional; `y_*` only with
their `x_*`). Examples are images [N, H, W] / [N, H, W, C] (C = 1 or 3) or plain
vectors [N, D]; values uint8 0..255 or floats in [0, 1]. Without `y_train` the data is
unlabelled; without `x_test` a test split is carved from `x_train`.
"""

import os
import zipfile

import numpy as np

from aae_tf.errors import DataError
from aae_tf.sources import common

KEYS = ("x_train", "y_train", "x_test", "y_test")


def _memory_bytes() -> int:
  try:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (ValueError, OSError):
    return 1 << 40


def _check_archive(path: str) -> None:
  """Refuses, before reading any array, what np.load would choke on: a single .npy, a
  file that is no zip archive, members that are no arrays or pickled objects, and
  arrays whose headers declare more than this machine's memory."""
  with open(path, "rb") as f:
    magic = f.read(6)
  if magic == b"\x93NUMPY":
    raise DataError(f"npz:{path} is a single .npy array, not an .npz archive; save it as "
                    f"np.savez(path, x_train=array[, y_train=labels])")
  if not zipfile.is_zipfile(path):
    raise DataError(f"npz:{path} is not an .npz archive (a zip of .npy arrays written "
                    "by np.savez); write one with np.savez(path, x_train=..., y_train=...)")
  budget = _memory_bytes() // 2
  try:
    with zipfile.ZipFile(path) as archive:
      for member in archive.infolist():
        with archive.open(member) as f:
          try:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(f))
          except ValueError:
            raise DataError(f"npz:{path}: {member.filename} is not a NumPy array") from None
        if dtype.hasobject:
          raise DataError(f"npz:{path}: {member.filename} holds Python objects (it would "
                          "need unpickling, which is never done); save numeric arrays")
        size = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if size > budget:
          raise DataError(f"npz:{path}: {member.filename} declares {list(shape)} "
                          f"{dtype} = {size / 2**30:,.1f} GiB, more than half this "
                          f"machine's memory ({budget / 2**30:,.1f} GiB); use less data")
  except (zipfile.BadZipFile, EOFError, OSError) as e:
    raise DataError(f"npz:{path}: not a readable .npz archive ({e})") from None


def load(path: str) -> common.RawData:
  if not os.path.isfile(path):
    raise DataError(f"npz:{path}: no such file; give the path of an .npz written with "
                    "np.savez(path, x_train=..., y_train=...)")
  _check_archive(path)
  try:
    with np.load(path, allow_pickle=False) as archive:
      arrays = {key: archive[key] for key in archive.files}
  except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
    raise DataError(f"npz:{path}: not a readable .npz archive ({e})") from None
  if "x_train" not in arrays:
    raise DataError(f"npz:{path}: no x_train array (found: {', '.join(arrays) or 'none'}); "
                    f"expected keys {', '.join(KEYS)}")
  unknown = sorted(set(arrays) - set(KEYS))
  if unknown:
    raise DataError(f"npz:{path}: unknown arrays {unknown}; expected keys {', '.join(KEYS)}")
  for part in ("train", "test"):
    if f"y_{part}" in arrays and f"x_{part}" not in arrays:
      raise DataError(f"npz:{path}: y_{part} without x_{part}")
  if ("y_train" in arrays) != ("y_test" in arrays) and "x_test" in arrays:
    raise DataError(f"npz:{path}: labels for only one of train and test; give both "
                    "y_train and y_test, or neither")
  # The values are checked once, where every source's arrays are split (data.py).
  x_train, y_train = arrays["x_train"], arrays.get("y_train")
  x_test, y_test = arrays.get("x_test"), arrays.get("y_test")
  if x_test is not None and (x_test.shape[1:] != x_train.shape[1:] or
                             x_test.dtype.kind != x_train.dtype.kind):
    raise DataError(f"npz:{path}: x_test is {x_test.dtype} {list(x_test.shape[1:])} per "
                    f"example but x_train is {x_train.dtype} {list(x_train.shape[1:])}")
  return common.RawData(x_train, y_train, x_test, y_test, f"npz file {path}")
