"""Training on your own data: every source, any shape, the same export contract.

Four tiny runs, one per source and shape, each trained for a few steps, exported at the
end of training, and checked the way a client uses the export: in a fresh interpreter
that cannot import aae_tf (`python -I -S`, TensorFlow only) and with `saved_model_cli
run` (TF Serving's session loader), both compared with the networks restored here.

  folder:  32x32 RGB PNGs in class subfolders, convolutional nets
  npz:     8x8 grey uint8 images with labels, semi-supervised (decode takes labels)
  npz:     16-D float vectors, unlabelled
  tfds:    a TFDS image dataset (cifar10), through `tfds.testing.mock_data`
"""

import json
import os
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from aae_tf import configs
from aae_tf import evaluate
from aae_tf import export
from aae_tf import train
from aae_tf import variants
from aae_tf.sources import common as source_common
from tests import helpers

CLASSES = ("red", "green", "blue")
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}

FRESH_SCRIPT = r'''
import json, os, sys
args = json.load(open(sys.argv[1]))
sys.path.extend(args["site_packages"])   # no .pth files: no editable-install hook
sys.modules["aae_tf"] = None              # any attempt to import it fails loudly
import numpy as np
import tensorflow as tf
io = args["io_dir"]
load = lambda name: tf.constant(np.load(os.path.join(io, name + ".npy")))
dec = tf.saved_model.load(args["decoder"]).signatures
enc = tf.saved_model.load(args["encoder"]).signatures
inputs = {"z": load("z")}
if "labels" in dec["decode"].structured_input_signature[1]:
    inputs["labels"] = load("labels")
np.save(os.path.join(io, "fresh_decode.npy"), dec["decode"](**inputs)["images"].numpy())
np.save(os.path.join(io, "fresh_encode.npy"), enc["encode"](images=load("images"))["z"].numpy())
sample = dec["sample"](num_samples=tf.constant(3), seed=tf.constant(7, tf.int64))
np.save(os.path.join(io, "fresh_sample.npy"), sample["images"].numpy())
'''


def _write_colour_folder(root, per_class=14, size=32):
  """RGB PNGs: class k is a square of colour k at a random place on a dark background."""
  rng = np.random.default_rng(0)
  for name in CLASSES:
    os.makedirs(root / name)
    for i in range(per_class):
      image = rng.integers(0, 40, (size, size, 3)).astype(np.uint8)
      top, left = rng.integers(0, size - 12, 2)
      image[top:top + 12, left:left + 12] = COLOURS[name]
      Image.fromarray(image).save(root / name / f"{i}.png")
  (root / "README.txt").write_text("not an image: skipped and counted")
  return str(root)


def _write_digits_npz(path, n_train=100, n_test=30):
  """8x8 grey uint8 images with 10 classes (a bright pixel row per class), labelled."""
  rng = np.random.default_rng(1)

  def make(n):
    labels = np.arange(n) % 10
    images = rng.integers(0, 30, (n, 8, 8)).astype(np.uint8)
    for i, k in enumerate(labels):
      images[i, k % 8, :] = 250 if k < 8 else 120
      images[i, :, k % 8] = 250 if k >= 8 else images[i, :, k % 8]
    return images, labels.astype(np.int64)

  (x_train, y_train), (x_test, y_test) = make(n_train), make(n_test)
  np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
  return str(path)


def _write_vectors_npz(path, n=120, dim=16):
  rng = np.random.default_rng(2)
  centres = rng.uniform(0.2, 0.8, (3, dim))
  x = np.clip(centres[np.arange(n) % 3] + 0.05 * rng.normal(size=(n, dim)), 0, 1)
  np.savez(path, x_train=x.astype(np.float32))
  return str(path)


def _train_and_export(root, name, **changes):
  workdir, export_dir = str(root / name / "work"), str(root / name / "export")
  config = configs.get("smoke").replace(export_dir=export_dir, train_steps=4,
                                        steps_per_loop=2, **changes)
  logs = []
  train.run(config, workdir, log=logs.append)
  saved = export.load_config(workdir)
  paths = {model: os.path.join(export_dir, model, str(config.runtime.train_steps))
           for model in export.MODELS}
  return types.SimpleNamespace(root=root / name, workdir=workdir, export_dir=export_dir,
                               paths=paths, config=saved, logs=logs)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("own_data")
  made = {}
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(root / "cache"))
    mp.setenv("TFDS_DATA_DIR", str(root / "no_tfds"))
    folder = _write_colour_folder(root / "pngs")
    made["folder_rgb_conv"] = _train_and_export(
        root, "folder_rgb_conv", dataset=f"folder:{folder}", architecture="conv",
        conv_channels=(4, 8))
    made["npz_digits_semi"] = _train_and_export(
        root, "npz_digits_semi", dataset=f"npz:{_write_digits_npz(root / 'digits.npz')}",
        variant="semi_supervised", num_labels=20, num_categories=10, latent_dim=2)
    made["npz_vectors"] = _train_and_export(
        root, "npz_vectors", dataset=f"npz:{_write_vectors_npz(root / 'vectors.npz')}")
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    # Mocked TFDS has nothing prepared: the loader's download step is TFDS's (a no-op
    # under the mock) once the reachability probe says yes.
    mp.setattr(source_common, "download_host_reachable", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=40):
      made["tfds_cifar10"] = _train_and_export(
          root, "tfds_cifar10", dataset="tfds:cifar10", allow_download=True)
  return made


