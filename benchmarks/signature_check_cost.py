"""Measures what the input checks of the exported `encode` / `decode` cost.

    python scripts/signature_check_cost.py [--batches=100,1000] [--seconds=3]

Builds the paper's 784-1000-1000-8 encoder and mirrored decoder (float32, as exported),
wraps them in the serving modules with and without the checks (NaN/Inf and [0, 1] on
images, NaN/Inf on z), and times the tf.function calls. Prints one line per
(signature, batch): calls/s with and without the checks and the relative cost.
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from aae_tf import configs
from aae_tf import export
from aae_tf import models
from aae_tf import variants


def _rate(fn, seconds):
  fn()  # trace
  calls, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    fn()
    calls += 1
  return calls / (time.perf_counter() - start)


def _modules(config, spec, networks):
  return (export.EncoderModule(networks.encoder, networks.decoder, spec),
          export.DecoderModule(networks.decoder, spec, config))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batches", default="100,1000")
  parser.add_argument("--seconds", type=float, default=3.0)
  args = parser.parse_args()
  config = configs.get("paper_table1").replace(precision="float32")
  spec = variants.spec_for(config)
  networks = models.build_networks(config, spec)
  checked = _modules(config, spec, networks)
  real_check, real_finite = export._checked_images, tf.debugging.assert_all_finite
  export._checked_images = lambda images: images
  tf.debugging.assert_all_finite = lambda t, message: t
  try:
    unchecked = _modules(config, spec, networks)
    rng = np.random.default_rng(0)
    results = []
    for batch in map(int, args.batches.split(",")):
      images = tf.constant(rng.uniform(size=(batch, 28, 28, 1)).astype(np.float32))
      z = tf.constant(rng.normal(size=(batch, config.model.latent_dim)).astype(np.float32))
      unchecked[0].encode(images), unchecked[1].decode(z)   # traced without checks
      results.append((batch, images, z))
  finally:
    export._checked_images, tf.debugging.assert_all_finite = real_check, real_finite
  for batch, images, z in results:
    for name, call_checked, call_unchecked in (
        ("encode", lambda: checked[0].encode(images), lambda: unchecked[0].encode(images)),
        ("decode", lambda: checked[1].decode(z), lambda: unchecked[1].decode(z))):
      with_checks = _rate(call_checked, args.seconds)
      without = _rate(call_unchecked, args.seconds)
      print(f"{name} batch {batch}: {with_checks:.1f} calls/s with checks, {without:.1f} "
            f"without ({100 * (without / with_checks - 1):+.1f} % time)")


if __name__ == "__main__":
  main()
