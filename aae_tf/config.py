"""The training configuration: one frozen dataclass, every field documented.

The field docs double as the CLI help: `aae_tf.main` turns every field into an absl
flag, so a field added here is immediately settable from the command line and from
a `--flagfile`, and `--helpfull` documents it.
"""

import dataclasses
import json
import math
import os
from typing import Optional, Tuple

from aae_tf import errors


def _field(default, help_text, **kwargs):
  return dataclasses.field(default=default, metadata={"help": help_text}, **kwargs)


def _derived(default, help_text):
  """A field the run fills in from its data (recorded in config.json); not a flag."""
  return dataclasses.field(default=default, metadata={"help": help_text, "derived": True})


def is_derived(field: dataclasses.Field) -> bool:
  return bool(field.metadata.get("derived"))


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that defines a training run. Presets are instances of this."""

  # --- experiment -------------------------------------------------------------------
  preset: str = _field("paper_table1", "Name of the preset this config came from.")
  variant: str = _field("unsupervised", "AAE variant (see aae_tf.variants.VARIANTS).")
  dataset: str = _field(
      "mnist", "mnist | fashion_mnist | tfds:NAME[/CONFIG] (any TFDS image dataset) | "
      "folder:PATH (PNG/JPEG files, one subfolder per class, or flat = unlabelled) | "
      "npz:PATH (x_train[, y_train, x_test, y_test]: uint8 0..255 or float 0..1 images "
      "[N,H,W(,C)] or vectors [N,D]).")
  data_dir: Optional[str] = _field(
      None, "mnist/fashion_mnist: a directory with the four IDX files (raw or .gz) or a "
      "prepared TFDS copy (unset: a prepared TFDS copy, a TFDS download if reachable, else "
      "offline fallbacks); tfds:NAME: the TFDS data directory.")
  image_key: str = _field("", "tfds: the image feature (default: the dataset's only one).")
  label_key: str = _field(
      "", "tfds: the class-label feature (default: the dataset's only one; none = unlabelled).")
  image_size: Tuple[int, ...] = _field(
      (), "folder/tfds: resize every image to H,W (needed when sizes differ).")
  color: str = _field("auto", "folder: auto (RGB if any image has colour) | grayscale | rgb.")
  validation_size: int = _field(
      -1, "Examples carved deterministically from the training set for validation; "
      "-1 = a sixth of it (10,000 for MNIST).")
  allow_download: bool = _field(
      True, "Allow a TFDS download when the host answers within seconds.")
  data_shape: Tuple[int, ...] = _derived(
      (28, 28, 1), "Shape of one example (H, W, C or D), set from the data when a run starts.")
  data_source: str = _derived("", "Where the run's data came from, set when a run starts.")

  # --- model ------------------------------------------------------------------------
  architecture: str = _field(
      "mlp", "mlp (every network an MLP on the flattened example; the paper's) | conv "
      "(stride-2 convolutions in the encoder, transposed ones in the decoder, around the "
      "MLP layers; images only).")
  conv_channels: Tuple[int, ...] = _field(
      (32, 64), "--architecture=conv: channels of each stride-2 4x4 convolution.")
  latent_dim: int = _field(
      8, "Dimension of the style code z (of the representation, for dim_reduction).")
  num_categories: int = _field(
      10, "K: classes of the categorical head / clusters / label one-hots.")
  encoder_hidden: Tuple[int, ...] = _field((1000, 1000), "Encoder hidden layer sizes.")
  decoder_hidden: Tuple[int, ...] = _field((1000, 1000), "Decoder hidden layer sizes.")
  discriminator_hidden: Tuple[int, ...] = _field(
      (1000, 1000), "Discriminator hidden layer sizes.")
  encoder_dropout: float = _field(0.0, "Dropout rate after each encoder hidden layer.")
  encoder_batch_norm: bool = _field(
      False, "Batch normalisation before each encoder hidden ReLU (per replica; serving "
      "uses the running statistics).")
  head_batch_norm: Tuple[str, ...] = _field(
      (), "Encoder heads whose outputs are batch-normalised (y: the category logits "
      "before the softmax, z: the style code), so each output is spread over every "
      "batch; empty = none.")
  decoder_dropout: float = _field(0.0, "Dropout rate after each decoder hidden layer.")
  discriminator_dropout: float = _field(
      0.0, "Dropout rate after each discriminator hidden layer.")
  weight_init: str = _field(
      "glorot_uniform", "glorot_uniform | normal:<std> (the paper: normal:0.01).")

  posterior: str = _field(
      "deterministic", "q(z|x), paper section 2: deterministic (z = f(x)) | gaussian "
      "(z = mean + std * eps, reparameterised) | universal (z = f(x, eta), eta ~ N(0, I) "
      "fed to the encoder with the image). Exports' `encode` gives the posterior's "
      "deterministic point (the mean / f(x, 0)); stochastic posteriors add `encode_sample`.")
  posterior_noise_dim: int = _field(
      16, "Dimension of the noise eta the universal-approximator encoder reads.")

  # --- prior ------------------------------------------------------------------------
  prior: str = _field("gaussian", "Prior on z: gaussian | gaussian_mixture | swiss_roll "
                      "(the last two are 2-D).")
  prior_std: float = _field(5.0, "Standard deviation of the Gaussian prior.")
  prior_components: int = _field(
      10, "Components of the mixture / segments of the swiss roll (one per class).")
  mixture_shift: float = _field(1.4, "Mixture: distance of each component from the origin.")
  mixture_x_std: float = _field(0.5, "Mixture: std along each component's radial axis.")
  mixture_y_std: float = _field(0.1, "Mixture: std across each component.")

  # --- labels -----------------------------------------------------------------------
  num_labels: int = _field(
      -1, "Labelled training images for variants that use a subset of labels "
      "(class-balanced, seeded); -1 = all. The rest count as unlabelled.")
  label_seed: int = _field(0, "Seed of the labelled-subset draw (vary it over runs).")

  # --- losses -----------------------------------------------------------------------
  reconstruction_loss: str = _field(
      "mse", "mse (squared error; the paper's Euclidean cost) | bce (binary cross-entropy).")
  reconstruction_scale: str = _field(
      "per_image", "per_image: the loss of an image is the SUM over its pixels (the paper's "
      "scale, on which its SGD learning rates are set) | per_pixel: the MEAN over pixels "
      "(784x smaller on MNIST: learning rates must be 784x larger for the same steps).")

  # --- optimisation -----------------------------------------------------------------
  batch_size: int = _field(100, "Global batch size (split across replicas).")
  epochs: float = _field(
      100.0, "Length of training in epochs of the training split (ignored if train_steps>0).")
  train_steps: int = _field(0, "Length of training in batches; 0 = use epochs.")
  optimizer: str = _field("adam", "adam | sgd (momentum from `momentum`) | rmsprop.")
  adversarial_optimizer: str = _field(
      "", "Optimizer of the discriminators and the generator; empty = `optimizer` "
      "(the first seed: Adam for reconstruction, SGD for the adversarial pair).")
  momentum: float = _field(0.9, "SGD momentum / Adam beta_1.")
  reconstruction_lr: float = _field(1e-4, "Learning rate of the reconstruction phase.")
  discriminator_lr: float = _field(1e-4, "Learning rate of the discriminator update.")
  generator_lr: float = _field(1e-4, "Learning rate of the encoder-as-generator update.")
  lr_decay_epochs: Tuple[float, ...] = _field(
      (), "Epochs at which every learning rate is multiplied by lr_decay_factor.")
  lr_decay_factor: float = _field(0.1, "Multiplier applied at each lr_decay_epochs boundary.")
  gradient_clip_norm: float = _field(0.0, "Clip each phase's gradients to this global norm; 0 = off.")
  supervised_lr: float = _field(1e-4, "Learning rate of the supervised cross-entropy phase.")
  adversarial_momentum: float = _field(
      -1.0, "Momentum / beta_1 of the discriminator and generator optimizers; -1 = momentum.")
  input_noise_std: float = _field(
      0.0, "Std of Gaussian noise added to encoder inputs in training (paper Table 2: 0.3).")
  input_dropout: float = _field(
      0.0, "Dropout rate on the encoder's input pixels in training (after input noise).")
  adversary_sees_label: bool = _field(
      False, "Variants trained on every label (supervised): the z adversary also reads the "
      "label one-hot, so it matches q(z|y) to the prior for each class and z cannot carry "
      "the class (style/content separation that does not decay with training).")
  discriminator_noise_std: float = _field(
      0.0, "Std of Gaussian noise added to every discriminator input (a stabiliser).")
  style_discriminator_noise_std: float = _field(
      -1.0, "Std of the noise on the style (z) discriminator's inputs when it should differ "
      "from discriminator_noise_std (e.g. noise for the category adversary only); "
      "-1 = discriminator_noise_std.")
  reconstruct_labelled: bool = _field(
      False, "Semi-supervised variants: the reconstruction phase also rebuilds each "
      "labelled batch with the decoder reading its true label one-hot in place of "
      "q(y|x), which teaches the decoder that the category is the class.")
  hard_categories: bool = _field(
      False, "Variants with a category head: the decoder and the category adversary read "
      "one_hot(argmax q(y|x)) with the softmax's gradient (straight-through), so y can "
      "carry only which category, never a soft continuous code (as at serving time, "
      "where `decode` takes label ids).")
  style_dropout: float = _field(
      0.0, "Variants whose decoder reads a category (y or a label): the share of examples "
      "whose style code z is zeroed in the reconstruction phase, so the decoder must "
      "rebuild them from the category alone and cannot learn to ignore it; 0 = off.")
  detach_category_from_reconstruction: bool = _field(
      False, "Variants whose decoder reads q(y|x) (clustering): the reconstruction "
      "gradient stops at q(y|x). The decoder still reads the category, but only the "
      "adversaries shape the category head, so the reconstruction rate can be the "
      "paper's without pulling the partition towards whatever helps the decoder most.")
  category_reconstruction_gradient: float = _field(
      1.0, "Variants whose decoder reads q(y|x) (clustering): the share of the "
      "reconstruction gradient that reaches q(y|x), in [0, 1]. 1 is the paper's; 0 is "
      "--detach_category_from_reconstruction. In between, the adversaries keep the head "
      "categorical while reconstruction moves only the examples it is unsure of (near "
      "one-hot, the softmax passes almost no gradient) to the cluster that rebuilds them "
      "better.")
  cluster_head_threshold: float = _field(
      2.0, "eta: dim_reduction penalises cluster heads closer than this.")
  cluster_head_weight: float = _field(1.0, "Weight of the cluster-head distance penalty.")

  # --- runtime ----------------------------------------------------------------------
  seed: int = _field(0, "Seed for initialisation, data order and prior samples.")
  deterministic: bool = _field(
      False, "Turn on TensorFlow op determinism: an interrupted-and-resumed run ends with "
      "the same weights as an uninterrupted one (data order and draws are step-keyed).")
  strategy: str = _field("default", "default | mirrored | multi_worker.")
  cpu_replicas: int = _field(
      1, "With --strategy=mirrored and no GPU: split the CPU into N logical devices.")
  jit: bool = _field(False, "Compile the whole train step with XLA.")
  jit_updates: bool = _field(
      False, "Compile only the optimizer updates with XLA (fuses each phase's gradient "
      "casts and updates) while the matmuls stay on oneDNN. Measured slower than the fused "
      "update kernels at batch 100 on CPU (docs/BENCHMARKS.md); for GPU experiments.")
  precision: str = _field(
      "auto", "auto (bf16 compute where the hardware has it natively: a CPU with AMX or "
      "AVX512-BF16, a GPU with bf16 tensor cores; float32 elsewhere) | float32 | "
      "mixed_bfloat16 (compute in bf16, weights fp32). Exports are float32 either way.")
  steps_per_loop: int = _field(100, "Train steps per tf.function call (host returns once per loop).")
  checkpoint_every_steps: int = _field(
      0, "Save a checkpoint every N steps; 0 = once per epoch.")
  keep_checkpoints: int = _field(3, "How many checkpoints to keep.")
  summary_every_steps: int = _field(100, "Write TensorBoard scalars every N steps.")
  validate_every_epochs: float = _field(
      1.0, "Score the model on the validation split every N epochs (a per-variant metric: "
      "aae_tf.selection) and keep the best-scoring checkpoint apart; 0 = never.")
  figures_every_epochs: float = _field(
      10.0, "Write sample grid and latent scatter PNGs every N epochs (and at the end).")
  export_dir: Optional[str] = _field(
      None, "At the end of training, export encoder and decoder SavedModels here.")

  def replace(self, **changes) -> "Config":
    return dataclasses.replace(self, **changes)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "Config":
    values = dict(_LEGACY_DEFAULTS, **json.loads(text))
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
      raise ValueError(f"unknown config fields {unknown}; is the file from a newer aae_tf?")
    for name, value in values.items():
      if isinstance(value, list):  # JSON has no tuples
        values[name] = tuple(value)
    return cls(**values)


# What a rerun in the same workdir may change: how long and how the run goes on, not
# what it trains. Anything else would continue the checkpoints under other settings.
MAY_CHANGE_ON_RESUME = frozenset({
    "preset", "epochs", "train_steps", "export_dir", "data_dir", "allow_download", "data_source",
    "steps_per_loop", "summary_every_steps", "checkpoint_every_steps", "keep_checkpoints",
    "figures_every_epochs", "validate_every_epochs", "strategy", "cpu_replicas", "jit",
    "jit_updates", "precision", "deterministic"})


def resume_conflicts(previous: "Config", new: "Config"):
  """[(field, old, new)] for every field that differs and may not change on resume."""
  return [(f.name, getattr(previous, f.name), getattr(new, f.name))
          for f in dataclasses.fields(new)
          if f.name not in MAY_CHANGE_ON_RESUME
          and getattr(previous, f.name) != getattr(new, f.name)]


# Fields whose meaning older config.json files had without naming it: a run written
# before the field existed resumes and exports as it was trained.
_LEGACY_DEFAULTS = {"reconstruction_scale": "per_pixel", "data_shape": (28, 28, 1)}


def field_help(name: str) -> str:
  """The documentation string of config field `name`."""
  return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(Config)}[name]


ConfigError = errors.ConfigError  # raised by validate(); defined apart (no import cycle)


def validate(config: Config, num_replicas: int = 1) -> None:
  """Raises ConfigError naming the first bad field and how to fix it."""
  from aae_tf import data, distribute, losses, models, precision, priors, variants  # noqa
  from aae_tf.sources import folder

  def fail(message):
    raise ConfigError(message)

  try:
    data.parse_dataset(config.dataset)
  except errors.DataError as e:
    fail(str(e))
  choices = {"variant": tuple(variants.VARIANTS), "architecture": models.ARCHITECTURES,
             "color": folder.COLORS,
             "prior": priors.PRIORS, "strategy": distribute.STRATEGIES,
             "reconstruction_loss": tuple(losses.RECONSTRUCTION_LOSSES),
             "optimizer": ("adam", "sgd", "rmsprop"),
             "adversarial_optimizer": ("", "adam", "sgd", "rmsprop"),
             "reconstruction_scale": losses.RECONSTRUCTION_SCALES,
             "posterior": models.POSTERIORS,
             "precision": precision.PRECISIONS}
  for name, allowed in choices.items():
    if getattr(config, name) not in allowed:
      fail(f"--{name}={getattr(config, name)} is not one of: {', '.join(allowed)}")
  try:
    models.parse_weight_init(config.weight_init)
  except ValueError as e:
    fail(f"--weight_init: {e}")
  for field in dataclasses.fields(config):   # nan / inf pass every comparison below
    values = getattr(config, field.name)
    for value in values if isinstance(values, tuple) else (values,):
      if isinstance(value, float) and not math.isfinite(value):
        fail(f"--{field.name}={value} is not a finite number")
  if config.validate_every_epochs < 0:
    fail(f"--validate_every_epochs must be >= 0 (0 = never), got {config.validate_every_epochs}")
  if config.figures_every_epochs <= 0:
    fail(f"--figures_every_epochs must be > 0 (figures are drawn at the end too), got "
         f"{config.figures_every_epochs}")
  if config.export_dir and os.path.exists(config.export_dir) and not os.path.isdir(
      config.export_dir):
    fail(f"--export_dir={config.export_dir} is a file, not a directory; choose another path")
  for name in ("latent_dim", "posterior_noise_dim", "batch_size", "steps_per_loop",
               "summary_every_steps", "keep_checkpoints", "cpu_replicas"):
    if getattr(config, name) <= 0:
      fail(f"--{name} must be a positive integer, got {getattr(config, name)}")
  for name in ("encoder_hidden", "decoder_hidden", "discriminator_hidden", "conv_channels"):
    sizes = getattr(config, name)
    if not sizes or any(s <= 0 for s in sizes):
      fail(f"--{name} must be one or more positive layer sizes, got {list(sizes)}")
  if config.image_size and (len(config.image_size) != 2 or min(config.image_size) <= 0):
    fail(f"--image_size must be two positive sizes H,W, got {list(config.image_size)}")
  if config.validation_size < -1:
    fail(f"--validation_size must be >= 0, or -1 (a sixth of the training set), got "
         f"{config.validation_size}")
  for name in ("train_steps", "checkpoint_every_steps"):
    if getattr(config, name) < 0:
      fail(f"--{name} must be >= 0, got {getattr(config, name)}")
  if config.train_steps == 0 and config.epochs <= 0:
    fail(f"--epochs must be > 0 (or set --train_steps), got {config.epochs}")
  for name in ("encoder_dropout", "decoder_dropout", "discriminator_dropout"):
    if not 0.0 <= getattr(config, name) < 1.0:
      fail(f"--{name} must be in [0, 1), got {getattr(config, name)}")
  for name in ("reconstruction_lr", "discriminator_lr", "generator_lr", "prior_std",
               "figures_every_epochs"):
    if getattr(config, name) < 0 or (name == "prior_std" and config.prior_std == 0):
      fail(f"--{name} must be positive, got {getattr(config, name)}")
  if config.prior in ("gaussian_mixture", "swiss_roll") and config.latent_dim != 2:
    fail(f"--prior={config.prior} is 2-D: set --latent_dim=2 (got {config.latent_dim})")
  if config.num_categories < 2:
    fail(f"--num_categories must be at least 2, got {config.num_categories}")
  if config.num_labels == 0 or config.num_labels < -1:
    fail(f"--num_labels must be positive or -1 (all), got {config.num_labels}")
  if config.num_labels > 0 and config.num_labels % config.num_categories:
    fail(f"--num_labels={config.num_labels} must be a multiple of --num_categories="
         f"{config.num_categories} (labelled images are class-balanced)")
  spec = variants.VARIANTS[config.variant]
  if config.adversary_sees_label and spec.labels != "all":
    fail(f"--adversary_sees_label needs a variant trained on every label (supervised); "
         f"--variant={config.variant} uses labels={spec.labels!r}")
  for head in config.head_batch_norm:
    if head not in spec.heads:
      fail(f"--head_batch_norm={','.join(config.head_batch_norm)}: --variant="
           f"{config.variant} has no head {head!r} (its heads: {', '.join(spec.heads)})")
  if spec.prior_takes_label and config.prior != "gaussian" and (
      config.prior_components != config.num_categories):
    fail(f"--variant={config.variant} gives each class a prior component: set "
         f"--prior_components={config.num_categories} (= --num_categories)")
  if config.reconstruct_labelled and not (spec.supervised_phase and spec.decoder_reads_y):
    fail(f"--reconstruct_labelled needs a semi-supervised variant whose decoder reads "
         f"q(y|x); --variant={config.variant} has none")
  if config.hard_categories and not spec.has_categories:
    fail(f"--hard_categories needs a variant with a category head q(y|x); "
         f"--variant={config.variant} has none")
  if config.detach_category_from_reconstruction and not spec.decoder_reads_y:
    fail(f"--detach_category_from_reconstruction needs a variant whose decoder reads "
         f"q(y|x); --variant={config.variant} has none")
  share = config.category_reconstruction_gradient
  if not 0.0 <= share <= 1.0:
    fail(f"--category_reconstruction_gradient={share}: must be in [0, 1] (1 = the paper's, "
         f"0 = none)")
  if share != 1.0 and not spec.decoder_reads_y:
    fail(f"--category_reconstruction_gradient={share} needs a variant whose decoder reads "
         f"q(y|x); --variant={config.variant} has none")
  if share != 1.0 and config.detach_category_from_reconstruction:
    fail(f"--category_reconstruction_gradient={share} and "
         f"--detach_category_from_reconstruction both set how much reconstruction reaches "
         f"q(y|x); --detach_category_from_reconstruction is the share 0: set only one")
  if not 0.0 <= config.input_dropout < 1.0:
    fail(f"--input_dropout must be in [0, 1), got {config.input_dropout}")
  if not 0.0 <= config.style_dropout < 1.0:
    fail(f"--style_dropout must be in [0, 1), got {config.style_dropout}")
  if config.style_dropout and not spec.decoder_takes_label:
    fail(f"--style_dropout needs a decoder that reads a category besides z; "
         f"--variant={config.variant} decodes z alone")
  for name in ("input_noise_std", "discriminator_noise_std", "supervised_lr",
               "cluster_head_weight"):
    if getattr(config, name) < 0:
      fail(f"--{name} must be >= 0, got {getattr(config, name)}")
  if config.prior_components <= 0:
    fail(f"--prior_components must be positive, got {config.prior_components}")
  if config.batch_size % num_replicas:
    fail(f"--batch_size={config.batch_size} is not divisible by the {num_replicas} replicas; "
         f"use a multiple of {num_replicas}")
  if ((config.jit or config.jit_updates) and config.strategy == "mirrored"
      and config.cpu_replicas > 1):
    fail("--jit cannot compile for logical CPU devices (--cpu_replicas>1): XLA places the "
         "whole step on one CPU device. Use --jit with one replica, or on GPUs")
