"""SavedModel export of the encoder and decoder: the public serving contract.

Layout (TF Serving's): `<export_dir>/decoder/<version>/` and
`<export_dir>/encoder/<version>/`, version a positive integer (default: the global
step). Each is written to a hidden temporary directory, reloaded and checked against
the in-memory networks, and only then renamed into place — TF Serving, which polls the
directory, never sees a half-written version, and an existing version is never
overwritten.

Signatures (names, dtypes, shapes and output keys are public API). K = num_categories.
Images are f32[None, *data_shape] in [0, 1]: data_shape is one training example's shape,
(H, W, C) for images (28, 28, 1 for MNIST) or (D,) for vectors, recorded with the value
range in the `aae_config.json` asset.
  decoder  decode(z: f32[None, latent_dim] [, labels: i32[None]]) -> {images: f32[None, *data_shape]}
             `labels` only where the decoder reads a label (supervised, semi_supervised,
             clustering, dim_reduction*): the class / cluster id in [0, K).
           sample(num_samples: i32[] in [0, 100000], seed: i64[]) -> {images, z [, labels]}
             drawn from the training prior in-graph; same seed, same samples; label-aware
             variants also return the uniformly drawn `labels` i32[N].
           sample_class(labels: i32[N], N <= 100000, seed: i64[]) -> {images, z}   (label-aware)
           serving_default = decode
  encoder  encode(images: f32[None, *data_shape]) -> {z: f32[None, latent_dim] [, label_probs]}
             `label_probs` f32[None, K] where the encoder has a categorical head; for
             dim_reduction*, `z` is the representation W_c q(y|x) + z.
             `z` is deterministic whatever the posterior: the Gaussian posterior's mean,
             the universal approximator's f(x, eta=0).
           encode_sample(images, seed: i64[]) -> {z [, label_probs]}   (stochastic
             posteriors only): one draw from q(z|x); same seed, same draw.
           classify(images) -> {labels: i32[None], label_probs}   (categorical head only)
           serving_default = encode
Discriminators and optimizers are never exported.
"""

import json
import os
import shutil
import sys
import tempfile
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from aae_tf import checkpoints
from aae_tf import config as config_lib
from aae_tf import errors
from aae_tf import models
from aae_tf import priors
from aae_tf import rng
from aae_tf import variants
from aae_tf import workdir as workdir_lib

CONFIG_ASSET = "aae_config.json"
#: `sample` refuses larger requests: one call must not exhaust a server's memory.
MAX_SAMPLES = 100_000
CONFIG_FILE = workdir_lib.CONFIG_FILE


#: The two SavedModels of an export, each in `<export_dir>/<model>/<version>/`.
MODELS = ("encoder", "decoder")


def model_dirs(export_dir: str, version=None) -> Dict[str, str]:
  """{model: its directory} in TF Serving's layout: the version folders, or (no version)
  the folders that hold the versions."""
  return {name: os.path.join(export_dir, name, *([str(version)] if version is not None else []))
          for name in MODELS}


ExportError = errors.ExportError
load_config = workdir_lib.load_config


def _image_spec(data_shape):
  return tf.TensorSpec([None, *data_shape], tf.float32, name="images")


def _checked_images(images):
  """`images`, or InvalidArgumentError if any value is NaN/Inf or outside [0, 1].

  The models were trained on [0, 1]: 0..255 pixels, say, would be answered with codes in
  the thousands that look like any other output. One fused comparison (NaN fails it
  too) and a constant message: `benchmarks/signature_check_cost.py` measured +2-4 % on
  `encode`'s time at batch 100-1000 (separate finite/min/max checks: +7-15 %).
  """
  in_range = tf.reduce_all(tf.logical_and(images >= 0.0, images <= 1.0))
  with tf.control_dependencies([tf.debugging.Assert(in_range, [
      "images must be finite values in [0, 1] (scale 0..255 pixels by 1/255)"])]):
    return tf.identity(images)


def _check_labels(labels, num_categories):
  return [tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
          tf.debugging.assert_less(labels, num_categories,
                                   message=f"labels must be < {num_categories}")]


