"""Priors p(z) that the adversarial regulariser matches the code distribution to.

Every prior samples in-graph and statelessly from a `[2]` int seed, so the same seed
gives the same samples on every replica, after a restart, and inside an exported
SavedModel. Label-aware priors (a mixture component or swiss-roll segment per class)
take optional `labels`; the unconditional draw picks a component uniformly.
"""

import abc
import dataclasses
import math
from typing import Optional

import tensorflow as tf

from aae_tf import choices
from aae_tf import rng


class Prior(abc.ABC):
  """A distribution over codes of dimension `dim`."""

  dim: int
  #: Number of label-indexed components (mixtures, swiss roll), or 0.
  num_components: int = 0

  @abc.abstractmethod
  def sample(self, n, seed, labels: Optional[tf.Tensor] = None) -> tf.Tensor:
    """Draws `[n, dim]` float32 samples.

    Args:
      n: number of samples (int or scalar int tensor).
      seed: `[2]` int tensor, the stateless seed.
      labels: optional int `[n]`; for label-aware priors, the component to draw from.
    """

  @abc.abstractmethod
  def describe(self) -> dict:
    """JSON-able description (name and parameters), written into exports."""


@dataclasses.dataclass(frozen=True)
class Gaussian(Prior):
  """Isotropic N(0, std^2 I)."""

  dim: int
  std: float = 1.0

  def sample(self, n, seed, labels=None):
    del labels  # one component: the label carries no information
    return self.std * rng.normal(tf.stack([n, self.dim]), seed)

  def describe(self):
    return {"name": "gaussian", "dim": self.dim, "std": self.std}


def _component_labels(n, num_components, seed, labels):
  """The given labels; a uniform draw where none is given or a label is -1 (unlabelled)."""
  drawn = rng.categorical_uniform(n, num_components, rng.fold_in(seed, 1))
  if labels is None:
    return drawn
  labels = tf.cast(labels, tf.int32)
  return tf.where(labels >= 0, labels, drawn)


@dataclasses.dataclass(frozen=True)
class GaussianMixture2D(Prior):
  """K elongated 2-D Gaussians on a circle (the parameterisation AAE code commonly uses).

  Component k is N(0, diag(x_std^2, y_std^2)) rotated to angle 2*pi*k/K and shifted by
  `shift` along that angle, so the components radiate from the origin like petals.
  """

  num_components: int = 10
  shift: float = 1.4
  x_std: float = 0.5
  y_std: float = 0.1
  dim: int = 2

  def sample(self, n, seed, labels=None):
    k = _component_labels(n, self.num_components, seed, labels)
    noise = rng.normal(tf.stack([n, 2]), seed) * tf.constant([self.x_std, self.y_std])
    angle = 2.0 * math.pi * tf.cast(k, tf.float32) / self.num_components
    cos, sin = tf.cos(angle), tf.sin(angle)
    x = cos * (noise[:, 0] + self.shift) - sin * noise[:, 1]
    y = sin * (noise[:, 0] + self.shift) + cos * noise[:, 1]
    return tf.stack([x, y], axis=1)

  def describe(self):
    return {"name": "gaussian_mixture", "dim": 2, "num_components": self.num_components,
            "shift": self.shift, "x_std": self.x_std, "y_std": self.y_std}


@dataclasses.dataclass(frozen=True)
class SwissRoll(Prior):
  """A 2-D swiss roll (two turns, radius 0..3) cut into K consecutive label segments.

  u ~ U(k/K, (k+1)/K) for segment k; the point is 3*sqrt(u) * (cos, sin)(4*pi*sqrt(u)).
  """

  num_components: int = 10
  dim: int = 2

  def sample(self, n, seed, labels=None):
    k = tf.cast(_component_labels(n, self.num_components, seed, labels), tf.float32)
    u = (rng.uniform(tf.reshape(n, [1]), seed) + k) / self.num_components
    radius, angle = 3.0 * tf.sqrt(u), 4.0 * math.pi * tf.sqrt(u)
    return tf.stack([radius * tf.cos(angle), radius * tf.sin(angle)], axis=1)

  def describe(self):
    return {"name": "swiss_roll", "dim": 2, "num_components": self.num_components}


@dataclasses.dataclass(frozen=True)
class Categorical(Prior):
  """One-hot vectors of K classes: the prior on a categorical head q(y|x).

  Unconditionally the class is uniform; with `labels`, the one-hot of each label.
  """

  num_components: int = 10

  @property
  def dim(self) -> int:
    return self.num_components

  def sample(self, n, seed, labels=None):
    k = _component_labels(n, self.num_components, rng.fold_in(seed, 2), labels)
    return tf.one_hot(k, self.num_components)

  def describe(self):
    return {"name": "categorical", "dim": self.num_components}


PRIORS = choices.PRIORS


def make_prior(config) -> Prior:
  """Builds the prior named by `config.model.prior` for a `config.model.latent_dim` code."""
  if config.model.prior == "gaussian":
    return Gaussian(dim=config.model.latent_dim, std=config.model.prior_std)
  if config.model.prior in ("gaussian_mixture", "swiss_roll") and config.model.latent_dim != 2:
    raise ValueError(f"--prior={config.model.prior} is 2-D: set --latent_dim=2 "
                     f"(got {config.model.latent_dim})")
  if config.model.prior == "gaussian_mixture":
    return GaussianMixture2D(num_components=config.model.prior_components,
                             shift=config.model.mixture_shift, x_std=config.model.mixture_x_std,
                             y_std=config.model.mixture_y_std)
  if config.model.prior == "swiss_roll":
    return SwissRoll(num_components=config.model.prior_components)
  raise ValueError(f"unknown prior {config.model.prior!r}; choose one of {', '.join(PRIORS)}")
