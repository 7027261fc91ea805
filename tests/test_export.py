"""The export contract (aae_tf/export.py), checked three ways.

One `smoke` run is trained in-process and exported once per module. Its two
SavedModels are then checked

  a. with `tf.saved_model.load` in a fresh interpreter that cannot import
     `aae_tf` (`python -I -S` from a directory outside the repo, with only the
     site-packages directory on `sys.path`, so not even the editable install's
     import hook is active),
  b. with `saved_model_cli show --all` (names, dtypes, shapes, output keys),
  c. with `saved_model_cli run` (the session loader TF Serving uses),

and every output is compared with the networks restored in this process by
`aae_tf.export.restore_networks`. Inputs and outputs cross process boundaries
as .npy files. The external processes are independent, so they run two at a
time in one module fixture.
"""

import json
import os
import re
import shutil
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import configs
from aae_tf import export
from aae_tf import priors
from aae_tf import rng
from aae_tf import train
from tests import helpers

N = 5                 # batch size of the probe inputs
SAMPLE_N, SAMPLE_SEED = 3, 7   # the `sample` call made through saved_model_cli
ATOL = 1e-5
ASSET_KEYS = {"preset", "variant", "dataset", "latent_dim", "prior", "training_step"}

# Run by `python -I -S` in a directory outside the repository. argv[1] is a JSON
# file naming the site-packages directories, the two model directories and the
# input/output directory. Writes one .npy per signature output and report.json.
FRESH_SCRIPT = r'''
import json, os, sys
args = json.load(open(sys.argv[1]))
sys.path.extend(args["site_packages"])   # no .pth files: no editable-install hook
# The package may also be installed normally into site-packages (as in CI): block it,
# so any attempt to import it while loading the SavedModels fails loudly.
sys.modules["aae_tf"] = None
report = {"isolated": sys.flags.isolated, "no_site": sys.flags.no_site,
          "cwd": os.getcwd()}
try:
    import aae_tf
    report["aae_tf_importable"] = getattr(aae_tf, "__file__", repr(aae_tf))
except ImportError as e:
    report["aae_tf_importable"] = None
    report["aae_tf_import_error"] = repr(e)

import numpy as np
import tensorflow as tf

io_dir = args["io_dir"]
def save(name, value):
    np.save(os.path.join(io_dir, name + ".npy"), np.asarray(value))

def describe_signature(fn):
    _, kwargs = fn.structured_input_signature
    return {"inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in kwargs.items()},
            "outputs": {k: [v.dtype.name, v.shape.as_list()]
                        for k, v in fn.structured_outputs.items()}}

models = {name: tf.saved_model.load(args[name]) for name in ("decoder", "encoder")}
report["signatures"] = {name: {sig: describe_signature(fn)
                               for sig, fn in model.signatures.items()}
                        for name, model in models.items()}
report["asset_paths"] = {name: model.aae_config.asset_path.numpy().decode()
                         for name, model in models.items()}

dec, enc = models["decoder"].signatures, models["encoder"].signatures
z = tf.constant(np.load(os.path.join(io_dir, "z.npy")))
images = tf.constant(np.load(os.path.join(io_dir, "images.npy")))
for sig in ("decode", "serving_default"):
    save(f"decoder_{sig}_images", dec[sig](z=z)["images"])
for sig in ("encode", "serving_default"):
    save(f"encoder_{sig}_z", enc[sig](images=images)["z"])
for tag, n, seed in args["sample_calls"]:
    out = dec["sample"](num_samples=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64))
    save(f"sample_{tag}_images", out["images"])
    save(f"sample_{tag}_z", out["z"])

errors = {}
try:
    dec["sample"](num_samples=tf.constant(-1, tf.int32), seed=tf.constant(0, tf.int64))
    errors["negative_num_samples"] = None
except Exception as e:
    errors["negative_num_samples"] = type(e).__name__
report["errors"] = errors
report["aae_tf_in_sys_modules"] = sorted(m for m, mod in sys.modules.items()
                                         if m.split(".")[0] == "aae_tf" and mod is not None)
json.dump(report, open(os.path.join(io_dir, "report.json"), "w"), indent=2)
'''