class DecoderModule(tf.Module):
  """Serving wrapper of the decoder: `decode`, in-graph `sample` (and `sample_class`)."""

  def __init__(self, decoder: models.Decoder, spec, config,
               asset_path: Optional[str] = None):
    super().__init__(name="aae_decoder")
    self.decoder = decoder
    # The training prior, rebuilt from the config that defined it. Plain Python: its
    # parameters are baked into the graph.
    self._prior = priors.make_prior(config)
    self._spec = spec
    self._latent_dim, self._num_categories = config.model.latent_dim, config.model.num_categories
    if asset_path:
      self.aae_config = tf.saved_model.Asset(asset_path)
    z_spec = tf.TensorSpec([None, config.model.latent_dim], tf.float32, name="z")
    labels_spec = tf.TensorSpec([None], tf.int32, name="labels")
    seed_spec = tf.TensorSpec([], tf.int64, name="seed")
    if spec.decoder_takes_label:
      self.decode = tf.function(self._decode, input_signature=[z_spec, labels_spec])
    else:
      self.decode = tf.function(lambda z: self._decode(z), input_signature=[z_spec])
    self.sample = tf.function(self._sample, input_signature=[
        tf.TensorSpec([], tf.int32, name="num_samples"), seed_spec])
    if spec.label_aware:
      self.sample_class = tf.function(self._sample_class,
                                      input_signature=[labels_spec, seed_spec])

  def _decode(self, z, labels=None):
    # Signature functions called in Python skip the input-spec shape check; TF Serving's
    # session loader does not. Check here so every caller gets the same error.
    z = tf.ensure_shape(z, [None, self._latent_dim])
    z = tf.debugging.assert_all_finite(z, "decode: z contains NaN or Inf values")
    category = None
    if labels is not None:
      with tf.control_dependencies(_check_labels(labels, self._num_categories)):
        category = tf.one_hot(labels, self._num_categories)
    logits = self.decoder(z, category)
    return {"images": tf.reshape(tf.sigmoid(logits), [-1, *self.decoder.data_shape])}

  def _draw(self, num_samples, seed, labels):
    """Prior codes (from each label's component where the prior reads labels) + images."""
    z = self._prior.sample(num_samples, seed, labels if self._spec.prior_takes_label else None)
    images = self._decode(z, labels if self._spec.decoder_takes_label else None)["images"]
    return {"images": images, "z": z}

  def _sample(self, num_samples, seed):
    checks = [
        tf.debugging.assert_non_negative(num_samples,
                                         message="sample: num_samples must be >= 0"),
        tf.debugging.assert_less_equal(num_samples, MAX_SAMPLES,
                                       message=f"sample: num_samples must be <= {MAX_SAMPLES}"),
    ]
    with tf.control_dependencies(checks):
      seed = rng.make_seed(seed)
    if not self._spec.label_aware:
      return self._draw(num_samples, seed, None)
    labels = rng.categorical_uniform(num_samples, self._num_categories, rng.fold_in(seed, 7))
    return dict(self._draw(num_samples, seed, labels), labels=labels)

  def _sample_class(self, labels, seed):
    checks = _check_labels(labels, self._num_categories) + [
        tf.debugging.assert_less_equal(tf.size(labels), MAX_SAMPLES, message=(
            f"sample_class: at most {MAX_SAMPLES} labels per call, as for sample"))]
    with tf.control_dependencies(checks):
      seed = rng.make_seed(seed)
    return self._draw(tf.size(labels), seed, labels)

  def signatures(self):
    decode = self.decode.get_concrete_function()
    signatures = {"decode": decode, "sample": self.sample.get_concrete_function(),
                  "serving_default": decode}
    if self._spec.label_aware:
      signatures["sample_class"] = self.sample_class.get_concrete_function()
    return signatures


class EncoderModule(tf.Module):
  """Serving wrapper of the encoder: `encode` (and `classify`)."""

  def __init__(self, encoder: models.Encoder, decoder: models.Decoder, spec,
               asset_path: Optional[str] = None):
    super().__init__(name="aae_encoder")
    self.encoder = encoder
    self._spec = spec
    if spec.has_cluster_heads:
      self.cluster_heads = decoder.cluster_heads  # only W_c; the decoder stays out
    if asset_path:
      self.aae_config = tf.saved_model.Asset(asset_path)
    images = _image_spec(encoder.data_shape)
    self.encode = tf.function(self._encode, input_signature=[images])
    if encoder.stochastic:
      self.encode_sample = tf.function(self._encode_sample, input_signature=[
          images, tf.TensorSpec([], tf.int64, name="seed")])
    if spec.has_categories:
      self.classify = tf.function(self._classify, input_signature=[images])

  def _encode(self, images, posterior_seed=None):
    # see DecoderModule._decode
    images = _checked_images(tf.ensure_shape(images, [None, *self.encoder.data_shape]))
    codes = self.encoder(images, posterior_seed=posterior_seed)
    if not self._spec.has_categories:
      return {"z": codes["z"]}
    probs = tf.nn.softmax(codes["y"])
    z = codes["z"]
    if self._spec.has_cluster_heads:
      z = models.cluster_representation(z, probs, self.cluster_heads)
    return {"z": z, "label_probs": probs}

  def _encode_sample(self, images, seed):
    return self._encode(images, rng.make_seed(seed))

  def _classify(self, images):
    probs = self._encode(images)["label_probs"]
    return {"labels": tf.argmax(probs, axis=1, output_type=tf.int32), "label_probs": probs}

  def signatures(self):
    encode = self.encode.get_concrete_function()
    signatures = {"encode": encode, "serving_default": encode}
    if self._spec.has_categories:
      signatures["classify"] = self.classify.get_concrete_function()
    if self.encoder.stochastic:
      signatures["encode_sample"] = self.encode_sample.get_concrete_function()
    return signatures


