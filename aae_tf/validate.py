"""Every rule about config values and their combinations, in one place.

`aae_tf.config` only declares the fields; the rules that need other modules (which
variants, priors, optimizers exist; what the data holds; what a workdir was trained with)
live here, above the modules they ask. Each rule raises `ConfigError` with one line
naming the flag and the fix.
"""

import math
import os
from typing import Optional

from aae_tf import choices
from aae_tf import data
from aae_tf import errors
from aae_tf import variants
from aae_tf.config import Config
from aae_tf.config import ConfigError
from aae_tf.config import resume_conflicts
from aae_tf.sources import folder


def fail(message: str):
  raise ConfigError(message)


def validate(config: Config, num_replicas: int = 1) -> None:
  """Raises ConfigError naming the first bad field and how to fix it."""
  try:
    data.parse_dataset(config.data.dataset)
  except errors.DataError as e:
    fail(str(e))
  allowed_values = {
      "variant": tuple(variants.VARIANTS), "architecture": choices.ARCHITECTURES,
      "color": folder.COLORS, "prior": choices.PRIORS, "strategy": choices.STRATEGIES,
      "reconstruction_loss": choices.RECONSTRUCTION_LOSSES, "optimizer": choices.OPTIMIZERS,
      "adversarial_optimizer": ("", *choices.OPTIMIZERS),
      "reconstruction_scale": choices.RECONSTRUCTION_SCALES,
      "posterior": choices.POSTERIORS, "precision": choices.PRECISIONS}
  for name, allowed in allowed_values.items():
    if config.value(name) not in allowed:
      fail(f"--{name}={config.value(name)} is not one of: {', '.join(allowed)}")
  try:
    choices.parse_weight_init(config.model.weight_init)
  except ValueError as e:
    fail(f"--weight_init: {e}")
  for name, values in config.flat().items():   # nan / inf pass every comparison below
    for value in values if isinstance(values, tuple) else (values,):
      if isinstance(value, float) and not math.isfinite(value):
        fail(f"--{name}={value} is not a finite number")
  if config.runtime.validate_every_epochs < 0:
    fail(f"--validate_every_epochs must be >= 0 (0 = never), got {config.runtime.validate_every_epochs}")
  if config.runtime.figures_every_epochs <= 0:
    fail(f"--figures_every_epochs must be > 0 (figures are drawn at the end too), got "
         f"{config.runtime.figures_every_epochs}")
  if config.runtime.export_dir and os.path.exists(config.runtime.export_dir) and not os.path.isdir(
      config.runtime.export_dir):
    fail(f"--export_dir={config.runtime.export_dir} is a file, not a directory; choose another path")
  for name in ("latent_dim", "posterior_noise_dim", "batch_size", "steps_per_loop",
               "summary_every_steps", "keep_checkpoints", "cpu_replicas"):
    if config.value(name) <= 0:
      fail(f"--{name} must be a positive integer, got {config.value(name)}")
  for name in ("encoder_hidden", "decoder_hidden", "discriminator_hidden", "conv_channels"):
    sizes = config.value(name)
    if not sizes or any(s <= 0 for s in sizes):
      fail(f"--{name} must be one or more positive layer sizes, got {list(sizes)}")
  if config.data.image_size and (len(config.data.image_size) != 2 or min(config.data.image_size) <= 0):
    fail(f"--image_size must be two positive sizes H,W, got {list(config.data.image_size)}")
  if config.data.validation_size < -1:
    fail(f"--validation_size must be >= 0, or -1 (a sixth of the training set), got "
         f"{config.data.validation_size}")
  for name in ("train_steps", "checkpoint_every_steps"):
    if config.value(name) < 0:
      fail(f"--{name} must be >= 0, got {config.value(name)}")
  # Negative epochs are refused even where --train_steps decides the length: a value
  # that cannot mean anything is a mistake, not a setting to ignore.
  if config.runtime.epochs < 0 or (config.runtime.train_steps == 0 and
                                   config.runtime.epochs <= 0):
    fail(f"--epochs must be > 0 (or set --train_steps), got {config.runtime.epochs}")
  for name in ("encoder_dropout", "decoder_dropout", "discriminator_dropout"):
    if not 0.0 <= config.value(name) < 1.0:
      fail(f"--{name} must be in [0, 1), got {config.value(name)}")
  for name in ("reconstruction_lr", "discriminator_lr", "generator_lr", "prior_std",
               "figures_every_epochs"):
    if config.value(name) < 0 or (name == "prior_std" and config.model.prior_std == 0):
      fail(f"--{name} must be positive, got {config.value(name)}")
  if config.model.prior in ("gaussian_mixture", "swiss_roll") and config.model.latent_dim != 2:
    fail(f"--prior={config.model.prior} is 2-D: set --latent_dim=2 (got {config.model.latent_dim})")
  if not 0.0 <= config.training.momentum < 1.0:
    fail(f"--momentum must be in [0, 1) (SGD momentum / Adam beta_1), got "
         f"{config.training.momentum}")
  adversarial = config.training.adversarial_momentum
  if adversarial != -1.0 and not 0.0 <= adversarial < 1.0:
    fail(f"--adversarial_momentum must be in [0, 1), or -1 (= --momentum), got {adversarial}")
  adversarial_decay = config.training.adversarial_lr_decay_factor
  if adversarial_decay != -1.0 and adversarial_decay < 0.0:
    fail("--adversarial_lr_decay_factor must be >= 0, or -1 (= --lr_decay_factor), got "
         f"{adversarial_decay}")
  decay = list(config.training.lr_decay_epochs)
  if decay != sorted(set(decay)) or any(e < 0 for e in decay):
    fail(f"--lr_decay_epochs must be increasing epochs >= 0, got {decay}")
  for name in ("seed", "label_seed"):
    if not 0 <= config.value(name) < 2**31:
      fail(f"--{name} must be in [0, 2**31), got {config.value(name)}")
  if config.model.num_categories < 2:
    fail(f"--num_categories must be at least 2, got {config.model.num_categories}")
  if config.data.num_labels == 0 or config.data.num_labels < -1:
    fail(f"--num_labels must be positive or -1 (all), got {config.data.num_labels}")
  if config.data.num_labels > 0 and config.data.num_labels % config.model.num_categories:
    fail(f"--num_labels={config.data.num_labels} must be a multiple of --num_categories="
         f"{config.model.num_categories} (labelled images are class-balanced)")
  spec = variants.VARIANTS[config.model.variant]
  if config.model.adversary_sees_label and spec.labels != "all":
    fail(f"--adversary_sees_label needs a variant trained on every label (supervised); "
         f"--variant={config.model.variant} uses labels={spec.labels!r}")
  if config.model.style_adversary_reads_category and not spec.has_categories:
    fail(f"--style_adversary_reads_category needs a variant with a category head q(y|x); "
         f"--variant={config.model.variant} has none")
  start = config.training.category_reading_start_epoch
  if not math.isfinite(start) or start < 0:
    fail(f"--category_reading_start_epoch must be a finite number >= 0, got {start}")
  if start and not config.model.style_adversary_reads_category:
    fail(f"--category_reading_start_epoch={start} schedules what the z adversary reads: "
         "add --style_adversary_reads_category")
  for head in config.model.head_batch_norm:
    if head not in spec.heads:
      fail(f"--head_batch_norm={','.join(config.model.head_batch_norm)}: --variant="
           f"{config.model.variant} has no head {head!r} (its heads: {', '.join(spec.heads)})")
  if spec.prior_takes_label and config.model.prior == "gaussian":
    fail(f"--variant={config.model.variant} draws each class from its own prior component, "
         "and --prior=gaussian has one: use --prior=gaussian_mixture or swiss_roll")
  if spec.prior_takes_label and config.model.prior != "gaussian" and (
      config.model.prior_components != config.model.num_categories):
    fail(f"--variant={config.model.variant} gives each class a prior component: set "
         f"--prior_components={config.model.num_categories} (= --num_categories)")
  share = config.training.category_reconstruction_gradient
  if not 0.0 <= share <= 1.0:
    fail(f"--category_reconstruction_gradient={share}: must be in [0, 1] (1 = the paper's, "
         f"0 = none)")
  if share != 1.0 and not spec.decoder_reads_y:
    fail(f"--category_reconstruction_gradient={share} needs a variant whose decoder reads "
         f"q(y|x); --variant={config.model.variant} has none")
  consistency = config.training.category_shift_consistency
  if not (math.isfinite(consistency) and consistency >= 0):
    fail(f"--category_shift_consistency must be a finite number >= 0, got {consistency}")
  if consistency and not spec.has_categories:
    fail(f"--category_shift_consistency needs a variant with a category head q(y|x); "
         f"--variant={config.model.variant} has none")
  if config.training.shift_pixels < 1:
    fail(f"--shift_pixels must be >= 1, got {config.training.shift_pixels}")
  rotation, zoom = config.training.shift_rotation_degrees, config.training.shift_zoom
  if not (math.isfinite(rotation) and 0.0 <= rotation <= 180.0):
    fail(f"--shift_rotation_degrees must be in [0, 180], got {rotation}")
  if not (math.isfinite(zoom) and 0.0 <= zoom < 1.0):
    fail(f"--shift_zoom must be in [0, 1), got {zoom}")
  if (rotation or zoom) and not consistency:
    fail("--shift_rotation_degrees and --shift_zoom shape the copy that "
         "--category_shift_consistency compares; set --category_shift_consistency too")
  if not 0.0 <= config.training.input_dropout < 1.0:
    fail(f"--input_dropout must be in [0, 1), got {config.training.input_dropout}")
  if not 0.0 <= config.training.style_dropout < 1.0:
    fail(f"--style_dropout must be in [0, 1), got {config.training.style_dropout}")
  if config.training.style_dropout and not spec.decoder_takes_label:
    fail(f"--style_dropout needs a decoder that reads a category besides z; "
         f"--variant={config.model.variant} decodes z alone")
  for name in ("input_noise_std", "discriminator_noise_std", "supervised_lr",
               "cluster_head_weight"):
    if config.value(name) < 0:
      fail(f"--{name} must be >= 0, got {config.value(name)}")
  if config.model.prior_components <= 0:
    fail(f"--prior_components must be positive, got {config.model.prior_components}")
  if config.training.batch_size % num_replicas:
    fail(f"--batch_size={config.training.batch_size} is not divisible by the {num_replicas} replicas; "
         f"use a multiple of {num_replicas}")
  if ((config.runtime.jit or config.runtime.jit_updates) and config.runtime.strategy == "mirrored"
      and config.runtime.cpu_replicas > 1):
    fail("--jit cannot compile for logical CPU devices (--cpu_replicas>1): XLA places the "
         "whole step on one CPU device. Use --jit with one replica, or on GPUs")


