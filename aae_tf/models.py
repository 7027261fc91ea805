"""The networks, as plain `tf.Module`s.

Why not Keras models: Keras 3 variables are not `tf.Variable`s, and a SavedModel that
holds them fails in the session loader TF Serving uses. Plain
modules hold real `tf.Variable`s (Keras 3 variables are not, and TF Serving's
session loader cannot find them), checkpoint and export without adapters, and give us
two things Keras layers make awkward: stateless dropout keyed by the train step (so an
interrupted run resumes bit-identically, on any number of replicas) and an explicit
compute dtype (bf16 matmuls on oneDNN, AVX512-BF16 or AMX, with fp32 weights).
"""

import dataclasses
import math
from typing import Dict, Optional, Sequence

import tensorflow as tf

from aae_tf import choices
from aae_tf import conv
from aae_tf import precision
from aae_tf import rng

#: q(z|x) choices of the paper's section 2.
POSTERIORS = choices.POSTERIORS
#: mlp: every network an MLP on the flattened example (the paper's) | conv: encoder and
#: decoder get convolutional layers next to the data (images only).
ARCHITECTURES = choices.ARCHITECTURES
parse_weight_init = choices.parse_weight_init
_LOG_VAR_HEAD = "z_log_var"


def _initializer(spec: str, seed: Sequence[int]):
  """Returns `shape -> initial value` for an init spec (glorot_uniform | normal:<std>).

  Dense kernels are [in, out]; convolution kernels [k, k, in, out] (fans scaled by k*k).
  """
  def glorot_uniform(shape):
    receptive = math.prod(shape[:-2])
    limit = (6.0 / (receptive * (shape[-2] + shape[-1]))) ** 0.5
    return rng.uniform(shape, seed, -limit, limit)

  kind, std = parse_weight_init(spec)
  if kind == "glorot_uniform":
    return glorot_uniform
  return lambda shape: std * rng.normal(shape, seed)


class Dense(tf.Module):
  """y = x W + b, computed in `compute_dtype` with float32 variables."""

  def __init__(self, in_dim, out_dim, init, seed, compute_dtype=tf.float32, name=None):
    super().__init__(name=name)
    self.kernel = tf.Variable(_initializer(init, seed)([in_dim, out_dim]), name="kernel")
    self.bias = tf.Variable(tf.zeros([out_dim]), name="bias")
    self.compute_dtype = compute_dtype

  def __call__(self, x):
    kernel, bias = self.kernel, self.bias
    if self.compute_dtype != tf.float32:
      x, kernel, bias = (tf.cast(t, self.compute_dtype) for t in (x, kernel, bias))
    # BiasAdd, not `+`: grappler fuses MatMul+BiasAdd(+Relu) into one oneDNN kernel, and
    # its gradient is one BiasAddGrad instead of a broadcast-aware reduction.
    return tf.nn.bias_add(tf.matmul(x, kernel), bias)


class BatchNorm(tf.Module):
  """Batch normalisation over the batch axis, in float32.

  Training (a call with `training=True`) normalises with the batch's statistics and
  moves the running ones towards them; inference (what `encode` serves) uses the running
  ones. Under a distribution strategy each replica normalises its own rows and keeps
  its own running statistics, which are averaged when read (checkpoint, export).
  """

  def __init__(self, dim, momentum=0.99, epsilon=1e-3, name=None):
    super().__init__(name=name)
    self.gamma = tf.Variable(tf.ones([dim]), name="gamma")
    self.beta = tf.Variable(tf.zeros([dim]), name="beta")
    running = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                   aggregation=tf.VariableAggregation.MEAN)
    self.moving_mean = tf.Variable(tf.zeros([dim]), name="moving_mean", **running)
    self.moving_variance = tf.Variable(tf.ones([dim]), name="moving_variance", **running)
    self.momentum, self.epsilon = momentum, epsilon

  def __call__(self, x, training: bool):
    x32 = tf.cast(x, tf.float32)
    if training:
      mean, variance = tf.nn.moments(x32, axes=[0])
      for running, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
        running.assign(self.momentum * running + (1.0 - self.momentum) * value)
    else:
      mean, variance = self.moving_mean, self.moving_variance
    normalised = tf.nn.batch_normalization(x32, mean, variance, self.beta, self.gamma,
                                           self.epsilon)
    return tf.cast(normalised, x.dtype)


