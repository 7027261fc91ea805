"""`run(config, workdir)`: train one AAE with checkpoints, summaries, figures, export.

Entry point: `python -m aae_tf.train --preset=... --workdir=...` (flags in
`aae_tf.main`). Rerunning the same command resumes from the newest checkpoint: the
global step restores the weights, optimizer slots, data position and random draws,
because the data order and every random number are keyed by the step.

This module wires the pieces together; each has its own module: the checks
(`validate`), the data (`data`, `input_pipeline`), the step (`trainer`), the loop and its
actions (`controller`), the workdir's files (`workdir`), checkpoints (`checkpoints`),
figures (`training_figures`) and the export (`export`).
"""

if __name__ == "__main__":  # the program itself: TensorFlow's start-up lines held back
  from aae_tf import startup
  startup.stop_quietly_on_interrupt()
  startup.import_tensorflow_quietly()

import contextlib
import math
import os
from typing import Callable, Dict, Optional

import tensorflow as tf
from absl import logging

from aae_tf import checkpoints
from aae_tf import config as config_lib
from aae_tf import controller
from aae_tf import data
from aae_tf import distribute
from aae_tf import export
from aae_tf import input_pipeline
from aae_tf import precision
from aae_tf import selection
from aae_tf import trainer as trainer_lib
from aae_tf import training_figures
from aae_tf import validate
from aae_tf import workdir as workdir_lib


def _make_validation(trainer, splits, drawer, checkpointer, workdir, writer, every, log):
  """The validation action, or None where it cannot run (and a line saying why)."""
  if not every or drawer is None:  # not asked for, or not the chief (which saves the best)
    return None
  off = validate.validation_off_reason(trainer.config, splits)
  if off:
    log(f"validation: off {off}; export takes the latest checkpoint")
    return None
  validator = selection.Validator(drawer.encoder, drawer.decoder, trainer.spec,
                                  trainer.config, splits, splits.num_classes, log)
  best = selection.BestCheckpoint(checkpointer.checkpoint, workdir, validator.metric)
  return controller.Validation(every, validator, best, workdir, writer, log)


def _check_export_is_free(config, total_steps: int) -> None:
  """Fails now, not after hours of training, if the end-of-run export would collide."""
  for target in export.model_dirs(config.runtime.export_dir, total_steps).values():
    if os.path.exists(target):
      raise export.ExportError(
          f"{target} already exists and this run would export version {total_steps} "
          "there; choose another --export_dir or remove it (exports are never overwritten)")


def _actions(config, trainer, splits, checkpointer, drawer, writer, workdir, stop,
             steps_per_epoch, total_steps, chief, log):
  """The loop's actions, in the order they run after each loop: the log line,
  summaries, the save, validation (which may keep the saved weights as the best),
  figures, then a stop signal's save."""
  runtime, batch = config.runtime, config.training.batch_size
  validation = _make_validation(
      trainer, splits, drawer, checkpointer, workdir, writer,
      controller.epochs_to_steps(runtime.validate_every_epochs, steps_per_epoch), log)
  return [
      controller.Progress(total_steps, batch, log),
      controller.Summaries(runtime.summary_every_steps, writer, workdir, batch, chief),
      controller.SaveCheckpoint(runtime.checkpoint_every_steps or steps_per_epoch,
                                checkpointer),
      *([validation] if validation else []),
      controller.DrawFigures(
          controller.epochs_to_steps(runtime.figures_every_epochs, steps_per_epoch),
          drawer, writer, workdir, log),
      controller.StopOnSignal(stop, checkpointer, writer),
  ]


