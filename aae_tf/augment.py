"""Random small affine warps of an image batch, inside the train step.

Used by `--category_consistency` (not in the paper): q(y|x) is asked to agree between an
image and a warped copy, so the categorical code follows what a shift or a small rotation
keeps (the digit) rather than what it changes (the position and slant of the strokes).

The warp is a bilinear gather with zero fill, built from stateless draws, so it runs under
`tf.function`, XLA and `tf.distribute` alike and a seed gives the same warp everywhere.
"""

import math

import tensorflow as tf

from aae_tf import rng


def warp(images, shift, angle):
  """`images` [B, H, W, C] sampled at each output pixel's rotated-then-shifted source.

  shift: [B, 2] (dy, dx) in pixels; angle: [B] in radians, about the image centre.
  Output pixel (y, x) reads the input at R(angle) (p - c) + c - shift, so a positive
  shift moves the content down and right. Sources outside the image read 0.
  """
  shape = tf.shape(images)
  height, width = shape[1], shape[2]
  dtype = images.dtype
  ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32),
                       indexing="ij")
  centre_y = (tf.cast(height, tf.float32) - 1.0) / 2.0
  centre_x = (tf.cast(width, tf.float32) - 1.0) / 2.0
  ys, xs = tf.reshape(ys - centre_y, [1, -1]), tf.reshape(xs - centre_x, [1, -1])
  cos, sin = tf.cos(angle)[:, None], tf.sin(angle)[:, None]
  source_y = cos * ys + sin * xs + centre_y - shift[:, 0:1]
  source_x = -sin * ys + cos * xs + centre_x - shift[:, 1:2]

  flat = tf.reshape(images, [shape[0], height * width, shape[3]])
  top, left = tf.floor(source_y), tf.floor(source_x)
  result = 0.0
  for dy in (0.0, 1.0):
    for dx in (0.0, 1.0):
      y, x = top + dy, left + dx
      weight = (1.0 - tf.abs(source_y - y)) * (1.0 - tf.abs(source_x - x))
      inside = ((y >= 0) & (y <= tf.cast(height, tf.float32) - 1.0) &
                (x >= 0) & (x <= tf.cast(width, tf.float32) - 1.0))
      weight = tf.where(inside, weight, 0.0)
      index = tf.cast(tf.clip_by_value(y, 0.0, tf.cast(height - 1, tf.float32)) *
                      tf.cast(width, tf.float32) +
                      tf.clip_by_value(x, 0.0, tf.cast(width - 1, tf.float32)), tf.int32)
      result += tf.gather(flat, index, batch_dims=1) * tf.cast(weight[..., None], dtype)
  return tf.reshape(result, shape)


def random_warp(images, seed, max_shift: float, max_rotation_degrees: float):
  """`images` ([B, H, W] or [B, H, W, C]) each warped by a shift uniform in ±max_shift
  pixels per axis and a rotation uniform in ±max_rotation_degrees, drawn from `seed`."""
  if images.shape.rank == 3:
    return random_warp(images[..., None], seed, max_shift, max_rotation_degrees)[..., 0]
  if images.shape.rank != 4:
    raise ValueError(f"warping needs image examples ([H, W] or [H, W, C]); got a batch of "
                     f"shape {images.shape}")
  batch = tf.shape(images)[0]
  shift = rng.uniform(tf.stack([batch, 2]), seed, -max_shift, max_shift)
  limit = max_rotation_degrees * math.pi / 180.0
  angle = rng.uniform(tf.reshape(batch, [1]), rng.fold_in(seed, 1), -limit, limit)
  return warp(images, shift, angle)
