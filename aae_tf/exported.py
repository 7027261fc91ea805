"""An exported encoder/decoder pair, loaded like any client loads it, and called
through its public signatures only (`sample`, `sample_class`, `decode`, `encode`,
`classify`) plus the `aae_config.json` asset that names the variant, dataset and K.
"""

import dataclasses
import json
import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from aae_tf import config as config_lib
from aae_tf import data
from aae_tf import export
from aae_tf import variants

ENCODE_BATCH = 1000


class EvaluationError(RuntimeError):
  """The evaluation cannot run as asked; the message says why and what to do."""


@dataclasses.dataclass
class Exported:
  """A loaded encoder/decoder pair and what its `aae_config.json` asset says."""

  encoder: object
  decoder: object
  info: dict
  version: int
  paths: Dict[str, str]

  @property
  def spec(self) -> variants.VariantSpec:
    return variants.get_variant(self.info["variant"])

  @property
  def num_categories(self) -> int:
    # Exports written before num_categories was a top-level key carry it in "config";
    # older ones still had only the 10 digit classes.
    return int(self.info.get("num_categories", self.config_value("num_categories", 10)))

  def config_value(self, name: str, default=None):
    """A field of the training config in the asset: grouped, or flat in older exports."""
    config = self.info.get("config", {})
    group = config.get(config_lib.group_of(name), {})
    return group.get(name, default) if isinstance(group, dict) and name in group else (
        config.get(name, default))

  @property
  def data_shape(self) -> tuple:
    """One example's shape, as `encode` takes it (exports before it was recorded: MNIST)."""
    return tuple(self.info.get("data_shape", (28, 28, 1)))


# ---------------------------------------------------------------------- loading


def _versions(directory: str):
  if not os.path.isdir(directory):
    return set()
  return {int(name) for name in os.listdir(directory) if name.isdigit() and int(name) > 0}


def find_version(export_dir: str, version: Optional[int] = None) -> int:
  """`version`, checked, or the newest version present for both encoder and decoder."""
  found = {name: _versions(path) for name, path in export.model_dirs(export_dir).items()}
  both = found["encoder"] & found["decoder"]
  if version is not None:
    if version not in both:
      raise EvaluationError(f"{export_dir}: no encoder and decoder version {version}; "
                            f"versions present for both: {sorted(both) or 'none'}")
    return version
  if not both:
    raise EvaluationError(f"{export_dir}: expected encoder/<version>/ and "
                          "decoder/<version>/ SavedModels (the layout aae_tf.export "
                          "writes); found none with a common version")
  return max(both)


def load_exported(export_dir: str, version: Optional[int] = None) -> Exported:
  """Loads both SavedModels with `tf.saved_model.load` and reads the config asset."""
  version = find_version(export_dir, version)
  paths = export.model_dirs(export_dir, version)
  loaded = {name: tf.saved_model.load(path) for name, path in paths.items()}
  described = {}
  for name in ("decoder", "encoder"):
    asset = getattr(loaded[name], "aae_config", None)
    if asset is None:
      raise EvaluationError(f"{paths[name]} has no {export.CONFIG_ASSET} asset; "
                            "re-export it with this version of aae_tf")
    with open(asset.asset_path.numpy().decode()) as f:
      described[name] = json.load(f)
  info = described["decoder"]
  if described["encoder"] != info:
    # One export writes the same description into both; two differ at least in their
    # run or step, and a code of one encoder means nothing to another run's decoder.
    def origin(d):
      return (f"{d.get('preset') or d.get('variant')} on {d.get('dataset')}, step "
              f"{d.get('training_step')}")
    raise EvaluationError(
        f"{export_dir} version {version}: the encoder ({origin(described['encoder'])}) and "
        f"the decoder ({origin(described['decoder'])}) are not one export; export both "
        "from one run (aae-export --workdir=RUN --export_dir=DIR)")
  if info.get("variant") not in variants.VARIANTS:
    raise EvaluationError(f"{paths['decoder']}: unknown variant {info.get('variant')!r}")
  return Exported(loaded["encoder"], loaded["decoder"], info, version, paths)


