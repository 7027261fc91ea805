"""Where a run's checkpoints live, and which one a user means: best | latest | a step.

    <workdir>/checkpoints/ckpt-<step>.*          the rolling checkpoints (resume from here)
    <workdir>/checkpoints/best/ckpt-<step>.*     the best on the validation metric so far
    <workdir>/checkpoints/best/best.json         {step, metric, value, higher_is_better}
"""

import glob
import json
import os
import shutil
from typing import Callable, List, Optional, Tuple

import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best"
BEST_RECORD = "best.json"
CHOICES_HELP = "best (the best validation score; latest if none was kept) | latest | a step"


# What reading a damaged checkpoint raises: a truncated .data file gives IndexError
# ("Read less bytes than requested"), a damaged .index an OpError (DataLoss, ...).
UNREADABLE = (tf.errors.OpError, IndexError, EOFError, OSError)


class CheckpointChoiceError(ValueError):
  """The requested checkpoint does not exist; the message lists what does."""


class CheckpointUnreadableError(RuntimeError):
  """Every candidate checkpoint is damaged; the files are left as they are."""


def directory(workdir: str) -> str:
  return os.path.join(workdir, CHECKPOINT_DIR)


def best_directory(workdir: str) -> str:
  return os.path.join(directory(workdir), BEST_DIR)


def read_best(workdir: str) -> Optional[dict]:
  """The best checkpoint's record, or None when the run kept none (or it is unreadable)."""
  path = os.path.join(best_directory(workdir), BEST_RECORD)
  try:
    with open(path) as f:
      record = json.load(f)
  except (OSError, ValueError):
    return None
  return record if isinstance(record, dict) and "step" in record else None


def _prefixes_in(folder: str) -> dict:
  """{step: prefix} of the checkpoints whose `ckpt-<step>.index` is in `folder`."""
  found = {}
  for index in glob.glob(os.path.join(folder, "ckpt-*.index")):
    step = os.path.basename(index)[len("ckpt-"):-len(".index")]
    if step.isdigit():
      found[int(step)] = index[:-len(".index")]
  return found


def available(workdir: str) -> dict:
  """{step: checkpoint prefix} of every checkpoint of the run, rolling and best."""
  return {**_prefixes_in(best_directory(workdir)), **_prefixes_in(directory(workdir))}


def rolling_newest_first(workdir: str) -> List[str]:
  """The rolling checkpoints' prefixes, newest step first — also when the `checkpoint`
  index file is missing or names fewer than the files present."""
  found = _prefixes_in(directory(workdir))
  return [found[step] for step in sorted(found, reverse=True)]


def restore_newest_readable(restore: Callable[[str], None], prefixes: List[str],
                            warn: Callable[[str], None]) -> Optional[str]:
  """Calls `restore(prefix)` on each prefix in turn until one reads; returns it.

  A damaged checkpoint costs a warning naming it, and the next (older) one is tried;
  other errors (a checkpoint of other networks) propagate. None if `prefixes` is empty.
  """
  for i, prefix in enumerate(prefixes):
    try:
      restore(prefix)
    except UNREADABLE as e:
      detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
      warn(f"warning: {prefix} cannot be read ({detail}); "
           + ("trying the next older checkpoint" if i + 1 < len(prefixes) else
              "no older checkpoint is left"))
      continue
    return prefix
  if prefixes:
    raise CheckpointUnreadableError(
        f"no readable checkpoint in {os.path.dirname(prefixes[0])} ({len(prefixes)} "
        "damaged); they are left as they are: use a new --workdir")
  return None


