"""Shared test utilities: synthetic MNIST, hermetic environments, subprocesses.

Nothing here touches the network, the user's `~/.cache/aae_tf` or
`~/tensorflow_datasets`: synthetic IDX files stand in for MNIST, and every
subprocess gets `AAE_TF_CACHE` and `TFDS_DATA_DIR` pointing into a temporary
directory.
"""

import atexit
import concurrent.futures
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from aae_tf.data import write_idx

#: Root of the repository (the parent of `tests/`).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Generous per-subprocess limit: a TF import is ~4 s here, a smoke run ~10 s.
DEFAULT_TIMEOUT_S = 180.0

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def load_script(relative_path: str, module_name: str):
  """Imports a script that is not part of the package (export/client.py, scripts/*.py)."""
  spec = importlib.util.spec_from_file_location(
      module_name, os.path.join(REPO_ROOT, relative_path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def synthetic_mnist_arrays(num: int, seed: int = 0):
  """`num` uint8 images [num, 28, 28] with class structure, and balanced labels.

  Each class k draws a bright bar whose position and orientation depend on k (a
  crude "digit"), jittered by a pixel and overlaid with faint noise, so an
  autoencoder has something to learn and the classes are separable.
  """
  rng = np.random.default_rng(seed)
  labels = np.arange(num) % 10
  rng.shuffle(labels)
  images = rng.integers(0, 40, size=(num, 28, 28)).astype(np.int32)
  for i, label in enumerate(labels):
    offset = 4 + 2 * int(label) + int(rng.integers(-1, 2))
    if label % 2:
      images[i, 4:24, offset:offset + 3] += 200   # vertical bar
    else:
      images[i, offset:offset + 3, 4:24] += 200   # horizontal bar
  return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_synthetic_mnist(directory, num_train: int = 120, num_test: int = 40,
                          seed: int = 0) -> str:
  """Writes the four MNIST IDX files (raw, standard names) into `directory`.

  Returns:
    `directory` as a string, ready for `--data_dir`.
  """
  directory = os.fspath(directory)
  os.makedirs(directory, exist_ok=True)
  train_images, train_labels = synthetic_mnist_arrays(num_train, seed)
  test_images, test_labels = synthetic_mnist_arrays(num_test, seed + 1)
  arrays = {"train_images": train_images, "train_labels": train_labels,
            "test_images": test_images, "test_labels": test_labels}
  for role, name in IDX_NAMES.items():
    write_idx(os.path.join(directory, name), arrays[role])
  return directory


_SESSION_CACHE: Optional[str] = None


def _session_cache_dir() -> str:
  global _SESSION_CACHE
  if _SESSION_CACHE is None:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="aae_tf_test_cache_")
    atexit.register(shutil.rmtree, _SESSION_CACHE, True)
  return _SESSION_CACHE


def hermetic_env(cache_dir=None, **extra: str) -> Dict[str, str]:
  """`os.environ` plus quiet TF logs and caches that live in a temporary directory.

  Args:
    cache_dir: Directory for `AAE_TF_CACHE` (and an empty `TFDS_DATA_DIR` inside it);
      default: a per-session temporary directory removed at exit.
    **extra: More variables to set.
  """
  cache_dir = os.fspath(cache_dir) if cache_dir is not None else _session_cache_dir()
  env = dict(os.environ)
  env.update({
      "TF_CPP_MIN_LOG_LEVEL": "2",
      "AAE_TF_CACHE": os.path.join(cache_dir, "aae_tf_cache"),
      "TFDS_DATA_DIR": os.path.join(cache_dir, "no_tfds"),
      "PYTHONUNBUFFERED": "1",
  })
  env.update(extra)
  return env


def run_module(args: Sequence[str], cwd=None, env: Optional[Mapping[str, str]] = None,
               timeout: float = DEFAULT_TIMEOUT_S) -> subprocess.CompletedProcess:
  """Runs `sys.executable *args` and returns the CompletedProcess (text output).

  `env` defaults to `hermetic_env()`. Never raises on a non-zero exit: tests assert
  on `returncode`, `stdout` and `stderr` (see `describe`).
  """
  cmd = [sys.executable, *map(os.fspath, args)]
  return run_command(cmd, cwd=cwd, env=env, timeout=timeout)


def run_command(cmd: Sequence[str], cwd=None, env: Optional[Mapping[str, str]] = None,
                timeout: float = DEFAULT_TIMEOUT_S) -> subprocess.CompletedProcess:
  """Runs any command (e.g. `saved_model_cli`) like `run_module`."""
  return subprocess.run([os.fspath(c) for c in cmd], cwd=cwd,
                        env=dict(env) if env is not None else hermetic_env(),
                        capture_output=True, text=True, timeout=timeout,
                        stdin=subprocess.DEVNULL, check=False)


def run_parallel(commands: Mapping[str, dict], max_workers: int = 2
                 ) -> Dict[str, subprocess.CompletedProcess]:
  """Runs several `run_command(**kwargs)` calls concurrently; returns them by key.

  Each subprocess mostly spends its time importing TensorFlow, so two at a time on
  this 2-core machine roughly halve the wall time of a batch of independent runs.
  """
  with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers) as pool:
    futures = {key: pool.submit(run_command, **kwargs) for key, kwargs in commands.items()}
    return {key: future.result() for key, future in futures.items()}


def venv_script(name: str) -> str:
  """Path of a console script installed next to `sys.executable` (e.g. saved_model_cli)."""
  path = os.path.join(os.path.dirname(sys.executable), name)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{name} not found next to {sys.executable}")
  return path


def site_packages_dirs():
  """The interpreter's site-packages directories (purelib, platlib), deduplicated."""
  paths = sysconfig.get_paths()
  return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def describe(proc: subprocess.CompletedProcess, tail: int = 3000) -> str:
  """A failure message with the command, exit code and the end of both streams."""
  return (f"command: {' '.join(map(str, proc.args))}\nexit code: {proc.returncode}\n"
          f"--- stdout (tail) ---\n{proc.stdout[-tail:]}\n"
          f"--- stderr (tail) ---\n{proc.stderr[-tail:]}")


def tree_snapshot(root) -> Dict[str, tuple]:
  """{relative path: (size, mtime_ns, bytes)} of every file under `root`."""
  snapshot = {}
  root = os.fspath(root)
  for dirpath, _, filenames in os.walk(root):
    for name in filenames:
      path = os.path.join(dirpath, name)
      stat = os.stat(path)
      with open(path, "rb") as f:
        snapshot[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns, f.read())
  return snapshot
