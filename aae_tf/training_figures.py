"""The figures a run draws while it trains: a sample grid and a latent scatter; at the
end, the test codes for TensorBoard's projector.

Drawn through the same serving modules the export writes, so a figure shows what the
export will serve.
"""

import os
from typing import Dict

import numpy as np
import tensorflow as tf

from aae_tf import data
from aae_tf import export
from aae_tf import figures
from aae_tf import input_pipeline
from aae_tf import projector

FIGURE_SEED = 1234  # fixed so successive sample grids show the same prior draws


class TrainingFigures:
  """Sample grid and latent scatter, drawn through the same modules the export serves."""

  def __init__(self, trainer, splits: data.DataSplits):
    spec, config = trainer.spec, trainer.config
    self.spec, self.splits = spec, splits
    self.decoder = export.DecoderModule(trainer.networks.decoder, spec, config)
    self.encoder = export.EncoderModule(trainer.networks.encoder, trainer.networks.decoder,
                                        spec)
    self.rows = min(config.model.num_categories, 30) if spec.label_aware else 10

  def samples(self) -> np.ndarray:
    """rows x 10 images; the same draws at every step, so grids are comparable.

    Label-aware variants: one row per class / cluster. Where the decoder reads the
    label, each column keeps one style z across the rows (the paper's style grid).
    """
    if not self.spec.label_aware:
      return self.decoder.sample(tf.constant(100),
                                 tf.constant(FIGURE_SEED, tf.int64))["images"].numpy()
    return export.class_grid(lambda name, **inputs: getattr(self.decoder, name)(**inputs),
                             self.spec, self.rows, FIGURE_SEED)

  def test_codes(self) -> np.ndarray:
    """[N, d] the test split's codes, as the export's `encode` gives them."""
    return np.concatenate([
        self.encoder.encode(images)["z"].numpy() for images, _ in
        input_pipeline.eval_dataset(self.splits.test.images, self.splits.test.labels)])

  def write_projector(self, logdir: str) -> str:
    """The test split's codes for TensorBoard's projector, beside the run's scalars."""
    test = self.splits.test
    return projector.write_projector(
        logdir, self.test_codes(), test.labels,
        test.images if np.ndim(test.images) == 4 else None, self.splits.class_names)

  def write(self, out_dir: str, step: int, tag: str) -> Dict[str, object]:
    """Writes samples_<tag>.png and latent_<tag>.png; returns paths and the grid."""
    samples = self.samples()
    codes = self.test_codes()
    paths = {"samples": os.path.join(out_dir, f"samples_{tag}.png"),
             "latent": os.path.join(out_dir, f"latent_{tag}.png")}
    grid = figures.save_image_grid(samples, paths["samples"], rows=self.rows, cols=10)
    figures.save_scatter(codes, self.splits.test.labels, paths["latent"],
                         title=f"test codes at step {step}",
                         class_names=self.splits.class_names or None)
    return dict(paths, grid=grid)
