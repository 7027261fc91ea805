"""Evaluates exported AAEs with the paper's protocols; writes JSON + figures.

    python -m aae_tf.evaluate --export_dir=E [--version=N] --output=results.json
    python -m aae_tf.evaluate --workdir=W --output=results.json   # newest checkpoint

The models are read like any user reads them (aae_tf.exported: `tf.saved_model.load`,
the public signatures and the `aae_config.json` asset). Data come from
`aae_tf.data.load_splits`; every choice (Parzen sigma, cluster labels) is made on the
validation split carved from the training set, never on the test set.

Metrics (keys of the JSON):
  parzen_ll, parzen_se, parzen_sigma  Table 1: 10,000 `sample` images, Gaussian KDE,
                                      sigma on validation, mean test LL +- std. error.
  recon_mse                           test images -> encode -> decode, per-pixel mean.
  test_error_pct, validation_error_pct  Table 2 (variants trained with labels that have
                                      a categorical head): `classify` on test (and on
                                      validation, the split to choose settings on).
  clustering_error_pct                Table 3 (clustering, dim_reduction, or K != 10),
  hungarian_accuracy, majority_accuracy  plus two common cluster accuracies (fractions
                                      in [0, 1], on the test set's own labels).
  style_accuracy_pct,                 label-aware variants trained with labels: how
  classifier_test_accuracy_pct        often `sample_class(k)` images are digit k for an
                                      independent MLP trained here (its own test acc.).
  frechet_distance                    samples against test images in that MLP's features.
  cluster_heads_agreement_pct,        models that learn clusters: the share of used
  cluster_grid_agreement_pct          clusters whose head (category k, z = 0) reads as its
                                      members' majority digit; the share of the cluster
                                      grid's cells (k, a prior z) that do.
"""

if __name__ == "__main__":  # the program itself: TensorFlow's start-up lines held back
  from aae_tf import startup
  startup.stop_quietly_on_interrupt()
  startup.import_tensorflow_quietly()

import json
import math
import os
import shutil
import tempfile
import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np
from aae_tf import config as config_lib
from aae_tf import data
from aae_tf import digit_classifier
from aae_tf import export
from aae_tf import figures
from aae_tf import metrics
from aae_tf import report
from aae_tf import workdir as workdir_lib
from aae_tf.exported import (EvaluationError, Exported, class_grid, draw_samples,
                             encode, load_exported, reconstruct)

PARZEN_SEED = 2015          # fixed: the same export always gets the same samples
FIGURE_SEED = 1234
DEFAULT_NUM_PARZEN_SAMPLES = 10_000
REQUIRED_KEYS = ("parzen_ll", "parzen_se", "parzen_sigma", "recon_mse")
RECONSTRUCTION_PAIRS = 5    # rows of 10 test examples, each above its reconstruction


def load_data(info: dict, data_dir: Optional[str] = None, dataset: Optional[str] = None,
              validation_size: Optional[int] = None, log: Callable[[str], None] = print):
  """The splits the model was trained on (flags override the asset's config).

  A run trained without a validation split (validation_size=0) used every training
  image; a validation split is then still carved (needed to choose sigma), and the
  caller records that it overlaps the training data.
  """
  try:
    config = config_lib.Config.from_json(json.dumps(info.get("config", {})))
  except (TypeError, ValueError) as e:
    raise EvaluationError(f"the export's {export.CONFIG_ASSET} cannot be read ({e}); "
                          "re-export it with this version of aae_tf") from None
  trained_on = info.get("dataset") or config.data.dataset
  if dataset and dataset != trained_on:  # the training data_dir holds another dataset
    config = config.replace(dataset=dataset, data_dir=None)
  if data_dir:
    config = config.replace(data_dir=data_dir)
  if validation_size is None:
    validation_size = config.data.validation_size or -1   # 0: none was held out; carve one
  return data.load_for_config(config, logger=log, validation_size=validation_size)


# -------------------------------------------------------------------- evaluation


def _flat(images: np.ndarray) -> np.ndarray:
  images = np.asarray(images)
  scale = 255.0 if images.dtype == np.uint8 else 1.0
  return images.reshape(len(images), -1).astype(np.float32) / scale


