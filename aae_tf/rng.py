"""Stateless random numbers with the algorithm pinned, and seeds as int32 pairs.

Why pin: TensorFlow's default `alg="auto_select"` may pick other generators on other
devices; Philox is what the CPU and GPU kernels share, so the exported `sample`
signature gives the same images for a seed wherever it is served.

Measured here (TF 2.21): inside `jit_compile=True`, a stateless sampler fed a seed
computed at run time draws a *different* stream than the TF kernels (a constant seed
is folded on the host and agrees). So a run is exactly reproducible for a fixed
`--jit` setting, but `--jit` and no-jit runs are not bit-comparable (they are
statistically the same); tests compare like with like.
"""

import tensorflow as tf

ALG = "philox"


def _int32(seed):
  return tf.cast(seed, tf.int32)


def make_seed(value) -> tf.Tensor:
  """A `[2]` int32 seed carrying all 64 bits of an integer (or int64 tensor)."""
  value = tf.cast(value, tf.int64)
  return tf.stack([_int32(value), _int32(tf.bitwise.right_shift(value, 32))])


def fold_in(seed, data):
  """A new `[2]` int32 seed derived from `seed` and an integer stream id."""
  return tf.random.experimental.stateless_fold_in(_int32(seed), data, alg=ALG)


def normal(shape, seed, dtype=tf.float32):
  return tf.random.stateless_normal(shape, _int32(seed), dtype=dtype, alg=ALG)


def uniform(shape, seed, minval=0.0, maxval=1.0, dtype=tf.float32):
  return tf.random.stateless_uniform(shape, _int32(seed), minval, maxval, dtype=dtype, alg=ALG)


def categorical_uniform(n, num_classes, seed):
  """`n` int32 labels drawn uniformly from [0, num_classes)."""
  return tf.random.stateless_uniform([n], _int32(seed), 0, num_classes, dtype=tf.int32,
                                    alg=ALG)


def dropout(x, rate, seed):
  return tf.nn.experimental.stateless_dropout(x, rate, _int32(seed), rng_alg=ALG)