EXPECTED_SHAPES = {"folder_rgb_conv": (32, 32, 3), "npz_digits_semi": (8, 8, 1),
                   "npz_vectors": (16,), "tfds_cifar10": (32, 32, 3)}


def test_each_source_reports_what_it_found(runs):
  line = lambda name: next(m for m in runs[name].logs if m.startswith("data: "))
  assert "image folder" in line("folder_rgb_conv")
  assert "32x32x3 uint8" in line("folder_rgb_conv")
  assert "3 classes (blue, green, red)" in line("folder_rgb_conv")
  assert "1 non-image files skipped" in line("folder_rgb_conv")
  assert "8x8x1 uint8, train 90, validation 10, test 30, 10 classes" in line("npz_digits_semi")
  assert "16 float32" in line("npz_vectors") and "unlabelled" in line("npz_vectors")
  assert "TFDS cifar10" in line("tfds_cifar10")


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_config_and_asset_record_the_data(runs, name):
  run = runs[name]
  assert run.config.data.data_shape == EXPECTED_SHAPES[name]
  assert run.config.runtime.data_source  # the source actually used
  loaded = tf.saved_model.load(run.paths["decoder"])
  with open(loaded.aae_config.asset_path.numpy().decode()) as f:
    asset = json.load(f)
  assert tuple(asset["data_shape"]) == EXPECTED_SHAPES[name]
  assert asset["value_range"] == [0.0, 1.0]
  assert asset["data_source"] == run.config.runtime.data_source


@pytest.fixture(scope="module")
def contract(runs, tmp_path_factory):
  """For every run: probes, the expected outputs, and the fresh/CLI processes' outputs."""
  results, commands = {}, {}
  cli = helpers.venv_script("saved_model_cli")
  outside = tmp_path_factory.mktemp("outside_repo")
  script = outside / "load.py"
  script.write_text(FRESH_SCRIPT)
  for name, run in runs.items():
    config = run.config
    io = run.root / "io"
    io.mkdir()
    probe = np.random.default_rng(5)
    z = probe.normal(size=(4, config.model.latent_dim)).astype(np.float32)
    labels = np.arange(4, dtype=np.int32) % config.model.num_categories
    images = probe.uniform(size=(4, *config.data.data_shape)).astype(np.float32)
    for key, value in (("z", z), ("labels", labels), ("images", images)):
      np.save(io / f"{key}.npy", value)
    spec = variants.spec_for(config)
    networks, _, _ = export.restore_networks(run.workdir, config)  # as exported
    decoder = export.DecoderModule(networks.decoder, spec, config)
    encoder = export.EncoderModule(networks.encoder, networks.decoder, spec)
    decode_inputs = dict(z=tf.constant(z))
    cli_inputs = f"z={io}/z.npy"
    if spec.decoder_takes_label:
      decode_inputs["labels"] = tf.constant(labels)
      cli_inputs += f";labels={io}/labels.npy"
    results[name] = types.SimpleNamespace(
        io=io, decode=decoder.decode(**decode_inputs)["images"].numpy(),
        encode=encoder.encode(tf.constant(images))["z"].numpy(),
        sample=decoder.sample(tf.constant(3), tf.constant(7, tf.int64))["images"].numpy())
    args = outside / f"{name}.json"
    args.write_text(json.dumps({"site_packages": helpers.site_packages_dirs(),
                                "io_dir": str(io), **run.paths}))
    commands[f"{name}/fresh"] = [sys.executable, "-I", "-S", str(script), str(args)]
    commands[f"{name}/cli_encode"] = [
        cli, "run", "--dir", run.paths["encoder"], "--tag_set", "serve", "--signature_def",
        "encode", "--inputs", f"images={io}/images.npy", "--outdir", str(io / "cli_encode")]
    commands[f"{name}/cli_decode"] = [
        cli, "run", "--dir", run.paths["decoder"], "--tag_set", "serve", "--signature_def",
        "decode", "--inputs", cli_inputs, "--outdir", str(io / "cli_decode")]
  env = helpers.hermetic_env(outside)
  procs = helpers.run_parallel({key: dict(cmd=cmd, cwd=str(outside), env=env)
                                for key, cmd in commands.items()})
  return results, procs


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_export_contract_follows_the_data(contract, runs, name):
  results, procs = contract
  for kind in ("fresh", "cli_encode", "cli_decode"):
    proc = procs[f"{name}/{kind}"]
    assert proc.returncode == 0, helpers.describe(proc)
  expected, io = results[name], results[name].io
  shape = EXPECTED_SHAPES[name]
  assert expected.decode.shape == (4, *shape) and expected.sample.shape == (3, *shape)
  np.testing.assert_allclose(np.load(io / "fresh_decode.npy"), expected.decode, atol=1e-5)
  np.testing.assert_allclose(np.load(io / "fresh_encode.npy"), expected.encode, atol=1e-5)
  np.testing.assert_allclose(np.load(io / "fresh_sample.npy"), expected.sample, atol=1e-5)
  np.testing.assert_allclose(np.load(io / "cli_encode" / "z.npy"), expected.encode, atol=1e-5)
  np.testing.assert_allclose(np.load(io / "cli_decode" / "images.npy"), expected.decode,
                             atol=1e-5)
  encode = tf.saved_model.load(runs[name].paths["encoder"]).signatures["encode"]
  assert encode.structured_input_signature[1]["images"].shape.as_list() == [None, *shape]


