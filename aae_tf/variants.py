"""The AAE variants, as data.

The variants of Makhzani et al. differ in wiring, not in algorithm: which heads the
encoder has, what the decoder reads, which adversaries regularise which head against
which prior, and which extra phases run. `trainer.py` loops over a `VariantSpec` at
trace time, so every variant shares one training step.
"""

import dataclasses
from typing import Dict, Tuple


@dataclasses.dataclass(frozen=True)
class Adversary:
  """A discriminator that pushes one encoder head towards a prior.

  Attributes:
    name: identifies the discriminator (and its optimizer) in checkpoints.
    head: the encoder head it regularises ("z" or "y").
    prior: "continuous" (the config's prior on z) or "categorical" (one-hot on y).
  """

  name: str
  head: str
  prior: str = "continuous"

  def input_dim(self, config) -> int:
    return config.latent_dim if self.head == "z" else config.num_categories


@dataclasses.dataclass(frozen=True)
class VariantSpec:
  """How one variant wires encoder heads, decoder inputs and adversaries."""

  name: str
  heads: Tuple[str, ...]
  decoder_inputs: Tuple[str, ...]
  adversaries: Tuple[Adversary, ...]
  description: str = ""

  def head_dims(self, config) -> Dict[str, int]:
    dims = {"z": config.latent_dim, "y": getattr(config, "num_categories", 0)}
    return {head: dims[head] for head in self.heads}

  def decoder_input_dim(self, config) -> int:
    dims = {"z": config.latent_dim}
    return sum(dims[name] for name in self.decoder_inputs)


VARIANTS: Dict[str, VariantSpec] = {
    spec.name: spec for spec in (
        VariantSpec(
            name="unsupervised",
            heads=("z",),
            decoder_inputs=("z",),
            adversaries=(Adversary(name="z", head="z"),),
            description="q(z|x) matched to a continuous prior (paper §2, Table 1, Fig. 2)."),
    )
}


def get_variant(name: str) -> VariantSpec:
  if name not in VARIANTS:
    raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
  return VARIANTS[name]
