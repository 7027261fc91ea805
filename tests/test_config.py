"""Config checks that need no training: the groups, flag values, what a resume may
change, and config.json files of every age."""

import dataclasses
import re
import json

import pytest

from aae_tf import config as config_lib
from aae_tf import configs
from aae_tf import validate


@pytest.mark.parametrize("changes,named", [
    (dict(epochs=float("nan")), "--epochs=nan"),
    (dict(reconstruction_lr=float("inf")), "--reconstruction_lr=inf"),
    (dict(lr_decay_epochs=(50.0, float("nan"))), "--lr_decay_epochs=nan"),
    (dict(figures_every_epochs=0.0), "--figures_every_epochs"),
    (dict(validate_every_epochs=-1.0), "--validate_every_epochs"),
    (dict(posterior="flow"), "--posterior=flow"),
    (dict(reconstruction_scale="per_batch"), "--reconstruction_scale=per_batch"),
    (dict(precision="fp16"), "--precision=fp16"),
    # Once accepted and trained (or dying later in a traceback):
    (dict(optimizer="adam", momentum=1.5), "--momentum must be in [0, 1)"),
    (dict(adversarial_momentum=-0.5), "--adversarial_momentum must be in [0, 1)"),
    (dict(lr_decay_epochs=(50.0, 20.0)), "--lr_decay_epochs must be increasing"),
    (dict(seed=2**64), "--seed must be in [0, 2**31)"),
    (dict(label_seed=-5), "--label_seed must be in [0, 2**31)"),
    (dict(variant="label_conditioned", num_labels=20), "--prior=gaussian has one"),
    # smoke sets --train_steps, so --epochs decides nothing; a negative one is still a
    # mistake to name, not a value to ignore.
    (dict(epochs=-1.0), "--epochs must be > 0"),
])
def test_bad_values_are_named(changes, named):
  with pytest.raises(config_lib.ConfigError, match=re.escape(named)):
    validate.validate(configs.get("smoke").replace(**changes))


def test_an_export_dir_that_is_a_file_is_refused_before_training(tmp_path):
  path = tmp_path / "a_file"
  path.write_text("")
  with pytest.raises(config_lib.ConfigError, match="is a file"):
    validate.validate(configs.get("smoke").replace(export_dir=str(path)))
  validate.validate(configs.get("smoke").replace(export_dir=str(tmp_path / "new")))


def test_every_preset_is_valid():
  for name in configs.names():
    validate.validate(configs.get(name))


def test_resume_may_change_how_long_and_how_it_runs_but_not_what_it_trains():
  run = configs.get("paper_table1")
  allowed = run.replace(epochs=200.0, export_dir="/e", steps_per_loop=10,
                        validate_every_epochs=5.0, precision="float32")
  assert config_lib.resume_conflicts(run, allowed) == []
  refused = run.replace(prior_std=1.0, optimizer="adam", epochs=200.0)
  assert sorted(config_lib.resume_conflicts(run, refused)) == [
      ("optimizer", "sgd", "adam"), ("prior_std", 5.0, 1.0)]


def _legacy_flat_json(config, **extra):
  """config.json as aae_tf wrote it before the groups: one flat object."""
  return json.dumps(dict(config.flat(), **extra))


def test_old_config_files_keep_their_loss_scale():
  """A config.json written before reconstruction_scale existed trained on the mean."""
  values = configs.get("smoke").flat()
  del values["reconstruction_scale"]
  assert config_lib.Config.from_json(json.dumps(values)).training.reconstruction_scale == (
      "per_pixel")


def test_fields_are_grouped_and_flat_names_reach_their_group():
  config = configs.get("smoke").replace(latent_dim=4, seed=3, epochs=2.0, dataset="npz:x")
  assert (config.model.latent_dim, config.training.seed, config.runtime.epochs,
          config.data.dataset) == (4, 3, 2.0, "npz:x")
  assert config.value("latent_dim") == 4
  names = [field.name for _, field in config_lib.fields()]
  assert len(names) == len(set(names))           # flat flags need unique names
  with pytest.raises(TypeError, match="no fields"):
    config.replace(encoder_batch_norm=True)      # a retired lever is no field


def test_config_json_is_grouped_and_round_trips():
  config = configs.get("paper_table3_16")
  text = config.to_json()
  assert set(json.loads(text)) == set(config_lib.GROUPS)
  assert config_lib.Config.from_json(text) == config


def test_runtime_is_exactly_what_a_resume_may_change():
  run = configs.get("smoke")
  for group, field in config_lib.fields():
    value = run.value(field.name)
    changed = {bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v + 0.5,
               tuple: lambda v: v + (1,), str: lambda v: v + "x"}
    other = "x" if value is None else changed[type(value)](value)
    conflicts = config_lib.resume_conflicts(run, run.replace(**{field.name: other}))
    assert (conflicts == []) == (group == "runtime"), field.name


def test_flat_files_of_older_versions_load_with_their_retired_levers_off():
  config = configs.get("paper_table3_30")
  text = _legacy_flat_json(config, encoder_batch_norm=False, hard_categories=False,
                           reconstruct_labelled=False, style_discriminator_noise_std=-1.0,
                           gradient_clip_norm=0.0, detach_category_from_reconstruction=False)
  assert config_lib.Config.from_json(text) == config


def test_a_detached_category_reads_as_no_reconstruction_share():
  config = configs.get("paper_table3_30").replace(category_reconstruction_gradient=1.0)
  text = _legacy_flat_json(config, detach_category_from_reconstruction=True)
  loaded = config_lib.Config.from_json(text)
  assert loaded.training.category_reconstruction_gradient == 0.0


@pytest.mark.parametrize("lever, value", [("hard_categories", True),
                                          ("gradient_clip_norm", 5.0)])
def test_a_run_trained_with_a_retired_lever_is_named(lever, value):
  text = _legacy_flat_json(configs.get("smoke"), **{lever: value})
  with pytest.raises(ValueError, match=f"--{lever}={value}.*no longer has"):
    config_lib.Config.from_json(text)


def test_unknown_fields_and_groups_are_refused():
  with pytest.raises(ValueError, match="unknown config fields"):
    config_lib.Config.from_json(_legacy_flat_json(configs.get("smoke"), colour_depth=3))
  grouped = json.loads(configs.get("smoke").to_json())
  grouped["optimiser"] = {}
  with pytest.raises(ValueError, match="unknown config groups"):
    config_lib.Config.from_json(json.dumps(grouped))
  assert dataclasses.is_dataclass(config_lib.Config)


def test_the_supervised_preset_conditions_its_style_adversary_on_the_label():
  from aae_tf import variants
  spec = variants.spec_for(configs.get("paper_fig6_supervised"))
  assert [a.conditioned for a in spec.adversaries if a.head == "z"] == [True]
  plain = variants.spec_for(configs.get("seed1_supervised"))
  assert [a.conditioned for a in plain.adversaries if a.head == "z"] == [False]
