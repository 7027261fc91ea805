"""A run's working directory: its files beside the checkpoints.

`config.json` (the resolved config, written when a run starts or resumes), `metrics.jsonl`
(one JSON record per summary or validation), the writability probe, and the resume
check: a rerun in the same workdir continues its checkpoints only under settings that
differ in the `runtime` group alone.
"""

import contextlib
import fcntl
import json
import os
import tempfile

from aae_tf import atomic
from aae_tf import checkpoints
from aae_tf import config as config_lib
from aae_tf import errors
from aae_tf import report
from aae_tf import validate

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
def _in_use(workdir: str) -> errors.ConfigError:
  return errors.ConfigError(
      f"--workdir={workdir} is in use by another aae-train run; wait for it to finish or "
      "stop it, or use another --workdir (one workdir holds one run)")


@contextlib.contextmanager
def _held(workdir: str, mode: int):
  """The kernel's flock on the directory itself, in `mode`, for the block; ConfigError
  if a training run holds it. Nothing in the workdir changes for it, and a process that
  dies, even by kill -9, releases it."""
  handle = os.open(workdir, os.O_RDONLY)
  try:
    try:
      fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
      raise _in_use(workdir) from None
    yield
  finally:
    os.close(handle)   # releases the lock


def exclusive(workdir: str):
  """Holds the workdir for a training run's life: a second run (or an export, an
  evaluation of the workdir) is refused while it runs."""
  return _held(workdir, fcntl.LOCK_EX)


def ensure_not_training(workdir: str) -> None:
  """Refuses (ConfigError) while a training run holds `workdir`: its checkpoints and
  config are being rewritten under the reader."""
  if os.path.isdir(workdir):
    with _held(workdir, fcntl.LOCK_SH):
      pass


def load_config(workdir: str) -> config_lib.Config:
  """The config a run in `workdir` was trained with."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise errors.ExportError(
        f"{path} not found: is {workdir!r} the --workdir of a training run?")
  with open(path) as f:
    return config_lib.Config.from_json(f.read())


def probe_writable(directory: str) -> None:
  """Makes `directory` if needed and writes and removes a file there; OSError if not."""
  os.makedirs(directory, exist_ok=True)
  # A per-process name: workers sharing a workdir must not delete each other's probe.
  handle, probe = tempfile.mkstemp(prefix=".write_test_", dir=directory)
  os.close(handle)
  os.remove(probe)


def check_writable(directory: str, flag: str, keep: bool = False) -> None:
  """ConfigError naming `flag` now, not after training, if `directory` cannot be written.
  Directories made for the probe are removed again unless `keep`."""
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise config_lib.ConfigError(f"{flag}={directory} is a file, not a directory; choose "
                                 "another path")
  missing, parent = [], os.path.abspath(directory)
  while not os.path.exists(parent):
    missing.append(parent)
    parent = os.path.dirname(parent)
  try:
    probe_writable(directory)
  except OSError as e:
    raise config_lib.ConfigError(
        f"{flag}={directory} is not writable ({e.strerror}); choose another directory") from e
  finally:
    for made in ([] if keep else missing):   # deepest first
      try:
        os.rmdir(made)
      except OSError:
        pass


def check_workdir(workdir: str) -> None:
  """Creates the workdir, or ConfigError if it cannot be written."""
  check_writable(workdir, "--workdir", keep=True)


def check_resume(config, workdir: str) -> None:
  """Refuses to continue a workdir's checkpoints under settings they were not trained with."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path) or not checkpoints.rolling_newest_first(workdir):
    return  # nothing trained yet: a new run
  try:
    previous = load_config(workdir)
  except (ValueError, TypeError) as e:
    raise config_lib.ConfigError(
        f"{path} cannot be read ({e}); use a new --workdir (the checkpoints beside it are "
        "left as they are)") from None
  validate.check_resume(previous, config, workdir, path)


def write_config(config, workdir: str) -> None:
  try:
    atomic.write_text(os.path.join(workdir, CONFIG_FILE), config.to_json())
  except OSError as e:
    raise checkpoints.write_failed(CONFIG_FILE, workdir, e) from None


def append_metrics(workdir: str, line: dict) -> None:
  """Appends one record with a single write: a crash cannot leave half of it (short of
  a full disk, which `report.metrics_records` and `_forget_metrics_after` tolerate)."""
  payload = (json.dumps(line) + "\n").encode()
  try:
    handle = os.open(os.path.join(workdir, METRICS_FILE),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
      os.write(handle, payload)
    finally:
      os.close(handle)
  except OSError as e:
    raise checkpoints.write_failed("metrics.jsonl", workdir, e) from None


def forget_metrics_after(workdir: str, step: int, log) -> None:
  """Drops metrics.jsonl records past `step`, the step a resume restarts from.

  They describe training the resume will redo (a run killed or stopped by a failed save
  after logging them), and would otherwise appear twice. A damaged line goes too.
  """
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = [line for line in f.read().splitlines() if line.strip()]
  kept = [record for record in report.parse_metrics_lines(lines, path)
          if record["step"] <= step]
  if len(kept) == len(lines):
    return
  atomic.write_text(path, "".join(json.dumps(record) + "\n" for record in kept))
  log(f"metrics.jsonl: dropped {len(lines) - len(kept)} line(s) past step {step}, the "
      "step this run resumes from")
