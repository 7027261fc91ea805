"""The training configuration: four frozen groups of documented fields.

`Config(data, model, training, runtime)` groups the fields by what they decide; `runtime`
is exactly what a resumed run may change. On the command line every field is still a flat
flag of its own name (`--latent_dim`, not `--model.latent_dim`): the names are unique
across groups, so `Config.replace(latent_dim=4)` and the flags route each name to its
group. The field docs double as the CLI help (`aae_tf.main`). `config.json` holds the
groups as nested objects.

This module is the ground floor: it imports nothing of the package but its errors. Which
values and combinations are allowed lives in `aae_tf.validate`.
"""

import dataclasses
import json
from typing import Any, Dict, Iterator, Optional, Tuple

from aae_tf import errors

ConfigError = errors.ConfigError


def _field(default, help_text, **kwargs):
  return dataclasses.field(default=default, metadata={"help": help_text}, **kwargs)


def _derived(default, help_text):
  """A field the run fills in from its data (recorded in config.json); not a flag."""
  return dataclasses.field(default=default, metadata={"help": help_text, "derived": True})


def is_derived(field: dataclasses.Field) -> bool:
  return bool(field.metadata.get("derived"))


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What the model is trained on: the source, its split, which labels are seen."""

  dataset: str = _field(
      "mnist", "mnist | fashion_mnist | tfds:NAME[/CONFIG] (any TFDS image dataset) | "
      "folder:PATH (PNG/JPEG files, one subfolder per class, or flat = unlabelled) | "
      "npz:PATH (x_train[, y_train, x_test, y_test]: uint8 0..255 or float 0..1 images "
      "[N,H,W(,C)] or vectors [N,D]).")
  image_key: str = _field("", "tfds: the image feature (default: the dataset's only one).")
  label_key: str = _field(
      "", "tfds: the class-label feature (default: the dataset's only one; none = unlabelled).")
  image_size: Tuple[int, ...] = _field(
      (), "folder/tfds: resize every image to H,W (needed when sizes differ).")
  color: str = _field("auto", "folder: auto (RGB if any image has colour) | grayscale | rgb.")
  validation_size: int = _field(
      -1, "Examples carved deterministically from the training set for validation; "
      "-1 = a sixth of it (10,000 for MNIST).")
  num_labels: int = _field(
      -1, "Labelled training images for variants that use a subset of labels "
      "(class-balanced, seeded); -1 = all. The rest count as unlabelled.")
  label_seed: int = _field(0, "Seed of the labelled-subset draw (vary it over runs).")
  data_shape: Tuple[int, ...] = _derived(
      (28, 28, 1), "Shape of one example (H, W, C or D), set from the data when a run starts.")
  data_fingerprint: str = _derived(
      "", "The splits' sizes and a digest of their examples and labels, set when a run "
      "starts: a resume on other data is refused.")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The networks, the variant's wiring and the priors: what an export serves."""

  variant: str = _field("unsupervised", "AAE variant (see aae_tf.variants.VARIANTS).")
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
  decoder_dropout: float = _field(0.0, "Dropout rate after each decoder hidden layer.")
  discriminator_dropout: float = _field(
      0.0, "Dropout rate after each discriminator hidden layer.")
  head_batch_norm: Tuple[str, ...] = _field(
      (), "Encoder heads whose outputs are batch-normalised (y: the category logits "
      "before the softmax, z: the style code), so each output is spread over every "
      "batch; empty = none.")
  weight_init: str = _field(
      "glorot_uniform", "glorot_uniform | normal:<std> (the paper: normal:0.01).")
  posterior: str = _field(
      "deterministic", "q(z|x), paper section 2: deterministic (z = f(x)) | gaussian "
      "(z = mean + std * eps, reparameterised) | universal (z = f(x, eta), eta ~ N(0, I) "
      "fed to the encoder with the image). Exports' `encode` gives the posterior's "
      "deterministic point (the mean / f(x, 0)); stochastic posteriors add `encode_sample`.")
  posterior_noise_dim: int = _field(
      16, "Dimension of the noise eta the universal-approximator encoder reads.")
  prior: str = _field("gaussian", "Prior on z: gaussian | gaussian_mixture | swiss_roll "
                      "(the last two are 2-D).")
  prior_std: float = _field(5.0, "Standard deviation of the Gaussian prior.")
  prior_components: int = _field(
      10, "Components of the mixture / segments of the swiss roll (one per class).")
  mixture_shift: float = _field(1.4, "Mixture: distance of each component from the origin.")
  mixture_x_std: float = _field(0.5, "Mixture: std along each component's radial axis.")
  mixture_y_std: float = _field(0.1, "Mixture: std across each component.")
  adversary_sees_label: bool = _field(
      False, "Variants trained on every label (supervised): the z adversary also reads the "
      "label one-hot, so it matches q(z|y) to the prior for each class and z cannot carry "
      "the class (style/content separation that does not decay with training).")
  style_adversary_reads_category: bool = _field(
      False, "Variants with a category head q(y|x) (semi-supervised, clustering): the z "
      "adversary also reads the example's category, one_hot(argmax q(y|x)) without its "
      "gradient, beside the prior sample and beside the code, so it matches q(z|y) to the "
      "prior for every category and z cannot carry the category: the decoder must take "
      "the content from y.")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """How the weights are learnt: losses, optimizers, schedules, the seed, the
  variant's training levers."""

  seed: int = _field(0, "Seed for initialisation, data order and prior samples.")
  batch_size: int = _field(100, "Global batch size (split across replicas).")
  reconstruction_loss: str = _field(
      "mse", "mse (squared error; the paper's Euclidean cost) | bce (binary cross-entropy).")
  reconstruction_scale: str = _field(
      "per_image", "per_image: the loss of an image is the SUM over its pixels (the paper's "
      "scale, on which its SGD learning rates are set) | per_pixel: the MEAN over pixels "
      "(784x smaller on MNIST: learning rates must be 784x larger for the same steps).")
  optimizer: str = _field("adam", "adam | sgd (momentum from `momentum`) | rmsprop.")
  adversarial_optimizer: str = _field(
      "", "Optimizer of the discriminators and the generator; empty = `optimizer` "
      "(the first seed: Adam for reconstruction, SGD for the adversarial pair).")
  momentum: float = _field(0.9, "SGD momentum / Adam beta_1.")
  adversarial_momentum: float = _field(
      -1.0, "Momentum / beta_1 of the discriminator and generator optimizers; -1 = momentum.")
  reconstruction_lr: float = _field(1e-4, "Learning rate of the reconstruction phase.")
  discriminator_lr: float = _field(1e-4, "Learning rate of the discriminator update.")
  generator_lr: float = _field(1e-4, "Learning rate of the encoder-as-generator update.")
  supervised_lr: float = _field(1e-4, "Learning rate of the supervised cross-entropy phase.")
  lr_decay_epochs: Tuple[float, ...] = _field(
      (), "Epochs at which every learning rate is multiplied by lr_decay_factor.")
  lr_decay_factor: float = _field(0.1, "Multiplier applied at each lr_decay_epochs boundary.")
  adversarial_lr_decay_factor: float = _field(
      -1.0, "Multiplier of the discriminator and generator rates at each lr_decay_epochs "
      "boundary; -1 = lr_decay_factor. 1 keeps the adversarial pair at its rate while the "
      "reconstruction settles.")
  input_noise_std: float = _field(
      0.0, "Std of Gaussian noise added to encoder inputs in training (paper Table 2: 0.3).")
  input_dropout: float = _field(
      0.0, "Dropout rate on the encoder's input pixels in training (after input noise).")
  discriminator_noise_std: float = _field(
      0.0, "Std of Gaussian noise added to every discriminator input (a stabiliser).")
  style_dropout: float = _field(
      0.0, "Variants whose decoder reads a category (y or a label): the share of examples "
      "whose style code z is zeroed in the reconstruction phase, so the decoder must "
      "rebuild them from the category alone and cannot learn to ignore it; 0 = off.")
  category_reconstruction_gradient: float = _field(
      1.0, "Variants whose decoder reads q(y|x) (clustering): the share of the "
      "reconstruction gradient that reaches q(y|x), in [0, 1]. 1 is the paper's; 0 stops "
      "it at q(y|x), so only the adversaries shape the partition. In between, the adversaries keep the head "
      "categorical while reconstruction moves only the examples it is unsure of (near "
      "one-hot, the softmax passes almost no gradient) to the cluster that rebuilds them "
      "better.")
  category_shift_consistency: float = _field(
      0.0, "Variants with a category head q(y|x): the weight of KL(q(y|x) || q(y|shift(x))) "
      "in the generator phase, shift(x) moving each image by up to --shift_pixels in each "
      "direction. A digit moved by a pixel or two is the same digit, so the partition "
      "should not change with it; 0 = off.")
  shift_pixels: int = _field(
      2, "With --category_shift_consistency: the largest shift, in pixels, per axis.")
  shift_rotation_degrees: float = _field(
      0.0, "With --category_shift_consistency: the shifted copy is also turned by up to "
      "this many degrees either way about its centre; 0 = shift only.")
  shift_zoom: float = _field(
      0.0, "With --category_shift_consistency: the shifted copy is also scaled by a factor "
      "in [1 - this, 1 + this] about its centre; 0 = shift only.")
  category_reading_start_epoch: float = _field(
      0.0, "With --style_adversary_reads_category: the epoch from which the z adversary "
      "reads the category. Before it the adversary reads zeros there (blind, as the "
      "paper's), so q(y|x) settles before z is made to leave the category to it.")
  cluster_head_threshold: float = _field(
      2.0, "eta: dim_reduction penalises cluster heads closer than this.")
  cluster_head_weight: float = _field(1.0, "Weight of the cluster-head distance penalty.")


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
  """How and how long the run goes on, and where it reads and writes: exactly
  the fields a resume may change (a rerun in the same workdir), since none of them
  changes what is trained."""

  preset: str = _field("paper_table1", "Name of the preset this config came from.")
  epochs: float = _field(
      100.0, "Length of training in epochs of the training split (ignored if train_steps>0).")
  train_steps: int = _field(0, "Length of training in batches; 0 = use epochs.")
  export_dir: Optional[str] = _field(
      None, "At the end of training, export encoder and decoder SavedModels here.")
  data_dir: Optional[str] = _field(
      None, "mnist/fashion_mnist: a directory with the four IDX files (raw or .gz) or a "
      "prepared TFDS copy (unset: a prepared TFDS copy, a TFDS download if reachable, else "
      "offline fallbacks); tfds:NAME: the TFDS data directory.")
  allow_download: bool = _field(
      True, "Allow a TFDS download when the host answers within seconds.")
  data_source: str = _derived("", "Where the run's data came from, set when a run starts.")
  steps_per_loop: int = _field(100, "Train steps per tf.function call (host returns once per loop).")
  summary_every_steps: int = _field(100, "Write TensorBoard scalars every N steps.")
  checkpoint_every_steps: int = _field(
      0, "Save a checkpoint every N steps; 0 = once per epoch.")
  keep_checkpoints: int = _field(3, "How many checkpoints to keep.")
  validate_every_epochs: float = _field(
      1.0, "Score the model on the validation split every N epochs (a per-variant metric: "
      "aae_tf.selection) and keep the best-scoring checkpoint apart; 0 = never.")
  figures_every_epochs: float = _field(
      10.0, "Write sample grid and latent scatter PNGs every N epochs (and at the end).")
  strategy: str = _field("default", "default | mirrored | multi_worker.")
  cpu_replicas: int = _field(
      1, "With --strategy=mirrored and no GPU: split the CPU into N logical devices.")
  jit: bool = _field(False, "Compile the whole train step with XLA.")
  jit_updates: bool = _field(
      False, "Compile only the optimizer updates with XLA (fuses each phase's gradient "
      "casts and updates) while the matmuls stay on oneDNN. Measured slower than the fused "
      "update kernels at batch 100 on CPU (benchmarks/BENCHMARKS.md); for GPU experiments.")
  precision: str = _field(
      "auto", "auto (bf16 compute where the hardware has it natively: a CPU with AMX or "
      "AVX512-BF16, a GPU with bf16 tensor cores; float32 elsewhere) | float32 | "
      "mixed_bfloat16 (compute in bf16, weights fp32). Exports are float32 either way.")
  deterministic: bool = _field(
      False, "Turn on TensorFlow op determinism: an interrupted-and-resumed run ends with "
      "the same weights as an uninterrupted one (data order and draws are step-keyed).")


