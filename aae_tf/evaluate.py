"""Evaluates exported AAEs with the paper's protocols (GUIDE.md §8); writes JSON + figures.

    python -m aae_tf.evaluate --export_dir=E [--version=N] --output=results.json
    python -m aae_tf.evaluate --workdir=W --output=results.json   # newest checkpoint

The models are read like any user reads them: `tf.saved_model.load` and the public
signatures (`sample`, `sample_class`, `decode`, `encode`, `classify`) plus the
`aae_config.json` asset, which names the variant, dataset and K. Data come from
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
"""

import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from aae_tf import data
from aae_tf import export
from aae_tf import figures
from aae_tf import metrics
from aae_tf import variants

PARZEN_SEED = 2015          # fixed: the same export always gets the same samples
FIGURE_SEED = 1234
DEFAULT_NUM_PARZEN_SAMPLES = 10_000
DEFAULT_VALIDATION_SIZE = 10_000
ENCODE_BATCH = 1000
STYLE_SAMPLES_PER_CLASS = 100
REQUIRED_KEYS = ("parzen_ll", "parzen_se", "parzen_sigma", "recon_mse")


class EvaluationError(RuntimeError):
  """The evaluation cannot run as asked; the message says why and what to do."""


@dataclasses.dataclass
class Exported:
  """A loaded encoder/decoder pair and what its `aae_config.json` asset says."""

  encoder: object
  decoder: object
  info: dict
  version: int
  paths: Dict[str, str]

  @property
  def spec(self) -> variants.VariantSpec:
    return variants.get_variant(self.info["variant"])

  @property
  def num_categories(self) -> int:
    # Exports written before num_categories was a top-level key carry it in "config";
    # older ones still had only the 10 digit classes.
    return int(self.info.get("num_categories",
                             self.info.get("config", {}).get("num_categories", 10)))


# ---------------------------------------------------------------------- loading


def _versions(directory: str):
  if not os.path.isdir(directory):
    return set()
  return {int(name) for name in os.listdir(directory) if name.isdigit() and int(name) > 0}


def find_version(export_dir: str, version: Optional[int] = None) -> int:
  """`version`, checked, or the newest version present for both encoder and decoder."""
  found = {name: _versions(os.path.join(export_dir, name)) for name in ("encoder", "decoder")}
  both = found["encoder"] & found["decoder"]
  if version is not None:
    if version not in both:
      raise EvaluationError(f"{export_dir}: no encoder and decoder version {version}; "
                            f"versions present for both: {sorted(both) or 'none'}")
    return version
  if not both:
    raise EvaluationError(f"{export_dir}: expected encoder/<version>/ and "
                          "decoder/<version>/ SavedModels (the layout aae_tf.export "
                          "writes); found none with a common version")
  return max(both)


def load_exported(export_dir: str, version: Optional[int] = None) -> Exported:
  """Loads both SavedModels with `tf.saved_model.load` and reads the config asset."""
  version = find_version(export_dir, version)
  paths = {name: os.path.join(export_dir, name, str(version)) for name in ("encoder", "decoder")}
  loaded = {name: tf.saved_model.load(path) for name, path in paths.items()}
  asset = getattr(loaded["decoder"], "aae_config", None)
  if asset is None:
    raise EvaluationError(f"{paths['decoder']} has no {export.CONFIG_ASSET} asset; "
                          "re-export it with this version of aae_tf")
  with open(asset.asset_path.numpy().decode()) as f:
    info = json.load(f)
  if info.get("variant") not in variants.VARIANTS:
    raise EvaluationError(f"{paths['decoder']}: unknown variant {info.get('variant')!r}")
  return Exported(loaded["encoder"], loaded["decoder"], info, version, paths)


def load_data(info: dict, data_dir: Optional[str] = None, dataset: Optional[str] = None,
              validation_size: Optional[int] = None, log: Callable[[str], None] = print):
  """The splits the model was trained on (flags override the asset's config).

  A run trained without a validation split (validation_size=0) used every training
  image; a validation split is then still carved (needed to choose sigma), and the
  caller records that it overlaps the training data.
  """
  config = info.get("config", {})
  trained_on = info.get("dataset") or config.get("dataset", "mnist")
  dataset = dataset or trained_on
  if not data_dir and dataset == trained_on:  # the training data_dir holds that dataset
    data_dir = config.get("data_dir")
  if validation_size is None:
    validation_size = config.get("validation_size") or DEFAULT_VALIDATION_SIZE
  return data.load_splits(dataset, data_dir, validation_size=validation_size,
                          allow_download=config.get("allow_download", True), logger=log)