# (tag, num_samples, seed) calls of `sample` made in the fresh interpreter.
SAMPLE_CALLS = [("a", SAMPLE_N, SAMPLE_SEED), ("a_again", SAMPLE_N, SAMPLE_SEED),
                ("other_seed", SAMPLE_N, SAMPLE_SEED + 1),
                ("high_bits", SAMPLE_N, SAMPLE_SEED + 2 ** 32),   # seeds are 64-bit
                ("empty", 0, SAMPLE_SEED)]


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """Trains `smoke`, exports it, restores the networks; everything the tests need."""
  root = tmp_path_factory.mktemp("export_run")
  data_dir = helpers.write_synthetic_mnist(root / "data")
  workdir, export_dir = str(root / "workdir"), str(root / "exports")
  logs = []
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(root / "cache"))
    mp.setenv("TFDS_DATA_DIR", str(root / "no_tfds"))
    config = configs.get("smoke").replace(data_dir=data_dir, validation_size=10,
                                          batch_size=10)
    train.run(config, workdir, log=logs.append)
    paths = export.export_from_workdir(workdir, export_dir)
  networks, step, _ = export.restore_networks(workdir, export.load_config(workdir))

  io_dir = root / "io"
  io_dir.mkdir()
  probe = np.random.default_rng(42)
  z = (config.model.prior_std * probe.normal(size=(N, config.model.latent_dim))).astype(np.float32)
  test_images, _ = helpers.synthetic_mnist_arrays(N, seed=99)
  images = (test_images[..., None] / 255.0).astype(np.float32)
  np.save(io_dir / "z.npy", z)
  np.save(io_dir / "images.npy", images)
  return types.SimpleNamespace(root=root, config=config, workdir=workdir,
                               export_dir=export_dir, paths=paths, networks=networks,
                               step=step, io_dir=str(io_dir), z=z, images=images, logs=logs)


def expected_decode(run, z):
  logits = run.networks.decoder(tf.constant(z))
  return tf.reshape(tf.sigmoid(logits), [-1, 28, 28, 1]).numpy()


def expected_encode(run, images):
  return run.networks.encoder(tf.constant(images))["z"].numpy()


def expected_sample(run, num_samples, seed):
  """What `sample` must return, computed from the library's prior and the networks."""
  prior = priors.make_prior(run.config)
  z = prior.sample(tf.constant(num_samples, tf.int32),
                   rng.make_seed(tf.constant(seed, tf.int64))).numpy()
  return {"z": z, "images": expected_decode(run, z)}


@pytest.fixture(scope="module")
def external(run):
  """Runs the fresh interpreter and the five saved_model_cli calls, two at a time."""
  outside = run.root / "outside_repo"
  outside.mkdir()
  script = outside / "load_exports.py"
  script.write_text(FRESH_SCRIPT)
  args_file = outside / "args.json"
  args_file.write_text(json.dumps({
      "site_packages": helpers.site_packages_dirs(), "io_dir": run.io_dir,
      "decoder": run.paths["decoder"], "encoder": run.paths["encoder"],
      "sample_calls": SAMPLE_CALLS}))
  cli = helpers.venv_script("saved_model_cli")
  env = helpers.hermetic_env(run.root / "cache")
  out = {name: str(run.root / f"cli_{name}") for name in ("sample", "decode", "encode")}
  io = run.io_dir
  commands = {
      "fresh": [sys.executable, "-I", "-S", str(script), str(args_file)],
      "show_decoder": [cli, "show", "--all", "--dir", run.paths["decoder"]],
      "show_encoder": [cli, "show", "--all", "--dir", run.paths["encoder"]],
      "run_sample": [cli, "run", "--dir", run.paths["decoder"], "--tag_set", "serve",
                     "--signature_def", "sample",
                     "--input_exprs", f"num_samples={SAMPLE_N};seed={SAMPLE_SEED}",
                     "--outdir", out["sample"]],
      "run_decode": [cli, "run", "--dir", run.paths["decoder"], "--tag_set", "serve",
                     "--signature_def", "decode", "--inputs", f"z={io}/z.npy",
                     "--outdir", out["decode"]],
      "run_encode": [cli, "run", "--dir", run.paths["encoder"], "--tag_set", "serve",
                     "--signature_def", "encode", "--inputs", f"images={io}/images.npy",
                     "--outdir", out["encode"]],
  }
  procs = helpers.run_parallel(
      {key: dict(cmd=cmd, cwd=str(outside), env=env) for key, cmd in commands.items()})
  return types.SimpleNamespace(procs=procs, outdirs=out)


