"""experiments/tools/prior_gap.py: the separability measure tells matched codes from
mismatched ones, and the report scores prior and posterior samples alike."""

import numpy as np

from aae_tf import configs
from aae_tf import train
from tests import helpers

prior_gap = helpers.load_script("experiments/tools/prior_gap.py", "prior_gap")


def test_separability_is_chance_for_the_prior_itself_and_high_for_a_shifted_code():
  rng = np.random.default_rng(0)
  prior = rng.normal(0.0, 5.0, (1500, 2))
  same = rng.normal(0.0, 5.0, (1500, 2))
  shifted = rng.normal(0.0, 5.0, (1500, 2)) + [12.0, 0.0]
  assert 0.4 <= prior_gap.separability(same, prior, 5.0, seed=0) <= 0.6
  assert prior_gap.separability(shifted, prior, 5.0, seed=0) >= 0.85


def test_reports_prior_and_posterior_samples_of_a_run(tmp_path, monkeypatch):
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
  monkeypatch.setattr(prior_gap, "SAMPLES", 40)
  monkeypatch.setattr(prior_gap, "SEPARABILITY_CODES", 100)
  config = configs.get("smoke").replace(
      data_dir=helpers.write_synthetic_mnist(tmp_path / "data"), validation_size=10,
      posterior="gaussian", train_steps=3)
  workdir = str(tmp_path / "run")
  train.run(config, workdir, log=lambda _: None)
  result = prior_gap.prior_gap(workdir, log=lambda _: None)
  for name in ("prior", "posterior"):
    assert np.isfinite(result[name]["parzen_ll"]) and result[name]["frechet_distance"] >= 0
  assert 0.0 <= result["separability"] <= 1.0
  assert len(result["code_std_per_dim"]) == config.model.latent_dim
  # The Gaussian posterior's codes carry its noise: two draws differ.
  networks = prior_gap.export.restore_networks(workdir, config)[0]
  images = np.zeros((4, 28, 28, 1), np.uint8)
  a, b = (prior_gap.posterior_codes(networks, images, seed) for seed in (0, 1))
  assert not np.allclose(a, b)
