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


def load(path: str) -> common.RawData:
  if not os.path.isfile(path):
    raise DataError(f"npz:{path}: no such file; give the path of an .npz written with "
                    "np.savez(path, x_train=..., y_train=...)")
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
