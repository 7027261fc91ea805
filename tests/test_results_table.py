"""scripts/results_table.py: the docs table from reproduction runs, on fake run dirs."""

import json
import os

import pytest

from tests import helpers


@pytest.fixture(scope="module")
def results_table():
  return helpers.load_script(os.path.join("scripts", "results_table.py"), "results_table")


def _fake_run(runs, name, error, steps=25_000):
  os.makedirs(os.path.join(runs, name, "work"))
  result = {"test_error_pct": error, "validation_error_pct": error + 0.5,
            "recon_mse": 0.02, "training_step": steps, "training_seconds": 600.0,
            "parzen_ll": 1.0, "parzen_se": 0.1, "figures": {}}
  with open(os.path.join(runs, name, "eval.json"), "w") as f:
    json.dump(result, f)
  with open(os.path.join(runs, name, "eval.md"), "w") as f:
    f.write("| metric | value |\n")
  with open(os.path.join(runs, name, "work", "config.json"), "w") as f:
    json.dump({"batch_size": 100, "validation_size": 10000}, f)


def test_every_draw_is_a_reproduce_experiment(results_table):
  flags = results_table.experiment_flags()
  assert results_table.repeats("table2_100", flags) == [
      "table2_100", "table2_100_draw1", "table2_100_draw2"]
  assert results_table.repeats("table1", flags) == ["table1"]
  for name in results_table.PAPER:
    assert name in flags, f"{name} has a results row but no reproduce.sh experiment"


def test_draws_join_their_row_as_mean_and_sample_std(results_table, tmp_path):
  runs, docs = str(tmp_path / "runs"), str(tmp_path / "docs")
  _fake_run(runs, "table2_100", 12.0)
  _fake_run(runs, "table2_100_draw2", 10.0)
  _fake_run(runs, "table2_1000", 4.0)
  rows, compact = results_table.collect(runs, docs)
  row = next(r for r in rows if r.startswith("| Table 2, 100 labels"))
  # mean 11, sample std sqrt(2) = 1.41; the validation column is the mean too
  assert "11.00 ± 1.41 % (2 runs: 12.00, 10.00) (validation 11.50 %)" in row
  assert "50 epochs" in row and "10 min per run" in row and "not met" in row
  assert "`table2_100_draw2` (`--label_seed=2 --seed=2`)" in row
  single = next(r for r in rows if r.startswith("| Table 2, 1000 labels"))
  assert "| 4.00 % (validation 4.50 %) |" in single
  assert any("not run yet" in r for r in compact)
  assert sorted(os.listdir(os.path.join(docs, "results"))) == sorted([
      "table2_1000.json", "table2_1000.md", "table2_100.json", "table2_100.md",
      "table2_100_draw2.json", "table2_100_draw2.md"])
