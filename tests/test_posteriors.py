"""The paper's three q(z|x) (section 2): sampling, training, and their export signatures."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import configs
from aae_tf import export
from aae_tf import models
from aae_tf import rng
from aae_tf import train
from tests import helpers

LATENT = 3


def _encoder(posterior, **kwargs):
  return models.Encoder((16,), {"z": LATENT}, init="glorot_uniform", seed=0, dropout=0.0,
                        compute_dtype=tf.float32, posterior=posterior, noise_dim=4, **kwargs)


def _images(n=6, seed=0):
  return tf.constant(np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)), tf.float32)


def test_deterministic_ignores_the_posterior_seed():
  encoder = _encoder("deterministic")
  images = _images()
  np.testing.assert_array_equal(encoder(images)["z"],
                                encoder(images, posterior_seed=rng.make_seed(1))["z"])
  assert not encoder.stochastic


@pytest.mark.parametrize("posterior", ["gaussian", "universal"])
def test_stochastic_posteriors_draw_with_a_seed_and_serve_a_point_without(posterior):
  encoder = _encoder(posterior)
  images = _images()
  point = encoder(images)["z"].numpy()
  np.testing.assert_array_equal(point, encoder(images)["z"])       # no seed: deterministic
  draw = encoder(images, posterior_seed=rng.make_seed(1))["z"].numpy()
  again = encoder(images, posterior_seed=rng.make_seed(1))["z"].numpy()
  other = encoder(images, posterior_seed=rng.make_seed(2))["z"].numpy()
  np.testing.assert_array_equal(draw, again)                        # seeded
  assert not np.allclose(draw, other) and not np.allclose(draw, point)
  assert encoder.stochastic


def test_gaussian_draws_have_the_encoded_mean_and_std():
  encoder = _encoder("gaussian")
  log_var = encoder.heads["z_log_var"]
  log_var.kernel.assign(tf.zeros_like(log_var.kernel))
  log_var.bias.assign(tf.fill(log_var.bias.shape, float(np.log(4.0))))  # std 2
  image = tf.repeat(_images(1), 20000, axis=0)
  mean = encoder(image[:1])["z"].numpy()[0]
  draws = encoder(image, posterior_seed=rng.make_seed(5))["z"].numpy()
  np.testing.assert_allclose(draws.mean(axis=0), mean, atol=0.05)
  np.testing.assert_allclose(draws.std(axis=0), [2.0] * LATENT, rtol=0.03)


def test_universal_point_is_the_noise_at_zero():
  encoder = _encoder("universal")
  images = _images()
  flat = tf.concat([tf.reshape(images, [-1, 784]), tf.zeros([6, 4])], axis=1)
  h = tf.nn.relu(encoder.trunk(flat))
  np.testing.assert_allclose(encoder(images)["z"], encoder.heads["z"](h), atol=1e-6)
  assert encoder.trunk.in_dim == 784 + 4


def test_unknown_posterior_is_refused():
  with pytest.raises(ValueError, match="deterministic, gaussian, universal"):
    _encoder("flow")


# ----------------------------------------------------------------------- exports


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """One short semi-supervised training run and export per posterior."""
  root = tmp_path_factory.mktemp("posteriors")
  data_dir = helpers.write_synthetic_mnist(root / "data")
  out = {}
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(root / "cache"))
    for posterior in ("deterministic", "gaussian", "universal"):
      config = configs.get("smoke").replace(
          data_dir=data_dir, validation_size=10, variant="semi_supervised", num_labels=40,
          posterior=posterior, posterior_noise_dim=4, train_steps=4)
      workdir = str(root / posterior)
      train.run(config, workdir, log=lambda _: None)
      paths = export.export_from_workdir(workdir, str(root / "export" / posterior))
      networks, _, _ = export.restore_networks(workdir, config)
      out[posterior] = (paths, networks, config)
  return root, out


@pytest.mark.parametrize("posterior", ["deterministic", "gaussian", "universal"])
def test_export_signatures_per_posterior(exports, posterior):
  _, runs = exports
  paths, networks, _ = runs[posterior]
  loaded = tf.saved_model.load(paths["encoder"])
  images = _images(4, seed=3)
  stochastic = posterior != "deterministic"
  assert ("encode_sample" in loaded.signatures) == stochastic
  # `encode` stays deterministic and equal to the in-memory point estimate.
  np.testing.assert_allclose(loaded.signatures["encode"](images=images)["z"],
                             networks.encoder(images)["z"], atol=1e-5)
  with open(os.path.join(paths["encoder"], "assets", export.CONFIG_ASSET)) as f:
    assert json.load(f)["posterior"] == posterior
  if stochastic:
    sample = loaded.signatures["encode_sample"]
    seed = tf.constant(11, tf.int64)
    first, second = sample(images=images, seed=seed), sample(images=images, seed=seed)
    np.testing.assert_array_equal(first["z"], second["z"])
    assert set(first) == {"z", "label_probs"}
    other = sample(images=images, seed=tf.constant(12, tf.int64))["z"]
    assert not np.allclose(first["z"], other)
    np.testing.assert_allclose(first["z"], networks.encoder(
        images, posterior_seed=rng.make_seed(tf.constant(11, tf.int64)))["z"], atol=1e-5)


def test_encode_sample_through_the_session_loader(exports):
  """saved_model_cli run (TF Serving's loader) answers encode_sample, seeded."""
  root, runs = exports
  paths = runs["gaussian"][0]
  images = _images(2, seed=4).numpy()
  np.save(root / "images.npy", images)
  cli = helpers.venv_script("saved_model_cli")
  outs = []
  for i in range(2):
    out = root / f"cli_{i}"
    proc = helpers.run_command(
        [cli, "run", "--dir", paths["encoder"], "--tag_set", "serve",
         "--signature_def", "encode_sample", "--inputs", f"images={root / 'images.npy'}",
         "--input_exprs", "seed=11", "--outdir", str(out)], env=helpers.hermetic_env())
    assert proc.returncode == 0, helpers.describe(proc)
    outs.append(np.load(out / "z.npy"))
  np.testing.assert_array_equal(outs[0], outs[1])
  loaded = tf.saved_model.load(paths["encoder"])
  np.testing.assert_allclose(outs[0], loaded.signatures["encode_sample"](
      images=tf.constant(images), seed=tf.constant(11, tf.int64))["z"], atol=1e-5)


