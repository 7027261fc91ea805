"""Config checks that need no training: flag values, and what a resume may change."""

import pytest

from aae_tf import config as config_lib
from aae_tf import configs


@pytest.mark.parametrize("changes,named", [
    (dict(epochs=float("nan")), "--epochs=nan"),
    (dict(reconstruction_lr=float("inf")), "--reconstruction_lr=inf"),
    (dict(lr_decay_epochs=(50.0, float("nan"))), "--lr_decay_epochs=nan"),
    (dict(figures_every_epochs=0.0), "--figures_every_epochs"),
    (dict(validate_every_epochs=-1.0), "--validate_every_epochs"),
    (dict(posterior="flow"), "--posterior=flow"),
    (dict(reconstruction_scale="per_batch"), "--reconstruction_scale=per_batch"),
    (dict(precision="fp16"), "--precision=fp16"),
])
def test_bad_values_are_named(changes, named):
  with pytest.raises(config_lib.ConfigError, match=named.replace("(", r"\(")):
    config_lib.validate(configs.get("smoke").replace(**changes))


def test_an_export_dir_that_is_a_file_is_refused_before_training(tmp_path):
  path = tmp_path / "a_file"
  path.write_text("")
  with pytest.raises(config_lib.ConfigError, match="is a file"):
    config_lib.validate(configs.get("smoke").replace(export_dir=str(path)))
  config_lib.validate(configs.get("smoke").replace(export_dir=str(tmp_path / "new")))


def test_every_preset_is_valid():
  for name in configs.names():
    config_lib.validate(configs.get(name))


def test_resume_may_change_how_long_and_how_it_runs_but_not_what_it_trains():
  run = configs.get("paper_table1")
  allowed = run.replace(epochs=200.0, export_dir="/e", steps_per_loop=10,
                        validate_every_epochs=5.0, precision="float32")
  assert config_lib.resume_conflicts(run, allowed) == []
  refused = run.replace(prior_std=1.0, optimizer="adam", epochs=200.0)
  assert sorted(config_lib.resume_conflicts(run, refused)) == [
      ("optimizer", "sgd", "adam"), ("prior_std", 5.0, 1.0)]


def test_old_config_files_keep_their_loss_scale():
  """A config.json written before reconstruction_scale existed trained on the mean."""
  text = configs.get("smoke").to_json().replace('"reconstruction_scale": "per_image",\n', "")
  assert "reconstruction_scale" not in text
  assert config_lib.Config.from_json(text).reconstruction_scale == "per_pixel"
