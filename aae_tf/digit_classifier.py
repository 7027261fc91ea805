"""An independent digit classifier: judges whether generated images show the digit
the decoder was asked for (the style/content check of label-reading decoders), and
whether each cluster head of a clustering model shows its members' digit.
"""


import numpy as np
import tensorflow as tf

from aae_tf import data
from aae_tf import metrics
from aae_tf import models
from aae_tf import optimizers
from aae_tf.exported import ENCODE_BATCH, Exported, class_grid, decode, encode

STYLE_SAMPLES_PER_CLASS = 100


def train_digit_classifier(images: np.ndarray, labels: np.ndarray, epochs: int = 2,
                           hidden: int = 512, batch_size: int = 100, learning_rate=1e-3,
                           seed: int = 0) -> "Judge":
  """A D-hidden-K ReLU MLP on flattened examples, trained with Adam; returns the
  trained `Judge` (examples -> predicted labels, and its features).

  Independent of the AAE (its own weights, trained on the data's labels), to judge
  whether generated images look like the requested class. Built from the package's own
  pieces (`models.MLP`, the fused `optimizers.Adam`), float32, deterministic data order.
  """
  rng = np.random.default_rng(seed)
  x_all = data.to_unit_float(images).reshape(len(images), -1)
  y_all = np.asarray(labels, np.int32)
  network = models.MLP(x_all.shape[1], (hidden,), int(y_all.max()) + 1,
                       init="glorot_uniform", seed=seed, name="digit_classifier")
  optimizer = optimizers.Adam(learning_rate)
  optimizer.build(network.trainable_variables)

  def train_step(x, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, network(x)))
    variables = network.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

  @tf.function
  def train_epoch(x, y):
    # One call per epoch: the per-step Python overhead was most of the time here.
    for i in tf.range(tf.shape(x)[0] // batch_size):
      train_step(x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size])

  for _ in range(epochs):
    order = rng.permutation(len(x_all))
    train_epoch(tf.constant(x_all[order]), tf.constant(y_all[order]))

  return Judge(network)


class Judge:
  """A trained classifier: called on examples, their predicted labels; `features`, its
  hidden layer (the space the Fréchet distance is measured in)."""

  def __init__(self, network: models.MLP):
    hidden = network.layers[0]
    self._predict = tf.function(
        lambda x: tf.argmax(network(x), axis=1, output_type=tf.int32))
    self._features = tf.function(lambda x: tf.nn.relu(hidden(x)))

  def _batched(self, fn, x: np.ndarray) -> np.ndarray:
    x = data.to_unit_float(x).reshape(len(x), -1)
    return np.concatenate([fn(tf.constant(x[i:i + ENCODE_BATCH])).numpy()
                           for i in range(0, len(x), ENCODE_BATCH)])

  def __call__(self, x: np.ndarray) -> np.ndarray:
    return self._batched(self._predict, x)

  def features(self, x: np.ndarray) -> np.ndarray:
    return self._batched(self._features, x)


def classifier_for(splits: data.DataSplits, epochs: int):
  """(judge, {classifier_test_accuracy_pct}): the judge, trained on the training split."""
  predict = train_digit_classifier(splits.train.images, splits.train.labels, epochs)
  error = metrics.classification_error_pct(predict(splits.test.images), splits.test.labels)
  return predict, {"classifier_test_accuracy_pct": 100.0 - error}


def frechet_distance(exported_samples: np.ndarray, images: np.ndarray, judge) -> float:
  """The Fréchet distance between generated samples and real images in the judge's
  hidden features (FID's construction, in a feature space trained on the data itself)."""
  return metrics.frechet_distance(judge.features(exported_samples), judge.features(images))


def cluster_heads(exported: Exported) -> np.ndarray:
  """[K, ...] each category's head: the decoder at category k with z = 0 (the paper's
  cluster prototypes; for cluster-head models W_c[k] itself)."""
  k, dim = exported.num_categories, int(exported.info["latent_dim"])
  return decode(exported, np.zeros([k, dim], np.float32), np.arange(k, dtype=np.int32))


def cluster_head_agreement(exported: Exported, splits: data.DataSplits, predict,
                           seed: int = 0) -> dict:
  """{cluster_heads_agreement_pct, ..., cluster_grid_agreement_pct}: whether each used
  cluster's head, and each cell of its row of the cluster grid (the figure's styles,
  drawn with `seed`), reads as the majority digit of its validation members (the test
  split is not read)."""
  k = exported.num_categories
  assigned = np.argmax(encode(exported, splits.validation.images)["label_probs"], axis=1)
  members = (assigned, splits.validation.labels, k, splits.num_classes)
  found = metrics.cluster_head_agreement(predict(cluster_heads(exported)), *members)
  grid = class_grid(exported, k, seed)
  return {"cluster_heads_agreement_pct": found["agreement_pct"],
          "cluster_heads_used": found["used"], "cluster_heads_agreeing": found["agreeing"],
          "cluster_heads_distinct_digits": found["distinct_head_digits"],
          "cluster_grid_agreement_pct": metrics.cluster_grid_agreement(
              predict(grid).reshape(k, -1), *members)}


def style_accuracy(exported: Exported, splits: data.DataSplits, predict, seed: int,
                   per_class: int = STYLE_SAMPLES_PER_CLASS):
  """{style_accuracy_pct}: `sample_class(k)` judged as k."""
  requested = np.repeat(np.arange(splits.num_classes, dtype=np.int32), per_class)
  images = exported.decoder.signatures["sample_class"](
      labels=tf.constant(requested), seed=tf.constant(seed, tf.int64))["images"].numpy()
  error = metrics.classification_error_pct(predict(images), requested)
  return {"style_accuracy_pct": 100.0 - error}
