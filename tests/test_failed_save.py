"""A save that fails (disk full, read-only directory) stops the run with one line naming
the directory, keeps the checkpoints already there, and the rerun that resumes leaves
metrics.jsonl without duplicated steps. Also: a half-written last metrics line."""

import json
import os

import pytest
import tensorflow as tf

from aae_tf import checkpoints
from aae_tf import configs
from aae_tf import report
from aae_tf import train
from tests import helpers


def _config(data_dir):
  return configs.get("smoke").replace(data_dir=data_dir, validation_size=10, batch_size=10,
                                      train_steps=9, checkpoint_every_steps=3,
                                      summary_every_steps=3, steps_per_loop=3,
                                      validate_every_epochs=0)


def _steps(workdir):
  return [r["step"] for r in report.metrics_records(os.path.join(workdir, "metrics.jsonl"))
          if "reconstruction_loss" in r]


def test_disk_full_on_save_stops_with_one_line_keeps_checkpoints_and_resumes(
    tmp_path, monkeypatch):
  data_dir = helpers.write_synthetic_mnist(tmp_path / "data")
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
  workdir = str(tmp_path / "work")
  real_save = tf.train.CheckpointManager.save

  def full_disk_at_step_6(self, checkpoint_number=None, **kwargs):
    if checkpoint_number == 6:
      raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
    return real_save(self, checkpoint_number=checkpoint_number, **kwargs)

  monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk_at_step_6)
  with pytest.raises(checkpoints.CheckpointSaveError) as e:
    train.run(_config(data_dir), workdir, log=lambda _: None)
  message = str(e.value)
  assert "\n" not in message
  assert os.path.join(workdir, "checkpoints") in message
  assert "No space left on device" in message and "rerun the same command" in message
  assert sorted(checkpoints.available(workdir)) == [3]      # the earlier save is intact
  assert _steps(workdir) == [3, 6]       # step 6 was logged before its save failed

  monkeypatch.setattr(tf.train.CheckpointManager, "save", real_save)
  logs = []
  train.run(_config(data_dir), workdir, log=logs.append)
  assert any("resumed from" in m and "at step 3" in m for m in logs), logs
  assert any("dropped 1 line(s) past step 3" in m for m in logs), logs
  assert _steps(workdir) == [3, 6, 9]    # no step twice


def test_a_half_written_last_line_costs_only_itself_on_resume(tmp_path, monkeypatch):
  data_dir = helpers.write_synthetic_mnist(tmp_path / "data")
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
  workdir = str(tmp_path / "work")
  train.run(_config(data_dir).replace(train_steps=6), workdir, log=lambda _: None)
  path = os.path.join(workdir, "metrics.jsonl")
  with open(path, "a") as f:
    f.write('{"step": 7, "reconstruction_lo')          # a run killed mid-write
  train.run(_config(data_dir), workdir, log=lambda _: None)
  with open(path) as f:
    lines = f.read().splitlines()
  assert [json.loads(line)["step"] for line in lines if "reconstruction_loss" in line] == [
      3, 6, 9]
