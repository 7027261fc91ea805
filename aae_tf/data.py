"""A dataset as train / validation / test splits, from any source (`aae_tf.sources`).

`--dataset` names the source:
  mnist | fashion_mnist      the paper's data, with offline fallbacks (sources/mnist.py)
  tfds:NAME[/CONFIG]         any TFDS image dataset (sources/tfds_source.py)
  folder:PATH                PNG / JPEG files (sources/folder.py)
  npz:PATH                   NumPy arrays (sources/npz.py)
A source the user named either works or fails with one line naming the problem: no
source falls back to another.

Examples are images [N, H, W, C] (C = 1 or 3) or vectors [N, D], uint8 (0..255) or
float32 (0..1); `to_unit_float` maps either to [0, 1]. The validation split (and the
test split, for sources without one) is carved from the training examples with a fixed
permutation, so it does not depend on any training seed and a run never sees them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from aae_tf.errors import DataError  # noqa: F401  (re-exported)
from aae_tf.idx import write_idx  # noqa: F401  (re-exported)
from aae_tf.sources import common
from aae_tf.sources import mnist as mnist_source

BUILTIN = mnist_source.DATASETS
KINDS = ("tfds", "folder", "npz")
# Fixed on purpose: the validation split must not move with the training seed.
VALIDATION_SEED = 12345
TEST_SEED = 54321
#: Sources without a test split give this fraction of their examples to one.
TEST_FRACTION = 1 / 7
#: `validation_size=-1`: this fraction of the training examples (10,000 of MNIST's 60,000).
AUTO_VALIDATION_FRACTION = 1 / 6


def parse_dataset(dataset: str) -> Tuple[str, str]:
  """("mnist" | "fashion_mnist" | "tfds" | "folder" | "npz", argument) or DataError."""
  if dataset in BUILTIN:
    return dataset, ""
  kind, _, argument = dataset.partition(":")
  if kind in KINDS and argument:
    # A path as a shell would read it: `folder:~/photos` is the user's photos.
    return kind, (os.path.expanduser(argument) if kind in ("folder", "npz") else argument)
  raise DataError(f"--dataset={dataset} is not one of: {', '.join(BUILTIN)}, "
                  "tfds:NAME[/CONFIG], folder:PATH, npz:PATH")


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of a dataset.

  Attributes:
    images: uint8 (0..255) or float32 (0..1) [N, H, W, C] images or [N, D] vectors;
      [N, H, W] is taken as grey [N, H, W, 1].
    labels: int32 [N], class ids 0..K-1, or -1 everywhere for unlabelled data.
  """
  images: np.ndarray
  labels: np.ndarray

  def __post_init__(self):
    if np.ndim(self.images) == 3:
      object.__setattr__(self, "images", np.asarray(self.images)[..., None])
    if len(self.images) != len(self.labels):
      raise ValueError(f"Split has {len(self.images)} images but "
                       f"{len(self.labels)} labels")


@dataclasses.dataclass(frozen=True)
class DataSplits:
  """Train / validation / test splits and where they came from.

  Attributes:
    train: The training examples minus the validation (and carved test) examples.
    validation: Carved deterministically from the training examples.
    test: The source's test split, or carved deterministically from its examples.
    source: Human-readable description of the source that was used.
    class_names: Names of the classes 0..K-1; empty for unlabelled data.
  """
  train: Split
  validation: Split
  test: Split
  source: str
  class_names: Tuple[str, ...] = ()

  @property
  def shape(self) -> Tuple[int, ...]:
    """One example's shape: (H, W, C) or (D,)."""
    return tuple(int(d) for d in self.train.images.shape[1:])

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def dtype(self) -> str:
    return self.train.images.dtype.name

  def summary(self) -> str:
    """One line: source, shape, counts and classes."""
    shape = "x".join(map(str, self.shape))
    classes = (f"{self.num_classes} classes ({', '.join(self.class_names[:10])}"
               f"{', ...' if self.num_classes > 10 else ''})" if self.num_classes
               else "unlabelled")
    return (f"{self.source}: {shape} {self.dtype}, train {len(self.train.labels)}, "
            f"validation {len(self.validation.labels)}, test {len(self.test.labels)}, "
            f"{classes}")


