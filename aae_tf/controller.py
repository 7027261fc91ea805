"""The training loop and what it does between loops (Orbit's controller and actions).

`train_loop` runs compiled loops of steps until the end; after each loop every action
observes it and the due ones run, in order: the log line, summaries, the checkpoint,
validation (which may keep the saved weights as the best), figures, then a stop
signal's save. SIGTERM/SIGINT become a flag the loop checks, so no checkpoint is cut in
half and at most one loop of work is redone on resume.
"""

import math
import os
import signal
import threading
import time
from typing import Callable, Dict, NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from aae_tf import checkpoints
from aae_tf import selection
from aae_tf import workdir as workdir_lib


class TrainingDivergedError(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(RuntimeError):
  """SIGTERM/SIGINT arrived; a checkpoint was saved. `exit_code` = 128 + signal."""

  def __init__(self, message: str, exit_code: int):
    super().__init__(message)
    self.exit_code = exit_code


class StopSignals:
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


class Loop(NamedTuple):
  """What one call of the compiled training loop did."""
  step: int                   # the global step after it
  steps: int                  # how many steps it ran
  seconds: float
  metrics: Dict[str, float]   # the mean of each metric over those steps


class Action:
  """Something the loop does every `every` steps and after the last one (Orbit's
  actions), or after every loop (`each_loop`): `observe` sees every loop, `__call__`
  runs when due. Only `every` cuts loops short; `every` = 0 is never due by steps."""

  every = 0
  each_loop = False

  def observe(self, loop: Loop) -> None:
    del loop

  def __call__(self, loop: Loop) -> None:
    raise NotImplementedError


def epochs_to_steps(epochs: float, steps_per_epoch: int) -> int:
  return max(1, int(round(epochs * steps_per_epoch))) if epochs > 0 else 0


def loop_length(step: int, total: int, per_loop: int, actions: Sequence[Action]) -> int:
  """Steps until the next stop: the end, `per_loop` steps, or the next due action."""
  stops = [total, step + per_loop] + [
      (step // action.every + 1) * action.every for action in actions if action.every]
  return min(stops) - step


class Progress(Action):
  """One log line per loop: losses, steps/s, images/s, ETA."""

  each_loop = True

  def __init__(self, total_steps: int, batch_size: int, log: Callable[[str], None]):
    self.total, self.batch, self.log = total_steps, batch_size, log

  def __call__(self, loop: Loop) -> None:
    rate = loop.steps / max(loop.seconds, 1e-9)
    eta = (self.total - loop.step) / rate
    losses = " ".join(f"{k.replace('_loss', '')}={v:.4g}" for k, v in loop.metrics.items()
                      if k.endswith("_loss"))
    self.log(f"step {loop.step}/{self.total} {losses} | {rate:.1f} steps/s "
             f"{rate * self.batch:,.0f} img/s | ETA {duration(eta)}")


class Summaries(Action):
  """TensorBoard scalars, and (chief) a metrics.jsonl record with the training time and
  images/s since the previous record: summed over the file, those give a run's training
  time across resumes (evaluate.py reports it)."""

  def __init__(self, every: int, writer, workdir: str, batch_size: int, chief: bool):
    self.every, self.writer, self.workdir = every, writer, workdir
    self.batch, self.chief = batch_size, chief
    self.seconds, self.steps = 0.0, 0

  def observe(self, loop: Loop) -> None:
    self.seconds, self.steps = self.seconds + loop.seconds, self.steps + loop.steps

  def __call__(self, loop: Loop) -> None:
    with self.writer.as_default(step=loop.step):
      for name, value in loop.metrics.items():
        tf.summary.scalar(name, value)
      tf.summary.scalar("images_per_second", loop.steps * self.batch / loop.seconds)
    if self.chief:
      workdir_lib.append_metrics(self.workdir, dict(
          loop.metrics, step=loop.step, train_seconds=round(self.seconds, 6),
          images_per_second=self.steps * self.batch / self.seconds))
    self.seconds, self.steps = 0.0, 0


class SaveCheckpoint(Action):
  def __init__(self, every: int, checkpointer):
    self.every, self.checkpointer = every, checkpointer

  def __call__(self, loop: Loop) -> None:
    self.checkpointer.save(loop.step)


class DrawFigures(Action):
  """The sample grid and latent scatter into figures/, and the grid to TensorBoard.

  On every worker (so all cut their loops at the same steps), drawing on the chief only
  (`drawer` None elsewhere)."""

  def __init__(self, every: int, drawer, writer, workdir: str, log):
    self.every, self.drawer, self.writer, self.log = every, drawer, writer, log
    self.directory = os.path.join(workdir, "figures")

  def __call__(self, loop: Loop) -> None:
    if self.drawer is None:
      return
    paths = self.drawer.write(self.directory, loop.step, f"{loop.step:08d}")
    with self.writer.as_default(step=loop.step):
      grid = np.asarray(paths["grid"])
      tf.summary.image("samples", (grid if grid.ndim == 3 else grid[..., None])[None])
    self.log(f"figures: {paths['samples']}, {paths['latent']}")


class StopOnSignal(Action):
  """After every loop: if SIGTERM/SIGINT arrived, save and stop (TrainingInterrupted)."""

  each_loop = True

  def __init__(self, stop, checkpointer, writer):
    self.stop, self.checkpointer, self.writer = stop, checkpointer, writer

  def __call__(self, loop: Loop) -> None:
    if self.stop.received is None:
      return
    self.checkpointer.save(loop.step)
    self.writer.flush()
    name = signal.Signals(self.stop.received).name
    raise TrainingInterrupted(
        f"{name} received: saved a checkpoint at step {loop.step} in "
        f"{self.checkpointer.directory}; rerun the same command to resume",
        128 + self.stop.received)


def duration(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s"


class Validation(Action):
  """Scores the model on the validation split on schedule; keeps the best checkpoint."""

  def __init__(self, every: int, validator: selection.Validator,
               best: selection.BestCheckpoint, workdir: str, writer, log):
    self.every, self.validator, self.best, self.workdir = every, validator, best, workdir
    self.writer, self.log = writer, log

  def __call__(self, loop: Loop) -> None:
    step = loop.step
    start = time.perf_counter()
    value = self.validator()
    name = self.validator.metric.name
    try:
      improved = self.best.offer(step, value)
    except (OSError, tf.errors.OpError) as e:
      raise checkpoints.write_failed(f"the best checkpoint of step {step}", self.best.directory,
                          e) from None
    with self.writer.as_default(step=step):
      tf.summary.scalar(name, value)
    workdir_lib.append_metrics(self.workdir, {name: value, "step": step})
    self.log(f"{name}={value:.4g} at step {step} ({time.perf_counter() - start:.1f} s)"
             + (" — new best, saved" if improved else
                f" — best {self.best.value:.4g} at step {self.best.record['step']}"))


def run_loop(trainer, iterator, step: int, steps: int) -> Loop:
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
        "one. Lower the learning rates, then rerun.")
  return Loop(step + steps, steps, seconds, metrics)


def train_loop(trainer, iterator, step: int, total: int, per_loop: int,
                actions: Sequence[Action]) -> Dict[str, float]:
  """Runs loops of compiled steps until `total`; after each, every action observes it
  and the due ones run, in order. Returns the last loop's metrics."""
  metrics: Dict[str, float] = {}
  while step < total:
    loop = run_loop(trainer, iterator, step, loop_length(step, total, per_loop, actions))
    step, metrics = loop.step, loop.metrics
    for action in actions:
      action.observe(loop)
      if action.each_loop or (action.every and (step % action.every == 0 or step == total)):
        action(loop)
  return metrics
