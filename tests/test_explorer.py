"""The explorer's questions on small trained exports, without a browser; the projector's
files as TensorBoard's own plugin reads them; aae-explore without its extra."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from aae_tf import configs
from aae_tf import data
from aae_tf import evaluate
from aae_tf import explore
from aae_tf import explorer as explorer_lib
from aae_tf import exported as exported_lib
from aae_tf import train
from aae_tf import variants
from tests import helpers


def _trained(root, name, data_dir=None, **changes):
  """A smoke run of `changes` on synthetic MNIST, exported; returns (workdir, export)."""
  workdir, export_dir = root / name / "work", root / name / "export"
  config = configs.get("smoke").replace(
      data_dir=data_dir or str(root / "data"), export_dir=str(export_dir), validation_size=10,
      train_steps=6, **changes)
  train.run(config, str(workdir), log=lambda _: None)
  return str(workdir), str(export_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("explorer")
  helpers.write_synthetic_mnist(root / "data")
  return {
      "unsupervised_3d": _trained(root, "unsupervised", latent_dim=3),
      "clustering": _trained(root, "clustering", variant="clustering", num_categories=4),
      "supervised": _trained(root, "supervised", variant="supervised", num_categories=10),
      "data_dir": str(root / "data"),
  }


def _explorer(runs, name) -> explorer_lib.ExportExplorer:
  return explore.load(runs[name][1], log=lambda _: None)


def test_the_map_reads_a_click_back_as_the_point_under_it(runs):
  explorer = _explorer(runs, "unsupervised_3d")
  image = explorer.map_image()
  view = explorer.map_view()
  left, top, right, bottom = view.box
  assert image.shape[2] == 3 and 0 < left < right < image.shape[1]
  assert 0 < top < bottom < image.shape[0]
  x_min, x_max, y_min, y_max = view.limits
  assert view.pixel_to_point(left, top) == pytest.approx((x_min, y_max))
  assert view.pixel_to_point(right, bottom) == pytest.approx((x_min + (x_max - x_min),
                                                              y_min))
  assert view.pixel_to_point(left - 5, top) is None
  # 3-D codes: the map is their first two principal components, and back.
  z = explorer.codes["z"][:5]
  np.testing.assert_allclose(view.from_code(view.to_code(view.from_code(z))),
                             view.from_code(z), atol=1e-4)
  decoded, point = explorer.decode_at_pixel((left + right) / 2, (top + bottom) / 2)
  assert decoded.dtype == np.uint8 and decoded.shape[2] == 3
  with pytest.raises(explorer_lib.ExplorerInputError, match="inside the plot"):
    explorer.decode_at_pixel(1, 1)
  assert explorer.manifold(3).shape[2] == 3


def test_steering_sets_the_first_dimensions_and_draws_the_rest(runs):
  explorer = _explorer(runs, "unsupervised_3d")
  image, z = explorer.steer([1.25], seed=7)
  assert z[0] == pytest.approx(1.25) and image.dtype == np.uint8
  _, again = explorer.steer([1.25], seed=7)
  _, other = explorer.steer([1.25], seed=8)
  np.testing.assert_array_equal(z, again)          # the seed decides the rest
  assert not np.array_equal(z[1:], other[1:])
  low, high = explorer.slider_range(0)
  assert low < 0 < high


def _drawing(size=280, ink=True):
  """An RGBA canvas as Gradio's sketchpad gives it: a black stroke on transparency."""
  canvas = np.zeros((size, size, 4), np.uint8)
  if ink:
    canvas[40:240, 130:150] = (0, 0, 0, 255)
  return canvas


def test_a_drawing_becomes_white_ink_on_black_of_the_data_shape(runs):
  explorer = _explorer(runs, "unsupervised_3d")
  example = explorer.prepare(_drawing())
  assert example.shape == (28, 28, 1) and example.dtype == np.uint8
  assert example[14, 14, 0] > 200 and example[14, 2, 0] == 0      # ink bright, page dark
  white_page = np.full((28, 28, 3), 255, np.uint8)
  white_page[5:20, 13:15] = 0
  assert explorer.prepare(white_page)[10, 13, 0] == 255           # dark ink on white
  with pytest.raises(explorer_lib.ExplorerInputError, match="45x31 pixels.*28x28"):
    explorer.prepare(np.zeros((31, 45), np.uint8))
  with pytest.raises(explorer_lib.ExplorerInputError, match="expected an image"):
    explorer.prepare(np.zeros((28, 28, 2), np.uint8))