def class_grid(call, spec, rows: int, seed: int) -> np.ndarray:
  """[rows*10] images, row k showing class / cluster k, for label-aware variants.

  Where the decoder reads the label, each column keeps one style z across the rows
  (the paper's style grid); otherwise `sample_class` draws each row from its class.
  `call(signature_name, **inputs)` runs a decoder signature, so the same grid comes
  from an in-memory DecoderModule (training figures) or a loaded SavedModel
  (evaluation).
  """
  labels = tf.repeat(tf.range(rows, dtype=tf.int32), 10)
  seed = tf.constant(seed, tf.int64)
  if spec.decoder_takes_label:
    styles = call("sample", num_samples=tf.constant(10), seed=seed)["z"]
    return call("decode", z=tf.tile(styles, [rows, 1]), labels=labels)["images"].numpy()
  return call("sample_class", labels=labels, seed=seed)["images"].numpy()


def restore_networks(workdir: str, config: config_lib.Config, checkpoint: str = "best"):
  """Builds float32 networks (no strategy) and restores the chosen checkpoint.

  Float32 whatever the run trained in: weights are float32 in every precision, and a
  served graph must not depend on the server having bf16 hardware.
  Returns (networks, step, chosen): `chosen` says which checkpoint it was
  (aae_tf.checkpoints.resolve: best on validation by default).
  """
  spec = variants.get_variant(config.model.variant)
  networks = models.build_networks(config.replace(precision="float32"), spec)
  global_step = tf.Variable(0, dtype=tf.int64)
  saved = tf.train.Checkpoint(encoder=networks.encoder, decoder=networks.decoder,
                              global_step=global_step)
  try:
    path, chosen = checkpoints.resolve(workdir, checkpoint)
    # best / latest: a damaged file falls back to the newest readable rolling checkpoint
    # (named in a warning); an explicitly chosen step must be that step.
    fallbacks = [] if chosen["choice"] == "step" else [
        p for p in checkpoints.rolling_newest_first(workdir) if p != path]
    used = checkpoints.restore_newest_readable(
        lambda prefix: saved.restore(prefix).expect_partial().assert_existing_objects_matched(),
        [path] + fallbacks, lambda message: print(message, file=sys.stderr))
  except (checkpoints.CheckpointChoiceError, checkpoints.CheckpointUnreadableError) as e:
    raise ExportError(str(e)) from None
  step = int(global_step.numpy())
  if used != path and step != chosen["step"]:
    chosen = {"choice": "latest", "step": step,
              "note": f"the {chosen['choice']} checkpoint {path} could not be read"}
  return networks, step, chosen


def describe(config: config_lib.Config, step: int, chosen: Optional[dict] = None) -> dict:
  """The content of the `aae_config.json` asset.

  `training_step` is the step of the exported weights; `checkpoint` says how that
  checkpoint was chosen ({choice: best|latest|step, step[, metric, value]}).
  """
  spec = variants.get_variant(config.model.variant)
  return {"preset": config.runtime.preset, "variant": config.model.variant, "dataset": config.data.dataset,
          "latent_dim": config.model.latent_dim, "prior": priors.make_prior(config).describe(),
          "num_categories": config.model.num_categories, "decoder_input": spec.decoder_input,
          "label_aware": spec.label_aware, "has_categories": spec.has_categories,
          "posterior": config.model.posterior, "training_step": step,
          # What `encode` takes and `decode` / `sample` return: one example's shape, values.
          "data_shape": list(config.data.data_shape), "value_range": [0.0, 1.0],
          "data_source": config.runtime.data_source, "architecture": config.model.architecture,
          "checkpoint": chosen or {"choice": "in_memory", "step": step},
          "config": json.loads(config.to_json())}