_GROUP_TYPES = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig,
                "runtime": RuntimeConfig}
GROUPS = tuple(_GROUP_TYPES)


def fields() -> Iterator[Tuple[str, dataclasses.Field]]:
  """(group, field) for every field, in the order of the groups and their fields."""
  for group, kind in _GROUP_TYPES.items():
    for field in dataclasses.fields(kind):
      yield group, field


_GROUP_OF = {field.name: group for group, field in fields()}
_FIELD = {field.name: field for _, field in fields()}


def group_of(name: str) -> str:
  """The group of the field named `name` (KeyError for no such field)."""
  return _GROUP_OF[name]


def field(name: str) -> dataclasses.Field:
  return _FIELD[name]


def field_help(name: str) -> str:
  """The documentation string of config field `name`."""
  return _FIELD[name].metadata.get("help", "")


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that defines a training run. Presets are instances of this."""

  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
  runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

  @classmethod
  def make(cls, **values) -> "Config":
    """The defaults with `values` (flat field names) set."""
    return cls().replace(**values)

  def replace(self, **values) -> "Config":
    """A copy with the fields named in `values` (flat names, any group) changed."""
    unknown = sorted(set(values) - set(_GROUP_OF))
    if unknown:
      raise TypeError(f"Config has no fields {unknown}")
    changes = {}
    for group in GROUPS:
      mine = {k: v for k, v in values.items() if _GROUP_OF[k] == group}
      if mine:
        changes[group] = dataclasses.replace(getattr(self, group), **mine)
    return dataclasses.replace(self, **changes)

  def value(self, name: str) -> Any:
    """The value of the field named `name` (a flag name), whichever its group."""
    return getattr(getattr(self, _GROUP_OF[name]), name)

  def flat(self) -> Dict[str, Any]:
    """{field name: value} over every group."""
    return {f.name: getattr(getattr(self, group), f.name) for group, f in fields()}

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2)

  @classmethod
  def from_json(cls, text: str) -> "Config":
    """Reads config.json: grouped, or flat as aae_tf wrote it before the groups."""
    values = json.loads(text)
    if not isinstance(values, dict):
      raise ValueError("a config must be a JSON object")
    if set(values) & set(GROUPS):
      flat = {}
      for group in GROUPS:
        part = values.get(group, {})
        if not isinstance(part, dict):
          raise ValueError(f"config group {group!r} must be a JSON object")
        flat.update(part)
      stray = sorted(set(values) - set(GROUPS))
      if stray:
        raise ValueError(f"unknown config groups {stray}; is the file from a newer aae_tf?")
    else:
      flat = dict(_LEGACY_DEFAULTS, **values)
    flat = _without_retired(flat)
    unknown = sorted(set(flat) - set(_GROUP_OF))
    if unknown:
      raise ValueError(f"unknown config fields {unknown}; is the file from a newer aae_tf?")
    for name, value in flat.items():
      if isinstance(value, list):  # JSON has no tuples
        flat[name] = tuple(value)
    return cls.make(**flat)


def resume_conflicts(previous: Config, new: Config):
  """[(field, old, new)] for every field outside `runtime` that differs."""
  return [(f.name, previous.value(f.name), new.value(f.name)) for group, f in fields()
          if group != "runtime" and previous.value(f.name) != new.value(f.name)]


# Fields whose meaning older config.json files had without naming it: a run written
# before the field existed resumes and exports as it was trained.
_LEGACY_DEFAULTS = {"reconstruction_scale": "per_pixel", "data_shape": (28, 28, 1)}

# Research levers that were measured, lost and were removed (docs/RESULTS.md keeps their
# measurements), with the value that left them off. Older config.json files name them:
# at that value they are dropped, with a translation where the lever survives in another
# field; any other value was a model this aae_tf cannot rebuild, and says so.
_RETIRED: Dict[str, Tuple[Any, Optional[Dict[str, Any]]]] = {
    "encoder_batch_norm": (False, None),
    "hard_categories": (False, None),
    "reconstruct_labelled": (False, None),
    "style_discriminator_noise_std": (-1.0, None),
    "gradient_clip_norm": (0.0, None),
    "category_assignment_weight": (0.0, None),
    "detach_category_from_reconstruction": (False, {"category_reconstruction_gradient": 0.0}),
}


def _without_retired(values: Dict[str, Any]) -> Dict[str, Any]:
  kept = {k: v for k, v in values.items() if k not in _RETIRED}
  for name, (off, translation) in _RETIRED.items():
    if name not in values or values[name] == off:
      continue
    if translation is None:
      raise ValueError(
          f"this run was trained with --{name}={values[name]}, a research lever this "
          f"version of aae_tf no longer has (it lost against the presets; docs/RESULTS.md "
          f"keeps the measurement). Use the aae_tf version that trained it")
    kept.update(translation)
  return kept