# ------------------------------------------------------------ calling the models


def _float_images(images: np.ndarray) -> np.ndarray:
  """uint8 [N, 28, 28] -> float32 [N, 28, 28, 1] in [0, 1]."""
  return (np.asarray(images, np.float32) / 255.0)[..., None]


def encode(exported: Exported, images: np.ndarray, batch_size: int = ENCODE_BATCH,
           signature_name: str = "encode"):
  """An encoder signature over uint8 images in batches; outputs concatenated.

  `encode` gives {"z": [N, d] (, "label_probs": [N, K])}; `classify` gives
  {"labels": [N], "label_probs": [N, K]}.
  """
  signature = exported.encoder.signatures[signature_name]
  parts = [signature(images=tf.constant(_float_images(images[i:i + batch_size])))
           for i in range(0, len(images), batch_size)]
  return {key: np.concatenate([p[key].numpy() for p in parts]) for key in parts[0]}


def _decode(exported: Exported, z: np.ndarray, labels: Optional[np.ndarray],
            batch_size: int = ENCODE_BATCH) -> np.ndarray:
  signature = exported.decoder.signatures["decode"]
  out = []
  for i in range(0, len(z), batch_size):
    kwargs = {"z": tf.constant(z[i:i + batch_size], tf.float32)}
    if labels is not None:
      kwargs["labels"] = tf.constant(labels[i:i + batch_size], tf.int32)
    out.append(signature(**kwargs)["images"].numpy())
  return np.concatenate(out)


def reconstruct(exported: Exported, images: np.ndarray, labels: np.ndarray, codes=None):
  """encode -> decode through the signatures; returns (reconstructions, how).

  The decoder's label input gets the true label (supervised), else the encoder's
  argmax label (training feeds the soft q(y|x); the contract takes ids). For
  dim_reduction*, `encode` returns the representation W_c q(y|x) + z while `decode`
  adds W_c[label] itself, so W_c[label] is subtracted first; W_c is read from the
  encoder's `cluster_heads` variable, which `tf.saved_model.load` restores.
  """
  spec = exported.spec
  codes = codes if codes is not None else encode(exported, images)
  z = codes["z"]
  if not spec.decoder_takes_label:
    return _decode(exported, z, None), "z"
  if spec.decoder_input == "label+z":
    return _decode(exported, z, labels), "z + true label"
  argmax = np.argmax(codes["label_probs"], axis=1).astype(np.int32)
  if spec.decoder_input == "cluster_heads+z":
    heads = getattr(exported.encoder, "cluster_heads", None)
    if heads is None:
      raise EvaluationError("dim_reduction export without the encoder's cluster_heads: "
                            "encode -> decode cannot be inverted through the signatures")
    z = z - heads.numpy()[argmax]
    return _decode(exported, z, argmax), "representation - W_c[argmax] + argmax label"
  return _decode(exported, z, argmax), "z + argmax label"


def draw_samples(exported: Exported, num_samples: int, seed: int) -> Dict[str, np.ndarray]:
  """`sample(num_samples, seed)` (chunked below the export's per-call cap)."""
  signature = exported.decoder.signatures["sample"]
  parts, done = [], 0
  while done < num_samples:
    n = min(num_samples - done, export.MAX_SAMPLES)
    parts.append(signature(num_samples=tf.constant(n, tf.int32),
                           seed=tf.constant(seed + done, tf.int64)))
    done += n
  return {key: np.concatenate([p[key].numpy() for p in parts]) for key in parts[0]}


def class_grid(exported: Exported, rows: int, seed: int = FIGURE_SEED) -> np.ndarray:
  """[rows*10] images, row k of class/cluster k.

  Where the decoder reads the label, each column keeps one style z across the rows
  (the paper's style grid, Fig. 6/9); otherwise `sample_class` draws per row.
  """
  signatures = exported.decoder.signatures
  return export.class_grid(lambda name, **inputs: signatures[name](**inputs),
                           exported.spec, rows, seed)


