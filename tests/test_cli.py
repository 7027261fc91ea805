"""The command line end to end: `python -m aae_tf.train` and `export/export_model.py`.

Everything runs as subprocesses through absl flags, on synthetic MNIST, with
`AAE_TF_CACHE` and `TFDS_DATA_DIR` in a temporary directory. Each subprocess spends
~4 s importing TensorFlow, so the independent ones (bad input, --list_presets,
--helpfull) start in the background, one at a time, as soon as the module starts,
while the smoke run -> resume -> export-script chain runs in the foreground. To
save one more training process, the smoke run reads part of its flags from a
--flagfile (and overrides one of them after it).
"""

import concurrent.futures
import glob
import json
import os
import re
import sys
import types

import pytest
import tensorflow as tf
from PIL import Image

from aae_tf import config as config_lib
from aae_tf import configs
from aae_tf import export
from tests import helpers

TRAIN = ["-m", "aae_tf.train"]
EXPORT_SCRIPT = os.path.join("export", "export_model.py")   # run from the repo root
GRID_PX = (10 * (28 + 2) + 2) * 2    # 10x10 tiles of 28 px, 2 px padding, scaled x2
EVENT_TAGS = {"reconstruction_loss", "discriminator_z_loss", "generator_loss",
              "images_per_second", "samples"}

# name -> (extra flags, text the one-line error must contain). The common flags are
# valid, so each case fails only because of its own flag.
BAD_TRAIN_FLAGS = {
    "unknown_preset": (["--preset=no_such_preset"], "preset"),
    "dataset": (["--dataset=cifar"], "--dataset"),
    "batch_size_zero": (["--batch_size=0"], "--batch_size"),
    "latent_dim_negative": (["--latent_dim=-1"], "--latent_dim"),
    "replicas_not_dividing_batch": (
        ["--strategy=mirrored", "--cpu_replicas=3", "--batch_size=10"], "--batch_size"),
    "missing_workdir": ([], "--workdir"),
    "epochs_nan": (["--epochs=nan"], "--epochs=nan is not a finite number"),
    "prior_std_inf": (["--prior_std=inf"], "--prior_std=inf is not a finite number"),
    "figures_every_zero": (["--figures_every_epochs=0"], "--figures_every_epochs"),
    # The smoke run's data: 120 training images, 10 of them validation.
    "batch_larger_than_split": (["--batch_size=200"], "larger than the training split"),
    "labels_more_than_split": (["--variant=semi_supervised", "--num_labels=990"],
                               "--num_labels=990"),
}


# Read through --flagfile by the smoke run (which also sets --latent_dim=3 after it).
FLAGFILE_LINES = ["--seed=5", "--encoder_hidden=16,8", "--latent_dim=4"]
FLAGFILE_VALUES = dict(seed=5, encoder_hidden=(16, 8))


def _ckpt_step(path):
  return int(tf.train.load_variable(path, "global_step/.ATTRIBUTES/VARIABLE_VALUE"))


def _checkpoints(workdir):
  return sorted(int(m.group(1)) for p in glob.glob(os.path.join(workdir, "checkpoints", "*"))
                for m in [re.search(r"ckpt-(\d+)\.index$", p)] if m)