def fit_to_data(config: Config, splits) -> Config:
  """The config with the data's shape, source and validation size filled in; flag values
  that only the data can refute are refused here, before anything is built."""
  spec = variants.spec_for(config)
  if spec.labels != "none":
    if splits.num_classes == 1:
      fail(f"--variant={config.model.variant} trains on labels, but {splits.source} has "
           "one class: give it at least two, or use an unsupervised preset")
    if not splits.num_classes:
      fail(f"--variant={config.model.variant} trains on labels, but {splits.source} has "
           "none; use labelled data (class subfolders, y_train, a ClassLabel feature) or an "
           "unsupervised preset")
    if config.model.num_categories != splits.num_classes:
      fail(f"--variant={config.model.variant} uses the data's labels and the data has "
           f"{splits.num_classes} classes: set --num_categories={splits.num_classes} "
           f"(got {config.model.num_categories})")
  if config.model.architecture == "conv" and len(splits.shape) != 3:
    fail(f"--architecture=conv needs images [H, W, C]; {splits.source} holds vectors of "
         f"{splits.shape[0]} values: use --architecture=mlp")
  if config.training.category_shift_consistency and len(splits.shape) != 3:
    fail(f"--category_shift_consistency shifts images [H, W, C]; {splits.source} holds "
         f"vectors of {splits.shape[0]} values: set it to 0")
  config = config.replace(data_shape=splits.shape, data_source=splits.source,
                          validation_size=len(splits.validation.labels),
                          data_fingerprint=data.fingerprint(splits))
  train_size = len(splits.train.labels)
  if config.training.batch_size > train_size:
    fail(f"--batch_size={config.training.batch_size} is larger than the training split "
         f"({train_size} images after --validation_size={config.data.validation_size}); use "
         "a smaller batch or more data")
  if spec.labels == "subset" and config.data.num_labels > 0:
    try:
      data.labelled_indices(splits.train.labels, config.data.num_labels,
                            config.data.label_seed, splits.num_classes)
    except ValueError as e:
      fail(f"--num_labels={config.data.num_labels}: {e}")
  return config


