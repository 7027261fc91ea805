"""Model selection: the validation metric per variant, the best checkpoint kept apart,
export and evaluation choosing a checkpoint, and the test split never read."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import validate
from aae_tf import checkpoints
from aae_tf import configs
from aae_tf import data
from aae_tf import export
from aae_tf import models
from aae_tf import selection
from aae_tf import train
from aae_tf import variants
from tests import helpers

# 120 synthetic training images, 20 of them validation: 10 steps of 10 per epoch.
NUM_TRAIN, VALIDATION_SIZE, BATCH = 120, 20, 10
STEPS_PER_EPOCH = (NUM_TRAIN - VALIDATION_SIZE) // BATCH


@pytest.mark.parametrize("variant,num_categories,expected", [
    ("unsupervised", 10, "validation_parzen_ll"),
    ("supervised", 10, "validation_style_accuracy_pct"),
    ("label_conditioned", 10, "validation_style_accuracy_pct"),
    ("semi_supervised", 10, "validation_error_pct"),
    ("dim_reduction_semi_supervised", 10, "validation_error_pct"),
    ("clustering", 16, "validation_clustering_error_pct"),
    ("dim_reduction", 20, "validation_clustering_error_pct"),
])
def test_each_variant_has_the_metric_that_says_what_it_is_for(variant, num_categories,
                                                              expected):
  metric = selection.metric_for(variants.get_variant(variant), num_categories, 10)
  assert metric.name == expected
  assert metric.higher_is_better == expected.endswith(("_ll", "accuracy_pct"))


def test_metric_direction():
  lower = selection.METRICS["validation_error_pct"]
  assert lower.better(1.0, None) and lower.better(1.0, 2.0) and not lower.better(2.0, 1.0)
  higher = selection.METRICS["validation_parzen_ll"]
  assert higher.better(2.0, 1.0) and not higher.better(1.0, 2.0)
  assert higher.better(1.0, 1.0) and lower.better(1.0, 1.0)   # ties: the later one


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return helpers.write_synthetic_mnist(tmp_path_factory.mktemp("data"), num_train=NUM_TRAIN)


def _smoke(data_dir, **changes):
  return configs.get("smoke").replace(data_dir=data_dir, validation_size=VALIDATION_SIZE,
                                      batch_size=BATCH, **changes)


class _PoisonedSplit:
  """Fails the test on any use: selection must never touch the test split."""

  def __getattr__(self, name):
    raise AssertionError(f"model selection read the test split ({name})")


@pytest.mark.parametrize("variant,extra", [
    ("unsupervised", {}),
    ("supervised", {}),
    ("semi_supervised", {"num_labels": 40}),
    ("clustering", {"num_categories": 16}),
])
def test_validation_never_reads_the_test_split(data_dir, variant, extra):
  config = _smoke(data_dir, variant=variant, **extra)
  splits = data.load_splits("mnist", data_dir, validation_size=VALIDATION_SIZE,
                            allow_download=False, logger=lambda _: None)
  poisoned = data.DataSplits(train=splits.train, validation=splits.validation,
                             test=_PoisonedSplit(), source=splits.source)
  spec = variants.spec_for(config)
  networks = models.build_networks(config, spec)
  decoder = export.DecoderModule(networks.decoder, spec, config)
  encoder = export.EncoderModule(networks.encoder, networks.decoder, spec)
  validator = selection.Validator(encoder, decoder, spec, config, poisoned, 10,
                                  log=lambda _: None)
  value = validator()
  assert np.isfinite(value)
  if validator.metric.name.endswith("_pct"):
    assert 0.0 <= value <= 100.0


@pytest.fixture(scope="module")
def peaked_run(tmp_path_factory, data_dir):
  """A run validated every 2 steps whose (scripted) metric peaks at step 4 of 8."""
  root = tmp_path_factory.mktemp("peaked")
  workdir = str(root / "work")
  config = _smoke(data_dir, train_steps=8, steps_per_loop=2, summary_every_steps=2,
                  checkpoint_every_steps=2, keep_checkpoints=2,
                  validate_every_epochs=2 / STEPS_PER_EPOCH)
  scripted = iter([-300.0, -100.0, -200.0, -250.0])  # Parzen: higher is better
  logs = []
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(root / "cache"))
    mp.setattr(selection.Validator, "__call__", lambda self: next(scripted))
    train.run(config, workdir, log=logs.append)
  return workdir, root, logs


def test_best_checkpoint_is_the_peak_and_kept_apart(peaked_run):
  workdir, _, logs = peaked_run
  record = checkpoints.read_best(workdir)
  assert record["step"] == 4 and record["value"] == -100.0
  assert record["metric"] == "validation_parzen_ll"
  # The rolling checkpoints moved on (keep 2: steps 6 and 8); the best stayed.
  rolling = tf.train.get_checkpoint_state(checkpoints.directory(workdir))
  assert [int(p.rsplit("-", 1)[1]) for p in rolling.all_model_checkpoint_paths] == [6, 8]
  assert os.path.exists(os.path.join(checkpoints.best_directory(workdir), "ckpt-4.index"))
  assert any("new best" in line for line in logs)


def test_validation_is_logged_beside_the_losses(peaked_run):
  workdir, _, _ = peaked_run
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    lines = [json.loads(line) for line in f]
  validated = [(line["step"], line["validation_parzen_ll"]) for line in lines
               if "validation_parzen_ll" in line]
  assert validated == [(2, -300.0), (4, -100.0), (6, -200.0), (8, -250.0)]


def _asset(path):
  with open(os.path.join(path, "assets", export.CONFIG_ASSET)) as f:
    return json.load(f)


def _restored_weights(workdir, prefix):
  config = export.load_config(workdir)
  networks = models.build_networks(config, variants.spec_for(config))
  tf.train.Checkpoint(encoder=networks.encoder).restore(prefix).expect_partial()
  return networks.encoder.trunk.layers[0].kernel.numpy()


def test_export_takes_the_best_step_by_default(peaked_run):
  workdir, root, _ = peaked_run
  paths = export.export_from_workdir(workdir, str(root / "export_best"))
  # The version says how far the run trained; the asset says whose weights these are.
  assert paths["encoder"].endswith(os.path.join("encoder", "8"))
  asset = _asset(paths["encoder"])
  assert asset["training_step"] == 4
  assert asset["checkpoint"] == {"choice": "best", "step": 4,
                                 "metric": "validation_parzen_ll", "value": -100.0}
  loaded = tf.saved_model.load(paths["encoder"])
  best = _restored_weights(workdir, os.path.join(checkpoints.best_directory(workdir),
                                                 "ckpt-4"))
  latest = _restored_weights(workdir, tf.train.latest_checkpoint(
      checkpoints.directory(workdir)))
  assert not np.array_equal(best, latest)  # else this test could not tell them apart
  np.testing.assert_array_equal(loaded.encoder.trunk.layers[0].kernel.numpy(), best)


@pytest.mark.parametrize("choice,step", [("latest", 8), ("6", 6), ("4", 4)])
def test_export_of_a_chosen_checkpoint(peaked_run, choice, step):
  workdir, root, _ = peaked_run
  paths = export.export_from_workdir(workdir, str(root / f"export_{choice}"),
                                     checkpoint=choice)
  asset = _asset(paths["decoder"])
  assert asset["training_step"] == step
  assert asset["checkpoint"]["choice"] == ("latest" if choice == "latest" else "step")


def test_unknown_checkpoint_names_the_ones_there(peaked_run):
  workdir, root, _ = peaked_run
  with pytest.raises(export.ExportError, match=r"best, latest or one of the steps \[4, 6, 8\]"):
    export.export_from_workdir(workdir, str(root / "export_bad"), checkpoint="5")


def test_best_falls_back_to_latest_without_validation(tmp_path, data_dir):
  workdir = str(tmp_path / "work")
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
    train.run(_smoke(data_dir, validate_every_epochs=0.0), workdir, log=lambda _: None)
  assert checkpoints.read_best(workdir) is None
  path, chosen = checkpoints.resolve(workdir, "best")
  assert chosen == {"choice": "latest", "step": 6} and path.endswith("ckpt-6")


def test_adversary_sees_label_conditions_the_style_adversary_only_where_labels_are_all():
  config = configs.get("paper_fig6_supervised").replace(adversary_sees_label=True)
  spec = variants.spec_for(config)
  (adversary,) = spec.adversaries
  assert adversary.conditioned and spec.prior_takes_label
  assert spec.adversary_input_dim(adversary, config) == config.model.latent_dim + 11
  assert not variants.get_variant("supervised").adversaries[0].conditioned  # registry intact
  from aae_tf import config as config_lib
  with pytest.raises(config_lib.ConfigError, match="adversary_sees_label"):
    validate.validate(configs.get("paper_table1").replace(adversary_sees_label=True))
