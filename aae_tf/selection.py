"""Model selection on the validation split: a cheap metric per variant, the best
checkpoint kept apart from the rolling ones.

Every few epochs training scores the in-memory model on the validation split carved
from the training set (never on the test set) with the metric that says what the
variant is for:

  validation_error_pct             variants with a categorical head trained on labels
                                   (semi-supervised): argmax q(y|x) against the label.
  validation_clustering_error_pct  a categorical head without labels (clustering,
                                   dim_reduction): the paper's rule within validation —
                                   each cluster takes the label of the image of the first
                                   half with the highest q(y=k|x); the second half is scored.
  validation_style_accuracy_pct    the decoder or prior reads a label (supervised,
                                   label-conditioned): how often `sample_class(k)` images
                                   are digit k for a classifier trained on the training split.
  validation_parzen_ll             otherwise: Parzen log-likelihood of a validation subset
                                   under decoder samples (sigma chosen on that subset).

The best value so far and its step live in `<workdir>/checkpoints/best/best.json` next to
that step's checkpoint; `aae_tf.export` takes it by default.
"""

import dataclasses
import json
import os
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from aae_tf import atomic
from aae_tf import checkpoints
from aae_tf import data
from aae_tf import digit_classifier
from aae_tf import metrics

VALIDATION_SEED = 4242          # fixed: every validation of a run sees the same draws
PARZEN_SAMPLES = 5000
PARZEN_IMAGES = 1000
STYLE_SAMPLES_PER_CLASS = 100
BATCH = 1000


@dataclasses.dataclass(frozen=True)
class Metric:
  name: str
  higher_is_better: bool

  def better(self, value: float, than: Optional[float]) -> bool:
    """Whether `value` should replace the best `than`. Ties go to the later checkpoint,
    which has trained longer: a style accuracy that saturates at 100 % early must not
    pin the export to a blurry early model."""
    if than is None:
      return True
    return value >= than if self.higher_is_better else value <= than


METRICS = {m.name: m for m in (
    Metric("validation_error_pct", False),
    Metric("validation_clustering_error_pct", False),
    Metric("validation_style_accuracy_pct", True),
    Metric("validation_parzen_ll", True),
)}


def metric_for(spec, num_categories: int, num_classes: int) -> Metric:
  """The validation metric that says what variant `spec` is for."""
  if spec.has_categories:
    labelled = spec.labels != "none" and num_categories == num_classes
    return METRICS["validation_error_pct" if labelled else "validation_clustering_error_pct"]
  if spec.label_aware and spec.labels != "none" and num_categories == num_classes:
    return METRICS["validation_style_accuracy_pct"]
  return METRICS["validation_parzen_ll"]


def _batched(fn, images):
  """fn over float [0, 1] batches of `images`; dict outputs concatenated."""
  parts = [fn(tf.constant(data.to_unit_float(images[i:i + BATCH])))
           for i in range(0, len(images), BATCH)]
  return {key: np.concatenate([p[key].numpy() for p in parts]) for key in parts[0]}


class Validator:
  """Scores the in-memory encoder/decoder serving modules on the validation split."""

  def __init__(self, encoder_module, decoder_module, spec, config, splits, num_classes,
               log: Callable[[str], None] = print):
    self.metric = metric_for(spec, config.model.num_categories, num_classes)
    self.encoder, self.decoder = encoder_module, decoder_module
    self.images, self.labels = splits.validation.images, splits.validation.labels
    self.num_categories = config.model.num_categories
    self._judge = None
    if self.metric.name == "validation_style_accuracy_pct":
      # Trained once, on the training split: the judge of every validation of the run.
      self._judge = digit_classifier.train_digit_classifier(
          splits.train.images, splits.train.labels, epochs=2, seed=VALIDATION_SEED)
      log("validation: a digit classifier trained on the training split judges the "
          "class samples")
    log(f"validation: {self.metric.name} on {len(self.labels)} validation images "
        f"({'higher' if self.metric.higher_is_better else 'lower'} is better)")

  def __call__(self) -> float:
    return float(getattr(self, "_" + self.metric.name)())

  def _validation_error_pct(self):
    probs = _batched(self.encoder.encode, self.images)["label_probs"]
    return metrics.classification_error_pct(np.argmax(probs, axis=1), self.labels)

  def _validation_clustering_error_pct(self):
    probs = _batched(self.encoder.encode, self.images)["label_probs"]
    half = len(probs) // 2
    return metrics.clustering_error_pct(probs[:half], self.labels[:half], probs[half:],
                                        self.labels[half:])

  def _validation_style_accuracy_pct(self):
    requested = np.repeat(np.arange(self.num_categories, dtype=np.int32),
                          STYLE_SAMPLES_PER_CLASS)
    images = self.decoder.sample_class(tf.constant(requested),
                                       tf.constant(VALIDATION_SEED, tf.int64))["images"]
    return 100.0 - metrics.classification_error_pct(self._judge(images.numpy()), requested)

  def _validation_parzen_ll(self):
    samples = self.decoder.sample(tf.constant(PARZEN_SAMPLES),
                                  tf.constant(VALIDATION_SEED, tf.int64))["images"].numpy()
    subset = data.to_unit_float(self.images[:PARZEN_IMAGES])
    _, scores = metrics.choose_parzen_sigma(samples.reshape(len(samples), -1),
                                            subset.reshape(len(subset), -1))
    return max(scores.values())


class BestCheckpoint:
  """The best-scoring checkpoint so far, in `<workdir>/checkpoints/best/`, with its record."""

  def __init__(self, checkpoint: tf.train.Checkpoint, workdir: str, metric: Metric):
    self.directory = checkpoints.best_directory(workdir)
    self.metric = metric
    self.manager = tf.train.CheckpointManager(checkpoint, self.directory, max_to_keep=1)
    self.record = checkpoints.read_best(workdir)
    if self.record and self.record.get("metric") != metric.name:
      self.record = None  # another metric's best is not comparable: start over

  @property
  def value(self) -> Optional[float]:
    return self.record["value"] if self.record else None

  def offer(self, step: int, value: float) -> bool:
    """Saves `step` as the best if `value` beats the record; returns whether it did."""
    if not np.isfinite(value) or not self.metric.better(value, self.value):
      return False
    path = self.manager.save(checkpoint_number=step)
    self.record = {"step": step, "metric": self.metric.name, "value": value,
                   "higher_is_better": self.metric.higher_is_better,
                   "checkpoint": os.path.basename(path)}
    atomic.write_text(os.path.join(self.directory, checkpoints.BEST_RECORD),
                      json.dumps(self.record, indent=2, sort_keys=True))
    return True