@pytest.fixture(scope="module")
def fresh(run, external):
  proc = external.procs["fresh"]
  assert proc.returncode == 0, helpers.describe(proc)
  with open(os.path.join(run.io_dir, "report.json")) as f:
    report = json.load(f)
  load = lambda name: np.load(os.path.join(run.io_dir, name + ".npy"))
  return types.SimpleNamespace(report=report, load=load)


# ------------------------------------------------------------ layout and assets


def test_version_directory_is_the_global_step(run):
  assert run.step == run.config.runtime.train_steps == 6
  assert any("starting a new run" in line for line in run.logs)
  for name in ("encoder", "decoder"):
    assert sorted(os.listdir(os.path.join(run.export_dir, name))) == [str(run.step)]
    assert run.paths[name] == os.path.join(run.export_dir, name, str(run.step))
    assert os.path.isfile(os.path.join(run.paths[name], "saved_model.pb"))
    assert os.path.isdir(os.path.join(run.paths[name], "variables"))


@pytest.mark.parametrize("name", ["encoder", "decoder"])
def test_config_asset(run, name):
  path = os.path.join(run.paths[name], "assets", export.CONFIG_ASSET)
  with open(path) as f:
    asset = json.load(f)
  assert ASSET_KEYS <= set(asset)
  assert asset["preset"] == "smoke"
  assert asset["variant"] == run.config.model.variant
  assert asset["dataset"] == "mnist"
  assert asset["latent_dim"] == run.config.model.latent_dim
  assert asset["training_step"] == run.step
  assert asset["prior"] == {"name": "gaussian", "dim": run.config.model.latent_dim,
                            "std": run.config.model.prior_std}


def test_reexport_same_version_raises_and_leaves_export_untouched(run):
  before = helpers.tree_snapshot(run.export_dir)
  with pytest.raises(export.ExportError, match="already exists"):
    export.export_from_workdir(run.workdir, run.export_dir)
  with pytest.raises(export.ExportError, match="already exists"):
    export.export_from_workdir(run.workdir, run.export_dir, version=run.step)
  assert helpers.tree_snapshot(run.export_dir) == before


def test_skip_existing_returns_the_existing_paths(run):
  before = helpers.tree_snapshot(run.export_dir)
  assert export.export_from_workdir(run.workdir, run.export_dir,
                                    skip_existing=True) == run.paths
  assert helpers.tree_snapshot(run.export_dir) == before


@pytest.mark.parametrize("version", [0, -3])
def test_non_positive_version_is_rejected(run, tmp_path, version):
  with pytest.raises(export.ExportError, match="positive integer"):
    export.export_from_workdir(run.workdir, str(tmp_path / "E"), version=version)
  assert not os.path.exists(tmp_path / "E" / "decoder" / str(version))


