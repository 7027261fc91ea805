"""Priors p(z) that the adversarial regulariser matches the code distribution to.

Every prior samples in-graph and statelessly from a `[2]` int seed, so the same seed
gives the same samples on every replica, after a restart, and inside an exported
SavedModel. Label-aware priors (a mixture component or swiss-roll segment per class)
take optional `labels`; the unconditional draw picks a component uniformly.
"""

import abc
import dataclasses
from typing import Optional

import tensorflow as tf

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


PRIORS = ("gaussian",)


def make_prior(config) -> Prior:
  """Builds the prior named by `config.prior` for a `config.latent_dim` code."""
  if config.prior == "gaussian":
    return Gaussian(dim=config.latent_dim, std=config.prior_std)
  raise ValueError(f"unknown prior {config.prior!r}; choose one of {', '.join(PRIORS)}")