def test_a_clustering_model_names_the_cluster_its_head_and_members(runs):
  explorer = _explorer(runs, "clustering")
  assert explorer.learns_clusters and not explorer.shows_style_in_every_class
  found = explorer.analyse(_drawing())
  assert set(found["probabilities"]) == {f"cluster {k}" for k in range(4)}
  assert sum(found["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
  assert 0 <= found["cluster"] < 4 and found["cluster_head"].dtype == np.uint8
  members = np.argmax(explorer.codes["label_probs"], axis=1) == found["cluster"]
  assert found["cluster_size"] == int(members.sum())


def test_a_supervised_model_shows_one_style_in_every_class(runs):
  explorer = _explorer(runs, "supervised")
  assert explorer.shows_style_in_every_class
  found = explorer.analyse(_drawing())
  grid = found["style_in_every_class"]
  tile = explorer.grid(np.zeros((1, 28, 28, 1), np.uint8), cols=1).shape
  assert grid.shape[1] == 10 * tile[1] and grid.shape[0] == tile[0]   # one row of 10
  # The class selector reaches the decoder: another class, another image.
  a = explorer.decode(np.zeros((1, 2)), label=1)
  b = explorer.decode(np.zeros((1, 2)), label=7)
  assert not np.array_equal(a, b)
  with pytest.raises(explorer_lib.ExplorerInputError, match="not one of 0..9"):
    explorer.decode(np.zeros((1, 2)), label=10)


def test_without_its_data_the_page_keeps_everything_but_the_map(runs, tmp_path):
  exported = exported_lib.load_exported(runs["clustering"][1])
  explorer = explorer_lib.ExportExplorer(exported, None, data_problem="no data here")
  with pytest.raises(explorer_lib.ExplorerInputError, match="no map: no data here"):
    explorer.map_image()
  assert explorer.steer([0.5], seed=1)[0].dtype == np.uint8
  assert explorer.analyse(_drawing())["cluster_members"] is None
  # Data of another shape are refused by name, not decoded into nonsense.
  splits = evaluate.load_data(exported.info, data_dir=runs["data_dir"], log=lambda _: None)
  cropped = lambda split: data.Split(split.images[:, :20, :20], split.labels)  # noqa: E731
  splits = data.DataSplits(cropped(splits.train), cropped(splits.validation),
                           cropped(splits.test), "cropped", splits.class_names)
  with pytest.raises(explorer_lib.ExplorerInputError, match=r"\[20, 20, 1\].*\[28, 28, 1\]"):
    explorer_lib.ExportExplorer(exported, splits)


def test_training_leaves_the_codes_for_tensorboards_projector(runs):
  from tensorboard.backend.event_processing import data_provider
  from tensorboard.backend.event_processing import plugin_event_multiplexer
  from tensorboard.plugins import base_plugin
  from tensorboard.plugins.projector import projector_plugin
  from werkzeug import test as werkzeug_test
  from werkzeug import wrappers

  workdir = runs["clustering"][0]
  multiplexer = plugin_event_multiplexer.EventMultiplexer()
  multiplexer.AddRunsFromDirectory(workdir)
  multiplexer.Reload()
  context = base_plugin.TBContext(
      logdir=workdir, data_provider=data_provider.MultiplexerDataProvider(multiplexer,
                                                                          workdir))
  plugin = projector_plugin.ProjectorPlugin(context)
  routes = plugin.get_plugin_apps()

  def get(route, **query):
    client = werkzeug_test.Client(routes[route], wrappers.Response)
    response = client.get(route, query_string=query)
    assert response.status_code == 200, (route, response.get_data(as_text=True))
    return response.get_data()

  runs_found = json.loads(get("/runs"))
  assert runs_found == ["tensorboard"]
  config = json.loads(get("/info", run="tensorboard"))
  (embedding,) = config["embeddings"]
  tensor = np.frombuffer(get("/tensor", run="tensorboard", name=embedding["tensorName"]),
                         np.float32)
  assert tensor.size == 40 * 2          # the 40 synthetic test images' 2-D codes
  metadata = get("/metadata", run="tensorboard", name=embedding["tensorName"]).decode()
  assert metadata.splitlines()[0] == "label\tclass" and len(metadata.splitlines()) == 41
  sprite = get("/sprite_image", run="tensorboard", name=embedding["tensorName"])
  assert sprite[:8] == b"\x89PNG\r\n\x1a\n"
  assert embedding["sprite"]["singleImageDim"] == [28, 28]


def test_explore_without_gradio_says_how_to_get_it(runs, tmp_path):
  blocker = tmp_path / "no_gradio"
  blocker.mkdir()
  (blocker / "gradio.py").write_text("raise ImportError('No module named gradio')\n")
  env = helpers.hermetic_env(PYTHONPATH=f"{blocker}{os.pathsep}"
                             f"{os.path.dirname(os.path.dirname(explore.__file__))}")
  proc = subprocess.run([sys.executable, "-m", "aae_tf.explore",
                         f"--export_dir={runs['clustering'][1]}"], env=env,
                        capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 2, helpers.describe(proc)
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert errors == ["error: " + explore.GRADIO_MISSING], helpers.describe(proc)


def test_explore_refuses_a_directory_that_is_no_export(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "aae_tf.explore",
                         f"--export_dir={tmp_path}"], env=helpers.hermetic_env(),
                        capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 2, helpers.describe(proc)
  assert proc.stderr.strip().splitlines()[-1].startswith("error: "), helpers.describe(proc)


def test_a_model_of_vectors_says_images_make_no_sense_for_it(tmp_path):
  rng = np.random.default_rng(0)
  vectors = rng.uniform(size=(120, 6)).astype(np.float32)
  np.savez(tmp_path / "v.npz", x_train=vectors, y_train=np.arange(120) % 3)
  config = configs.get("smoke").replace(dataset=f"npz:{tmp_path / 'v.npz'}",
                                        export_dir=str(tmp_path / "export"),
                                        validation_size=10, num_categories=3)
  train.run(config, str(tmp_path / "work"), log=lambda _: None)
  explorer = explore.load(str(tmp_path / "export"), log=lambda _: None)
  assert not explorer.is_image and explorer.display(vectors[0]) is None
  assert explorer.map_image().shape[2] == 3                # the map still works
  with pytest.raises(explorer_lib.ExplorerInputError, match="vectors of 6 values"):
    explorer.prepare(np.zeros((28, 28), np.uint8))


def test_explore_projector_writes_tensorboards_files_and_exits(runs, tmp_path):
  proc = subprocess.run([sys.executable, "-m", "aae_tf.explore",
                         f"--export_dir={runs['clustering'][1]}",
                         f"--data_dir={runs['data_dir']}", "--projector",
                         f"--logdir={tmp_path / 'p'}"], env=helpers.hermetic_env(),
                        capture_output=True, text=True, timeout=180, check=False)
  assert proc.returncode == 0, helpers.describe(proc)
  assert f"tensorboard --logdir {tmp_path / 'p'}" in proc.stdout
  for name in ("projector_config.pbtxt", "metadata.tsv", "sprite.png", "checkpoint"):
    assert (tmp_path / "p" / name).exists(), name


@pytest.mark.parametrize("name", sorted(variants.VARIANTS))
def test_every_variant_answers_every_question(runs, tmp_path, name):
  """The explorer asks only the public signatures: it works for every variant's export."""
  spec = variants.get_variant(name)
  changes = dict(variant=name)
  if spec.prior_takes_label:
    changes.update(prior="gaussian_mixture")
  if spec.labels == "subset":
    changes.update(num_labels=20)
  _, export_dir = _trained(tmp_path, name, data_dir=runs["data_dir"], **changes)
  explorer = explore.load(export_dir, log=lambda _: None)
  view = explorer.map_view()
  left, top, right, bottom = view.box
  image, _ = explorer.decode_at_pixel((left + right) / 2, (top + bottom) / 2)
  assert image.dtype == np.uint8
  assert explorer.steer([0.5], seed=1, label=1 if explorer.takes_label else None)[0] is not None
  found = explorer.analyse(_drawing())
  assert found["reconstruction"].dtype == np.uint8
  assert ("probabilities" in found) == spec.has_categories
  assert ("style_in_every_class" in found) == (spec.decoder_takes_label
                                               and not spec.learns_clusters)
  assert ("cluster" in found) == spec.learns_clusters
