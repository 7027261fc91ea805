"""How much an unsupervised model loses because q(z) is not the prior.

    python experiments/tools/prior_gap.py --workdir=W [--checkpoint=best|latest|STEP]
        [--output=prior_gap.json]

Samples are drawn from the prior p(z); the decoder learned on codes from q(z). Where the
two differ, prior draws land where no training image was encoded and decode to blends.
For a checkpoint of a training run (default: the best on validation) this prints:
  prior                    Parzen log-likelihood and Fréchet distance of decode(z ~ p(z)),
                           as `evaluate` scores them (10,000 samples, the Parzen sigma
                           chosen on the validation split, the test split scored);
  posterior                the same for decode(z ~ q(z|x)) over 10,000 training images,
                           with the posterior's noise where it has one: what the samples
                           would score if the adversary had matched q(z) to p(z);
  separability             held-out accuracy of a fresh MLP telling 40,000 such codes
                           from as many prior draws (0.5: indistinguishable).
The gap between `prior` and `posterior` is what a closer match could win.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from aae_tf import atomic  # noqa: E402
from aae_tf import data  # noqa: E402
from aae_tf import digit_classifier  # noqa: E402
from aae_tf import evaluate  # noqa: E402
from aae_tf import export  # noqa: E402
from aae_tf import exported  # noqa: E402
from aae_tf import metrics  # noqa: E402
from aae_tf import rng  # noqa: E402

SAMPLES = 10_000
SEPARABILITY_CODES = 40_000
_ENCODE_BATCH = 500


def _flat(images: np.ndarray) -> np.ndarray:
  return data.to_unit_float(images).reshape(len(images), -1)


def posterior_codes(networks, images: np.ndarray, seed: int) -> np.ndarray:
  """z ~ q(z|x) for every image: the encoder in inference mode (no dropout), with its
  posterior's noise (a deterministic encoder gives its point)."""
  seed_of = lambda i: rng.make_seed(seed + i) if networks.encoder.stochastic else None
  x = data.to_unit_float(images)
  return np.concatenate([
      networks.encoder(tf.constant(x[i:i + _ENCODE_BATCH]), None, seed_of(i))["z"].numpy()
      for i in range(0, len(x), _ENCODE_BATCH)])


def separability(codes: np.ndarray, prior_draws: np.ndarray, scale: float, seed: int) -> float:
  """Held-out accuracy of a fresh 256-256 MLP (Adam, 10 epochs) at telling codes from
  prior draws; the first three quarters train it, the last quarter scores it."""
  x = np.concatenate([codes, prior_draws]).astype(np.float32) / scale
  y = np.r_[np.zeros(len(codes)), np.ones(len(prior_draws))].astype(np.float32)
  order = np.random.default_rng(seed).permutation(len(x))
  x, y = x[order], y[order]
  cut = len(x) * 3 // 4
  tf.keras.utils.set_random_seed(seed)
  model = tf.keras.Sequential([tf.keras.layers.Dense(256, "relu"),
                               tf.keras.layers.Dense(256, "relu"), tf.keras.layers.Dense(1)])
  model.compile(tf.keras.optimizers.Adam(1e-3),
                tf.keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0)])
  model.fit(x[:cut], y[:cut], epochs=10, batch_size=256, verbose=0)
  return float(model.evaluate(x[cut:], y[cut:], verbose=0)[1])


def prior_gap(workdir: str, checkpoint: str = "best", seed: int = 0, log=print) -> dict:
  config = export.load_config(workdir)
  if config.model.variant != "unsupervised" or config.model.prior != "gaussian":
    # The separability's reference draws are N(0, prior_std^2 I), the Gaussian prior.
    raise SystemExit(f"{workdir}: variant {config.model.variant}, prior {config.model.prior}; "
                     "this tool reads unsupervised models with the Gaussian prior")
  networks, step, _ = export.restore_networks(workdir, config, checkpoint)
  tmp = tempfile.mkdtemp(prefix="prior_gap_")
  try:
    export.export_from_workdir(workdir, tmp, version=1, checkpoint=checkpoint)
    model = exported.load_exported(tmp, 1)
    splits = data.load_for_config(config, logger=log)
    judge, _ = digit_classifier.classifier_for(splits, 2)
    validation, test = _flat(splits.validation.images), _flat(splits.test.images)

    def score(images):
      parzen = metrics.parzen_evaluation(_flat(images), validation, test)
      return {"parzen_ll": round(parzen["parzen_ll"], 2),
              "parzen_se": round(parzen["parzen_se"], 2),
              "parzen_sigma": parzen["parzen_sigma"],
              "frechet_distance": round(digit_classifier.frechet_distance(
                  images, splits.test.images, judge), 3)}

    chosen = np.random.default_rng(seed).choice(len(splits.train.images),
                                                SEPARABILITY_CODES, replace=False)
    codes = posterior_codes(networks, splits.train.images[chosen], seed)
    decoded = exported.decode(model, codes[:SAMPLES], None)
    prior_draws = np.random.default_rng(seed + 1).normal(
        0.0, config.model.prior_std, codes.shape)
    return {
        "workdir": workdir, "checkpoint": checkpoint, "step": int(step),
        "prior": score(exported.draw_samples(model, SAMPLES, evaluate.PARZEN_SEED)["images"]),
        "posterior": score(decoded),
        "separability": round(separability(codes, prior_draws, config.model.prior_std,
                                           seed), 4),
        "code_std_per_dim": np.round(codes.std(axis=0), 2).tolist(),
    }
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--checkpoint", default="best")
  parser.add_argument("--output", default="")
  args = parser.parse_args(argv)
  result = prior_gap(args.workdir, args.checkpoint)
  print(json.dumps(result, indent=1))
  if args.output:
    atomic.write_text(args.output, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
  main()
