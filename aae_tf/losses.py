"""Pure per-example loss functions.

Each returns one value per example; the trainer turns them into a replica's share of
the global-batch mean with `tf.nn.compute_average_loss`, which is what makes N
replicas step exactly like one (the optimizers SUM gradients across replicas).
"""

import tensorflow as tf


def _flatten(x):
  return tf.reshape(x, [tf.shape(x)[0], -1])


def mse(images, logits):
  """Mean over pixels of the squared error of sigmoid(logits) against `images`."""
  return tf.reduce_mean(tf.square(_flatten(images) - tf.sigmoid(_flatten(logits))), axis=1)


def bce(images, logits):
  """Mean over pixels of the binary cross-entropy, computed stably from logits."""
  return tf.reduce_mean(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=_flatten(images), logits=_flatten(logits)),
      axis=1)


RECONSTRUCTION_LOSSES = {"mse": mse, "bce": bce}


def discriminator(real_logits, fake_logits):
  """Cross-entropy of calling prior samples real (1) and encoder codes fake (0)."""
  real = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.ones_like(real_logits), logits=real_logits)
  fake = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.zeros_like(fake_logits), logits=fake_logits)
  return tf.reshape(real + fake, [-1])


def generator(fake_logits):
  """Non-saturating generator loss: the encoder wants its codes called real."""
  return tf.reshape(tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.ones_like(fake_logits), logits=fake_logits), [-1])


def accuracy(logits, is_real: bool):
  """Per-example 0/1: did the discriminator classify this sample correctly?"""
  predicted_real = tf.reshape(logits, [-1]) > 0.0
  return tf.cast(predicted_real if is_real else tf.logical_not(predicted_real), tf.float32)


def classification(labels, logits):
  """Per-example cross-entropy of integer `labels` under categorical `logits`."""
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