def test_the_conv_export_has_convolutions(runs):
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=import-outside-toplevel
  ops = {}
  for model in ("encoder", "decoder"):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(runs["folder_rgb_conv"].paths[model], "saved_model.pb"), "rb") as f:
      proto.ParseFromString(f.read())
    library = proto.meta_graphs[0].graph_def.library
    ops[model] = {node.op for function in library.function for node in function.node_def}
  assert "Conv2D" in ops["encoder"]
  assert "Conv2DBackpropInput" in ops["decoder"]   # the transposed convolutions


@pytest.mark.parametrize("name", ["folder_rgb_conv", "npz_digits_semi"])
def test_evaluate_on_own_data(runs, name, tmp_path):
  run = runs[name]
  results = evaluate.run(str(tmp_path / "eval.json"), export_dir=run.export_dir,
                         workdir=run.workdir, num_parzen_samples=50, classifier_epochs=0,
                         log=lambda _: None)
  assert np.isfinite(results["parzen_ll"]) and 0 <= results["recon_mse"] < 1
  if name == "npz_digits_semi":
    assert 0 <= results["test_error_pct"] <= 100
  mode = "RGB" if name == "folder_rgb_conv" else "L"
  assert Image.open(results["figures"]["samples"]).mode == mode
  pairs = Image.open(results["figures"]["reconstructions"])   # originals over reconstructions
  assert pairs.mode == mode
  assert pairs.height >= 2 * 2 * EXPECTED_SHAPES[name][0]   # two rows at 2x: originals, copies
  assert Image.open(results["figures"]["latent"]).size[0] > 300


# ------------------------------------------------------------- real data (slow)


def _slow_run(tmp_path, dataset, **changes):
  config = configs.get("smoke").replace(dataset=dataset, train_steps=20, batch_size=50,
                                        validation_size=-1, **changes)
  logs = []
  train.run(config, str(tmp_path / "work"), log=logs.append)
  return export.load_config(str(tmp_path / "work")), logs


@pytest.mark.slow
def test_real_sklearn_digits_through_npz(tmp_path):
  pytest.importorskip("sklearn")
  digits = helpers.load_script("scripts/sklearn_digits_npz.py", "sklearn_digits_npz")
  np.savez(tmp_path / "digits.npz", **digits.digits_arrays())
  config, logs = _slow_run(tmp_path, f"npz:{tmp_path / 'digits.npz'}",
                           variant="semi_supervised", num_labels=100, num_categories=10)
  assert config.data.data_shape == (8, 8, 1)
  assert any("train 1199, validation 239, test 359, 10 classes" in m for m in logs)


@pytest.mark.slow
def test_real_mnist_images_through_a_folder(tmp_path):
  from aae_tf import data  # pylint: disable=import-outside-toplevel
  splits = data.load_splits("mnist", logger=lambda _: None)   # the real data, cached
  for i in range(600):
    label = int(splits.test.labels[i])
    os.makedirs(tmp_path / "png" / str(label), exist_ok=True)
    Image.fromarray(splits.test.images[i, ..., 0]).save(tmp_path / "png" / str(label) / f"{i}.png")
  config, logs = _slow_run(tmp_path, f"folder:{tmp_path / 'png'}", architecture="conv")
  assert config.data.data_shape == (28, 28, 1)
  assert any("(grayscale" in m and "10 classes" in m for m in logs)


@pytest.mark.parametrize("spec, suggestion", [("mnistt", "did you mean tfds:mnist"),
                                              ("fashion_mnis:3.0.0", "tfds:fashion_mnist?"),
                                              ("qqqqzzz", "no registered name is close")])
def test_an_unknown_tfds_name_gets_the_close_names_in_one_line(tmp_path, spec, suggestion):
  # TFDS's own message lists every one of ~1,300 datasets before its guess.
  from aae_tf.errors import DataError  # pylint: disable=g-import-not-at-top
  from aae_tf.sources import tfds_source  # pylint: disable=g-import-not-at-top
  with pytest.raises(DataError) as raised:
    tfds_source.load(spec, str(tmp_path), allow_download=False, log=lambda _: None)
  message = str(raised.value)
  assert "\n" not in message and suggestion in message and len(message) < 300, message