def run(config: config_lib.Config, workdir: str,
        strategy: Optional[tf.distribute.Strategy] = None,
        log: Callable[[str], None] = logging.info) -> Dict[str, float]:
  """Trains (or resumes) the run in `workdir`; returns the last loop's mean metrics."""
  if config.runtime.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = strategy or distribute.make_strategy(config.runtime.strategy,
                                                  config.runtime.cpu_replicas)
  validate.validate(config, num_replicas=strategy.num_replicas_in_sync)
  chief = distribute.is_chief(strategy)

  splits = data.load_for_config(config, logger=log)
  config = validate.fit_to_data(config, splits)
  log("precision: %s (%s)" % precision.resolve(config.runtime.precision))
  # Only now, with the flags and the data checked, does the run create its workdir.
  workdir_lib.check_workdir(workdir)
  with (workdir_lib.exclusive(workdir) if chief else contextlib.nullcontext()):
    return _run_locked(config, workdir, strategy, splits, chief, log)


def _run_locked(config, workdir, strategy, splits, chief, log) -> Dict[str, float]:
  """`run` once the workdir is this run's alone (the chief holds its lock)."""
  # Under the lock: a run that finished in between changed what this one resumes.
  workdir_lib.check_resume(config, workdir)
  steps_per_epoch = len(splits.train.labels) // config.training.batch_size
  total_steps = config.runtime.train_steps or int(
      math.ceil(config.runtime.epochs * steps_per_epoch))

  trainer = trainer_lib.Trainer(config, strategy, steps_per_epoch)
  task_id = getattr(getattr(strategy, "cluster_resolver", None), "task_id", 0) or 0
  checkpointer = checkpoints.Checkpointer(trainer, workdir, chief,
                                          config.runtime.keep_checkpoints, task_id, log)
  restored = checkpointer.restore()
  step = int(trainer.global_step.numpy())
  if chief:  # only now: a refused or failed resume leaves the run's config.json as it was
    workdir_lib.write_config(config, workdir)
    workdir_lib.forget_metrics_after(workdir, step, log)
  log(f"resumed from {restored} at step {step}" if restored else
      f"starting a new run: {total_steps} steps of {config.training.batch_size} "
      f"({total_steps / steps_per_epoch:.2f} epochs) on "
      f"{strategy.num_replicas_in_sync} replica(s)")
  if chief and config.runtime.export_dir and step < total_steps:
    _check_export_is_free(config, total_steps)
    workdir_lib.check_writable(config.runtime.export_dir, "--export_dir")

  train_labels, labelled = data.training_labels(
      splits, trainer.spec.labels, trainer.spec.supervised_phase, config.data.num_labels,
      config.data.label_seed, log)
  dataset = input_pipeline.distributed_train_dataset(
      strategy, splits.train.images, train_labels, labelled=labelled,
      global_batch_size=config.training.batch_size, seed=config.training.seed,
      start_step=step)
  writer = (tf.summary.create_file_writer(os.path.join(workdir, "tensorboard")) if chief
            else tf.summary.create_noop_writer())
  drawer = training_figures.TrainingFigures(trainer, splits) if chief else None
  with controller.StopSignals() as stop:
    actions = _actions(config, trainer, splits, checkpointer, drawer, writer, workdir, stop,
                       steps_per_epoch, total_steps, chief, log)
    metrics = controller.train_loop(trainer, iter(dataset), step, total_steps,
                                    config.runtime.steps_per_loop, actions)
  step = int(trainer.global_step.numpy())

  if chief:
    try:
      final = drawer.write(workdir, step, "final")
    except OSError as e:   # a full disk at the end: the checkpoints are all there
      raise checkpoints.write_failed("the final figures", workdir, e) from None
    log(f"final figures: {final['samples']}, {final['latent']}")
    writer.flush()
    try:
      drawer.write_projector(os.path.join(workdir, "tensorboard"))
    except OSError as e:
      raise checkpoints.write_failed("the projector's files", workdir, e) from None
    log(f"projector: the test codes for TensorBoard (tensorboard --logdir {workdir})")
  if chief and config.runtime.export_dir:
    paths = export.export_from_workdir(workdir, config.runtime.export_dir,
                                       skip_existing=True)
    log(f"exported and verified: {paths['encoder']}, {paths['decoder']}")
  return metrics


if __name__ == "__main__":
  from aae_tf import main  # the flags live there: library code never reads FLAGS
  main.console_main()
