"""Codes for TensorBoard's embedding projector, in TensorBoard's own format.

`write_projector(logdir, ...)` puts beside the run's event files an embedding
checkpoint (the codes as one variable), `metadata.tsv` (label and class name per code),
`sprite.png` (the examples, one tile per code, for image data) and
`projector_config.pbtxt` that ties them together, so `tensorboard --logdir WORKDIR`
shows the codes in the projector tab next to the scalars.
"""

import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins import projector

from aae_tf import atomic
from aae_tf import data

MAX_POINTS = 10_000          # the projector stays responsive; a test split's worth
SPRITE_MAX_PIXELS = 8192     # the projector's limit on a sprite's side
CHECKPOINT_PREFIX = "embedding.ckpt"
# The variable's name in an object-based checkpoint of `tf.train.Checkpoint(embedding=v)`.
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"


def write_projector(logdir: str, codes: np.ndarray, labels: np.ndarray,
                    images: Optional[np.ndarray] = None,
                    class_names: Sequence[str] = (), seed: int = 0) -> str:
  """Writes the projector's files for `codes` [N, d] into `logdir`; returns the config's
  path. At most MAX_POINTS codes (a seeded subset). `images` (uint8 or [0, 1] float,
  [N, H, W, C]) become the sprite; vectors and None give no sprite."""
  codes = np.asarray(codes, np.float32)
  labels = np.asarray(labels).reshape(-1)
  if codes.ndim != 2 or len(codes) != len(labels) or not len(codes):
    raise ValueError(f"codes [N, d] and labels [N] expected, got {codes.shape}, "
                     f"{labels.shape}")
  chosen = np.arange(len(codes))
  if len(codes) > MAX_POINTS:
    chosen = np.sort(np.random.default_rng(seed).permutation(len(codes))[:MAX_POINTS])
  os.makedirs(logdir, exist_ok=True)
  checkpoint = tf.train.Checkpoint(embedding=tf.Variable(codes[chosen], name="codes"))
  checkpoint.write(os.path.join(logdir, CHECKPOINT_PREFIX))
  _write_checkpoint_index(logdir)

  config = projector.ProjectorConfig()
  embedding = config.embeddings.add()
  embedding.tensor_name = TENSOR_NAME
  embedding.metadata_path = "metadata.tsv"
  atomic.write_text(os.path.join(logdir, "metadata.tsv"),
                    _metadata(labels[chosen], class_names))
  sprite = _sprite(images[chosen]) if images is not None and np.ndim(images) == 4 else None
  if sprite is not None:
    tile_h, tile_w, grid = sprite
    embedding.sprite.image_path = "sprite.png"
    embedding.sprite.single_image_dim.extend([tile_w, tile_h])
    atomic.write_with(os.path.join(logdir, "sprite.png"),
                      lambda tmp: Image.fromarray(grid).save(tmp, format="png"))
  projector.visualize_embeddings(logdir, config)
  return os.path.join(logdir, "projector_config.pbtxt")


def _write_checkpoint_index(logdir: str) -> None:
  """The `checkpoint` index file TensorBoard reads to find the embedding checkpoint
  (`Checkpoint.write` leaves none: the run's own checkpoints live elsewhere)."""
  atomic.write_text(os.path.join(logdir, "checkpoint"),
                    f'model_checkpoint_path: "{CHECKPOINT_PREFIX}"\n'
                    f'all_model_checkpoint_paths: "{CHECKPOINT_PREFIX}"\n')


def _metadata(labels: np.ndarray, class_names: Sequence[str]) -> str:
  """label<TAB>class per code, with a header line (the projector's two-column form)."""
  def name(label):
    label = int(label)
    if label < 0:
      return "unlabelled"
    return str(class_names[label]) if label < len(class_names) else str(label)
  return "label\tclass\n" + "".join(f"{int(l)}\t{name(l)}\n" for l in labels)


def _sprite(images: np.ndarray):
  """(tile height, tile width, uint8 grid): the images tiled row by row in a square
  grid, shrunk where needed so the sprite stays within SPRITE_MAX_PIXELS a side."""
  x = np.asarray(data.to_unit_float(np.asarray(images)), np.float32)
  n, h, w, c = x.shape
  cols = int(np.ceil(np.sqrt(n)))
  step = max(1, int(np.ceil(cols * max(h, w) / SPRITE_MAX_PIXELS)))
  x = x[:, ::step, ::step]
  h, w = x.shape[1:3]
  grid = np.zeros((cols * h, cols * w, c), np.float32)
  for i in range(n):
    r, col = divmod(i, cols)
    grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = x[i]
  grid = (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)
  return h, w, grid[..., 0] if c == 1 else grid
