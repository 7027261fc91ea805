"""Batch normalisation in the encoder: batch statistics in training, running ones in
serving, per replica under a strategy, and carried through checkpoint and export."""

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import validate
from aae_tf import configs
from aae_tf import export
from aae_tf import models
from aae_tf import train
from tests import helpers


def test_training_uses_the_batch_and_moves_the_running_statistics():
  norm = models.BatchNorm(3, momentum=0.5)
  x = tf.constant(np.random.default_rng(0).normal(4.0, 2.0, (256, 3)), tf.float32)
  out = norm(x, training=True).numpy()
  np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
  np.testing.assert_allclose(out.std(0), 1.0, atol=1e-2)
  # Halfway from (0, 1) towards the batch's mean and variance.
  np.testing.assert_allclose(norm.moving_mean.numpy(), 0.5 * x.numpy().mean(0), rtol=1e-4)
  np.testing.assert_allclose(norm.moving_variance.numpy(), 0.5 + 0.5 * x.numpy().var(0),
                             rtol=1e-3)
  before = norm.moving_mean.numpy().copy()
  served = norm(x, training=False).numpy()
  np.testing.assert_array_equal(norm.moving_mean.numpy(), before)   # inference: no update
  expected = (x.numpy() - before) / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
  np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-4)


def test_bf16_compute_keeps_float32_statistics():
  norm = models.BatchNorm(4)
  out = norm(tf.ones([8, 4], tf.bfloat16) * 3, training=True)
  assert out.dtype == tf.bfloat16 and norm.moving_mean.dtype == tf.float32


def test_head_batch_norm_trains_under_two_replicas_and_exports_running_statistics(
    tmp_path, monkeypatch):
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
  data_dir = helpers.write_synthetic_mnist(tmp_path / "data")
  config = configs.get("smoke").replace(
      data_dir=data_dir, validation_size=10, variant="clustering", num_categories=4,
      head_batch_norm=("y", "z"), strategy="mirrored",
      cpu_replicas=2, train_steps=4)
  workdir = str(tmp_path / "run")
  train.run(config, workdir, log=lambda _: None)
  networks, _, _ = export.restore_networks(workdir, config)
  running = networks.encoder.head_norms["y"].moving_mean.numpy()
  assert np.all(np.isfinite(running)) and np.abs(running).max() > 0   # it moved
  paths = export.export_from_workdir(workdir, str(tmp_path / "export"))
  loaded = tf.saved_model.load(paths["encoder"])
  images = tf.constant(np.random.default_rng(1).uniform(size=(3, 28, 28, 1)), tf.float32)
  served = loaded.signatures["encode"](images=images)
  codes = networks.encoder(images)
  np.testing.assert_allclose(served["z"], codes["z"], atol=1e-5)
  np.testing.assert_allclose(served["label_probs"], tf.nn.softmax(codes["y"]), atol=1e-5)
  # Serving one image gives what it gives inside a batch: running statistics, not the
  # batch's.
  alone = loaded.signatures["encode"](images=images[:1])
  np.testing.assert_allclose(alone["z"], served["z"][:1], atol=1e-5)
  np.testing.assert_allclose(alone["label_probs"], served["label_probs"][:1], atol=1e-5)


def test_head_batch_norm_spreads_the_category_logits_over_the_batch():
  encoder = models.Encoder((16,), {"y": 4, "z": 2}, init="glorot_uniform", seed=0,
                           dropout=0.0, compute_dtype=tf.float32, head_batch_norm=("y",))
  images = tf.constant(np.random.default_rng(0).uniform(size=(64, 28, 28, 1)), tf.float32)
  trained = encoder(images, dropout_seed=tf.constant([1, 2]))
  # Training: each category's logit has mean 0 and std 1 over the batch (gamma 1, beta 0
  # at the start); z, not listed, is not normalised.
  np.testing.assert_allclose(trained["y"].numpy().mean(0), 0.0, atol=1e-4)
  np.testing.assert_allclose(trained["y"].numpy().std(0), 1.0, atol=1e-2)
  assert np.abs(trained["z"].numpy().std(0) - 1.0).max() > 0.1
  # Serving: the running statistics, which the training call moved.
  norm = encoder.head_norms["y"]
  assert np.abs(norm.moving_mean.numpy()).max() > 0
  served = encoder(images)["y"].numpy()
  raw = encoder.heads["y"](tf.nn.relu(encoder.trunk(tf.reshape(images, [64, -1])))).numpy()
  expected = (raw - norm.moving_mean.numpy()) / np.sqrt(norm.moving_variance.numpy()
                                                         + norm.epsilon)
  np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-4)


def test_head_batch_norm_names_a_head_the_variant_lacks():
  from aae_tf import config as config_lib
  with pytest.raises(config_lib.ConfigError, match="has no head 'y'"):
    validate.validate(configs.get("smoke").replace(head_batch_norm=("y",)))