def check_resume(previous: Config, config: Config, workdir: str, path: str) -> None:
  """Refuses to continue a workdir's checkpoints under settings they were not trained
  with: only the `runtime` group may change."""
  conflicts = resume_conflicts(previous, config)
  data_changed = [c for c in conflicts if c[0] == "data_fingerprint"]
  conflicts = [c for c in conflicts if c[0] != "data_fingerprint"]
  if data_changed and data_changed[0][1]:   # runs from before the fingerprint: unknown
    _, old, new = data_changed[0]
    fail(f"--workdir={workdir} holds a run trained on other data ({old}; now {new}): "
         "resuming would move former validation and test examples into training. Train "
         "on the new data in a new --workdir")
  if conflicts:
    changes = ", ".join(f"--{name}: {old!r} -> {new!r}" for name, old, new in conflicts)
    fail(f"--workdir={workdir} holds a run trained with other settings ({changes}); rerun "
         f"with its settings ({path}) or use a new --workdir. A resume may change only "
         "the length of training, the export dir, data location, logging, checkpoint, "
         "figure and validation cadence, and runtime settings")


def validation_off_reason(config: Config, splits) -> Optional[str]:
  """Why this run cannot validate during training, or None (it can, or was asked not
  to: --validate_every_epochs=0 needs no reason)."""
  if config.runtime.strategy == "multi_worker":
    return "under multi_worker (a best-checkpoint save would have to be collective)"
  if len(splits.validation.labels) == 0:
    return "(--validation_size=0)"
  return None