def test_explicit_version(run, tmp_path):
  paths = export.export_from_workdir(run.workdir, str(tmp_path / "E"), version=17)
  assert paths == {name: str(tmp_path / "E" / name / "17") for name in ("encoder", "decoder")}
  with open(os.path.join(paths["decoder"], "assets", export.CONFIG_ASSET)) as f:
    assert json.load(f)["training_step"] == run.step   # the version is only a label


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_version_directories_follow_the_umask(run, tmp_path, umask, mode):
  """Another account (TF Serving's) reads an export as the umask allows, directories
  included (they are renamed from a temporary directory mkdtemp makes 0700)."""
  old = os.umask(umask)
  try:
    paths = export.export_from_workdir(run.workdir, str(tmp_path / "E"), version=3)
  finally:
    os.umask(old)
  for path in paths.values():
    assert os.stat(path).st_mode & 0o777 == mode, oct(os.stat(path).st_mode)
    if mode & 0o005:   # what others may read, they can reach (TensorFlow makes the inside)
      for directory, _, _ in os.walk(path):
        assert os.stat(directory).st_mode & 0o005 == 0o005, directory


def test_no_temporary_directories_left(run):
  # Also after the failed re-exports above (when run in file order).
  for name in ("encoder", "decoder"):
    leftovers = [e for e in os.listdir(os.path.join(run.export_dir, name))
                 if e.startswith(".tmp-")]
    assert leftovers == []


def test_failed_verification_installs_nothing(run, tmp_path, monkeypatch):
  def failing_verify(module_dir, *args, **kwargs):
    raise export.ExportError(f"{module_dir}: simulated verification failure")
  monkeypatch.setattr(export, "_verify", failing_verify)
  target = tmp_path / "E"
  with pytest.raises(export.ExportError, match="simulated"):
    export.export_from_workdir(run.workdir, str(target))
  for name in ("encoder", "decoder"):
    directory = target / name
    assert not directory.exists() or os.listdir(directory) == [], os.listdir(directory)


def test_failed_encoder_export_leaves_no_half_installed_pair(run, tmp_path, monkeypatch):
  """If the encoder fails verification, the decoder of that version must not stay
  installed either: TF Serving would serve a version with no matching encoder, and a
  rerun of the training command (skip_existing=True) could never export again."""
  real_verify = export._verify

  def fail_encoder(module_dir, in_memory, *args, **kwargs):
    if isinstance(in_memory, export.EncoderModule):
      raise export.ExportError(f"{module_dir}: simulated encoder verification failure")
    return real_verify(module_dir, in_memory, *args, **kwargs)

  target = tmp_path / "E"
  with monkeypatch.context() as mp:
    mp.setattr(export, "_verify", fail_encoder)
    with pytest.raises(export.ExportError, match="simulated"):
      export.export_from_workdir(run.workdir, str(target))
  installed = {name: sorted(os.listdir(target / name)) if (target / name).exists() else []
               for name in ("encoder", "decoder")}
  # The retry a user would do (rerunning the training command) must succeed.
  retry_error = None
  try:
    export.export_from_workdir(run.workdir, str(target), skip_existing=True)
  except export.ExportError as e:
    retry_error = str(e)
  assert installed == {"encoder": [], "decoder": []} and retry_error is None, (
      f"after a failed encoder export: installed={installed}, retry error={retry_error}")
  assert all(os.listdir(target / name) == [str(run.step)] for name in ("encoder", "decoder"))


def test_skip_existing_completes_a_missing_half_and_keeps_the_other(run, tmp_path):
  target = tmp_path / "E"
  paths = export.export_from_workdir(run.workdir, str(target), version=5)
  encoder_before = helpers.tree_snapshot(paths["encoder"])
  shutil.rmtree(paths["decoder"])
  assert export.export_from_workdir(run.workdir, str(target), version=5,
                                    skip_existing=True) == paths
  assert os.path.isfile(os.path.join(paths["decoder"], "saved_model.pb"))
  assert helpers.tree_snapshot(paths["encoder"]) == encoder_before
  for name in ("encoder", "decoder"):
    assert sorted(os.listdir(target / name)) == ["5"]