def to_unit_float(images) -> np.ndarray:
  """float32 in [0, 1] from uint8 (0..255) or float (0..1) examples."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  return images.astype(np.float32, copy=False)


def load_splits(dataset: str,
                data_dir: Optional[str] = None,
                *,
                validation_size: int = -1,
                cache_dir: Optional[str] = None,
                allow_download: bool = True,
                logger: Optional[Callable[[str], None]] = None,
                image_key: str = "",
                label_key: str = "",
                image_size: Sequence[int] = (),
                color: str = "auto") -> DataSplits:
  """Loads `dataset` (see the module docstring) as train / validation / test splits.

  Args:
    dataset: mnist | fashion_mnist | tfds:NAME[/CONFIG] | folder:PATH | npz:PATH.
    data_dir: mnist/fashion_mnist: a directory with the four IDX files or a prepared
      TFDS copy; tfds: the TFDS data directory. Unused by folder: and npz:.
    validation_size: Training examples held out for validation; 0 allowed; -1 = a
      sixth of them (10,000 for MNIST).
    cache_dir: Cache of the MNIST fallback. Default: ``$AAE_TF_CACHE`` or
      ``~/.cache/aae_tf``.
    allow_download: If False, never download (TFDS).
    logger: Callable taking a message string; default absl logging.
    image_key, label_key: tfds: the features to read (default: the only ones).
    image_size: folder / tfds: resize every image to (H, W).
    color: folder: auto | grayscale | rgb.

  Raises:
    DataError: the dataset cannot be used; the message says why and how to fix it.
  """
  log = logger or logging.info
  kind, argument = parse_dataset(dataset)
  if image_size and (len(image_size) != 2 or min(image_size) <= 0):
    raise DataError(f"--image_size must be two positive sizes H,W, got {list(image_size)}")
  if kind in BUILTIN:
    if data_dir and not os.path.isdir(data_dir):
      raise DataError(f"--data_dir={data_dir} does not exist; point it at a directory "
                      "with the four IDX files, or leave it unset to use the default "
                      "sources")
    raw = mnist_source.load(kind, data_dir, cache_dir, allow_download, log)
  elif kind == "npz":
    from aae_tf.sources import npz  # pylint: disable=import-outside-toplevel
    raw = npz.load(argument)
  elif kind == "folder":
    from aae_tf.sources import folder  # pylint: disable=import-outside-toplevel
    raw = folder.load(argument, color, image_size or None)
  else:
    from aae_tf.sources import tfds_source  # pylint: disable=import-outside-toplevel
    raw = tfds_source.load(argument, data_dir, allow_download, image_key, label_key,
                           image_size or None, log)
  splits = _make_splits(raw, validation_size)
  log(f"data: {splits.summary()}")
  return splits


def load_for_config(config, logger: Optional[Callable[[str], None]] = None,
                    validation_size: Optional[int] = None) -> DataSplits:
  """`load_splits` with a training config's data fields."""
  return load_splits(
      config.data.dataset, config.runtime.data_dir,
      validation_size=config.data.validation_size if validation_size is None else validation_size,
      allow_download=config.runtime.allow_download, logger=logger, image_key=config.data.image_key,
      label_key=config.data.label_key, image_size=config.data.image_size, color=config.data.color)


def labelled_indices(labels: np.ndarray,
                     num_labels: Optional[int],
                     seed: int,
                     num_classes: Optional[int] = None) -> np.ndarray:
  """Chooses a class-balanced, seeded subset of examples to keep labelled.

  Args:
    labels: int array [N] of class ids (e.g. ``splits.train.labels``; the
      indices are into this array, so they never touch validation or test).
    num_labels: Total number of labelled examples, divisible by
      ``num_classes``; -1 or None means all examples.
    seed: Seed of the choice.
    num_classes: Number of classes (labels are 0..num_classes-1); default
      ``max(labels) + 1``.

  Returns:
    Sorted int64 indices into ``labels``, ``num_labels // num_classes`` per
    class.

  Raises:
    ValueError: If ``num_labels`` is not positive and divisible by
      ``num_classes``, or a class has too few examples.
  """
  labels = np.asarray(labels)
  if labels.ndim != 1:
    raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
  if num_labels is None or num_labels == -1:
    return np.arange(len(labels), dtype=np.int64)
  num_classes = num_classes or int(labels.max()) + 1
  if (isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer)) or
      num_labels <= 0 or num_labels % num_classes):
    raise ValueError(f"num_labels must be -1 (all) or a positive multiple "
                     f"of {num_classes} (balanced classes), got {num_labels!r}")
  per_class = num_labels // num_classes
  rng = np.random.default_rng(seed)
  chosen = []
  for c in range(num_classes):
    members = np.flatnonzero(labels == c)
    if len(members) < per_class:
      raise ValueError(f"num_labels={num_labels} needs {per_class} examples of class "
                       f"{c}, but only {len(members)} are available; use a smaller "
                       "num_labels or a smaller validation split")
    chosen.append(rng.choice(members, per_class, replace=False))
  return np.sort(np.concatenate(chosen)).astype(np.int64)


