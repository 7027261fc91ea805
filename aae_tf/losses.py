"""Pure per-example loss functions.

Each returns one value per example; the trainer turns them into a replica's share of
the global-batch mean with `tf.nn.compute_average_loss`, which is what makes N
replicas step exactly like one (the optimizers SUM gradients across replicas).
"""

import tensorflow as tf

from aae_tf import choices


def _flatten(x):
  return tf.reshape(x, [tf.shape(x)[0], -1])


def _reduce_pixels(per_pixel, scale: str):
  """[N, pixels] -> [N]: a sum over pixels ("per_image") or a mean ("per_pixel").

  The paper's "Euclidean cost" is per image: its learning rates (reconstruction SGD
  lr 0.01) are set on that scale. On a per-pixel mean the same rates train ~784x
  slower on MNIST.
  """
  if scale == "per_image":
    return tf.reduce_sum(per_pixel, axis=1)
  if scale == "per_pixel":
    return tf.reduce_mean(per_pixel, axis=1)
  raise ValueError(f"unknown reconstruction_scale {scale!r}; use per_image or per_pixel")


def mse(images, logits, scale: str = "per_image"):
  """Squared error of sigmoid(logits) against `images`, summed (or averaged) over pixels."""
  return _reduce_pixels(tf.square(_flatten(images) - tf.sigmoid(_flatten(logits))), scale)


def bce(images, logits, scale: str = "per_image"):
  """Binary cross-entropy from logits (computed stably), summed (or averaged) over pixels."""
  return _reduce_pixels(
      tf.nn.sigmoid_cross_entropy_with_logits(labels=_flatten(images), logits=_flatten(logits)),
      scale)


RECONSTRUCTION_LOSSES = {"mse": mse, "bce": bce}
RECONSTRUCTION_SCALES = choices.RECONSTRUCTION_SCALES


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


def category_consistency(logits, shifted_logits):
  """Per-example KL(q(y|x) || q(y|shift(x))); no gradient reaches the unshifted side,
  so the shifted prediction is pulled to the original, not both to each other."""
  target = tf.stop_gradient(tf.nn.softmax(logits))
  log_target = tf.stop_gradient(tf.nn.log_softmax(logits))
  return tf.reduce_sum(target * (log_target - tf.nn.log_softmax(shifted_logits)), axis=1)
