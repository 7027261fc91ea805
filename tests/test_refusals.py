"""Refusals in one line: one workdir holds one run (a second training, an export and an
evaluation of a workdir in use are refused; a run that dies releases it); no TensorFlow
start-up lines before a refusal; no command accepts a flag it would ignore."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from aae_tf import configs
from aae_tf import errors
from aae_tf import train
from aae_tf import workdir as workdir_lib
from tests import helpers


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("lock")
  data_dir = helpers.write_synthetic_mnist(root / "data")
  workdir = root / "work"
  config = configs.get("smoke").replace(data_dir=data_dir, validation_size=10)
  train.run(config, str(workdir), log=lambda _: None)
  return root, data_dir, workdir


def _one_line_refusal(proc, *fragments):
  assert proc.returncode == 2, helpers.describe(proc)
  lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1, helpers.describe(proc)
  for fragment in fragments:
    assert fragment in lines[0], helpers.describe(proc)


def test_a_held_workdir_refuses_training_export_and_evaluation(trained):
  root, data_dir, workdir = trained
  before = helpers.tree_snapshot(workdir)
  env = helpers.hermetic_env(root / "cache")
  with workdir_lib.exclusive(str(workdir)):
    again = helpers.run_module(
        ["-m", "aae_tf.train", "--preset=smoke", f"--data_dir={data_dir}",
         "--validation_size=10", "--train_steps=9", f"--workdir={workdir}"], env=env)
    exported = helpers.run_module(
        ["export/export_model.py", f"--workdir={workdir}",
         f"--export_dir={root / 'E'}"], env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    evaluated = helpers.run_module(
        ["-m", "aae_tf.evaluate", f"--workdir={workdir}", f"--output={root / 'e.json'}",
         f"--data_dir={data_dir}"], env=env)
    in_process = pytest.raises(errors.ConfigError, match="in use by another aae-train")
    with in_process:
      workdir_lib.ensure_not_training(str(workdir))
  _one_line_refusal(again, f"--workdir={workdir} is in use")
  _one_line_refusal(exported, "is in use")
  _one_line_refusal(evaluated, "is in use")
  assert not os.path.exists(root / "E") and not os.path.exists(root / "e.json")
  assert helpers.tree_snapshot(workdir) == before          # the refused run wrote nothing, logged no step


def test_a_run_killed_hard_releases_its_workdir(trained, tmp_path):
  workdir = tmp_path / "work"
  workdir.mkdir()
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[2]);"
       "from aae_tf import workdir as w\nwith w.exclusive(sys.argv[1]):\n"
       "  print('held', flush=True); time.sleep(600)", str(workdir),
       os.path.dirname(os.path.dirname(os.path.abspath(__file__)))],
      stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "held"
  with pytest.raises(errors.ConfigError, match="in use"):
    workdir_lib.ensure_not_training(str(workdir))
  holder.send_signal(signal.SIGKILL)
  holder.wait(timeout=10)
  workdir_lib.ensure_not_training(str(workdir))       # free again
  with workdir_lib.exclusive(str(workdir)):
    pass


def test_a_refusal_is_one_line_with_no_tensorflow_start_up_before_it(tmp_path):
  args = ["-m", "aae_tf.train", "--preset=smoke", "--latent_dim=0", f"--workdir={tmp_path}"]
  proc = helpers.run_module(args, env=helpers.hermetic_env())
  assert proc.returncode == 2, helpers.describe(proc)
  assert proc.stderr.strip().splitlines() == [
      "error: --latent_dim must be a positive integer, got 0"], helpers.describe(proc)
  # --verbosity shows TensorFlow's own lines again.
  loud = helpers.run_module(args + ["--verbosity=1"], env=helpers.hermetic_env())
  assert len(loud.stderr.strip().splitlines()) > 1, helpers.describe(loud)


def test_no_command_accepts_a_flag_it_would_ignore(trained, tmp_path):
  root, data_dir, workdir = trained
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = helpers.hermetic_env(root / "cache")
  export = helpers.run_module(["export/export_model.py", f"--workdir={workdir}",
                               f"--export_dir={tmp_path / 'E'}", "--latent_dim=4"],
                              env=env, cwd=repo)
  assert export.returncode != 0 and "Unknown command line flag 'latent_dim'" in (
      export.stderr), helpers.describe(export)
  assert not os.path.exists(tmp_path / "E")
  trained_again = helpers.run_module(
      ["-m", "aae_tf.train", "--preset=smoke", f"--workdir={tmp_path / 'W'}",
       "--version=99"], env=env)
  assert trained_again.returncode != 0 and "Unknown command line flag 'version'" in (
      trained_again.stderr), helpers.describe(trained_again)
  assert not os.path.exists(tmp_path / "W")


def test_a_resume_on_other_data_is_refused_naming_the_difference(tmp_path):
  """Images added to a folder would move former validation and test images into
  training on resume: the run records what its data were and refuses other data."""
  from PIL import Image
  rng = np.random.default_rng(0)
  for k in ("a", "b"):
    (tmp_path / "photos" / k).mkdir(parents=True)
    for i in range(30):
      Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
          tmp_path / "photos" / k / f"{i}.png")
  config = configs.get("smoke").replace(dataset=f"folder:{tmp_path / 'photos'}",
                                        validation_size=6)
  workdir = tmp_path / "work"
  train.run(config, str(workdir), log=lambda _: None)
  recorded = json.loads((workdir / "config.json").read_text())["data"]["data_fingerprint"]
  assert recorded.startswith("46 train, 6 validation, 8 test; sha256 ")
  train.run(config.replace(train_steps=9), str(workdir), log=lambda _: None)  # same data
  Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
      tmp_path / "photos" / "a" / "new.png")
  before = helpers.tree_snapshot(workdir)
  with pytest.raises(errors.ConfigError) as refused:
    train.run(config.replace(train_steps=12), str(workdir), log=lambda _: None)
  message = str(refused.value)
  assert "trained on other data (46 train" in message and "now 47 train" in message
  assert "new --workdir" in message and "\n" not in message
  assert helpers.tree_snapshot(workdir) == before


def test_a_workdir_that_is_a_file_and_a_home_relative_folder(tmp_path, monkeypatch):
  from aae_tf import data
  a_file = tmp_path / "notes.txt"
  a_file.write_text("")
  with pytest.raises(errors.ConfigError, match="is a file, not a directory"):
    workdir_lib.check_workdir(str(a_file))
  monkeypatch.setenv("HOME", str(tmp_path))
  assert data.parse_dataset("folder:~/photos") == ("folder", str(tmp_path / "photos"))


def test_unwritable_places_and_impossible_sizes_fail_before_the_work(trained, tmp_path):
  """A read-only --export_dir once failed after all of training; evaluate --output=<a
  directory> computed everything first; a huge --num_parzen_samples crashed the process."""
  from aae_tf import evaluate
  root, data_dir, workdir = trained
  # A parent that is a file stops even root (read-only mounts and permission bits do
  # not): the export directory cannot be made there.
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  config = configs.get("smoke").replace(data_dir=data_dir, validation_size=10,
                                        export_dir=str(blocker / "export"))
  with pytest.raises(errors.ConfigError, match="--export_dir=.* is not writable"):
    train.run(config, str(tmp_path / "work"), log=lambda _: None)
  assert not (tmp_path / "work" / "checkpoints").exists()   # refused before training
  with pytest.raises(evaluate.EvaluationError, match="is a directory; give the results"):
    evaluate.run(str(tmp_path), workdir=str(workdir))
  with pytest.raises(evaluate.EvaluationError, match="must be in 1..100,000"):
    evaluate.run(str(tmp_path / "e.json"), workdir=str(workdir), num_parzen_samples=10**8)
  assert not (tmp_path / "e.json").exists()


def test_evaluating_an_export_on_data_of_another_shape_is_refused_up_front(trained, tmp_path):
  from aae_tf import evaluate
  _, _, workdir = trained
  np.savez(tmp_path / "small.npz", x_train=np.zeros((60, 8, 8), np.uint8),
           y_train=np.arange(60) % 10)
  with pytest.raises(evaluate.EvaluationError, match=r"shape \[28, 28, 1\] but .* \[8, 8, 1\]"):
    evaluate.run(str(tmp_path / "e.json"), workdir=str(workdir),
                 dataset=f"npz:{tmp_path / 'small.npz'}", log=lambda _: None)
  assert not (tmp_path / "e.json").exists()


def test_only_check_args_judges_the_config_and_a_flagfile_bom_is_named(tmp_path):
  env = helpers.hermetic_env(tmp_path / "cache")
  train_with = lambda *flags: helpers.run_module(  # noqa: E731
      ["-m", "aae_tf.train", "--preset=smoke", f"--workdir={tmp_path / 'w'}", *flags], env=env)
  _one_line_refusal(train_with("--only_check_args", "--latent_dim=-3"), "--latent_dim")
  fine = train_with("--only_check_args")
  assert fine.returncode == 0 and not fine.stderr.strip(), helpers.describe(fine)
  flagfile = tmp_path / "flags.txt"
  flagfile.write_bytes(b"\xef\xbb\xbf--latent_dim=4\n--epochs=1\n")   # Notepad's UTF-8
  _one_line_refusal(train_with(f"--flagfile={flagfile}", "--only_check_args"),
                    "byte-order mark", "plain UTF-8")
  assert not (tmp_path / "w").exists()


def test_an_encoder_and_a_decoder_of_two_exports_are_refused(trained, tmp_path):
  # As when one export's encoder/ is copied beside another's decoder/: the codes of
  # one encoder mean nothing to the other decoder.
  from aae_tf import export
  from aae_tf import exported
  _, _, workdir = trained
  steps = sorted(int(n.split("-")[1].split(".")[0])
                 for n in os.listdir(workdir / "checkpoints") if n.endswith(".index"))
  assert len(steps) >= 2, steps
  first = export.export_from_workdir(str(workdir), str(tmp_path / "a"), 1, checkpoint=str(steps[0]))
  last = export.export_from_workdir(str(workdir), str(tmp_path / "b"), 1, checkpoint=str(steps[-1]))
  mixed = tmp_path / "mixed"
  for name, paths in (("encoder", first), ("decoder", last)):
    (mixed / name).mkdir(parents=True)
    os.rename(paths[name], mixed / name / "1")
  with pytest.raises(exported.EvaluationError,
                     match=rf"encoder \(.*step {steps[0]}\) and the decoder \(.*step "
                           rf"{steps[-1]}\) are not one export"):
    exported.load_exported(str(mixed))


def test_a_resume_on_relabelled_npz_data_is_refused(tmp_path):
  # Beyond images added to a folder: the same images with other labels would change
  # which examples the semi-supervised run sees labelled, and its validation scores.
  rng = np.random.default_rng(1)
  images, labels = rng.integers(0, 255, (80, 8, 8), dtype=np.uint8), np.arange(80) % 4
  path = tmp_path / "d.npz"
  np.savez(path, x_train=images, y_train=labels)
  config = configs.get("smoke").replace(dataset=f"npz:{path}", validation_size=8)
  workdir = tmp_path / "work"
  train.run(config, str(workdir), log=lambda _: None)
  np.savez(path, x_train=images, y_train=(labels + 1) % 4)
  before = helpers.tree_snapshot(workdir)
  with pytest.raises(errors.ConfigError, match="trained on other data"):
    train.run(config.replace(train_steps=9), str(workdir), log=lambda _: None)
  assert helpers.tree_snapshot(workdir) == before
  # The refusal released the workdir's lock: with the data put back, the run resumes.
  np.savez(path, x_train=images, y_train=labels)
  train.run(config.replace(train_steps=9), str(workdir), log=lambda _: None)
  assert json.loads((workdir / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 9


def test_evaluation_results_and_figures_follow_the_umask(trained, tmp_path):
  # Beyond export versions: what evaluate writes is read by others too (a team's
  # dashboard, a web server), so it follows the umask like everything else.
  from aae_tf import evaluate
  _, data_dir, workdir = trained
  old = os.umask(0o002)
  try:
    evaluate.run(str(tmp_path / "out" / "e.json"), workdir=str(workdir), data_dir=data_dir,
                 num_parzen_samples=50, classifier_epochs=0, log=lambda _: None)
  finally:
    os.umask(old)
  written = [p for p in (tmp_path / "out").rglob("*")]
  assert written and any(p.name == "e.json" for p in written)
  for path in written:
    want = 0o775 if path.is_dir() else 0o664
    assert path.stat().st_mode & 0o777 == want, (path, oct(path.stat().st_mode))
