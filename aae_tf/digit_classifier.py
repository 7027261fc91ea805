"""An independent digit classifier: judges whether generated images show the digit
the decoder was asked for (the style/content check of the supervised variants).
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from aae_tf import data
from aae_tf import metrics
from aae_tf import models
from aae_tf import optimizers
from aae_tf.exported import ENCODE_BATCH, Exported

STYLE_SAMPLES_PER_CLASS = 100


def train_digit_classifier(images: np.ndarray, labels: np.ndarray, epochs: int = 2,
                           hidden: int = 512, batch_size: int = 100, learning_rate=1e-3,
                           seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
  """A D-hidden-K ReLU MLP on flattened examples, trained with Adam; returns
  examples -> predicted labels.

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

  predict_fn = tf.function(lambda x: tf.argmax(network(x), axis=1, output_type=tf.int32))

  def predict(x: np.ndarray) -> np.ndarray:
    x = data.to_unit_float(x).reshape(len(x), -1)
    return np.concatenate([predict_fn(tf.constant(x[i:i + ENCODE_BATCH])).numpy()
                           for i in range(0, len(x), ENCODE_BATCH)])
  return predict


def style_accuracy(exported: Exported, splits: data.DataSplits, epochs: int,
                   seed: int, per_class: int = STYLE_SAMPLES_PER_CLASS):
  """{style_accuracy_pct, classifier_test_accuracy_pct}: `sample_class(k)` judged as k."""
  predict = train_digit_classifier(splits.train.images, splits.train.labels, epochs)
  classifier_error = metrics.classification_error_pct(predict(splits.test.images),
                                                      splits.test.labels)
  requested = np.repeat(np.arange(splits.num_classes, dtype=np.int32), per_class)
  images = exported.decoder.signatures["sample_class"](
      labels=tf.constant(requested), seed=tf.constant(seed, tf.int64))["images"].numpy()
  error = metrics.classification_error_pct(predict(images), requested)
  return {"style_accuracy_pct": 100.0 - error,
          "classifier_test_accuracy_pct": 100.0 - classifier_error}
