"""The AAE variants of Makhzani et al., as data.

The variants differ in wiring, not in algorithm: which heads the encoder has, what the
decoder reads, which adversaries regularise which head against which prior (and whether
the discriminator also sees the label), and which extra terms run. `trainer.py` and
`export.py` read a `VariantSpec` at trace time, so every variant shares one training
step, one set of phases and one export path.
"""

import dataclasses
from typing import Dict, Tuple

# What the decoder reads besides the style code z:
DECODER_INPUTS = (
    "z",                # z only
    "label+z",          # one-hot class label and z (supervised style/content)
    "y+z",              # the encoder's category q(y|x) and z (semi-supervised, clustering)
    "cluster_heads+z",  # W_c y + z: a learned point per category plus z (dim. reduction)
)
# Which training labels a variant uses:
LABEL_USES = ("none", "all", "subset")


@dataclasses.dataclass(frozen=True)
class Adversary:
  """A discriminator that pushes one encoder head towards a prior.

  Attributes:
    name: identifies the discriminator and its optimizer in checkpoints and metrics.
    head: the encoder output it regularises: "z" (the code) or "y" (category probs).
    prior: "continuous" (the config's prior on z) or "categorical" (uniform one-hot).
    conditioned: the discriminator also receives a (K+1)-way one-hot: the example's
      class, or K for "unlabelled"; a labelled example's positive sample comes from
      its class's prior component (paper Fig. 3).
    reads_category: the discriminator also receives the encoder's category
      one_hot(argmax q(y|x)) (no gradient) beside both its inputs, so it compares
      q(z|y) with the prior category by category.
  """

  name: str
  head: str
  prior: str = "continuous"
  conditioned: bool = False
  reads_category: bool = False


@dataclasses.dataclass(frozen=True)
class VariantSpec:
  """How one variant wires encoder heads, decoder inputs, adversaries and phases."""

  name: str
  heads: Tuple[str, ...]
  decoder_input: str
  adversaries: Tuple[Adversary, ...]
  labels: str = "none"              # which training labels are used (LABEL_USES)
  supervised_phase: bool = False    # cross-entropy on labelled batches (paper §5)
  cluster_head_penalty: bool = False  # keep cluster heads >= eta apart (paper §7)
  description: str = ""

  @property
  def has_categories(self) -> bool:
    """The encoder has a categorical head q(y|x): `encode` gives label_probs, `classify`."""
    return "y" in self.heads

  # What `decoder_input` means, in one place (models, trainer, export, evaluate ask):
  #   z                the decoder reads the code alone;
  #   label+z          [one-hot label, z]: the given (in training, the true) label;
  #   y+z              [q(y|x), z]: the encoder's categories (a label id when serving);
  #   cluster_heads+z  W_c q(y|x) + z: a learned point per category plus the style.

  @property
  def decoder_takes_label(self) -> bool:
    """`decode` has a `labels` input."""
    return self.decoder_input != "z"

  @property
  def decoder_reads_true_label(self) -> bool:
    """Training feeds the decoder the example's label (not the encoder's q(y|x))."""
    return self.decoder_input == "label+z"

  @property
  def decoder_reads_y(self) -> bool:
    """Training feeds the decoder the encoder's q(y|x)."""
    return self.decoder_input in ("y+z", "cluster_heads+z")

  @property
  def concatenates_category(self) -> bool:
    """The decoder's input is [category, z] (else z, or W_c category + z)."""
    return self.decoder_input in ("label+z", "y+z")

  @property
  def has_cluster_heads(self) -> bool:
    """The decoder holds W_c and reads W_c category + z (paper §7)."""
    return self.decoder_input == "cluster_heads+z"

  @property
  def learns_clusters(self) -> bool:
    """Categories learned without labels: judged as clusters (paper §6-7)."""
    return self.has_categories and self.labels == "none"

  @property
  def prior_takes_label(self) -> bool:
    return any(a.conditioned for a in self.adversaries)

  @property
  def label_aware(self) -> bool:
    """Sampling depends on a label: the export gets `sample_class`."""
    return self.decoder_takes_label or self.prior_takes_label

  def head_dims(self, config) -> Dict[str, int]:
    dims = {"z": config.model.latent_dim, "y": config.model.num_categories}
    return {head: dims[head] for head in self.heads}

  def decoder_input_dim(self, config) -> int:
    return config.model.latent_dim + (config.model.num_categories if self.concatenates_category else 0)

  def adversary_input_dim(self, adversary: Adversary, config) -> int:
    k = config.model.num_categories
    dim = config.model.latent_dim if adversary.head == "z" else k
    return dim + (k + 1 if adversary.conditioned else 0) + (k if adversary.reads_category else 0)