# ------------------------------------------------------- an independent classifier


def train_digit_classifier(images: np.ndarray, labels: np.ndarray, epochs: int = 2,
                           hidden: int = 512, batch_size: int = 100, learning_rate=1e-3,
                           seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
  """A 784-hidden-10 ReLU MLP trained with Adam; returns images -> predicted labels.

  Independent of the AAE, to judge whether generated images look like the requested
  digit. Plain TensorFlow (no global seeds touched); deterministic data order.
  """
  rng = np.random.default_rng(seed)
  x_all = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
  y_all = np.asarray(labels, np.int32)
  dim, classes = x_all.shape[1], int(y_all.max()) + 1

  def glorot(n_in, n_out):
    limit = math.sqrt(6.0 / (n_in + n_out))
    return tf.Variable(rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32))

  params = [glorot(dim, hidden), tf.Variable(tf.zeros([hidden])),
            glorot(hidden, classes), tf.Variable(tf.zeros([classes]))]
  moments = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
  step = tf.Variable(0.0)

  def logits(x):
    return tf.nn.relu(x @ params[0] + params[1]) @ params[2] + params[3]

  def train_step(x, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits(x)))
    step.assign_add(1.0)
    for p, g, (m, v) in zip(params, tape.gradient(loss, params), moments):
      m.assign(0.9 * m + 0.1 * g)
      v.assign(0.999 * v + 0.001 * tf.square(g))
      m_hat, v_hat = m / (1 - 0.9 ** step), v / (1 - 0.999 ** step)
      p.assign_sub(learning_rate * m_hat / (tf.sqrt(v_hat) + 1e-7))

  @tf.function
  def train_epoch(x, y):
    # One call per epoch: the per-step Python overhead was most of the time here.
    for i in tf.range(tf.shape(x)[0] // batch_size):
      train_step(x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size])

  for _ in range(epochs):
    order = rng.permutation(len(x_all))
    train_epoch(tf.constant(x_all[order]), tf.constant(y_all[order]))

  predict_fn = tf.function(lambda x: tf.argmax(logits(x), axis=1, output_type=tf.int32))

  def predict(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    if x.max(initial=0.0) > 1.5:    # uint8 pixels
      x = x / 255.0
    return np.concatenate([predict_fn(tf.constant(x[i:i + ENCODE_BATCH])).numpy()
                           for i in range(0, len(x), ENCODE_BATCH)])
  return predict


def style_accuracy(exported: Exported, splits: data.DataSplits, epochs: int,
                   per_class: int = STYLE_SAMPLES_PER_CLASS, seed: int = FIGURE_SEED):
  """{style_accuracy_pct, classifier_test_accuracy_pct}: `sample_class(k)` judged as k."""
  predict = train_digit_classifier(splits.train.images, splits.train.labels, epochs)
  classifier_error = metrics.classification_error_pct(predict(splits.test.images),
                                                      splits.test.labels)
  requested = np.repeat(np.arange(data.NUM_CLASSES, dtype=np.int32), per_class)
  images = exported.decoder.signatures["sample_class"](
      labels=tf.constant(requested), seed=tf.constant(seed, tf.int64))["images"].numpy()
  error = metrics.classification_error_pct(predict(images), requested)
  return {"style_accuracy_pct": 100.0 - error,
          "classifier_test_accuracy_pct": 100.0 - classifier_error}


# -------------------------------------------------------------------- evaluation


def _flat(images: np.ndarray) -> np.ndarray:
  images = np.asarray(images)
  scale = 255.0 if images.dtype == np.uint8 else 1.0
  return images.reshape(len(images), -1).astype(np.float32) / scale


def applicable(exported: Exported) -> Dict[str, bool]:
  """Which optional metrics apply to this export's variant."""
  spec, k = exported.spec, exported.num_categories
  return {
      "classification": spec.has_categories and spec.labels != "none",
      "clustering": spec.has_categories and (
          spec.name in ("clustering", "dim_reduction") or k != data.NUM_CLASSES),
      "style": spec.label_aware and spec.labels != "none" and k == data.NUM_CLASSES,
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

  which = applicable(exported)
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
  if which["style"] and classifier_epochs > 0:
    results.update(timed("style_s", style_accuracy, exported, splits, classifier_epochs))
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
                                                       data.NUM_CLASSES),
      "majority_accuracy": metrics.majority_accuracy(assigned, splits.test.labels, k,
                                                     data.NUM_CLASSES),
      "clusters_used": int(len(np.unique(assigned))),
  }