# --------------------------------------------------------------------------
# Splitting.


def _carve(n: int, size: int, seed: int):
  """(kept, carved) sorted index arrays: `size` of range(n) by a fixed permutation."""
  order = np.random.default_rng(seed).permutation(n)
  # Sorted so that both parts keep the original order.
  return np.sort(order[:n - size]), np.sort(order[n - size:])


def _make_splits(raw: common.RawData, validation_size: int) -> DataSplits:
  """Checks the source's arrays (the one place they are checked), then carves the test
  split (if the source has none) and the validation split."""
  images = common.check_examples(raw.train_images, f"{raw.source}: training examples")
  labelled = raw.train_labels is not None
  labels = (common.check_labels(raw.train_labels, len(images),
                                f"{raw.source}: training labels") if labelled
            else np.full(len(images), -1, np.int32))
  if raw.test_images is None:
    if len(images) < 3:
      raise DataError(f"{raw.source}: {len(images)} examples are too few to carve test "
                      "and validation splits from")
    kept, test_idx = _carve(len(images), max(1, int(len(images) * TEST_FRACTION)), TEST_SEED)
    test = Split(images[test_idx], labels[test_idx])
    images, labels = images[kept], labels[kept]
  else:
    test_images = common.check_examples(raw.test_images, f"{raw.source}: test examples")
    test_labels = (common.check_labels(raw.test_labels, len(test_images),
                                       f"{raw.source}: test labels")
                   if labelled and raw.test_labels is not None
                   else np.full(len(test_images), -1, np.int32))
    test = Split(test_images, test_labels)
  n = len(labels)
  if validation_size == -1:
    validation_size = int(n * AUTO_VALIDATION_FRACTION)
  if (isinstance(validation_size, bool) or
      not isinstance(validation_size, (int, np.integer)) or not 0 <= validation_size < n):
    raise DataError(f"validation_size must be an integer in [0, {n}) (or -1: a sixth of "
                    f"the {n} training examples), got {validation_size!r}")
  train_idx, val_idx = _carve(n, validation_size, VALIDATION_SEED)
  train = Split(images[train_idx], labels[train_idx])
  if train.images.shape[1:] != test.images.shape[1:]:
    raise DataError(f"{raw.source}: test examples are {list(test.images.shape[1:])} but "
                    f"training examples {list(train.images.shape[1:])}")
  names = tuple(raw.class_names or ())
  if labelled:
    top = int(max(labels.max(initial=-1), test.labels.max(initial=-1)))
    if top >= len(names):
      if raw.class_names:
        raise DataError(f"{raw.source}: label {top} but only {len(names)} class names")
      names = tuple(str(k) for k in range(top + 1))
  return DataSplits(train=train, validation=Split(images[val_idx], labels[val_idx]),
                    test=test, source=raw.source, class_names=names)


def fingerprint(splits: "DataSplits") -> str:
  """What the data were, to tell a resume on other data: each split's size and a digest
  of every example and label (the validation split is carved from the training data,
  so other files move examples between the splits)."""
  digest = hashlib.sha256()
  for split in (splits.train, splits.validation, splits.test):
    digest.update(np.ascontiguousarray(split.images).tobytes())
    digest.update(np.ascontiguousarray(split.labels, np.int64).tobytes())
  return (f"{len(splits.train.labels)} train, {len(splits.validation.labels)} validation, "
          f"{len(splits.test.labels)} test; sha256 {digest.hexdigest()[:16]}")


def training_labels(splits: DataSplits, label_use: str, supervised_phase: bool,
                    num_labels: int, label_seed: int, log: Callable[[str], None]):
  """(labels for the main stream, labelled subset for a supervised phase or None).

  `label_use` is the variant's: "all", "none" or "subset" (then `num_labels` of the
  training images keep their label, class-balanced, drawn with `label_seed`).
  Label-conditioned training sees -1 ("unlabelled") outside the labelled subset; a
  supervised phase gets the subset as its own stream. Never touches validation/test.
  """
  images, labels = splits.train.images, splits.train.labels.astype(np.int32)
  if label_use != "subset":
    return labels, None
  chosen = labelled_indices(labels, num_labels, label_seed, splits.num_classes)
  log(f"labels: {len(chosen)} of {len(labels)} training images labelled "
      f"(class-balanced, --label_seed={label_seed})")
  if supervised_phase:
    return labels, (images[chosen], labels[chosen])
  masked = np.full_like(labels, -1)
  masked[chosen] = labels[chosen]
  return masked, None