def _metrics(workdir, kind="train_seconds"):
  """The metrics.jsonl lines holding `kind`: training summaries by default, or the
  validation lines (kind="validation_parzen_ll" for the unsupervised smoke run)."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [line for line in map(json.loads, f) if kind in line]


def _error_lines(proc):
  return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def _listing(path):
  return sorted(os.listdir(path)) if os.path.isdir(path) else None


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  """Synthetic data, a hermetic environment, and the common training flags."""
  base = tmp_path_factory.mktemp("cli")
  data_dir = helpers.write_synthetic_mnist(base / "data")
  env = helpers.hermetic_env(base / "cache")
  common = ["--preset=smoke", f"--data_dir={data_dir}", "--validation_size=10",
            "--batch_size=10"]
  return types.SimpleNamespace(path=base, data_dir=data_dir, env=env, common=common)


@pytest.fixture(scope="module")
def background(root):
  """Starts every independent subprocess now; tests collect `.result()` later."""
  jobs, expect = {}, {}

  def add(name, args, cwd):
    os.makedirs(cwd, exist_ok=True)
    jobs[name] = dict(cmd=[sys.executable, *args], cwd=str(cwd), env=root.env)

  for name, (flags, _) in BAD_TRAIN_FLAGS.items():
    workdir = root.path / f"bad_{name}" / "workdir"
    workdir_flag = [] if name == "missing_workdir" else [f"--workdir={workdir}"]
    add(name, TRAIN + root.common + flags + workdir_flag, root.path / f"bad_{name}" / "cwd")
    expect[name] = workdir
  add("list_presets", TRAIN + ["--list_presets"], root.path / "list_cwd")
  add("helpfull", TRAIN + ["--helpfull"], root.path / "help_cwd")

  # One at a time: with the foreground chain that makes two processes, one per core.
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
  futures = {name: pool.submit(helpers.run_command, **kwargs) for name, kwargs in jobs.items()}
  yield types.SimpleNamespace(futures=futures, bad_workdirs=expect, root=root)
  pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def smoke_run(root, background):
  """`--preset=smoke ... --flagfile=F --latent_dim=3 --export_dir=E`; a workdir snapshot."""
  workdir, export_dir = root.path / "workdir", root.path / "exports"
  flagfile = root.path / "extra.flags"
  flagfile.write_text("\n".join(FLAGFILE_LINES) + "\n")
  # A flag after --flagfile overrides the file's value (--latent_dim).
  args = TRAIN + root.common + [f"--flagfile={flagfile}", "--latent_dim=3",
                                f"--workdir={workdir}", f"--export_dir={export_dir}"]
  proc = helpers.run_module(args, cwd=str(root.path), env=root.env)
  assert proc.returncode == 0, helpers.describe(proc)
  with open(workdir / "config.json") as f:
    config_text = f.read()
  return types.SimpleNamespace(
      proc=proc, args=args, workdir=str(workdir), export_dir=str(export_dir),
      config_text=config_text, checkpoints=_checkpoints(str(workdir)),
      latest_step=_ckpt_step(tf.train.latest_checkpoint(str(workdir / "checkpoints"))),
      metrics=_metrics(str(workdir)),
      ckpt6=helpers.tree_snapshot(workdir / "checkpoints"))


@pytest.fixture(scope="module")
def resumed(root, smoke_run):
  """The same command again with a larger --train_steps."""
  proc = helpers.run_module(smoke_run.args + ["--train_steps=9"], cwd=str(root.path),
                            env=root.env)
  assert proc.returncode == 0, helpers.describe(proc)
  return proc


def _background(background, name):
  return background.futures[name].result()


# ------------------------------------------------------------------- the smoke run


def test_smoke_run_writes_resolved_config_with_flag_overrides(smoke_run, root):
  config = config_lib.Config.from_json(smoke_run.config_text)
  assert config.model.latent_dim == 3
  assert config.data.data_fingerprint.startswith("110 train, 10 validation, 40 test; ")
  assert config == configs.get("smoke").replace(
      data_dir=root.data_dir, validation_size=10, batch_size=10, latent_dim=3,
      export_dir=smoke_run.export_dir, data_source=f"IDX files in {root.data_dir}",
      data_fingerprint=config.data.data_fingerprint, **FLAGFILE_VALUES)


def test_smoke_run_checkpoints(smoke_run):
  assert smoke_run.checkpoints == [3, 6]   # checkpoint_every_steps=3, train_steps=6
  assert smoke_run.latest_step == 6
  assert "starting a new run" in smoke_run.proc.stderr


def test_smoke_run_validates_at_the_end_and_keeps_the_best(smoke_run):
  lines = _metrics(smoke_run.workdir, "validation_parzen_ll")
  assert lines[0]["step"] == 6   # 6 steps < 1 epoch: only at the end (the resume adds 9)
  with open(os.path.join(smoke_run.workdir, "checkpoints", "best", "best.json")) as f:
    best = json.load(f)
  top = max(lines, key=lambda line: line["validation_parzen_ll"])
  assert (best["step"], best["value"]) == (top["step"], top["validation_parzen_ll"])


def test_smoke_run_metrics(smoke_run):
  assert [m["step"] for m in smoke_run.metrics] == [3, 6]
  for line in smoke_run.metrics:
    assert {"reconstruction_loss", "generator_loss", "discriminator_z_loss"} <= set(line)
    # 3 steps of batch 10 per line: the line's own timing, not the run's.
    assert line["train_seconds"] > 0
    assert line["images_per_second"] == pytest.approx(30 / line["train_seconds"], rel=0.01)


def test_smoke_run_tensorboard_events(smoke_run):
  events = glob.glob(os.path.join(smoke_run.workdir, "tensorboard", "events.out.tfevents.*"))
  assert events
  tags = set()
  for path in events:
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      tags.update(value.tag for value in event.summary.value)
  assert EVENT_TAGS <= tags, tags


def test_smoke_run_figures(smoke_run):
  with Image.open(os.path.join(smoke_run.workdir, "samples_final.png")) as grid:
    assert grid.format == "PNG"
    assert grid.size == (GRID_PX, GRID_PX)
  with Image.open(os.path.join(smoke_run.workdir, "latent_final.png")) as scatter:
    assert scatter.format == "PNG"
    scatter.verify()
  assert not glob.glob(os.path.join(smoke_run.workdir, "*.tmp.png"))


def test_smoke_run_exports(smoke_run):
  for name in ("encoder", "decoder"):
    path = os.path.join(smoke_run.export_dir, name, "6")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    with open(os.path.join(path, "assets", export.CONFIG_ASSET)) as f:
      asset = json.load(f)
    assert asset["latent_dim"] == 3 and asset["training_step"] == 6
  assert "exported and verified" in smoke_run.proc.stderr


def test_rerun_resumes_instead_of_restarting(resumed, smoke_run):
  log = resumed.stderr
  assert "resumed from" in log and "at step 6" in log, helpers.describe(resumed)
  assert "starting a new run" not in log
  assert "step 9/9" in log and "step 3/9" not in log
  assert _checkpoints(smoke_run.workdir) == [3, 6, 9]
  latest = tf.train.latest_checkpoint(os.path.join(smoke_run.workdir, "checkpoints"))
  assert _ckpt_step(latest) == 9
  # The checkpoints of the first run were not rewritten.
  now = helpers.tree_snapshot(os.path.join(smoke_run.workdir, "checkpoints"))
  for name, content in smoke_run.ckpt6.items():
    if name.startswith("ckpt-"):
      assert now[name] == content, name
  assert [m["step"] for m in _metrics(smoke_run.workdir)] == [3, 6, 9]
  with open(os.path.join(smoke_run.workdir, "config.json")) as f:
    config = config_lib.Config.from_json(f.read())
  assert config.runtime.train_steps == 9 and config.model.latent_dim == 3
  for name in ("encoder", "decoder"):
    assert _listing(os.path.join(smoke_run.export_dir, name)) == ["6", "9"]


def test_export_script_and_second_export_fails(root, smoke_run, resumed):
  export_dir = root.path / "script_exports"
  args = [EXPORT_SCRIPT, f"--workdir={smoke_run.workdir}", f"--export_dir={export_dir}"]
  first = helpers.run_module(args, cwd=helpers.REPO_ROOT, env=root.env)
  assert first.returncode == 0, helpers.describe(first)
  for name in ("encoder", "decoder"):
    path = str(export_dir / name / "9")
    assert f"{name}: {path}" in first.stdout.splitlines(), first.stdout
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
  before = helpers.tree_snapshot(export_dir)

  second = helpers.run_module(args, cwd=helpers.REPO_ROOT, env=root.env)
  assert second.returncode != 0, helpers.describe(second)
  errors = _error_lines(second)
  assert len(errors) == 1, helpers.describe(second)
  assert "already exists" in errors[0] and "--version" in errors[0], errors[0]
  assert "Traceback" not in second.stderr
  assert helpers.tree_snapshot(export_dir) == before


# ------------------------------------------------------------ flags and bad input


def test_flagfile_values_reach_the_config_and_later_flags_win(smoke_run):
  config = config_lib.Config.from_json(smoke_run.config_text)
  assert (config.training.seed, config.model.encoder_hidden) == (5, (16, 8))   # from the file
  assert config.model.latent_dim == 3            # the command line after --flagfile wins


def test_list_presets(background):
  proc = _background(background, "list_presets")
  assert proc.returncode == 0, helpers.describe(proc)
  lines = proc.stdout.splitlines()
  assert [line.split()[0] for line in lines] == configs.names()
  for line in lines:  # name, two spaces or more, the preset's description
    name, description = re.fullmatch(r"(\w+) {2,}(.+)", line).groups()
    assert description == configs.describe(name)


def test_helpfull(background):
  proc = _background(background, "helpfull")
  assert proc.returncode == 0, helpers.describe(proc)
  assert "Traceback" not in proc.stderr, helpers.describe(proc)
  for flag in ("--reconstruction_lr", "--workdir", "--preset", "--list_presets",
               "--export_dir", "--flagfile"):
    assert flag in proc.stdout, flag
  assert "Learning rate of the reconstruction phase" in proc.stdout


@pytest.mark.parametrize("name", list(BAD_TRAIN_FLAGS))
def test_bad_input_fails_cleanly_and_writes_nothing(background, name):
  proc = _background(background, name)
  expected = BAD_TRAIN_FLAGS[name][1]
  assert proc.returncode != 0, helpers.describe(proc)
  errors = _error_lines(proc)
  assert len(errors) == 1, helpers.describe(proc)
  assert expected in errors[0], errors[0]
  assert "Traceback" not in proc.stderr, helpers.describe(proc)
  workdir = background.bad_workdirs[name]
  assert not workdir.exists(), _listing(workdir)
  assert os.listdir(os.path.join(background.root.path, f"bad_{name}", "cwd")) == []