# ----------------------------------------------------------------------- figures


def _save_png(image: Image.Image, path: str) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp.png"
  image.save(tmp)
  os.replace(tmp, path)
  return path


def read_metrics_log(path: str) -> Dict[str, list]:
  """metrics.jsonl (one JSON object per summary) -> {name: [(step, value), ...]}."""
  series: Dict[str, list] = {}
  with open(path) as f:
    for line in f:
      line = line.strip()
      if not line:
        continue
      record = json.loads(line)
      for name, value in record.items():
        if (name not in ("step", "train_seconds") and isinstance(value, (int, float))
            and math.isfinite(value)):
          series.setdefault(name, []).append((record["step"], float(value)))
  return series


def training_seconds(path: str) -> float:
  """A run's total training time (all resumes) from its metrics.jsonl `train_seconds`."""
  total = 0.0
  with open(path) as f:
    for line in f:
      if line.strip():
        total += float(json.loads(line).get("train_seconds", 0.0))
  return total


def plot_curves(series: Dict[str, list], width: int = 320, height: int = 200,
                columns: int = 3) -> Image.Image:
  """Small multiples: one line plot per metric, each with its own y range."""
  names = sorted(series)
  rows = max(1, math.ceil(len(names) / columns))
  image = Image.new("RGB", (columns * width, rows * height), "white")
  draw = ImageDraw.Draw(image)
  for i, name in enumerate(names):
    left, top = (i % columns) * width, (i // columns) * height
    box = (left + 50, top + 22, left + width - 12, top + height - 24)
    steps, values = np.array(series[name], np.float64).T
    draw.rectangle(box, outline=(160, 160, 160))
    draw.text((left + 50, top + 5), name, fill="black")
    lo, hi = values.min(), values.max()
    span_y, span_x = max(hi - lo, 1e-12), max(steps.max() - steps.min(), 1e-12)
    xs = box[0] + (steps - steps.min()) / span_x * (box[2] - box[0])
    ys = box[3] - (values - lo) / span_y * (box[3] - box[1])
    colour = figures.PALETTE[i % len(figures.PALETTE)]
    if len(xs) > 1:
      draw.line(list(zip(xs, ys)), fill=colour, width=2)
    else:
      draw.ellipse([xs[0] - 2, ys[0] - 2, xs[0] + 2, ys[0] + 2], fill=colour)
    draw.text((left + 2, box[1] - 4), f"{hi:.3g}", fill="black")
    draw.text((left + 2, box[3] - 8), f"{lo:.3g}", fill="black")
    draw.text((box[0], box[3] + 4), f"{steps.min():.0f}", fill="black")
    draw.text((box[2] - 40, box[3] + 4), f"step {steps.max():.0f}", fill="black")
  return image


def write_figures(exported: Exported, splits: data.DataSplits, arrays: dict,
                  figures_dir: str, workdir: Optional[str] = None) -> Dict[str, str]:
  """samples.png, latent.png, class_grid.png (label-aware), loss_curves.png (workdir)."""
  paths = {"samples": os.path.join(figures_dir, "samples.png"),
           "latent": os.path.join(figures_dir, "latent.png")}
  samples = arrays["samples"]["images"]
  side = int(min(10, math.isqrt(len(samples))))
  if side:
    figures.save_image_grid(samples[:side * side], paths["samples"], rows=side, cols=side)
  else:
    del paths["samples"]
  codes = arrays["test_codes"]["z"]
  figures.save_scatter(codes, splits.test.labels, paths["latent"],
                       title="test codes" + (" (first 2 principal components)"
                                             if codes.shape[1] > 2 else ""))
  if exported.spec.label_aware:
    rows = min(exported.num_categories, 30)
    paths["class_grid"] = os.path.join(figures_dir, "class_grid.png")
    figures.save_image_grid(class_grid(exported, rows), paths["class_grid"], rows=rows,
                            cols=10)
  log_path = os.path.join(workdir, "metrics.jsonl") if workdir else None
  if log_path and os.path.exists(log_path):
    series = read_metrics_log(log_path)
    if series:
      paths["loss_curves"] = _save_png(plot_curves(series),
                                       os.path.join(figures_dir, "loss_curves.png"))
  return paths


# ----------------------------------------------------------------------- reports


def _format(value) -> str:
  if isinstance(value, bool) or value is None:
    return str(value)
  if isinstance(value, float):
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.6g}"
  return str(value)


