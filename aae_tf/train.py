"""`run(config, workdir)`: train one AAE with checkpoints, summaries, figures, export.

Entry point: `python -m aae_tf.train --preset=... --workdir=...` (flags in
`aae_tf.main`). Rerunning the same command resumes from the newest checkpoint: the
global step restores the weights, optimizer slots, data position and random draws,
because the data order and every random number are keyed by the step.
"""

import glob
import json
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from typing import Callable, Dict, NamedTuple, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from aae_tf import atomic
from aae_tf import checkpoints
from aae_tf import config as config_lib
from aae_tf import data
from aae_tf import distribute
from aae_tf import export
from aae_tf import figures
from aae_tf import input_pipeline
from aae_tf import precision
from aae_tf import report
from aae_tf import selection
from aae_tf import trainer as trainer_lib
from aae_tf import variants

FIGURE_SEED = 1234  # fixed so successive sample grids show the same prior draws
METRICS_FILE = "metrics.jsonl"


class TrainingDivergedError(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


class CheckpointMismatchError(RuntimeError):
  """The workdir's checkpoint was written for other networks or optimizers."""


class CheckpointSaveError(RuntimeError):
  """A checkpoint (or the metrics log) could not be written: disk full, read-only, ..."""


def _write_failed(what: str, directory: str, error: Exception) -> CheckpointSaveError:
  detail = getattr(error, "message", None) or getattr(error, "strerror", None) or str(error)
  return CheckpointSaveError(
      f"could not write {what} in {directory} ({type(error).__name__}: "
      f"{str(detail).splitlines()[0] if detail else 'no detail'}); the checkpoints already "
      "there are kept. Free space or fix the directory's permissions, then rerun the same "
      "command: it resumes from the newest checkpoint")


class TrainingInterrupted(RuntimeError):
  """SIGTERM/SIGINT arrived; a checkpoint was saved. `exit_code` = 128 + signal."""

  def __init__(self, message: str, exit_code: int):
    super().__init__(message)
    self.exit_code = exit_code


class _StopSignals:
  """Turns SIGTERM/SIGINT (preemption, Ctrl-C) into a flag the loop checks.

  The loop finishes the steps in flight (at most `steps_per_loop`), saves, and stops:
  no checkpoint is cut in half, and at most one loop of work is redone on resume.
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in self.SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.received = signum

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


class _Loop(NamedTuple):
  """What one call of the compiled training loop did."""
  step: int                   # the global step after it
  steps: int                  # how many steps it ran
  seconds: float
  metrics: Dict[str, float]   # the mean of each metric over those steps


class _Action:
  """Something the loop does every `every` steps and after the last one (Orbit's
  actions), or after every loop (`each_loop`): `observe` sees every loop, `__call__`
  runs when due. Only `every` cuts loops short; `every` = 0 is never due by steps."""

  every = 0
  each_loop = False

  def observe(self, loop: _Loop) -> None:
    del loop

  def __call__(self, loop: _Loop) -> None:
    raise NotImplementedError


def _epochs_to_steps(epochs: float, steps_per_epoch: int) -> int:
  return max(1, int(round(epochs * steps_per_epoch))) if epochs > 0 else 0


def _loop_length(step: int, total: int, per_loop: int, actions: Sequence[_Action]) -> int:
  """Steps until the next stop: the end, `per_loop` steps, or the next due action."""
  stops = [total, step + per_loop] + [
      (step // action.every + 1) * action.every for action in actions if action.every]
  return min(stops) - step


class _Progress(_Action):
  """One log line per loop: losses, steps/s, images/s, ETA."""

  each_loop = True

  def __init__(self, total_steps: int, batch_size: int, log: Callable[[str], None]):
    self.total, self.batch, self.log = total_steps, batch_size, log

  def __call__(self, loop: _Loop) -> None:
    rate = loop.steps / max(loop.seconds, 1e-9)
    eta = (self.total - loop.step) / rate
    losses = " ".join(f"{k.replace('_loss', '')}={v:.4g}" for k, v in loop.metrics.items()
                      if k.endswith("_loss"))
    self.log(f"step {loop.step}/{self.total} {losses} | {rate:.1f} steps/s "
             f"{rate * self.batch:,.0f} img/s | ETA {_duration(eta)}")


class _Summaries(_Action):
  """TensorBoard scalars, and (chief) a metrics.jsonl record with the training time and
  images/s since the previous record: summed over the file, those give a run's training
  time across resumes (evaluate.py reports it)."""

  def __init__(self, every: int, writer, workdir: str, batch_size: int, chief: bool):
    self.every, self.writer, self.workdir = every, writer, workdir
    self.batch, self.chief = batch_size, chief
    self.seconds, self.steps = 0.0, 0

  def observe(self, loop: _Loop) -> None:
    self.seconds, self.steps = self.seconds + loop.seconds, self.steps + loop.steps

  def __call__(self, loop: _Loop) -> None:
    with self.writer.as_default(step=loop.step):
      for name, value in loop.metrics.items():
        tf.summary.scalar(name, value)
      tf.summary.scalar("images_per_second", loop.steps * self.batch / loop.seconds)
    if self.chief:
      _append_metrics(self.workdir, dict(
          loop.metrics, step=loop.step, train_seconds=round(self.seconds, 6),
          images_per_second=self.steps * self.batch / self.seconds))
    self.seconds, self.steps = 0.0, 0


class _SaveCheckpoint(_Action):
  def __init__(self, every: int, checkpointer):
    self.every, self.checkpointer = every, checkpointer

  def __call__(self, loop: _Loop) -> None:
    self.checkpointer.save(loop.step)


class _DrawFigures(_Action):
  """The sample grid and latent scatter into figures/, and the grid to TensorBoard.

  On every worker (so all cut their loops at the same steps), drawing on the chief only
  (`drawer` None elsewhere)."""

  def __init__(self, every: int, drawer, writer, workdir: str, log):
    self.every, self.drawer, self.writer, self.log = every, drawer, writer, log
    self.directory = os.path.join(workdir, "figures")

  def __call__(self, loop: _Loop) -> None:
    if self.drawer is None:
      return
    paths = self.drawer.write(self.directory, loop.step, f"{loop.step:08d}")
    with self.writer.as_default(step=loop.step):
      grid = np.asarray(paths["grid"])
      tf.summary.image("samples", (grid if grid.ndim == 3 else grid[..., None])[None])
    self.log(f"figures: {paths['samples']}, {paths['latent']}")


class _StopOnSignal(_Action):
  """After every loop: if SIGTERM/SIGINT arrived, save and stop (TrainingInterrupted)."""

  each_loop = True

  def __init__(self, stop, checkpointer, writer):
    self.stop, self.checkpointer, self.writer = stop, checkpointer, writer

  def __call__(self, loop: _Loop) -> None:
    if self.stop.received is None:
      return
    self.checkpointer.save(loop.step)
    self.writer.flush()
    name = signal.Signals(self.stop.received).name
    raise TrainingInterrupted(
        f"{name} received: saved a checkpoint at step {loop.step} in "
        f"{self.checkpointer.directory}; rerun the same command to resume",
        128 + self.stop.received)


def _duration(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s"


def _check_workdir(workdir: str) -> None:
  try:
    os.makedirs(workdir, exist_ok=True)
    # A per-process name: workers sharing a workdir must not delete each other's probe.
    handle, probe = tempfile.mkstemp(prefix=".write_test_", dir=workdir)
    os.close(handle)
    os.remove(probe)
  except OSError as e:
    raise config_lib.ConfigError(
        f"--workdir={workdir} is not writable ({e.strerror}); choose another directory") from e


def _check_resume(config, workdir: str) -> None:
  """Refuses to continue a workdir's checkpoints under settings they were not trained with."""
  path = os.path.join(workdir, export.CONFIG_FILE)
  if not os.path.exists(path) or not checkpoints.rolling_newest_first(workdir):
    return  # nothing trained yet: a new run
  try:
    previous = export.load_config(workdir)
  except (ValueError, TypeError) as e:
    raise config_lib.ConfigError(
        f"{path} cannot be read ({e}); use a new --workdir (the checkpoints beside it are "
        "left as they are)") from None
  conflicts = config_lib.resume_conflicts(previous, config)
  if conflicts:
    changes = ", ".join(f"--{name}: {old!r} -> {new!r}" for name, old, new in conflicts)
    raise config_lib.ConfigError(
        f"--workdir={workdir} holds a run trained with other settings ({changes}); rerun "
        f"with its settings ({path}) or use a new --workdir. A resume may change only "
        "the length of training, the export dir, data location, logging, checkpoint, "
        "figure and validation cadence, and runtime settings")


def _fit_to_data(config, splits):
  """The config with the data's shape, source and validation size filled in; flag values
  that only the data can refute are refused here, before anything is built."""
  spec = variants.spec_for(config)
  if spec.labels != "none":
    if not splits.num_classes:
      raise config_lib.ConfigError(
          f"--variant={config.variant} trains on labels, but {splits.source} has none; use "
          "labelled data (class subfolders, y_train, a ClassLabel feature) or an "
          "unsupervised preset")
    if config.num_categories != splits.num_classes:
      raise config_lib.ConfigError(
          f"--variant={config.variant} uses the data's labels and the data has "
          f"{splits.num_classes} classes: set --num_categories={splits.num_classes} "
          f"(got {config.num_categories})")
  if config.architecture == "conv" and len(splits.shape) != 3:
    raise config_lib.ConfigError(
        f"--architecture=conv needs images [H, W, C]; {splits.source} holds vectors of "
        f"{splits.shape[0]} values: use --architecture=mlp")
  config = config.replace(data_shape=splits.shape, data_source=splits.source,
                          validation_size=len(splits.validation.labels))
  _check_fits_data(config, splits)
  return config


def _check_fits_data(config, splits) -> None:
  train_size = len(splits.train.labels)
  if config.batch_size > train_size:
    raise config_lib.ConfigError(
        f"--batch_size={config.batch_size} is larger than the training split "
        f"({train_size} images after --validation_size={config.validation_size}); use a "
        "smaller batch or more data")
  if variants.spec_for(config).labels == "subset" and config.num_labels > 0:
    try:
      data.labelled_indices(splits.train.labels, config.num_labels, config.label_seed,
                            splits.num_classes)
    except ValueError as e:
      raise config_lib.ConfigError(f"--num_labels={config.num_labels}: {e}") from None


def _write_config(config, workdir: str) -> None:
  try:
    atomic.write_text(os.path.join(workdir, export.CONFIG_FILE), config.to_json())
  except OSError as e:
    raise _write_failed(export.CONFIG_FILE, workdir, e) from None


class _Figures:
  """Sample grid and latent scatter, drawn through the same modules the export serves."""

  def __init__(self, trainer, splits: data.DataSplits):
    spec, config = trainer.spec, trainer.config
    self.spec, self.splits = spec, splits
    self.decoder = export.DecoderModule(trainer.networks.decoder, spec, config)
    self.encoder = export.EncoderModule(trainer.networks.encoder, trainer.networks.decoder,
                                        spec)
    self.rows = min(config.num_categories, 30) if spec.label_aware else 10

  def samples(self) -> np.ndarray:
    """rows x 10 images; the same draws at every step, so grids are comparable.

    Label-aware variants: one row per class / cluster. Where the decoder reads the
    label, each column keeps one style z across the rows (the paper's style grid).
    """
    if not self.spec.label_aware:
      return self.decoder.sample(tf.constant(100),
                                 tf.constant(FIGURE_SEED, tf.int64))["images"].numpy()
    return export.class_grid(lambda name, **inputs: getattr(self.decoder, name)(**inputs),
                             self.spec, self.rows, FIGURE_SEED)

  def write(self, out_dir: str, step: int, tag: str) -> Dict[str, object]:
    """Writes samples_<tag>.png and latent_<tag>.png; returns paths and the grid."""
    samples = self.samples()
    codes = np.concatenate([
        self.encoder.encode(images)["z"].numpy() for images, _ in
        input_pipeline.eval_dataset(self.splits.test.images, self.splits.test.labels)])
    paths = {"samples": os.path.join(out_dir, f"samples_{tag}.png"),
             "latent": os.path.join(out_dir, f"latent_{tag}.png")}
    grid = figures.save_image_grid(samples, paths["samples"], rows=self.rows, cols=10)
    figures.save_scatter(codes, self.splits.test.labels, paths["latent"],
                         title=f"test codes at step {step}",
                         class_names=self.splits.class_names or None)
    return dict(paths, grid=grid)


def _training_labels(spec, config, splits, log):
  """(labels for the main stream, labelled subset for a supervised phase or None).

  Label-conditioned training sees -1 ("unlabelled") outside the labelled subset; a
  supervised phase gets the subset as its own stream. Never touches validation/test.
  """
  images, labels = splits.train.images, splits.train.labels.astype(np.int32)
  if spec.labels != "subset":
    return labels, None
  chosen = data.labelled_indices(labels, config.num_labels, config.label_seed,
                                 splits.num_classes)
  log(f"labels: {len(chosen)} of {len(labels)} training images labelled "
      f"(class-balanced, --label_seed={config.label_seed})")
  if spec.supervised_phase:
    return labels, (images[chosen], labels[chosen])
  masked = np.full_like(labels, -1)
  masked[chosen] = labels[chosen]
  return masked, None


class _Checkpointer:
  """CheckpointManager that also works on non-chief multi-worker tasks."""

  def __init__(self, trainer, workdir: str, chief: bool, keep: int, task_id: int, log):
    self.checkpoint = tf.train.Checkpoint(**trainer.checkpoint_items())
    self.workdir, self.log = workdir, log
    self.directory = checkpoints.directory(workdir)
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
    candidates = checkpoints.rolling_newest_first(self.workdir)
    try:
      return checkpoints.restore_newest_readable(
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
      raise _write_failed(f"the checkpoint of step {step}", self.directory, e) from None
    if not self.chief:
      shutil.rmtree(self.save_dir, ignore_errors=True)


class _Validation(_Action):
  """Scores the model on the validation split on schedule; keeps the best checkpoint."""

  def __init__(self, every: int, validator: selection.Validator,
               best: selection.BestCheckpoint, workdir: str, writer, log):
    self.every, self.validator, self.best, self.workdir = every, validator, best, workdir
    self.writer, self.log = writer, log

  def __call__(self, loop: _Loop) -> None:
    step = loop.step
    start = time.perf_counter()
    value = self.validator()
    name = self.validator.metric.name
    try:
      improved = self.best.offer(step, value)
    except (OSError, tf.errors.OpError) as e:
      raise _write_failed(f"the best checkpoint of step {step}", self.best.directory,
                          e) from None
    with self.writer.as_default(step=step):
      tf.summary.scalar(name, value)
    _append_metrics(self.workdir, {name: value, "step": step})
    self.log(f"{name}={value:.4g} at step {step} ({time.perf_counter() - start:.1f} s)"
             + (" — new best, saved" if improved else
                f" — best {self.best.value:.4g} at step {self.best.record['step']}"))


def _append_metrics(workdir: str, line: dict) -> None:
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
    raise _write_failed("metrics.jsonl", workdir, e) from None


def _forget_metrics_after(workdir: str, step: int, log) -> None:
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


def _make_validation(trainer, splits, drawer, checkpointer, workdir, writer, every, log):
  """The validation action, or None where it cannot run (and a line saying why)."""
  config = trainer.config
  if not every or drawer is None:
    return None
  if config.strategy == "multi_worker":
    log("validation: off under multi_worker (a best-checkpoint save would have to be "
        "collective); export takes the latest checkpoint")
    return None
  if len(splits.validation.labels) == 0:
    log("validation: off (--validation_size=0); export takes the latest checkpoint")
    return None
  validator = selection.Validator(drawer.encoder, drawer.decoder, trainer.spec, config,
                                  splits, splits.num_classes, log)
  best = selection.BestCheckpoint(checkpointer.checkpoint, workdir, validator.metric)
  return _Validation(every, validator, best, workdir, writer, log)


def _run_loop(trainer, iterator, step: int, steps: int) -> _Loop:
  """Runs `steps` compiled steps; a non-finite loss or weight is TrainingDivergedError
  (raised before anything is saved, so the newest checkpoint stays the last good one)."""
  start = time.perf_counter()
  result = trainer.train_loop(iterator, tf.constant(steps, tf.int32))
  metrics = {name: float(value) for name, value in result.items()}
  seconds = time.perf_counter() - start
  bad = {name: value for name, value in metrics.items() if not math.isfinite(value)}
  if not bad and not bool(trainer.weights_are_finite()):
    bad = {"weights": "non-finite"}
  if bad:
    raise TrainingDivergedError(
        f"{', '.join(f'{k}={v}' for k, v in bad.items())} in steps {step + 1}-"
        f"{step + steps}; nothing was saved, the newest checkpoint is still the last good "
        "one. Lower the learning rates or set --gradient_clip_norm, then rerun.")
  return _Loop(step + steps, steps, seconds, metrics)


def _train_loop(trainer, iterator, step: int, total: int, per_loop: int,
                actions: Sequence[_Action]) -> Dict[str, float]:
  """Runs loops of compiled steps until `total`; after each, every action observes it
  and the due ones run, in order. Returns the last loop's metrics."""
  metrics: Dict[str, float] = {}
  while step < total:
    loop = _run_loop(trainer, iterator, step, _loop_length(step, total, per_loop, actions))
    step, metrics = loop.step, loop.metrics
    for action in actions:
      action.observe(loop)
      if action.each_loop or (action.every and (step % action.every == 0 or step == total)):
        action(loop)
  return metrics


def run(config: config_lib.Config, workdir: str,
        strategy: Optional[tf.distribute.Strategy] = None,
        log: Callable[[str], None] = logging.info) -> Dict[str, float]:
  """Trains (or resumes) the run in `workdir`; returns the last loop's mean metrics."""
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = strategy or distribute.make_strategy(config.strategy, config.cpu_replicas)
  config_lib.validate(config, num_replicas=strategy.num_replicas_in_sync)
  chief = distribute.is_chief(strategy)

  splits = data.load_for_config(config, logger=log)
  config = _fit_to_data(config, splits)
  _check_resume(config, workdir)
  log("precision: %s (%s)" % precision.resolve(config.precision))
  # Only now, with every check passed, does the run create its workdir.
  _check_workdir(workdir)
  steps_per_epoch = len(splits.train.labels) // config.batch_size
  total_steps = config.train_steps or int(math.ceil(config.epochs * steps_per_epoch))

  trainer = trainer_lib.Trainer(config, strategy, steps_per_epoch)
  task_id = getattr(getattr(strategy, "cluster_resolver", None), "task_id", 0) or 0
  checkpointer = _Checkpointer(trainer, workdir, chief, config.keep_checkpoints, task_id, log)
  restored = checkpointer.restore()
  step = int(trainer.global_step.numpy())
  if chief:  # only now: a refused or failed resume leaves the run's config.json as it was
    _write_config(config, workdir)
    _forget_metrics_after(workdir, step, log)
  log(f"resumed from {restored} at step {step}" if restored else
      f"starting a new run: {total_steps} steps of {config.batch_size} "
      f"({total_steps / steps_per_epoch:.2f} epochs) on "
      f"{strategy.num_replicas_in_sync} replica(s)")

  if chief and config.export_dir and step < total_steps:
    # Fail now, not after hours of training: the end-of-run export would collide.
    for target in export.model_dirs(config.export_dir, total_steps).values():
      if os.path.exists(target):
        raise export.ExportError(
            f"{target} already exists and this run would export version {total_steps} "
            "there; choose another --export_dir or remove it (exports are never overwritten)")
  train_labels, labelled = _training_labels(trainer.spec, config, splits, log)
  dataset = input_pipeline.distributed_train_dataset(
      strategy, splits.train.images, train_labels, labelled=labelled,
      global_batch_size=config.batch_size, seed=config.seed, start_step=step)
  iterator = iter(dataset)
  writer = (tf.summary.create_file_writer(os.path.join(workdir, "tensorboard")) if chief
            else tf.summary.create_noop_writer())
  drawer = _Figures(trainer, splits) if chief else None
  validation = _make_validation(
      trainer, splits, drawer, checkpointer, workdir, writer,
      _epochs_to_steps(config.validate_every_epochs, steps_per_epoch), log)
  with _StopSignals() as stop:
    # In this order after each loop: the log line, summaries, the save, validation (which
    # may keep the saved weights as the best), figures, then a stop signal's save.
    actions = [
        _Progress(total_steps, config.batch_size, log),
        _Summaries(config.summary_every_steps, writer, workdir, config.batch_size, chief),
        _SaveCheckpoint(config.checkpoint_every_steps or steps_per_epoch, checkpointer),
        *([validation] if validation else []),
        _DrawFigures(_epochs_to_steps(config.figures_every_epochs, steps_per_epoch),
                     drawer, writer, workdir, log),
        _StopOnSignal(stop, checkpointer, writer),
    ]
    metrics = _train_loop(trainer, iterator, step, total_steps, config.steps_per_loop,
                          actions)
  step = int(trainer.global_step.numpy())

  if chief:
    final = drawer.write(workdir, step, "final")
    log(f"final figures: {final['samples']}, {final['latent']}")
    writer.flush()
  if chief and config.export_dir:
    paths = export.export_from_workdir(workdir, config.export_dir, skip_existing=True)
    log(f"exported and verified: {paths['encoder']}, {paths['decoder']}")
  return metrics


if __name__ == "__main__":
  from aae_tf import main  # the flags live there: library code never reads FLAGS
  main.console_main()
