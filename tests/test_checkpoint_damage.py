"""Checkpoints are the user's work: a damaged newest checkpoint falls back to the newest
readable one, a missing `checkpoint` index does not start a new run over the files, and
when nothing is readable the run stops with one error and touches nothing."""

import json
import os
import shutil

import pytest

from aae_tf import checkpoints
from aae_tf import configs
from aae_tf import export
from aae_tf import train
from tests import helpers


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A smoke run with checkpoints at steps 3 and 6 (and the best at 6)."""
  root = tmp_path_factory.mktemp("damage")
  data_dir = helpers.write_synthetic_mnist(root / "data")
  config = configs.get("smoke").replace(data_dir=data_dir, validation_size=10)
  workdir = root / "original"
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(root / "cache"))
    train.run(config, str(workdir), log=lambda _: None)
  return root, config, workdir


@pytest.fixture
def run_copy(trained, tmp_path, monkeypatch):
  root, config, workdir = trained
  monkeypatch.setenv("AAE_TF_CACHE", str(root / "cache"))
  copy = tmp_path / "work"
  shutil.copytree(workdir, copy)
  return config, copy


def _truncate(prefix):
  path = f"{prefix}.data-00000-of-00001"
  with open(path, "r+b") as f:
    f.truncate(1000)


def _resume(config, workdir, steps=9):
  logs = []
  train.run(config.replace(train_steps=steps), str(workdir), log=logs.append)
  return logs


def test_a_damaged_newest_checkpoint_falls_back_to_the_older_one(run_copy):
  config, workdir = run_copy
  _truncate(workdir / "checkpoints" / "ckpt-6")
  logs = _resume(config, workdir)
  warnings = [line for line in logs if line.startswith("warning:")]
  assert len(warnings) == 1 and "ckpt-6 cannot be read" in warnings[0], logs
  assert any("resumed from" in line and "ckpt-3 at step 3" in line for line in logs), logs
  assert checkpoints.resolve(str(workdir), "latest")[1]["step"] == 9


def test_a_missing_index_file_resumes_from_the_files(run_copy):
  config, workdir = run_copy
  os.remove(workdir / "checkpoints" / "checkpoint")
  before = helpers.tree_snapshot(workdir / "checkpoints")
  logs = _resume(config, workdir)
  assert not any("starting a new run" in line for line in logs), logs
  assert any("ckpt-6 at step 6" in line for line in logs), logs
  after = helpers.tree_snapshot(workdir / "checkpoints")
  for name in ("ckpt-3.index", "ckpt-6.index", "ckpt-6.data-00000-of-00001"):
    assert after[name] == before[name], name   # not rewritten


def test_nothing_readable_stops_with_one_error_and_touches_nothing(run_copy):
  config, workdir = run_copy
  for step in (3, 6):
    _truncate(workdir / "checkpoints" / f"ckpt-{step}")
  before = helpers.tree_snapshot(workdir)
  with pytest.raises(checkpoints.CheckpointUnreadableError, match="no readable checkpoint"):
    _resume(config, workdir)
  assert helpers.tree_snapshot(workdir) == before


def test_export_falls_back_from_a_damaged_best_and_says_so(run_copy, tmp_path, capsys):
  _, workdir = run_copy
  best = checkpoints.read_best(str(workdir))
  _truncate(workdir / "checkpoints" / "best" / f"ckpt-{best['step']}")
  _truncate(workdir / "checkpoints" / "ckpt-6")
  paths = export.export_from_workdir(str(workdir), str(tmp_path / "export"))
  assert "cannot be read" in capsys.readouterr().err
  with open(os.path.join(paths["decoder"], "assets", export.CONFIG_ASSET)) as f:
    chosen = json.load(f)["checkpoint"]
  assert chosen["choice"] == "latest" and chosen["step"] == 3
  assert "could not be read" in chosen["note"]
  with pytest.raises(export.ExportError, match="no readable checkpoint"):
    export.export_from_workdir(str(workdir), str(tmp_path / "e2"), checkpoint="6")


@pytest.mark.parametrize("damaged", ["rolling", "best"])
def test_the_best_step_is_exported_while_one_copy_of_it_reads(run_copy, tmp_path, damaged):
  """The best step is kept twice (best/ and the rolling checkpoints): either copy being
  damaged still exports that step, as the best."""
  _, workdir = run_copy
  best = checkpoints.read_best(str(workdir))
  folder = workdir / "checkpoints" / ("best" if damaged == "best" else "")
  _truncate(folder / f"ckpt-{best['step']}")
  paths = export.export_from_workdir(str(workdir), str(tmp_path / "export"))
  with open(os.path.join(paths["decoder"], "assets", export.CONFIG_ASSET)) as f:
    chosen = json.load(f)["checkpoint"]
  assert chosen["choice"] == "best" and chosen["step"] == best["step"], chosen