def applicable(exported: Exported, num_classes: int) -> Dict[str, bool]:
  """Which optional metrics apply to this export's variant on data with `num_classes`
  classes (0: unlabelled data, where none of them does)."""
  spec, k = exported.spec, exported.num_categories
  labelled = num_classes > 0
  return {
      "classification": labelled and spec.has_categories and spec.labels != "none",
      "clustering": labelled and spec.has_categories and (
          spec.learns_clusters or k != num_classes),
      "style": labelled and spec.label_aware and spec.labels != "none" and k == num_classes,
  }


def evaluate(exported: Exported, splits: data.DataSplits, *,
             num_parzen_samples: int = DEFAULT_NUM_PARZEN_SAMPLES, seed: int = PARZEN_SEED,
             sigmas: Optional[Sequence[float]] = None,
             parzen_batch_size: int = metrics.DEFAULT_BATCH_SIZE, classifier_epochs: int = 2,
             log: Callable[[str], None] = print):
  """Computes every applicable metric; returns (results dict, arrays for figures)."""
  if len(splits.validation.labels) == 0:
    raise EvaluationError("the validation split is empty: the Parzen sigma and the "
                          "cluster labels are chosen on it; pass --validation_size > 0")
  timings, results, arrays = {}, {}, {}
  sigmas = tuple(sigmas or metrics.DEFAULT_SIGMAS)

  def timed(name, fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    timings[name] = round(time.perf_counter() - start, 3)
    log(f"{name}: {timings[name]:.2f} s")
    return value

  arrays["samples"] = timed("sample_s", draw_samples, exported, num_parzen_samples, seed)
  samples = _flat(arrays["samples"]["images"])
  sigma, scores = timed("parzen_sigma_s", metrics.choose_parzen_sigma, samples,
                        _flat(splits.validation.images), sigmas, parzen_batch_size)
  ll = timed("parzen_test_s", metrics.parzen_log_likelihood, samples,
             _flat(splits.test.images), sigma, parzen_batch_size)
  results.update(parzen_ll=float(ll.mean()), parzen_se=float(ll.std() / np.sqrt(len(ll))),
                 parzen_sigma=float(sigma),
                 parzen_validation_ll={f"{s:.6g}": v for s, v in scores.items()},
                 parzen_sigma_at_grid_edge=sigma in (min(sigmas), max(sigmas)))

  codes = timed("encode_test_s", encode, exported, splits.test.images)
  arrays["test_codes"] = codes
  recon, how = timed("reconstruct_s", reconstruct, exported, splits.test.images,
                     splits.test.labels, codes)
  results.update(recon_mse=metrics.reconstruction_mse(_flat(splits.test.images), recon),
                 recon_decoder_input=how)
  arrays["reconstructions"] = (splits.test.images[:RECONSTRUCTION_PAIRS * 10],
                               recon[:RECONSTRUCTION_PAIRS * 10])

  which = applicable(exported, splits.num_classes)
  if which["classification"]:
    predicted = timed("classify_s", encode, exported, splits.test.images,
                      signature_name="classify")["labels"]
    results["test_error_pct"] = metrics.classification_error_pct(predicted,
                                                                 splits.test.labels)
    if len(splits.validation.labels):  # what settings may be chosen on: never the test
      predicted = encode(exported, splits.validation.images, signature_name="classify")
      results["validation_error_pct"] = metrics.classification_error_pct(
          predicted["labels"], splits.validation.labels)
  if which["clustering"]:
    results.update(timed("clustering_s", _clustering, exported, splits, codes))
  heads = which["clustering"] and exported.spec.learns_clusters and "latent_dim" in exported.info
  if splits.num_classes and classifier_epochs > 0:
    predict, judged = timed("classifier_s", digit_classifier.classifier_for, splits,
                            classifier_epochs)
    results.update(judged)
    results["frechet_distance"] = timed(
        "frechet_s", digit_classifier.frechet_distance, arrays["samples"]["images"],
        splits.test.images, predict)
    if which["style"]:
      results.update(timed("style_s", digit_classifier.style_accuracy, exported, splits,
                           predict, FIGURE_SEED))
    if heads:
      results.update(timed("cluster_heads_s", digit_classifier.cluster_head_agreement,
                           exported, splits, predict, FIGURE_SEED))
  results["timings_s"] = timings
  return results, arrays


def _clustering(exported: Exported, splits: data.DataSplits, test_codes) -> dict:
  val_probs = encode(exported, splits.validation.images)["label_probs"]
  test_probs = test_codes["label_probs"]
  assigned = np.argmax(test_probs, axis=1)
  k = exported.num_categories
  return {
      "clustering_error_pct": metrics.clustering_error_pct(
          val_probs, splits.validation.labels, test_probs, splits.test.labels),
      "hungarian_accuracy": metrics.hungarian_accuracy(assigned, splits.test.labels, k,
                                                       splits.num_classes),
      "majority_accuracy": metrics.majority_accuracy(assigned, splits.test.labels, k,
                                                     splits.num_classes),
      "clusters_used": int(len(np.unique(assigned))),
  }


# ----------------------------------------------------------------------- figures


def write_figures(exported: Exported, splits: data.DataSplits, arrays: dict,
                  figures_dir: str, workdir: Optional[str] = None,
                  log: Callable[[str], None] = print) -> Dict[str, str]:
  """samples.png, reconstructions.png, latent.png, class_grid.png (label-aware),
  loss_curves.png (workdir)."""
  paths = {"samples": os.path.join(figures_dir, "samples.png"),
           "latent": os.path.join(figures_dir, "latent.png")}
  samples = arrays["samples"]["images"]
  side = int(min(10, math.isqrt(len(samples))))
  if side:
    figures.save_image_grid(samples[:side * side], paths["samples"], rows=side, cols=side)
  else:
    del paths["samples"]
  originals, recon = arrays["reconstructions"]
  cols = min(10, len(recon))
  if cols:
    n = (len(recon) // cols) * cols
    shape = recon.shape[1:]
    originals = data.to_unit_float(originals[:n]).reshape(n, *shape)
    rows = np.stack([originals.reshape(-1, cols, *shape),
                     recon[:n].reshape(-1, cols, *shape)], axis=1)   # each row over its copy
    paths["reconstructions"] = os.path.join(figures_dir, "reconstructions.png")
    figures.save_image_grid(rows.reshape(-1, *shape), paths["reconstructions"],
                            rows=2 * (n // cols), cols=cols)
  codes = arrays["test_codes"]["z"]
  figures.save_scatter(codes, splits.test.labels, paths["latent"],
                       title="test codes",
                       class_names=splits.class_names or None)
  if exported.spec.label_aware:
    rows = min(exported.num_categories, 30)
    paths["class_grid"] = os.path.join(figures_dir, "class_grid.png")
    figures.save_image_grid(class_grid(exported, rows, FIGURE_SEED), paths["class_grid"],
                            rows=rows, cols=10)
  log_path = os.path.join(workdir, "metrics.jsonl") if workdir else None
  if log_path and os.path.exists(log_path):
    series = report.read_metrics_log(log_path, warn=log)
    if series:
      paths["loss_curves"] = report.save_png(report.plot_curves(series),
                                       os.path.join(figures_dir, "loss_curves.png"))
  return paths


# --------------------------------------------------------------------- the run


# Samples the Parzen window holds at once: 100,000 of MNIST's are 0.3 GB, beside
# the test set; far more has crashed the process.
MAX_PARZEN_SAMPLES = 100_000


def _check_writable_output(output: str, figures_dir: Optional[str]) -> None:
  """Fails before the work if the results cannot be written where asked."""
  if os.path.isdir(output):
    raise EvaluationError(f"--output={output} is a directory; give the results JSON's "
                          "file name (e.g. DIR/eval.json)")
  for directory in (os.path.dirname(os.path.abspath(output)), figures_dir):
    if not directory:
      continue
    try:
      workdir_lib.probe_writable(directory)
    except OSError as e:
      raise EvaluationError(f"{directory} is not writable ({e.strerror}); choose another "
                            "--output or --figures_dir") from None


def run(output: str, *, export_dir: Optional[str] = None, workdir: Optional[str] = None,
        version: Optional[int] = None, data_dir: Optional[str] = None,
        dataset: Optional[str] = None, validation_size: Optional[int] = None,
        figures_dir: Optional[str] = None, checkpoint: str = "best",
        num_parzen_samples: int = DEFAULT_NUM_PARZEN_SAMPLES, seed: int = PARZEN_SEED,
        sigmas: Optional[Sequence[float]] = None,
        parzen_batch_size: int = metrics.DEFAULT_BATCH_SIZE, classifier_epochs: int = 2,
        log: Callable[[str], None] = print) -> dict:
  """Loads (or exports from `workdir`), evaluates, writes JSON/markdown and figures.

  With only `workdir`, its `checkpoint` (best on validation, latest, or a step) is
  exported to a temporary directory first; with both, `export_dir` is evaluated and `workdir` only gives loss curves.
  """
  if not output:
    raise EvaluationError("--output is required (the results JSON to write)")
  if not export_dir and not workdir:
    raise EvaluationError("pass --export_dir (exported SavedModels) or --workdir "
                          "(a training run; its newest checkpoint is exported)")
  if not 0 < num_parzen_samples <= MAX_PARZEN_SAMPLES:
    raise EvaluationError(f"--num_parzen_samples must be in 1..{MAX_PARZEN_SAMPLES:,} (the "
                          f"paper: 10,000), got {num_parzen_samples}")
  _check_writable_output(output, figures_dir)
  if sigmas is not None and not (len(sigmas) and all(s > 0 for s in sigmas)):
    raise EvaluationError(f"--sigmas must be positive numbers, got {list(sigmas)}")
  start = time.perf_counter()
  tmp = None
  try:
    if not export_dir:
      workdir_lib.ensure_not_training(workdir)
      tmp = tempfile.mkdtemp(prefix="aae_eval_export_")
      export_dir = tmp
      export.export_from_workdir(workdir, tmp, version=1, checkpoint=checkpoint)
      version = 1
    exported = load_exported(export_dir, version)
    splits = load_data(exported.info, data_dir, dataset, validation_size, log)
    if tuple(splits.shape) != tuple(exported.data_shape):
      raise EvaluationError(
          f"the export reads examples of shape {list(exported.data_shape)} but "
          f"{splits.source} holds {list(splits.shape)}: evaluate it on the data it was "
          "trained on (--dataset, --data_dir)")
    results, arrays = evaluate(exported, splits, num_parzen_samples=num_parzen_samples,
                               seed=seed, sigmas=sigmas, parzen_batch_size=parzen_batch_size,
                               classifier_epochs=classifier_epochs, log=log)
    results.update(_describe_run(exported, splits, export_dir=None if tmp else export_dir,
                                 workdir=workdir, dataset=dataset,
                                 num_parzen_samples=num_parzen_samples, seed=seed))
    figures_dir = figures_dir or os.path.join(
        os.path.dirname(os.path.abspath(output)), "figures")
    results["figures"] = write_figures(exported, splits, arrays, figures_dir, workdir, log)
    results["timings_s"]["total_s"] = round(time.perf_counter() - start, 3)
  finally:
    if tmp:
      shutil.rmtree(tmp, ignore_errors=True)
  results["outputs"] = report.write_results(results, output)
  return results


def _describe_run(exported: Exported, splits: data.DataSplits, *, export_dir, workdir,
                  dataset, num_parzen_samples, seed) -> dict:
  """What was evaluated, on what data: the extras of the results JSON."""
  trained_validation = exported.config_value("validation_size", 0)
  log_path = os.path.join(workdir, "metrics.jsonl") if workdir else ""
  seconds = report.training_seconds(log_path) if os.path.exists(log_path) else None
  return {
      # The run's training time over all its resumes (runs older than this field: 0).
      "training_seconds": round(seconds, 1) if seconds else None,
      "variant": exported.info["variant"], "num_categories": exported.num_categories,
      "training_step": exported.info.get("training_step"),
      "checkpoint": exported.info.get("checkpoint"),
      "dataset": dataset or exported.info.get("dataset"), "data_source": splits.source,
      "export_dir": os.path.abspath(export_dir) if export_dir else None,
      "version": exported.version if export_dir else None,
      "workdir": os.path.abspath(workdir) if workdir else None,
      "num_parzen_samples": num_parzen_samples, "parzen_seed": seed,
      "num_validation": len(splits.validation.labels), "num_test": len(splits.test.labels),
      # The split is the tail of a fixed permutation: a larger one than training held
      # out (e.g. a run trained with validation_size=0) includes training images.
      "validation_overlaps_training": len(splits.validation.labels) > trained_validation,
  }


if __name__ == "__main__":
  from aae_tf import main  # the command line lives there: library code reads no flags
  main.console_evaluate()