_Z = Adversary(name="z", head="z")
_Y = Adversary(name="y", head="y", prior="categorical")

VARIANTS: Dict[str, VariantSpec] = {spec.name: spec for spec in (
    VariantSpec(
        name="unsupervised", heads=("z",), decoder_input="z", adversaries=(_Z,),
        description="q(z) matched to a continuous prior (paper §2, Table 1, Fig. 2)."),
    VariantSpec(
        name="label_conditioned", heads=("z",), decoder_input="z",
        adversaries=(Adversary(name="z", head="z", conditioned=True),), labels="subset",
        description="Labels steer each class to its own prior component (paper Fig. 3-4)."),
    VariantSpec(
        name="supervised", heads=("z",), decoder_input="label+z", adversaries=(_Z,),
        labels="all",
        description="Decoder gets the label; z learns style only (paper §4, Fig. 6-7)."),
    VariantSpec(
        name="semi_supervised", heads=("y", "z"), decoder_input="y+z", adversaries=(_Y, _Z),
        labels="subset", supervised_phase=True,
        description="Categorical y + Gaussian z, cross-entropy on labels (paper §5, Table 2)."),
    VariantSpec(
        name="clustering", heads=("y", "z"), decoder_input="y+z", adversaries=(_Y, _Z),
        description="Semi-supervised without labels: y clusters (paper §6, Table 3)."),
    VariantSpec(
        name="dim_reduction", heads=("y", "z"), decoder_input="cluster_heads+z",
        adversaries=(_Y, _Z), cluster_head_penalty=True,
        description="Representation W_c y + z, cluster heads kept apart (paper §7, Fig. 10)."),
    VariantSpec(
        name="dim_reduction_semi_supervised", heads=("y", "z"),
        decoder_input="cluster_heads+z", adversaries=(_Y, _Z), labels="subset",
        supervised_phase=True, cluster_head_penalty=True,
        description="Dimensionality reduction with labels (paper §7, Fig. 10b)."),
)}


def get_variant(name: str) -> VariantSpec:
  if name not in VARIANTS:
    raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
  return VARIANTS[name]


def spec_for(config) -> VariantSpec:
  """The variant of `config` with the config's wiring options applied.

  `adversary_sees_label` conditions the z adversary of a variant trained on every
  label on that label, as the label-conditioned variant does: the discriminator then
  compares q(z|y) with the prior class by class, so z cannot carry the class.
  `style_adversary_reads_category` does the same with the encoder's own category for
  variants with a category head.
  """
  spec = get_variant(config.model.variant)
  if config.model.adversary_sees_label and spec.labels == "all":
    spec = _with_style_adversary(spec, conditioned=True)
  if config.model.style_adversary_reads_category and spec.has_categories:
    spec = _with_style_adversary(spec, reads_category=True)
  return spec


def _with_style_adversary(spec: VariantSpec, **changes) -> VariantSpec:
  return dataclasses.replace(spec, adversaries=tuple(
      dataclasses.replace(a, **changes) if a.head == "z" else a for a in spec.adversaries))
