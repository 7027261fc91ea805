"""k-means baselines for Table 3, scored by the paper's clustering rule.

    python experiments/tools/kmeans_baseline.py [--clusters=16,30]
        [--features=pixels,pca50,autoencoder] [--seeds=0,1] [--output=baseline.json]
        (--features also takes export:EXPORT_DIR)

What an AAE's clusters should be compared with: k-means on the same training images
(fitted on the first --fit_images of the training split), in pixel space, on the top
principal components, or on the code of a plain autoencoder trained here (784-1000-1000-10,
ReLU, input dropout 0.2, Adam 1e-3, --autoencoder_epochs), or on the style code z of an
exported AAE (`--features=export:EXPORT_DIR`). q(k|x) is a softmax of minus
the squared distances to the centres (temperature: the mean squared distance / 50), so
the paper's rule can label each cluster by its most confident validation image, exactly
as `evaluate` does for an AAE; majority accuracy (each cluster takes its most common
test label) is printed beside it. The test split is only scored, never fitted on.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import numpy as np  # noqa: E402

from aae_tf import atomic  # noqa: E402
from aae_tf import data  # noqa: E402
from aae_tf import metrics  # noqa: E402


def squared_distances(points, centres):
  """[N, K] squared Euclidean distances, computed in blocks to bound memory."""
  centre_norms = (centres ** 2).sum(axis=1)
  blocks = [np.maximum((block ** 2).sum(axis=1, keepdims=True) + centre_norms
                       - 2.0 * block @ centres.T, 0.0)
            for block in np.array_split(points, max(1, len(points) // 4096))]
  return np.concatenate(blocks)


def kmeans(points, k: int, seed: int, iterations: int = 100):
  """Lloyd's algorithm from a k-means++ start; returns the [k, D] centres."""
  rng = np.random.default_rng(seed)
  centres = [points[rng.integers(len(points))]]
  nearest = squared_distances(points, np.stack(centres))[:, 0]
  for _ in range(1, k):
    centres.append(points[rng.choice(len(points), p=nearest / nearest.sum())])
    nearest = np.minimum(nearest, squared_distances(points, centres[-1][None])[:, 0])
  centres = np.stack(centres)
  for _ in range(iterations):
    assignment = squared_distances(points, centres).argmin(axis=1)
    moved = np.stack([points[assignment == j].mean(axis=0) if np.any(assignment == j)
                      else centres[j] for j in range(k)])
    if np.allclose(moved, centres):
      break
    centres = moved
  return centres


def cluster_probabilities(points, centres, temperature: float):
  """q(k|x) = softmax_k(-||x - c_k||^2 / temperature)."""
  logits = -squared_distances(points, centres) / temperature
  logits -= logits.max(axis=1, keepdims=True)
  probs = np.exp(logits)
  return probs / probs.sum(axis=1, keepdims=True)


def score(centres, fitted, validation, test, val_labels, test_labels) -> dict:
  temperature = float(squared_distances(fitted, centres).mean()) / 50.0
  val_probs, test_probs = (cluster_probabilities(x, centres, temperature)
                           for x in (validation, test))
  k = len(centres)
  return {
      "paper_rule_test_error_pct": round(metrics.clustering_error_pct(
          val_probs, val_labels, test_probs, test_labels), 2),
      "paper_rule_validation_error_pct": round(metrics.clustering_error_pct(
          val_probs, val_labels, val_probs, val_labels), 2),
      "majority_test_accuracy": round(metrics.majority_accuracy(
          test_probs.argmax(axis=1), test_labels, k), 4),
  }


def _autoencoder_codes(train, others, epochs: int, seed: int):
  import keras  # pylint: disable=import-outside-toplevel
  keras.utils.set_random_seed(seed)
  inputs = keras.Input((train.shape[1],))
  hidden = keras.layers.Dropout(0.2)(inputs)
  for _ in range(2):
    hidden = keras.layers.Dense(1000, activation="relu")(hidden)
  code = keras.layers.Dense(10)(hidden)
  decoded = code
  for _ in range(2):
    decoded = keras.layers.Dense(1000, activation="relu")(decoded)
  decoded = keras.layers.Dense(train.shape[1], activation="sigmoid")(decoded)
  autoencoder = keras.Model(inputs, decoded)
  autoencoder.compile(keras.optimizers.Adam(1e-3), "mse")
  autoencoder.fit(train, train, batch_size=100, epochs=epochs, verbose=2)
  encoder = keras.Model(inputs, code)
  return [encoder.predict(x, batch_size=1000, verbose=0) for x in (train, *others)]


def _export_codes(export_dir: str, images):
  from aae_tf import exported  # pylint: disable=import-outside-toplevel
  model = exported.load_exported(export_dir)
  return [exported.encode(model, x)["z"] for x in images]


def features(name: str, train, validation, test, epochs: int, seed: int, images=()):
  """[train, validation, test] feature rows; `images` are the unflattened splits that an
  export's encoder reads."""
  if name.startswith("export:"):
    return _export_codes(name[len("export:"):], images)
  if name == "pixels":
    return train, validation, test
  if name.startswith("pca"):
    dims = int(name[3:])
    mean = train.mean(axis=0)
    _, _, components = np.linalg.svd(train - mean, full_matrices=False)
    return [(x - mean) @ components[:dims].T for x in (train, validation, test)]
  if name == "autoencoder":
    return _autoencoder_codes(train, (validation, test), epochs, seed)
  raise SystemExit(f"--features: unknown {name!r}; use pixels, pcaN (e.g. pca50), "
                   "autoencoder or export:EXPORT_DIR")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--dataset", default="mnist")
  parser.add_argument("--clusters", default="16,30")
  parser.add_argument("--features", default="pixels,pca50")
  parser.add_argument("--seeds", default="0,1")
  parser.add_argument("--fit_images", type=int, default=20000)
  parser.add_argument("--autoencoder_epochs", type=int, default=8)
  parser.add_argument("--output", help="JSON to write (default: print only)")
  args = parser.parse_args()
  splits = data.load_splits(args.dataset, logger=lambda _: None)
  flat = [data.to_unit_float(s.images).reshape(len(s.images), -1)
          for s in (splits.train, splits.validation, splits.test)]
  results = []
  for name in args.features.split(","):
    for seed in (int(s) for s in args.seeds.split(",")):
      train, validation, test = features(
          name, flat[0], flat[1], flat[2], args.autoencoder_epochs, seed,
          (splits.train.images[:args.fit_images], splits.validation.images, splits.test.images))
      fitted = train[:args.fit_images]
      for k in (int(c) for c in args.clusters.split(",")):
        row = {"features": name, "clusters": k, "seed": seed,
               **score(kmeans(fitted, k, seed), fitted, validation, test,
                       splits.validation.labels, splits.test.labels)}
        print(json.dumps(row), flush=True)
        results.append(row)
  if args.output:
    atomic.write_text(args.output, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
  main()