def markdown_table(results: dict) -> str:
  """| metric | value | rows for the scalar results (Parzen as mean ± s.e.)."""
  lines = ["| metric | value |", "|---|---|"]
  if "parzen_ll" in results:
    lines.append(f"| parzen_ll (± s.e.) | {results['parzen_ll']:.2f} ± "
                 f"{results['parzen_se']:.2f} |")
  for key, value in results.items():
    if key in ("parzen_ll", "parzen_se") or isinstance(value, (dict, list)):
      continue
    lines.append(f"| {key} | {_format(value)} |")
  for name, seconds in results.get("timings_s", {}).items():
    lines.append(f"| time: {name} | {seconds:.2f} |")
  return "\n".join(lines) + "\n"


def write_results(results: dict, output: str) -> Dict[str, str]:
  """Writes `output` (JSON) and the markdown table beside it (`.md`)."""
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  md_path = os.path.splitext(output)[0] + ".md"
  for path, text in ((output, json.dumps(results, indent=2, sort_keys=True) + "\n"),
                     (md_path, markdown_table(results))):
    with open(path + ".tmp", "w") as f:
      f.write(text)
    os.replace(path + ".tmp", path)
  return {"json": output, "markdown": md_path}


# --------------------------------------------------------------------- the run


def run(output: str, *, export_dir: Optional[str] = None, workdir: Optional[str] = None,
        version: Optional[int] = None, data_dir: Optional[str] = None,
        dataset: Optional[str] = None, validation_size: Optional[int] = None,
        figures_dir: Optional[str] = None,
        num_parzen_samples: int = DEFAULT_NUM_PARZEN_SAMPLES, seed: int = PARZEN_SEED,
        sigmas: Optional[Sequence[float]] = None,
        parzen_batch_size: int = metrics.DEFAULT_BATCH_SIZE, classifier_epochs: int = 2,
        log: Callable[[str], None] = print) -> dict:
  """Loads (or exports from `workdir`), evaluates, writes JSON/markdown and figures.

  With only `workdir`, its newest checkpoint is exported to a temporary directory
  first; with both, `export_dir` is evaluated and `workdir` only gives loss curves.
  """
  if not output:
    raise EvaluationError("--output is required (the results JSON to write)")
  if not export_dir and not workdir:
    raise EvaluationError("pass --export_dir (exported SavedModels) or --workdir "
                          "(a training run; its newest checkpoint is exported)")
  if num_parzen_samples <= 0:
    raise EvaluationError(f"--num_parzen_samples must be positive, got {num_parzen_samples}")
  if sigmas is not None and not (len(sigmas) and all(s > 0 for s in sigmas)):
    raise EvaluationError(f"--sigmas must be positive numbers, got {list(sigmas)}")
  start = time.perf_counter()
  tmp = None
  try:
    if not export_dir:
      tmp = tempfile.mkdtemp(prefix="aae_eval_export_")
      export_dir = tmp
      export.export_from_workdir(workdir, tmp, version=1)
      version = 1
    exported = load_exported(export_dir, version)
    splits = load_data(exported.info, data_dir, dataset, validation_size, log)
    results, arrays = evaluate(exported, splits, num_parzen_samples=num_parzen_samples,
                               seed=seed, sigmas=sigmas, parzen_batch_size=parzen_batch_size,
                               classifier_epochs=classifier_epochs, log=log)
    results.update(_describe_run(exported, splits, export_dir=None if tmp else export_dir,
                                 workdir=workdir, dataset=dataset,
                                 num_parzen_samples=num_parzen_samples, seed=seed))
    figures_dir = figures_dir or os.path.join(
        os.path.dirname(os.path.abspath(output)), "figures")
    results["figures"] = write_figures(exported, splits, arrays, figures_dir, workdir)
    results["timings_s"]["total_s"] = round(time.perf_counter() - start, 3)
  finally:
    if tmp:
      shutil.rmtree(tmp, ignore_errors=True)
  results["outputs"] = write_results(results, output)
  return results


