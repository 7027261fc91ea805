"""scripts/best_of_restarts.py: the restart with the best validation record is chosen and
trained on to the full budget; the others are only screened; a rerun keeps the choice."""

import json
import os
import stat
import sys

import pytest

from tests import helpers

restarts = helpers.load_script("scripts/best_of_restarts.py", "best_of_restarts")

# Stands in for `python -m aae_tf.train`: logs its flags and writes the validation record
# training would write, the value a function of the seed; with --export_dir, an export.
_FAKE_PYTHON = """#!{python}
import json, os, sys
flags = dict(a.lstrip("-").split("=", 1) for a in sys.argv[3:] if "=" in a)
with open(os.path.join(os.path.dirname(flags["workdir"]), "calls.jsonl"), "a") as f:
  f.write(json.dumps(flags) + "\\n")
best = os.path.join(flags["workdir"], "checkpoints", "best")
os.makedirs(best, exist_ok=True)
value = {{0: 30.0, 1: 24.0, 2: 27.0, 3: 24.0}}[int(flags["seed"])]
json.dump({{"step": 100, "metric": "validation_clustering_error_pct", "value": value,
           "higher_is_better": False, "checkpoint": "ckpt-100"}},
          open(os.path.join(best, "best.json"), "w"))
if "export_dir" in flags:
  os.makedirs(os.path.join(flags["export_dir"], "encoder"), exist_ok=True)
"""


def _fake_python(tmp_path):
  path = tmp_path / "fake_python"
  path.write_text(_FAKE_PYTHON.format(python=sys.executable))
  path.chmod(path.stat().st_mode | stat.S_IEXEC)
  return str(path)


def _calls(out, seed):
  path = os.path.join(out, "restarts", f"seed_{seed}", "calls.jsonl")
  return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def test_the_best_validated_restart_is_trained_on_and_exported(tmp_path):
  out = str(tmp_path / "out")
  argv = [out, "--restarts=4", "--first_seed=0", "--screen_epochs=5", "--epochs=10",
          "--jobs=3", f"--python={_fake_python(tmp_path)}", "--", "--preset=paper_table3_16"]
  assert restarts.main(argv) == 0
  record = json.load(open(os.path.join(out, "restarts.json")))
  assert record["chosen_seed"] == 1                 # 24.0; seed 3 ties and loses to seed 1
  assert record["budget_epochs"] == 4 * 5 + 5
  for seed in (0, 2, 3):                            # screened once, never trained on
    assert [c["epochs"] for c in _calls(out, seed)] == ["5"]
  chosen_calls = _calls(out, 1)
  assert [c["epochs"] for c in chosen_calls] == ["5", "10"]
  assert chosen_calls[-1]["export_dir"] == os.path.join(out, "export")
  assert all(c["preset"] == "paper_table3_16" for c in chosen_calls)
  assert os.path.realpath(os.path.join(out, "work")) == os.path.realpath(
      os.path.join(out, "restarts", "seed_1", "work"))
  # A rerun after it finished trains nothing and keeps the choice.
  assert restarts.main(argv) == 0
  assert len(_calls(out, 1)) == 2 and len(_calls(out, 0)) == 1


def test_choose_follows_the_metric_direction_and_refuses_what_it_cannot_compare():
  def rec(value, higher=False, metric="m"):
    return {"step": 1, "metric": metric, "value": value, "higher_is_better": higher}
  assert restarts.choose({0: rec(3.0), 1: rec(2.0), 2: rec(2.5)}) == 1
  assert restarts.choose({0: rec(300.0, True), 1: rec(310.0, True)}) == 1
  with pytest.raises(ValueError, match=r"seeds \[1\] have no validation record"):
    restarts.choose({0: rec(3.0), 1: None})
  with pytest.raises(ValueError, match="different metrics"):
    restarts.choose({0: rec(3.0), 1: rec(2.0, metric="other")})


def test_flags_the_script_sets_are_refused(tmp_path, capsys):
  with pytest.raises(SystemExit):
    restarts.main([str(tmp_path), "--restarts=2", "--screen_epochs=1", "--epochs=2", "--",
                   "--preset=paper_table3_16", "--seed=3"])
  assert "--seed is set by this script" in capsys.readouterr().err