# ------------------------------------------- loaded in this process (signature errors)


@pytest.fixture(scope="module")
def loaded(run):
  return {name: tf.saved_model.load(run.paths[name]) for name in ("decoder", "encoder")}


def test_negative_num_samples_is_rejected_by_the_signature(loaded):
  sample = loaded["decoder"].signatures["sample"]
  with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be >= 0"):
    sample(num_samples=tf.constant(-1, tf.int32), seed=tf.constant(0, tf.int64))


def test_too_many_samples_are_rejected_by_the_signature(loaded):
  limit = export.MAX_SAMPLES
  sample = loaded["decoder"].signatures["sample"]
  with pytest.raises(tf.errors.InvalidArgumentError, match=f"num_samples must be <= {limit}"):
    sample(num_samples=tf.constant(limit + 1, tf.int32), seed=tf.constant(0, tf.int64))


def test_too_many_class_samples_are_rejected_by_the_signature():
  # The same cap as `sample`: one call cannot ask for a million images.
  from aae_tf import models
  from aae_tf import variants
  config = configs.get("smoke").replace(variant="supervised", data_shape=(4, 4, 1))
  spec = variants.spec_for(config)
  decoder = export.DecoderModule(models.build_networks(config, spec).decoder, spec, config)
  seed = tf.constant(0, tf.int64)
  assert decoder.sample_class(tf.zeros([3], tf.int32), seed)["images"].shape[0] == 3
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=f"at most {export.MAX_SAMPLES} labels per call"):
    decoder.sample_class(tf.zeros([export.MAX_SAMPLES + 1], tf.int32), seed)


def test_flat_images_are_rejected_by_the_restored_function(loaded):
  with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
    loaded["encoder"].encode(tf.zeros([2, 784], tf.float32))


@pytest.mark.parametrize("signature", ["encode", "serving_default"])
def test_flat_images_are_rejected_by_the_signature(loaded, signature):
  """The contract is images f32[None, 28, 28, 1]. The session loader (saved_model_cli
  run, TF Serving) enforces the placeholder shape; a signature of a SavedModel loaded
  with tf.saved_model.load does not check shapes, so the graph itself must."""
  encode = loaded["encoder"].signatures[signature]
  with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
    encode(images=tf.zeros([2, 784], tf.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, 255.0, -0.5])
def test_non_finite_or_out_of_range_images_are_rejected(loaded, bad):
  """0..255 pixels or NaNs would be answered with plausible-looking codes: refused."""
  images = np.full((2, 28, 28, 1), 0.5, np.float32)
  images[1, 3, 4, 0] = bad
  for signature in ("encode", "serving_default"):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"finite values in \[0, 1\]"):
      loaded["encoder"].signatures[signature](images=tf.constant(images))
  edges = np.zeros((2, 28, 28, 1), np.float32)
  edges[1] = 1.0
  assert np.isfinite(loaded["encoder"].signatures["encode"](images=edges)["z"]).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_z_is_rejected(loaded, run, bad):
  z = np.zeros((2, run.config.model.latent_dim), np.float32)
  z[0, 0] = bad
  with pytest.raises(tf.errors.InvalidArgumentError, match="z contains NaN or Inf"):
    loaded["decoder"].signatures["decode"](z=tf.constant(z))


def test_wrong_latent_dim_is_rejected(loaded, run):
  decode = loaded["decoder"].signatures["decode"]
  with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
    decode(z=tf.zeros([2, run.config.model.latent_dim + 1], tf.float32))


def test_only_encoder_and_decoder_are_exported(run):
  """Discriminators and optimizer slots stay private: only the serving weights."""
  sizes = {}
  for name in ("encoder", "decoder"):
    for key, shape in tf.train.list_variables(
        os.path.join(run.paths[name], "variables", "variables")):
      if key.endswith("/.ATTRIBUTES/VARIABLE_VALUE"):
        sizes[f"{name}:{key}"] = int(np.prod(shape))
  assert not any("discriminator" in k or "optimizer" in k for k in sizes), sorted(sizes)
  in_memory = sum(int(np.prod(v.shape)) for net in (run.networks.encoder,
                                                     run.networks.decoder)
                  for v in net.trainable_variables)
  assert sum(sizes.values()) == in_memory, sorted(sizes)