class MLP(tf.Module):
  """ReLU hidden layers with optional stateless dropout; linear output (float32)."""

  def __init__(self, in_dim, hidden, out_dim, *, init, seed, dropout=0.0,
               compute_dtype=tf.float32, name=None):
    super().__init__(name=name)
    sizes = [in_dim, *hidden, out_dim]
    self.layers = [
        Dense(sizes[i], sizes[i + 1], init, (seed, i), compute_dtype, name=f"dense_{i}")
        for i in range(len(sizes) - 1)
    ]
    self.dropout = dropout
    self.in_dim, self.out_dim = in_dim, out_dim

  def __call__(self, x, dropout_seed: Optional[tf.Tensor] = None):
    """Applies the network. A call with a `dropout_seed` is a training call: dropout is on."""
    training = dropout_seed is not None
    for i, layer in enumerate(self.layers[:-1]):
      x = tf.nn.relu(layer(x))
      if training and self.dropout > 0:
        x = rng.dropout(x, self.dropout, rng.fold_in(dropout_seed, i))
    return tf.cast(self.layers[-1](x), tf.float32)


class Encoder(tf.Module):
  """Image -> shared trunk -> one linear head per code ("z": style, "y": category).

  The posterior q(z|x) (paper section 2) is one of POSTERIORS:
    deterministic: z = f(x);
    gaussian: z = mean(x) + exp(log_var(x) / 2) * eps, eps ~ N(0, I) (reparameterised);
    universal: z = f(x, eta), eta ~ N(0, I) concatenated to the flattened image.
  Called without a `posterior_seed`, every posterior gives its deterministic point (the
  mean, or f(x, 0)): what `encode` serves. With a seed, a draw (training, `encode_sample`).
  """

  def __init__(self, hidden, head_dims: Dict[str, int], *, init, seed, dropout,
               compute_dtype, posterior="deterministic", noise_dim=0, data_shape=(28, 28, 1),
               conv_channels=(), head_batch_norm=(), name="encoder"):
    super().__init__(name=name)
    if posterior not in POSTERIORS:
      raise ValueError(f"unknown posterior {posterior!r}; use one of {', '.join(POSTERIORS)}")
    self.posterior = posterior
    self.noise_dim = noise_dim if posterior == "universal" else 0
    self.data_shape = tuple(data_shape)
    self.data_size = math.prod(data_shape)
    # With conv_channels, convolutions read the image and the MLP trunk their features.
    self.body = (conv.EncoderBody(data_shape, conv_channels,
                                  lambda i: _initializer(init, (seed, 500 + i)), compute_dtype)
                 if conv_channels else None)
    features = self.body.out_dim if self.body else self.data_size
    self.trunk = MLP(features + self.noise_dim, hidden[:-1], hidden[-1], init=init,
                     seed=seed, dropout=dropout, compute_dtype=compute_dtype, name="trunk")
    head_dims = dict(head_dims)
    if posterior == "gaussian":
      head_dims[_LOG_VAR_HEAD] = head_dims["z"]
    self.heads = {
        head: Dense(hidden[-1], dim, init, (seed, 100 + i), compute_dtype, name=f"head_{head}")
        for i, (head, dim) in enumerate(sorted(head_dims.items()))
    }
    self.head_norms = {head: BatchNorm(head_dims[head], name=f"{head}_batch_norm")
                       for head in head_batch_norm}
    self.dropout = dropout

  def __call__(self, images, dropout_seed=None, posterior_seed=None) -> Dict[str, tf.Tensor]:
    """Returns each head's output; "y" is logits over categories, "z" the code."""
    x = self.body(images) if self.body else tf.reshape(images, [-1, self.data_size])
    if self.noise_dim:
      shape = [tf.shape(x)[0], self.noise_dim]
      eta = (tf.zeros(shape) if posterior_seed is None
             else rng.normal(shape, rng.fold_in(posterior_seed, 1)))
      x = tf.concat([x, eta], axis=1)
    h = tf.nn.relu(self.trunk(x, dropout_seed))
    if dropout_seed is not None and self.dropout > 0:
      h = rng.dropout(h, self.dropout, rng.fold_in(dropout_seed, 99))
    codes = {head: tf.cast(layer(h), tf.float32) for head, layer in self.heads.items()}
    for head, norm in self.head_norms.items():
      codes[head] = norm(codes[head], training=dropout_seed is not None)
    log_var = codes.pop(_LOG_VAR_HEAD, None)
    if log_var is not None and posterior_seed is not None:
      noise = rng.normal(tf.shape(log_var), rng.fold_in(posterior_seed, 2))
      codes["z"] = codes["z"] + tf.exp(0.5 * log_var) * noise
    return codes

  @property
  def stochastic(self) -> bool:
    return self.posterior != "deterministic"


