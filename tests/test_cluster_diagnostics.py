"""experiments/tools/cluster_diagnostics.py on a tiny clustering export: what it reports, read from
validation only, and whether the decoder uses the category at all."""

import numpy as np

from aae_tf import configs
from aae_tf import export
from aae_tf import train
from tests import helpers

diagnostics = helpers.load_script("experiments/tools/cluster_diagnostics.py", "cluster_diagnostics")


def _export(tmp_path, monkeypatch):
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
  config = configs.get("smoke").replace(
      data_dir=helpers.write_synthetic_mnist(tmp_path / "data"), validation_size=20,
      variant="clustering", num_categories=4, train_steps=3)
  workdir = str(tmp_path / "run")
  train.run(config, workdir, log=lambda _: None)
  export.export_from_workdir(workdir, str(tmp_path / "export"))


def test_reports_the_clusters_and_the_decoders_use_of_them(tmp_path, monkeypatch):
  _export(tmp_path, monkeypatch)
  result = diagnostics.diagnostics(str(tmp_path / "export"), log=lambda _: None)
  assert result["validation_images"] == 20 and sum(result["cluster_sizes"]) == 20
  assert 1 <= result["clusters_used"] <= 4
  assert 0.25 <= result["mean_max_prob"] <= 1.0
  own, other = (result["reconstruction_mse_own_category"],
                result["reconstruction_mse_other_category"])
  assert np.isfinite(own) and np.isfinite(other)
  # A freshly initialised decoder reads its category input: swapping it changes the
  # reconstruction (the measure says "ignored" only when the two are equal).
  assert abs(own - other) > 1e-5, (own, other)