# ------------------------------------------------------ a. fresh interpreter, no aae_tf


def test_fresh_interpreter_cannot_import_the_project(fresh, run):
  report = fresh.report
  assert report["isolated"] == 1 and report["no_site"] == 1
  assert report["aae_tf_importable"] is None, report
  assert report["aae_tf_in_sys_modules"] == []
  assert not os.path.realpath(report["cwd"]).startswith(os.path.realpath(helpers.REPO_ROOT))


def test_fresh_interpreter_signature_contract(fresh, run):
  d = run.config.model.latent_dim
  decode = {"inputs": {"z": ["float32", [None, d]]},
            "outputs": {"images": ["float32", [None, 28, 28, 1]]}}
  encode = {"inputs": {"images": ["float32", [None, 28, 28, 1]]},
            "outputs": {"z": ["float32", [None, d]]}}
  sample = {"inputs": {"num_samples": ["int32", []], "seed": ["int64", []]},
            "outputs": {"images": ["float32", [None, 28, 28, 1]], "z": ["float32", [None, d]]}}
  assert fresh.report["signatures"] == {
      "decoder": {"decode": decode, "sample": sample, "serving_default": decode},
      "encoder": {"encode": encode, "serving_default": encode}}
  for name in ("decoder", "encoder"):
    asset = fresh.report["asset_paths"][name]
    assert os.path.realpath(asset) == os.path.realpath(
        os.path.join(run.paths[name], "assets", export.CONFIG_ASSET))


@pytest.mark.parametrize("signature", ["decode", "serving_default"])
def test_fresh_interpreter_decode_matches_in_memory(fresh, run, signature):
  images = fresh.load(f"decoder_{signature}_images")
  assert images.dtype == np.float32 and images.shape == (N, 28, 28, 1)
  assert images.min() >= 0.0 and images.max() <= 1.0
  np.testing.assert_allclose(images, expected_decode(run, run.z), atol=ATOL)


@pytest.mark.parametrize("signature", ["encode", "serving_default"])
def test_fresh_interpreter_encode_matches_in_memory(fresh, run, signature):
  z = fresh.load(f"encoder_{signature}_z")
  assert z.dtype == np.float32 and z.shape == (N, run.config.model.latent_dim)
  np.testing.assert_allclose(z, expected_encode(run, run.images), atol=ATOL)


def test_fresh_interpreter_sample_matches_in_memory(fresh, run):
  got = {key: fresh.load(f"sample_a_{key}") for key in ("images", "z")}
  assert got["images"].dtype == np.float32 and got["images"].shape == (SAMPLE_N, 28, 28, 1)
  assert got["z"].dtype == np.float32 and got["z"].shape == (SAMPLE_N, run.config.model.latent_dim)
  want = expected_sample(run, SAMPLE_N, SAMPLE_SEED)
  np.testing.assert_allclose(got["z"], want["z"], atol=ATOL)
  np.testing.assert_allclose(got["images"], want["images"], atol=ATOL)
  # The images are the decoding of the returned codes.
  np.testing.assert_allclose(got["images"], expected_decode(run, got["z"]), atol=ATOL)


def test_fresh_interpreter_sample_is_seeded(fresh):
  a, again = fresh.load("sample_a_z"), fresh.load("sample_a_again_z")
  np.testing.assert_array_equal(a, again)
  np.testing.assert_array_equal(fresh.load("sample_a_images"),
                                fresh.load("sample_a_again_images"))
  for other in ("other_seed", "high_bits"):
    assert not np.allclose(a, fresh.load(f"sample_{other}_z")), other
    assert not np.allclose(fresh.load("sample_a_images"),
                           fresh.load(f"sample_{other}_images")), other