def resolve(workdir: str, choice: str = "best") -> Tuple[str, dict]:
  """(checkpoint prefix, what was chosen) for `choice` = best | latest | <step>.

  The description goes into the export's `aae_config.json`: {choice, step[, metric,
  value]}. "best" falls back to the latest checkpoint when no validation ran.
  """
  choice = str(choice).strip().lower()
  found = available(workdir)
  if not found:
    raise CheckpointChoiceError(f"no checkpoint in {directory(workdir)}: train first")
  if choice == "best":
    record = read_best(workdir)
    if record and record["step"] in found:
      # The best directory's own copy first: the rolling one of the same step may be
      # the damaged one (the caller falls back to the rolling copies in turn).
      kept = _prefixes_in(best_directory(workdir)).get(record["step"], found[record["step"]])
      return kept, {
          "choice": "best", "step": int(record["step"]), "metric": record.get("metric"),
          "value": record.get("value")}
    choice = "latest"
  if choice == "latest":
    latest = tf.train.latest_checkpoint(directory(workdir))
    step = int(latest.rsplit("-", 1)[1]) if latest else max(found)
    return latest or found[step], {"choice": "latest", "step": step}
  if choice.isdigit() and int(choice) in found:
    return found[int(choice)], {"choice": "step", "step": int(choice)}
  raise CheckpointChoiceError(
      f"--checkpoint={choice}: no such checkpoint in {directory(workdir)}; choose "
      f"best, latest or one of the steps {sorted(found)}")


class CheckpointMismatchError(RuntimeError):
  """The workdir's checkpoint was written for other networks or optimizers."""


class CheckpointSaveError(RuntimeError):
  """A checkpoint (or the metrics log) could not be written: disk full, read-only, ..."""


def write_failed(what: str, directory: str, error: Exception) -> CheckpointSaveError:
  detail = getattr(error, "message", None) or getattr(error, "strerror", None) or str(error)
  return CheckpointSaveError(
      f"could not write {what} in {directory} ({type(error).__name__}: "
      f"{str(detail).splitlines()[0] if detail else 'no detail'}); the checkpoints already "
      "there are kept. Free space or fix the directory's permissions, then rerun the same "
      "command: it resumes from the newest checkpoint")


class Checkpointer:
  """CheckpointManager that also works on non-chief multi-worker tasks."""

  def __init__(self, trainer, workdir: str, chief: bool, keep: int, task_id: int, log):
    self.checkpoint = tf.train.Checkpoint(**trainer.checkpoint_items())
    self.workdir, self.log = workdir, log
    self.directory = directory(workdir)
    # Every worker must take part in a save (it is collective); only the chief's counts.
    save_dir = self.directory if chief else os.path.join(workdir, f".worker{task_id}_tmp")
    self.manager = tf.train.CheckpointManager(self.checkpoint, save_dir, max_to_keep=keep)
    self.chief, self.save_dir = chief, save_dir

  def restore(self) -> Optional[str]:
    if self.chief:  # a save killed mid-write leaves ckpt-N_temp/ behind; it is garbage
      for leftover in glob.glob(os.path.join(self.directory, "*_temp")):
        shutil.rmtree(leftover, ignore_errors=True)
    # Newest first from the files themselves: a missing `checkpoint` index must not
    # start a new run over checkpoints this run did not write, and a damaged newest
    # checkpoint must not hide an intact older one.
    candidates = rolling_newest_first(self.workdir)
    try:
      return restore_newest_readable(
          lambda prefix: self.checkpoint.restore(prefix).assert_existing_objects_matched(),
          candidates, self.log)
    except (AssertionError, ValueError) as e:   # missing objects / wrong shapes
      unmatched = str(e).split(":", 1)[0].split(" and name")[0]
      raise CheckpointMismatchError(
          f"{candidates[0]} does not fit this run's networks and optimizers ({unmatched}): "
          "it was written with other flags or by another aae_tf version. It is left as it "
          "is; use a new --workdir, or the flags and version that wrote it "
          "(config.json beside it).") from None

  def save(self, step: int) -> None:
    try:
      self.manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as e:
      raise write_failed(f"the checkpoint of step {step}", self.directory, e) from None
    if not self.chief:
      shutil.rmtree(self.save_dir, ignore_errors=True)