def cluster_representation(z, category, cluster_heads):
  """Dimensionality reduction's representation W_c y + z (paper §7)."""
  return tf.matmul(category, cluster_heads) + z


class Decoder(tf.Module):
  """(z, category) -> logits [N, prod(data_shape)], wired as the variant's `decoder_input`
  says.

  `category` is a [N, K] distribution over categories: a one-hot label (supervised,
  and every exported `decode` with labels) or the encoder's q(y|x) (in training).
  """

  def __init__(self, spec, latent_dim: int, num_categories: int, hidden, *, init,
               seed, dropout, compute_dtype, data_shape=(28, 28, 1), conv_channels=()):
    super().__init__(name="decoder")
    self.spec = spec   # plain Python: what `decoder_input` means is asked of the spec
    self.data_shape = tuple(data_shape)
    in_dim = latent_dim + (num_categories if spec.concatenates_category else 0)
    # With conv_channels, the MLP's output is the smallest feature map, which
    # transposed convolutions grow back to the image.
    self.head = (conv.DecoderHead(data_shape, conv_channels,
                                  lambda i: _initializer(init, (seed, 600 + i)), compute_dtype)
                 if conv_channels else None)
    out_dim = self.head.in_dim if self.head else math.prod(data_shape)
    self.mlp = MLP(in_dim, hidden, out_dim, init=init, seed=seed, dropout=dropout,
                   compute_dtype=compute_dtype, name="mlp")
    if spec.has_cluster_heads:
      # W_c: one learned point per category in the representation space (paper §7).
      self.cluster_heads = tf.Variable(rng.normal([num_categories, latent_dim], (seed, 999)),
                                       name="cluster_heads")

  def representation(self, z, category):
    """What the MLP reads: z, [category, z], or W_c category + z."""
    if self.spec.has_cluster_heads:
      return cluster_representation(z, category, self.cluster_heads)
    if self.spec.concatenates_category:
      return tf.concat([category, z], axis=1)
    return z

  def __call__(self, z, category=None, dropout_seed=None):
    out = self.mlp(self.representation(z, category), dropout_seed)
    return self.head(tf.nn.relu(out)) if self.head else out


@dataclasses.dataclass
class Networks:
  """Everything with weights. Only encoder and decoder are ever exported."""

  encoder: Encoder
  decoder: Decoder
  discriminators: Dict[str, MLP]     # adversary name -> logit of "drawn from the prior"

  def checkpoint_items(self):
    return {"encoder": self.encoder, "decoder": self.decoder,
            "discriminators": dict(self.discriminators)}


def build_networks(config, spec) -> Networks:
  """Builds encoder, decoder and one discriminator per adversary of `spec`."""
  compute_dtype = precision.compute_dtype(config.runtime.precision)
  common = dict(init=config.model.weight_init, compute_dtype=compute_dtype)
  data = dict(data_shape=tuple(config.data.data_shape),
              conv_channels=tuple(config.model.conv_channels) if config.model.architecture == "conv"
              else ())
  encoder = Encoder(config.model.encoder_hidden, spec.head_dims(config), seed=config.training.seed,
                    dropout=config.model.encoder_dropout, posterior=config.model.posterior,
                    head_batch_norm=tuple(config.model.head_batch_norm),
                    noise_dim=config.model.posterior_noise_dim, **common, **data)
  decoder = Decoder(spec, config.model.latent_dim, config.model.num_categories,
                    config.model.decoder_hidden, seed=config.training.seed + 1,
                    dropout=config.model.decoder_dropout, **common, **data)
  discriminators = {
      adversary.name: MLP(spec.adversary_input_dim(adversary, config),
                          config.model.discriminator_hidden, 1,
                          seed=config.training.seed + 2 + i, dropout=config.model.discriminator_dropout,
                          name=f"discriminator_{adversary.name}", **common)
      for i, adversary in enumerate(spec.adversaries)
  }
  return Networks(encoder, decoder, discriminators)