def _describe_run(exported: Exported, splits: data.DataSplits, *, export_dir, workdir,
                  dataset, num_parzen_samples, seed) -> dict:
  """What was evaluated, on what data: the extras of the results JSON."""
  trained_validation = exported.info.get("config", {}).get("validation_size", 0)
  log_path = os.path.join(workdir, "metrics.jsonl") if workdir else ""
  seconds = training_seconds(log_path) if os.path.exists(log_path) else None
  return {
      # The run's training time over all its resumes (runs older than this field: 0).
      "training_seconds": round(seconds, 1) if seconds else None,
      "variant": exported.info["variant"], "num_categories": exported.num_categories,
      "training_step": exported.info.get("training_step"),
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


# --------------------------------------------------------- the command line


def _define_flags(flags) -> None:
  """Defines the flags on first use (a process that also imports aae_tf.main shares
  --workdir, --data_dir, --dataset, --export_dir and --version with it)."""
  definitions = [
      ("string", "export_dir", None, "Directory with encoder/<version>/ and decoder/<version>/."),
      ("integer", "version", None, "Version to evaluate (default: the newest)."),
      ("string", "workdir", None, "A training run: its newest checkpoint is exported to a "
       "temporary directory and evaluated (unless --export_dir is given), and its "
       "metrics.jsonl is plotted."),
      ("string", "data_dir", None, "Data directory (default: the training config's)."),
      ("string", "dataset", None, "mnist | fashion_mnist (default: the model's)."),
      ("string", "output", None, "Results JSON to write; a markdown table goes beside it."),
      ("string", "figures_dir", None, "Where figures go (default: figures/ beside --output)."),
      ("integer", "num_parzen_samples", DEFAULT_NUM_PARZEN_SAMPLES,
       "Decoder samples for the Parzen window (the paper: 10,000)."),
      ("integer", "parzen_seed", PARZEN_SEED, "Seed of the Parzen samples."),
      ("integer", "validation_size", None, "Validation images carved from the training "
       "set (default: the training config's, or 10,000 if it had none)."),
      ("list", "sigmas", None, "Parzen sigma grid (default: logspace(-1, 0, 10))."),
      ("integer", "parzen_batch_size", metrics.DEFAULT_BATCH_SIZE, "Rows per Parzen matmul."),
      ("integer", "classifier_epochs", 2, "Epochs of the independent digit classifier "
       "behind style_accuracy_pct (0: skip it)."),
  ]
  for kind, name, default, help_text in definitions:
    if name not in flags.FLAGS:
      getattr(flags, f"DEFINE_{kind}")(name, default, help_text)


def _fail(error: Exception) -> None:
  print(f"error: {error}", file=sys.stderr)
  sys.exit(2)


def main(argv) -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags_ = flags.FLAGS
  if len(argv) > 1:
    _fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
  try:
    try:
      sigmas = [float(s) for s in flags_.sigmas] if flags_.sigmas else None
    except ValueError:
      raise EvaluationError(f"--sigmas={','.join(flags_.sigmas)}: expected comma-separated "
                            "positive numbers") from None
    results = run(flags_.output, export_dir=flags_.export_dir, workdir=flags_.workdir,
                  version=flags_.version, data_dir=flags_.data_dir, dataset=flags_.dataset,
                  validation_size=flags_.validation_size, figures_dir=flags_.figures_dir,
                  num_parzen_samples=flags_.num_parzen_samples, seed=flags_.parzen_seed,
                  sigmas=sigmas, parzen_batch_size=flags_.parzen_batch_size,
                  classifier_epochs=flags_.classifier_epochs,
                  log=lambda message: print(message, file=sys.stderr))
  except (EvaluationError, data.DataError, export.ExportError, ValueError, OSError) as e:
    _fail(e)
  print(markdown_table(results), end="")
  print(f"wrote {results['outputs']['json']} and {results['outputs']['markdown']}")


def console_main() -> None:
  """`python -m aae_tf.evaluate`."""
  from absl import app, flags  # pylint: disable=g-import-not-at-top
  _define_flags(flags)
  app.run(main)


if __name__ == "__main__":
  console_main()
