"""Convolutional encoder body and decoder head (`--architecture=conv`), plain `tf.Module`s.

The encoder body maps [N, H, W, C] images through stride-2 4x4 convolutions (`SAME`
padding: each halves the spatial size, rounding up) to flat features; the decoder
head mirrors it with transposed convolutions whose output sizes are the encoder's, so
any H, W works (not only powers of two). The dense trunk, the heads and the
discriminators stay MLPs, as in the paper. Like `models.Dense`, layers compute in
`compute_dtype` with float32 variables.
"""

import math
from typing import List, Sequence, Tuple

import tensorflow as tf

KERNEL = 4
STRIDE = 2


def feature_maps(shape: Sequence[int], channels: Sequence[int]) -> List[Tuple[int, int, int]]:
  """[(H, W, C)] of the input and after each convolution."""
  h, w, c = shape
  maps = [(h, w, c)]
  for out in channels:
    h, w = math.ceil(h / STRIDE), math.ceil(w / STRIDE)
    maps.append((h, w, out))
  return maps


class _Layer(tf.Module):
  def __init__(self, kernel_shape, out_channels, init, compute_dtype, name):
    super().__init__(name=name)
    self.kernel = tf.Variable(init(kernel_shape), name="kernel")
    self.bias = tf.Variable(tf.zeros([out_channels]), name="bias")
    self.compute_dtype = compute_dtype

  def _cast(self, x):
    return (tf.cast(t, self.compute_dtype) for t in (x, self.kernel, self.bias))


class Conv(_Layer):
  """Stride-2 convolution, SAME padding."""

  def __init__(self, in_channels, out_channels, init, compute_dtype, name=None):
    super().__init__([KERNEL, KERNEL, in_channels, out_channels], out_channels, init,
                     compute_dtype, name)

  def __call__(self, x):
    x, kernel, bias = self._cast(x)
    return tf.nn.bias_add(tf.nn.conv2d(x, kernel, STRIDE, "SAME"), bias)


class ConvTranspose(_Layer):
  """Stride-2 transposed convolution to an explicit (H, W, C)."""

  def __init__(self, in_channels, out_map, init, compute_dtype, name=None):
    super().__init__([KERNEL, KERNEL, out_map[2], in_channels], out_map[2], init,
                     compute_dtype, name)
    self.out_map = tuple(out_map)

  def __call__(self, x):
    x, kernel, bias = self._cast(x)
    shape = tf.stack([tf.shape(x)[0], *self.out_map])
    return tf.nn.bias_add(tf.nn.conv2d_transpose(x, kernel, shape, STRIDE, "SAME"), bias)


class EncoderBody(tf.Module):
  """[N, H, W, C] -> ReLU convolutions -> flat features [N, out_dim]."""

  def __init__(self, shape, channels, initializer, compute_dtype, name="conv_body"):
    super().__init__(name=name)
    maps = feature_maps(shape, channels)
    self.layers = [Conv(maps[i][2], maps[i + 1][2], initializer(i), compute_dtype,
                        name=f"conv_{i}") for i in range(len(channels))]
    self.out_dim = math.prod(maps[-1])

  def __call__(self, images):
    x = images
    for layer in self.layers:
      x = tf.nn.relu(layer(x))
    return tf.cast(tf.reshape(x, [-1, self.out_dim]), tf.float32)


class DecoderHead(tf.Module):
  """Flat features [N, in_dim] (in_dim = the smallest map's size) -> logits [N, H*W*C]."""

  def __init__(self, shape, channels, initializer, compute_dtype, name="deconv_head"):
    super().__init__(name=name)
    maps = feature_maps(shape, channels)
    self.first_map = maps[-1]
    self.in_dim = math.prod(self.first_map)
    self.out_dim = math.prod(shape)
    backwards = maps[::-1]
    self.layers = [ConvTranspose(backwards[i][2], backwards[i + 1], initializer(i),
                                 compute_dtype, name=f"deconv_{i}")
                   for i in range(len(channels))]

  def __call__(self, features):
    x = tf.reshape(features, [-1, *self.first_map])
    for i, layer in enumerate(self.layers):
      x = layer(x)
      if i < len(self.layers) - 1:
        x = tf.nn.relu(x)
    return tf.cast(tf.reshape(x, [-1, self.out_dim]), tf.float32)