def _verify(module_dir: str, in_memory: tf.Module, probes: Dict[str, dict]) -> None:
  """Reloads an export and checks each probed signature against the in-memory module."""
  loaded = tf.saved_model.load(module_dir)
  for signature, probe in probes.items():
    inputs = {k: tf.constant(v) for k, v in probe.items()}
    expected = getattr(in_memory, signature)(**inputs)
    got = loaded.signatures[signature](**inputs)
    for key, value in expected.items():
      if not np.allclose(value.numpy(), got[key].numpy(), atol=1e-5):
        raise ExportError(f"{module_dir}: reloaded signature {signature!r} output {key!r} "
                          "differs from the trained model; the export was not installed")


def _current_umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def _save_verified(module: tf.Module, target: str, probes) -> str:
  """Saves into a hidden temporary sibling of `target` and verifies it; returns it."""
  parent = os.path.dirname(target)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)  # hidden: TF Serving ignores it
  try:
    # mkdtemp makes it 0700 whatever the umask; the version directory is renamed from it,
    # and a server under another account must read it as it reads the files inside.
    os.chmod(tmp, 0o777 & ~_current_umask())
    tf.saved_model.save(module, tmp, signatures=module.signatures())
    _verify(tmp, module, probes)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return tmp


def _decoder_probes(spec, config):
  """Inputs on which a reloaded decoder must agree with the in-memory one."""
  rng_np = np.random.default_rng(0)
  labels = np.arange(4, dtype=np.int32) % config.model.num_categories
  decode = {"z": rng_np.normal(size=(4, config.model.latent_dim)).astype(np.float32)}
  if spec.decoder_takes_label:
    decode["labels"] = labels
  probes = {"decode": decode, "sample": {"num_samples": np.int32(3), "seed": np.int64(7)}}
  if spec.label_aware:
    probes["sample_class"] = {"labels": labels, "seed": np.int64(7)}
  return probes


def _encoder_probes(spec, config):
  images = np.random.default_rng(1).uniform(size=(4, *config.data.data_shape)).astype(np.float32)
  probes = {"encode": {"images": images}}
  if config.model.posterior != "deterministic":
    probes["encode_sample"] = {"images": images, "seed": np.int64(7)}
  if spec.has_categories:
    probes["classify"] = {"images": images}
  return probes


def export_models(networks, config: config_lib.Config, step: int, export_dir: str,
                  version: Optional[int] = None, skip_existing: bool = False,
                  chosen: Optional[dict] = None) -> Dict[str, str]:
  """Writes, verifies and installs both SavedModels; returns their directories.

  With `skip_existing`, a model whose version exists already (a rerun of a finished
  training command) is left as it is and only the missing one is written.
  """
  version = step if version is None else version
  if version <= 0:
    raise ExportError(f"export version must be a positive integer, got {version} "
                      "(a run at step 0 needs an explicit --version)")
  targets = model_dirs(export_dir, version)
  existing = {name for name, target in targets.items() if os.path.exists(target)}
  if existing and not skip_existing:
    raise ExportError(f"{targets[sorted(existing)[0]]} already exists; pass another "
                      "--version or remove it (exports are never overwritten)")
  asset_dir = tempfile.mkdtemp(prefix="aae_export_")
  written = {}
  try:
    asset = os.path.join(asset_dir, CONFIG_ASSET)
    with open(asset, "w") as f:
      json.dump(describe(config, step, chosen), f, indent=2, sort_keys=True)
    spec = variants.get_variant(config.model.variant)
    modules = {
        "decoder": (DecoderModule(networks.decoder, spec, config, asset), _decoder_probes(spec, config)),
        "encoder": (EncoderModule(networks.encoder, networks.decoder, spec, asset),
                    _encoder_probes(spec, config)),
    }
    # Both are written and verified before either is installed, so a failure leaves
    # no lone half of a version behind.
    for name, (module, probes) in modules.items():
      if name not in existing:
        written[name] = _save_verified(module, targets[name], probes)
    for name, tmp in written.items():
      os.rename(tmp, targets[name])
  finally:
    for tmp in written.values():
      shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(asset_dir, ignore_errors=True)
  return targets


def export_from_workdir(workdir: str, export_dir: str, version: Optional[int] = None,
                        skip_existing: bool = False, checkpoint: str = "best") -> Dict[str, str]:
  """Exports a checkpoint of a training run (default: the best on validation).

  The version defaults to the run's newest step — how far the run had trained — so
  the end-of-training export lands where the run announced it; `aae_config.json`
  records which checkpoint's weights it holds.
  """
  config = load_config(workdir)
  networks, step, chosen = restore_networks(workdir, config, checkpoint)
  if version is None and chosen["choice"] != "step":
    version = checkpoints.resolve(workdir, "latest")[1]["step"]
  return export_models(networks, config, step, export_dir, version, skip_existing, chosen)