def test_fresh_interpreter_sample_zero(fresh, run):
  assert fresh.load("sample_empty_images").shape == (0, 28, 28, 1)
  assert fresh.load("sample_empty_z").shape == (0, run.config.model.latent_dim)


def test_fresh_interpreter_rejects_negative_num_samples(fresh):
  errors = fresh.report["errors"]
  assert errors == {"negative_num_samples": "InvalidArgumentError"}


# ----------------------------------------------------------- b. saved_model_cli show


def parse_show(text):
  """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}} from `show --all`."""
  signatures = {}
  blocks = re.split(r"^signature_def\['([^']+)'\]:\s*$", text, flags=re.M)
  for name, body in zip(blocks[1::2], blocks[2::2]):
    parts = re.split(r"contains the following output\(s\):", body)
    sections = {}
    for kind, part in zip(("inputs", "outputs"), parts):
      sections[kind] = {
          m.group(2): (m.group(3), m.group(4))
          for m in re.finditer(r"(inputs|outputs)\['([^']+)'\] tensor_info:\s*"
                               r"dtype: (\w+)\s*shape: ([^\n]+)", part)}
    signatures[name] = sections
  return signatures


@pytest.mark.parametrize("name", ["decoder", "encoder"])
def test_saved_model_cli_show(external, run, name):
  proc = external.procs[f"show_{name}"]
  assert proc.returncode == 0, helpers.describe(proc)
  assert "MetaGraphDef with tag-set: 'serve'" in proc.stdout
  shown = parse_show(proc.stdout)
  shown.pop("__saved_model_init_op", None)  # from the config asset
  d = run.config.model.latent_dim
  image = ("DT_FLOAT", "(-1, 28, 28, 1)")
  code = ("DT_FLOAT", f"(-1, {d})")
  if name == "decoder":
    decode = {"inputs": {"z": code}, "outputs": {"images": image}}
    expected = {"decode": decode, "serving_default": decode,
                "sample": {"inputs": {"num_samples": ("DT_INT32", "()"),
                                      "seed": ("DT_INT64", "()")},
                           "outputs": {"images": image, "z": code}}}
  else:
    encode = {"inputs": {"images": image}, "outputs": {"z": code}}
    expected = {"encode": encode, "serving_default": encode}
  assert shown == expected, proc.stdout
  assert "discriminator" not in proc.stdout


# ------------------------------------------------------------ c. saved_model_cli run


def _cli_output(external, signature, key):
  proc = external.procs[f"run_{signature}"]
  assert proc.returncode == 0, helpers.describe(proc)
  path = os.path.join(external.outdirs[signature], f"{key}.npy")
  assert os.path.exists(path), helpers.describe(proc)
  return np.load(path)


def test_saved_model_cli_run_sample(external, fresh, run):
  want = expected_sample(run, SAMPLE_N, SAMPLE_SEED)
  for key in ("images", "z"):
    got = _cli_output(external, "sample", key)
    assert got.dtype == np.float32 and got.shape == want[key].shape
    np.testing.assert_allclose(got, want[key], atol=ATOL)
    # Same seed, same samples, whichever loader serves it.
    np.testing.assert_allclose(got, fresh.load(f"sample_a_{key}"), atol=ATOL)


def test_saved_model_cli_run_decode(external, run):
  got = _cli_output(external, "decode", "images")
  assert got.dtype == np.float32 and got.shape == (N, 28, 28, 1)
  np.testing.assert_allclose(got, expected_decode(run, run.z), atol=ATOL)


def test_saved_model_cli_run_encode(external, run):
  got = _cli_output(external, "encode", "z")
  assert got.dtype == np.float32 and got.shape == (N, run.config.model.latent_dim)
  np.testing.assert_allclose(got, expected_encode(run, run.images), atol=ATOL)