# ------------------------------------------------------------ calling the models


def _float_images(exported: "Exported", images: np.ndarray) -> np.ndarray:
  """uint8 (0..255) or float (0..1) examples -> float32 [N, *data_shape] in [0, 1]
  (grey [N, H, W] gains its channel axis)."""
  images = data.to_unit_float(images)
  if images.shape[1:] + (1,) == exported.data_shape:
    images = images[..., None]
  return images


def encode(exported: Exported, images: np.ndarray, batch_size: int = ENCODE_BATCH,
           signature_name: str = "encode"):
  """An encoder signature over uint8 images in batches; outputs concatenated.

  `encode` gives {"z": [N, d] (, "label_probs": [N, K])}; `classify` gives
  {"labels": [N], "label_probs": [N, K]}.
  """
  signature = exported.encoder.signatures[signature_name]
  parts = [signature(images=tf.constant(_float_images(exported, images[i:i + batch_size])))
           for i in range(0, len(images), batch_size)]
  return {key: np.concatenate([p[key].numpy() for p in parts]) for key in parts[0]}


def decode(exported: Exported, z: np.ndarray, labels: Optional[np.ndarray],
           batch_size: int = ENCODE_BATCH) -> np.ndarray:
  """The `decode` signature over codes (and label ids, where it takes them) in batches."""
  signature = exported.decoder.signatures["decode"]
  out = []
  for i in range(0, len(z), batch_size):
    kwargs = {"z": tf.constant(z[i:i + batch_size], tf.float32)}
    if labels is not None:
      kwargs["labels"] = tf.constant(labels[i:i + batch_size], tf.int32)
    out.append(signature(**kwargs)["images"].numpy())
  return np.concatenate(out)


def reconstruct(exported: Exported, images: np.ndarray, labels: np.ndarray, codes=None):
  """encode -> decode through the signatures; returns (reconstructions, how).

  The decoder's label input gets the true label (supervised), else the encoder's
  argmax label (training feeds the soft q(y|x); the contract takes ids). For
  dim_reduction*, `encode` returns the representation W_c q(y|x) + z while `decode`
  adds W_c[label] itself, so W_c[label] is subtracted first; W_c is read from the
  encoder's `cluster_heads` variable, which `tf.saved_model.load` restores.
  """
  spec = exported.spec
  codes = codes if codes is not None else encode(exported, images)
  z = codes["z"]
  if not spec.decoder_takes_label:
    return decode(exported, z, None), "z"
  if spec.decoder_reads_true_label:
    return decode(exported, z, labels), "z + true label"
  argmax = np.argmax(codes["label_probs"], axis=1).astype(np.int32)
  if spec.has_cluster_heads:
    heads = getattr(exported.encoder, "cluster_heads", None)
    if heads is None:
      raise EvaluationError("dim_reduction export without the encoder's cluster_heads: "
                            "encode -> decode cannot be inverted through the signatures")
    z = z - heads.numpy()[argmax]
    return decode(exported, z, argmax), "representation - W_c[argmax] + argmax label"
  return decode(exported, z, argmax), "z + argmax label"


def draw_samples(exported: Exported, num_samples: int, seed: int) -> Dict[str, np.ndarray]:
  """`sample(num_samples, seed)` (chunked below the export's per-call cap)."""
  signature = exported.decoder.signatures["sample"]
  parts, done = [], 0
  while done < num_samples:
    n = min(num_samples - done, export.MAX_SAMPLES)
    parts.append(signature(num_samples=tf.constant(n, tf.int32),
                           seed=tf.constant(seed + done, tf.int64)))
    done += n
  return {key: np.concatenate([p[key].numpy() for p in parts]) for key in parts[0]}


def class_grid(exported: Exported, rows: int, seed: int) -> np.ndarray:
  """[rows*10] images, row k of class/cluster k.

  Where the decoder reads the label, each column keeps one style z across the rows
  (the paper's style grid, Fig. 6/9); otherwise `sample_class` draws per row.
  """
  signatures = exported.decoder.signatures
  return export.class_grid(lambda name, **inputs: signatures[name](**inputs),
                           exported.spec, rows, seed)
