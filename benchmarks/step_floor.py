"""Splits a training step's time: the whole step, the step without its optimizer updates,
and the updates alone — where benchmarks/BENCHMARKS.md's floor figures come from.

    python scripts/step_floor.py [full|no_updates|updates_only] [--precision=...]

The paper's MNIST model at batch 100 on synthetic images, 100 steps per `tf.function`
call (as training runs), median of 5 calls after a warm-up call, in ms per step.
  full          the trainer's step as `python -m aae_tf.train` runs it;
  no_updates    the same forward and backward passes, but each phase's gradients are
                only read (one element each), so no weight, moment or bf16 copy changes;
  updates_only  each phase's update as the step does it, on fixed bf16 gradients: the
                cast to fp32, the fused Adam kernel, the bf16 weight cast for the next pass.
Run it alone on an idle machine: it is a timing.
"""

import argparse
import os
import statistics
import sys
import time

import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchmarks import benchmark  # noqa: E402

STEPS_PER_CALL = 100


def _updates_only_loop(trainer, dtype):
  fixed = {phase: [tf.cast(1e-3 * tf.random.normal(v.shape), dtype) for v in variables]
           for phase, variables in trainer.phase_variables.items()}
  copies = {phase: [tf.Variable(tf.zeros(v.shape, dtype)) for v in variables]
            for phase, variables in trainer.phase_variables.items()}

  @tf.function
  def loop(n):
    for _ in tf.range(n):
      for phase, variables in trainer.phase_variables.items():
        grads = [tf.cast(g, tf.float32) for g in fixed[phase]]
        trainer.optimizers[phase].apply_gradients(zip(grads, variables))
        for copy, variable in zip(copies[phase], variables):
          copy.assign(tf.cast(variable, dtype))
  return lambda: loop(tf.constant(STEPS_PER_CALL))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("mode", choices=["full", "no_updates", "updates_only"])
  parser.add_argument("--precision", default="mixed_bfloat16")
  args = parser.parse_args()
  images, labels = benchmark._synthetic_mnist()  # pylint: disable=protected-access
  # The benchmark's own trainer and input pipeline (paper model, 100 steps per call).
  train, trainer, _ = benchmark._ours_epoch_fn(  # pylint: disable=protected-access
      {"precision": args.precision}, 100, images, labels)
  assert trainer.config.runtime.steps_per_loop == STEPS_PER_CALL
  dtype = tf.bfloat16 if args.precision == "mixed_bfloat16" else tf.float32
  if args.mode == "updates_only":
    run = _updates_only_loop(trainer, dtype)
  else:
    if args.mode == "no_updates":  # before the first call: the step is traced then
      sink = tf.Variable(0.0)
      for phase in trainer._update_fns:  # pylint: disable=protected-access
        trainer._update_fns[phase] = lambda grads: sink.assign_add(tf.add_n(  # pylint: disable=protected-access
            [tf.cast(tf.reshape(g, [-1])[0], tf.float32) for g in grads]))
    run = lambda: train(STEPS_PER_CALL)  # reads the metrics back as floats: waits
  run()  # warm-up: tracing
  times = []
  for _ in range(5):
    start = time.perf_counter()
    run()  # a tf.function call returns after its stateful ops have run
    times.append((time.perf_counter() - start) / STEPS_PER_CALL * 1000)
  print(f"{args.mode} ({args.precision}): {statistics.median(times):.2f} ms per step "
        f"(median of {['%.1f' % t for t in times]})")


if __name__ == "__main__":
  main()
