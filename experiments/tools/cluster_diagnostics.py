"""What an export's category head does on the validation split: how many clusters it
uses, how confident q(y|x) is, and how well the clusters follow the labels.

    python experiments/tools/cluster_diagnostics.py EXPORT_DIR [--output=diagnostics.json]

For variants with a category head (clustering, dim_reduction, semi-supervised). Reads the
validation split the run carved from its training set (the config in the export's
asset says which data and how much); never the test split. Prints and writes:
  cluster_sizes        validation images per argmax cluster;
  clusters_used        clusters with at least one image;
  mean_max_prob        mean of max_k q(y=k|x): 1/K for a uniform head, 1 for one-hot;
  paper_rule_error_pct the paper's rule, fitted and scored on validation (each cluster
                       takes the label of its most confident image);
  majority_accuracy    each cluster takes its most common label;
  hungarian_accuracy   the best one-to-one matching of clusters to labels;
  reconstruction_mse_own_category / _other_category  (where the decoder reads a category
                       beside z) mean squared error of decode(z, argmax q(y|x)) and of
                       decode(z, another cluster): equal when the decoder ignores the
                       category.
A head that uses few clusters or stays near 1/K has not become categorical; one that is
confident and balanced but low on majority accuracy clusters by something other than
the label (style).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import numpy as np  # noqa: E402

from aae_tf import atomic  # noqa: E402
from aae_tf import config as config_lib  # noqa: E402
from aae_tf import data  # noqa: E402
from aae_tf import exported  # noqa: E402
from aae_tf import metrics  # noqa: E402


def diagnostics(export_dir: str, log=print) -> dict:
  model = exported.load_exported(export_dir)
  if not model.spec.has_categories:
    raise SystemExit(f"{export_dir}: variant {model.info['variant']} has no category head")
  config = config_lib.Config.from_json(json.dumps(model.info["config"]))
  validation = data.load_for_config(config, logger=log).validation
  codes = exported.encode(model, validation.images)
  probs = codes["label_probs"]
  clusters = probs.argmax(axis=1)
  k = probs.shape[1]
  sizes = np.bincount(clusters, minlength=k)
  labels = validation.labels
  result = {
      "export_dir": export_dir, "step": model.info["training_step"],
      "validation_images": int(len(labels)),
      "cluster_sizes": sizes.tolist(), "clusters_used": int((sizes > 0).sum()),
      "mean_max_prob": round(float(probs.max(axis=1).mean()), 4),
      "paper_rule_error_pct": round(metrics.clustering_error_pct(probs, labels, probs,
                                                                 labels), 2),
      "majority_accuracy": round(metrics.majority_accuracy(clusters, labels, k), 4),
      "hungarian_accuracy": round(metrics.hungarian_accuracy(clusters, labels, k), 4),
  }
  if model.spec.concatenates_category:
    result.update(_category_use(model, validation.images[:_DECODED], codes["z"],
                                clusters, k))
  return result


_DECODED = 2000  # validation images decoded for the category-use measure


def _category_use(model, images, z, clusters, k) -> dict:
  """Reconstruction error with each image's own cluster and with another one (the
  images' codes `z` and argmax `clusters` come from the encoding already made)."""
  n = len(images)
  truth = data.to_unit_float(images).reshape(n, -1)
  # A different cluster for every image, spread over all the others.
  other = (clusters[:n] + 1 + np.arange(n) % (k - 1)) % k
  errors = {}
  for name, category in (("own", clusters[:n]), ("other", other)):
    decoded = exported.decode(model, z[:n], category.astype(np.int32)).reshape(n, -1)
    errors[f"reconstruction_mse_{name}_category"] = round(
        float(np.mean((decoded - truth) ** 2)), 6)
  return errors


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("export_dir")
  parser.add_argument("--output", help="JSON to write (default: print only)")
  args = parser.parse_args()
  result = diagnostics(args.export_dir)
  text = json.dumps(result, indent=2) + "\n"
  print(text, end="")
  if args.output:
    atomic.write_text(args.output, text)


if __name__ == "__main__":
  main()
