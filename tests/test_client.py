"""Offline tests of export/client.py: request builders against the serving contract.

The builders are checked for the names, dtypes and shapes of the contract, and then
against the signatures of a real (tiny, untrained) export: the REST request's inputs,
after a JSON round trip, are fed to the loaded SavedModel with the contract dtypes, as
TF Serving does. A stand-in for TF Serving's REST API on the loopback interface, backed
by that export, runs the client's `main()` end to end. The gRPC requests are checked
when `tensorflow-serving-api` is installed.
"""

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests import helpers

client = helpers.load_script(os.path.join("export", "client.py"), "aae_client")


def _json_round_trip(body):
  return json.loads(json.dumps(body))


# --- REST request builders ------------------------------------------------------------


def test_rest_sample_request_follows_the_contract():
  body = _json_round_trip(client.rest_sample_request(4, 0))
  assert body == {"signature_name": "sample", "inputs": {"num_samples": 4, "seed": 0}}
  assert set(body["inputs"]) == set(client.SIGNATURES["sample"]["inputs"])
  assert all(type(v) is int for v in body["inputs"].values())  # JSON numbers, not lists


def test_rest_sample_request_accepts_numpy_ints_and_64_bit_seeds():
  body = _json_round_trip(client.rest_sample_request(np.int64(3), 2**40 + 7))
  assert body["inputs"] == {"num_samples": 3, "seed": 2**40 + 7}


@pytest.mark.parametrize("num_samples, seed", [
    (-1, 0), (2**31, 0), (4, 2**63), (True, 0), (4.0, 0), (4, "0")])
def test_rest_sample_request_rejects_values_outside_the_dtypes(num_samples, seed):
  with pytest.raises((TypeError, ValueError)):
    client.rest_sample_request(num_samples, seed)


def test_rest_encode_request_sends_nested_lists_n_28_28_1():
  images = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
  body = _json_round_trip(client.rest_encode_request(images))
  assert body["signature_name"] == "encode"
  assert list(body["inputs"]) == ["images"]
  sent = body["inputs"]["images"]
  assert isinstance(sent, list) and isinstance(sent[0][0][0], list)
  np.testing.assert_allclose(np.asarray(sent, np.float32), images)


def test_rest_encode_request_adds_the_channel_and_scales_uint8():
  images = np.full((2, 28, 28), 255, np.uint8)
  sent = np.asarray(client.rest_encode_request(images)["inputs"]["images"])
  assert sent.shape == (2, 28, 28, 1)
  np.testing.assert_allclose(sent, 1.0)


@pytest.mark.parametrize("shape", [(28, 28), (2, 784), (2, 28, 28, 3), (2, 32, 32, 1)])
def test_rest_encode_request_rejects_other_shapes_than_data_shape(shape):
  with pytest.raises(ValueError) as error:
    client.rest_encode_request(np.zeros(shape, np.float32), data_shape=(28, 28, 1))
  assert "[N, 28, 28, 1]" in str(error.value)  # expected
  assert str(list(shape)) in str(error.value)  # given


@pytest.mark.parametrize("shape", [(), (5,)])
def test_rest_encode_request_needs_a_per_example_dimension(shape):
  with pytest.raises(ValueError, match="data_shape"):
    client.rest_encode_request(np.zeros(shape, np.float32))


def test_rest_encode_request_round_trips_a_colour_batch():
  images = np.random.default_rng(3).uniform(size=(2, 32, 32, 3)).astype(np.float32)
  for data_shape in ((32, 32, 3), [32, 32, 3], None):
    body = _json_round_trip(client.rest_encode_request(images, data_shape))
    assert body["signature_name"] == "encode" and list(body["inputs"]) == ["images"]
    sent = np.asarray(body["inputs"]["images"], np.float32)
    assert sent.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(sent, images)


def test_rest_encode_request_scales_a_uint8_colour_batch():
  images = np.random.default_rng(4).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
  sent = np.asarray(client.rest_encode_request(images, (32, 32, 3))["inputs"]["images"])
  np.testing.assert_allclose(sent, images / 255.0, rtol=1e-6)


def test_rest_encode_request_wrong_shape_names_both_shapes():
  with pytest.raises(ValueError) as error:
    client.rest_encode_request(np.zeros((2, 28, 28, 1), np.float32), data_shape=(32, 32, 3))
  message = str(error.value)
  assert "32, 32, 3" in message and "[2, 28, 28, 1]" in message
  with pytest.raises(ValueError, match=r"\[N, 32, 32, 3\].*\[2, 32, 32\]"):
    # a channel axis is added only for a grey data_shape
    client.rest_encode_request(np.zeros((2, 32, 32), np.float32), data_shape=(32, 32, 3))


def test_rest_encode_request_vectors():
  vectors = np.random.default_rng(5).uniform(size=(4, 64))
  for data_shape in ((64,), None):
    sent = client.rest_encode_request(vectors, data_shape)["inputs"]["images"]
    assert isinstance(sent[0], list) and isinstance(sent[0][0], float)
    np.testing.assert_allclose(np.asarray(sent), vectors.astype(np.float32))
  with pytest.raises(ValueError, match=r"\[N, 64\].*\[4, 63\]"):
    client.rest_encode_request(vectors[:, :63], data_shape=(64,))


def test_rest_encode_request_keeps_grey_mnist_behaviour():
  images = np.arange(2 * 28 * 28).reshape(2, 28, 28).astype(np.uint8)  # 0..255, wrapped
  for data_shape in (None, (28, 28, 1)):
    sent = np.asarray(client.rest_encode_request(images, data_shape)["inputs"]["images"])
    assert sent.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(sent[..., 0], images / 255.0, rtol=1e-6)


@pytest.mark.parametrize("value, problem", [
    (1.5, r"\[0, 1\].*1\.5"), (-0.25, r"\[0, 1\].*-0\.25"), (255.0, r"\[0, 1\]"),
    (np.nan, "finite"), (np.inf, "finite")])
def test_rest_encode_request_rejects_values_the_models_never_saw(value, problem):
  images = np.full((2, 32, 32, 3), 0.5, np.float32)
  images[1, 3, 4, 2] = value
  with pytest.raises(ValueError, match=problem):
    client.rest_encode_request(images, (32, 32, 3))
  with pytest.raises(ValueError, match=problem):
    client.rest_encode_request(images.reshape(2, -1))  # as vectors, no data_shape


@pytest.mark.parametrize("data_shape", [(), (28, 0, 1), (28, -28), (28.0, 28.0, 1.0)])
def test_rest_encode_request_rejects_a_bad_data_shape(data_shape):
  with pytest.raises(ValueError, match="data_shape"):
    client.rest_encode_request(np.zeros((1, 28, 28, 1), np.float32), data_shape)


def test_data_shape_from_config():
  assert client.data_shape_from_config({"variant": "unsupervised"}) == (28, 28, 1)  # old
  assert client.data_shape_from_config({"data_shape": [32, 32, 3],
                                        "value_range": [0.0, 1.0]}) == (32, 32, 3)
  assert client.data_shape_from_config({"data_shape": [64]}) == (64,)


def test_rest_decode_request():
  z = np.arange(6, dtype=np.float64).reshape(3, 2)
  body = _json_round_trip(client.rest_decode_request(z))
  assert body == {"signature_name": "decode", "inputs": {"z": z.tolist()}}
  with pytest.raises(ValueError, match="latent_dim"):
    client.rest_decode_request(np.zeros(4))


def test_rest_url():
  assert (client.rest_url("localhost", 8501, "aae_decoder")
          == "http://localhost:8501/v1/models/aae_decoder:predict")
  assert (client.rest_url("h", 1, "aae_encoder", 7)
          == "http://h:1/v1/models/aae_encoder/versions/7:predict")


# --- REST response parsing ------------------------------------------------------------


def test_parse_rest_response_with_named_outputs():
  images = np.random.default_rng(1).uniform(size=(4, 28, 28, 1))
  z = np.random.default_rng(2).normal(size=(4, 8))
  fake = _json_round_trip({"outputs": {"images": images.tolist(), "z": z.tolist()}})
  outputs = client.parse_rest_response(fake)
  assert set(outputs) == {"images", "z"}
  assert outputs["images"].shape == (4, 28, 28, 1)
  assert outputs["z"].shape == (4, 8)
  assert outputs["images"].dtype == np.float32
  np.testing.assert_allclose(outputs["z"], z, rtol=1e-6)


def test_parse_rest_response_names_a_single_output_from_the_signature():
  # TF Serving drops the key when a signature has one output (encode, decode).
  fake = {"outputs": [[0.5, -1.0], [2.0, 3.0]]}
  assert client.parse_rest_response(fake, "encode")["z"].shape == (2, 2)
  with pytest.raises(ValueError, match="signature_name"):
    client.parse_rest_response(fake)


def test_parse_rest_response_row_format_and_errors():
  rows = {"predictions": [{"images": np.zeros((28, 28, 1)).tolist(), "z": [1.0, 2.0]}] * 3}
  outputs = client.parse_rest_response(rows)
  assert outputs["images"].shape == (3, 28, 28, 1) and outputs["z"].shape == (3, 2)
  with pytest.raises(RuntimeError, match="num_samples must be"):
    client.parse_rest_response({"error": "sample: num_samples must be >= 0"})
  with pytest.raises(ValueError, match="outputs"):
    client.parse_rest_response({"model_version_status": []})


# --- save_grid ------------------------------------------------------------------------


def _grid(images, tmp_path, name="grid.png"):
  path = tmp_path / name
  client.save_grid(images, str(path), scale=1)
  with Image.open(path) as image:
    image.load()
    return image


def test_save_grid_grey_mnist(tmp_path):
  images = np.random.default_rng(6).uniform(size=(5, 28, 28, 1))
  image = _grid(images, tmp_path)
  assert image.mode == "L"
  assert image.size == (3 * 30 + 2, 2 * 30 + 2)  # 3x2 grid of 28x28, 2-pixel padding
  pixels = np.asarray(image)
  np.testing.assert_allclose(pixels[2:30, 2:30], images[0, ..., 0] * 255, atol=0.5)
  assert (pixels[:2] == 255).all() and (pixels[32:60, 62:90] == 255).all()  # pad, hole
  same = _grid(images[..., 0], tmp_path, "grey.png")  # [N, 28, 28]
  np.testing.assert_array_equal(np.asarray(same), pixels)


def test_save_grid_colour_is_rgb(tmp_path):
  images = np.random.default_rng(7).uniform(size=(5, 32, 32, 3)).astype(np.float32)
  image = _grid(images, tmp_path)
  assert image.mode == "RGB"
  assert image.size == (3 * 34 + 2, 2 * 34 + 2)
  pixels = np.asarray(image)
  np.testing.assert_allclose(pixels[36:68, 2:34], images[3] * 255, atol=0.5)
  client.save_grid(images, str(tmp_path / "scaled.png"))  # default scale 2
  with Image.open(tmp_path / "scaled.png") as scaled:
    assert scaled.mode == "RGB" and scaled.size == (2 * image.width, 2 * image.height)


def test_save_grid_vectors_as_padded_tiles(tmp_path):
  vectors = np.random.default_rng(8).uniform(size=(4, 10))  # 3x4 tiles, 2 pixels padded
  image = _grid(vectors, tmp_path)
  assert image.mode == "L"
  assert image.size == (2 * 6 + 2, 2 * 5 + 2)
  tile = np.asarray(image)[2:5, 2:6].reshape(-1)
  np.testing.assert_allclose(tile[:10], vectors[0] * 255, atol=0.5)
  assert (tile[10:] == 255).all()
  assert _grid(np.zeros((3, 64)), tmp_path, "square.png").size == (2 * 10 + 2, 2 * 10 + 2)


@pytest.mark.parametrize("shape", [(0, 28, 28, 1), (2, 28, 28, 2), (784,), (1, 2, 3, 4, 1)])
def test_save_grid_rejects_what_it_cannot_draw(tmp_path, shape):
  with pytest.raises(ValueError):
    client.save_grid(np.zeros(shape), str(tmp_path / "x.png"))
  assert not (tmp_path / "x.png").exists()


def test_the_client_imports_no_tensorflow(tmp_path):
  code = ("import importlib.util, sys\n"
          "spec = importlib.util.spec_from_file_location('c', sys.argv[1])\n"
          "c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c)\n"
          "c.save_grid(c.np.zeros((2, 8, 8, 3)), sys.argv[2])\n"
          "c.rest_encode_request(c.np.zeros((2, 8, 8, 3)), (8, 8, 3))\n"
          "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n")
  script = os.path.join(helpers.REPO_ROOT, "export", "client.py")
  subprocess.run([sys.executable, "-c", code, script, str(tmp_path / "g.png")],
                 check=True, timeout=120)
  assert (tmp_path / "g.png").exists()


# --- gRPC request builders ------------------------------------------------------------


def test_grpc_sample_request_dtypes_and_shapes():
  pytest.importorskip("tensorflow_serving")
  request = client.grpc_sample_request(16, 2**33)
  assert request.model_spec.name == "aae_decoder"
  assert request.model_spec.signature_name == "sample"
  assert set(request.inputs) == {"num_samples", "seed"}
  assert request.inputs["num_samples"].dtype == tf.int32.as_datatype_enum
  assert request.inputs["seed"].dtype == tf.int64.as_datatype_enum
  for proto in request.inputs.values():
    assert not proto.tensor_shape.dim  # scalars
  assert tf.make_ndarray(request.inputs["num_samples"]) == 16
  assert tf.make_ndarray(request.inputs["seed"]) == 2**33


def test_grpc_encode_and_decode_requests():
  pytest.importorskip("tensorflow_serving")
  request = client.grpc_encode_request(np.zeros((2, 28, 28), np.uint8))
  assert (request.model_spec.name, request.model_spec.signature_name) == (
      "aae_encoder", "encode")
  proto = request.inputs["images"]
  assert proto.dtype == tf.float32.as_datatype_enum
  assert [d.size for d in proto.tensor_shape.dim] == [2, 28, 28, 1]
  request = client.grpc_encode_request(np.zeros((3, 32, 32, 3)), data_shape=(32, 32, 3))
  assert [d.size for d in request.inputs["images"].tensor_shape.dim] == [3, 32, 32, 3]
  with pytest.raises(ValueError, match="32, 32, 3"):
    client.grpc_encode_request(np.zeros((3, 28, 28)), data_shape=(32, 32, 3))
  request = client.grpc_decode_request(np.zeros((5, 8)))
  assert request.inputs["z"].dtype == tf.float32.as_datatype_enum
  assert [d.size for d in request.inputs["z"].tensor_shape.dim] == [5, 8]


# --- models.config --------------------------------------------------------------------


def _models_config_text():
  with open(os.path.join(helpers.REPO_ROOT, "export", "models.config")) as f:
    return f.read()


def test_models_config_serves_both_models():
  text = _models_config_text()
  found = dict(re.findall(r'name:\s*"([^"]+)"\s*base_path:\s*"([^"]+)"', text))
  assert found == {"aae_decoder": "/models/aae/decoder",
                   "aae_encoder": "/models/aae/encoder"}
  assert text.count('model_platform: "tensorflow"') == 2
  assert set(found) == {s["model"] for s in client.SIGNATURES.values()}


def test_models_config_parses_as_a_model_server_config():
  pytest.importorskip("tensorflow_serving")
  from google.protobuf import text_format
  from tensorflow_serving.config import model_server_config_pb2
  config = text_format.Parse(_models_config_text(), model_server_config_pb2.ModelServerConfig())
  assert [(c.name, c.base_path) for c in config.model_config_list.config] == [
      ("aae_decoder", "/models/aae/decoder"), ("aae_encoder", "/models/aae/encoder")]


# --- against a real export ------------------------------------------------------------


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
  """$AAE_TF_EXPORT_DIR if set (e.g. runs/mnist/export), else a tiny untrained export."""
  given = os.environ.get("AAE_TF_EXPORT_DIR")
  if given:
    return given
  from aae_tf import configs, export, models, variants
  config = configs.get("smoke")
  networks = models.build_networks(config, variants.get_variant(config.model.variant))
  directory = str(tmp_path_factory.mktemp("export"))
  export.export_models(networks, config, step=1, export_dir=directory)
  return directory


@pytest.fixture(scope="module")
def served(export_dir):
  """{model name: loaded SavedModel (newest version)}, as models.config maps them."""
  loaded = {}
  for model, sub in (("aae_decoder", "decoder"), ("aae_encoder", "encoder")):
    base = os.path.join(export_dir, sub)
    versions = [int(v) for v in os.listdir(base) if v.isdigit()]
    loaded[model] = tf.saved_model.load(os.path.join(base, str(max(versions))))
  return loaded


def _data_shape(served):
  """The export's data_shape, as a client holding its aae_config.json asset reads it."""
  asset = getattr(served["aae_decoder"], "aae_config", None)
  if asset is None:
    return client.LEGACY_DATA_SHAPE
  with open(asset.asset_path.numpy().decode()) as f:
    return client.data_shape_from_config(json.load(f))


def _call(served, body):
  """What TF Serving does with a columnar REST body: contract dtypes, then the signature."""
  signature = body["signature_name"]
  contract = client.SIGNATURES[signature]
  fn = served[contract["model"]].signatures[signature]
  inputs = {name: tf.constant(value, dtype=contract["inputs"][name][0])
            for name, value in body["inputs"].items()}
  return {key: value.numpy() for key, value in fn(**inputs).items()}


@pytest.mark.parametrize("signature", sorted(client.SIGNATURES))
def test_contract_matches_the_exported_signature(served, signature):
  contract = client.SIGNATURES[signature]
  fn = served[contract["model"]].signatures[signature]
  _, specs = fn.structured_input_signature
  assert set(specs) == set(contract["inputs"])
  for name, (dtype, shape) in contract["inputs"].items():
    assert specs[name].dtype == tf.as_dtype(dtype), name
    exported = specs[name].shape.as_list()
    if shape and shape[-1] is Ellipsis:  # then the export's data_shape
      shape = (*shape[:-1], *_data_shape(served))
    assert len(exported) == len(shape), (name, exported)
    for want, got in zip(shape, exported):
      assert want is None or want == got, (name, exported)
  assert set(fn.structured_outputs) == set(contract["outputs"])


def test_rest_requests_run_on_the_exported_signatures(served):
  data_shape = _data_shape(served)
  sampled = _call(served, _json_round_trip(client.rest_sample_request(5, 0)))
  assert sampled["images"].shape == (5, *data_shape)
  assert sampled["z"].shape[0] == 5
  assert sampled["images"].min() >= 0.0 and sampled["images"].max() <= 1.0
  again = _call(served, _json_round_trip(client.rest_sample_request(5, 0)))
  np.testing.assert_array_equal(again["images"], sampled["images"])  # same seed

  for shape in (data_shape, None):
    body = _json_round_trip(client.rest_encode_request(sampled["images"], shape))
    assert _call(served, body)["z"].shape == sampled["z"].shape

  decoded = _call(served, _json_round_trip(client.rest_decode_request(sampled["z"])))
  np.testing.assert_allclose(decoded["images"], sampled["images"], atol=1e-5)


class _FakeServing(http.server.BaseHTTPRequestHandler):
  """TF Serving's REST predict API on loopback, backed by the loaded SavedModels."""

  served = None

  def do_POST(self):  # noqa: N802  (http.server's name)
    match = re.fullmatch(r"/v1/models/([\w-]+)(?:/versions/\d+)?:predict", self.path)
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    try:
      if not match or match.group(1) not in self.served:
        raise KeyError(f"Servable not found for request: {self.path}")
      if client.SIGNATURES[body["signature_name"]]["model"] != match.group(1):
        raise KeyError(f"Serving signature name: \"{body['signature_name']}\" not found")
      outputs = {k: v.tolist() for k, v in _call(self.served, body).items()}
      answer = {"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))}
      status = 200
    except Exception as e:  # pylint: disable=broad-except
      answer, status = {"error": str(e)}, 400
    data = json.dumps(answer).encode()
    self.send_response(status)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):  # keep test output quiet
    pass


@pytest.fixture
def fake_server(served):
  handler = type("Handler", (_FakeServing,), {"served": served})
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server.server_address[1]
  finally:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_main_over_rest_writes_a_png_grid(fake_server, tmp_path, capsys):
  out = tmp_path / "samples.png"
  code = client.main(["--host=127.0.0.1", f"--rest_port={fake_server}", "--num_samples=6",
                      "--seed=3", f"--out={out}", "--timeout=30"])
  printed = capsys.readouterr()
  assert code == 0, printed.err
  assert "sample: 6 images [28, 28, 1]" in printed.out and "encode: z [6," in printed.out
  with Image.open(out) as image:
    assert image.mode == "L"
    assert image.size == (2 * (3 * 30 + 2), 2 * (2 * 30 + 2))  # 3x2 grid, padded, x2


class _StubServing(http.server.BaseHTTPRequestHandler):
  """TF Serving's REST answers for an export of any data_shape, without a model:
  `sample` draws uniform images, `encode` checks their shape and returns zero codes."""

  data_shape = None
  encoded = None  # the shapes `encode` was sent

  def do_POST(self):  # noqa: N802  (http.server's name)
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    inputs = body["inputs"]
    if body["signature_name"] == "sample":
      n = inputs["num_samples"]
      images = np.random.default_rng(inputs["seed"]).uniform(size=(n, *self.data_shape))
      answer = {"outputs": {"images": images.tolist(), "z": np.zeros((n, 2)).tolist()}}
    else:
      images = np.asarray(inputs["images"], np.float32)
      self.encoded.append(images.shape)
      answer = {"outputs": np.zeros((len(images), 2)).tolist()}
    data = json.dumps(answer).encode()
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):
    pass


@pytest.mark.parametrize("data_shape, mode, size", [
    ((32, 32, 3), "RGB", (2 * 34 + 2, 2 * 34 + 2)), ((64,), "L", (2 * 10 + 2, 2 * 10 + 2))])
def test_main_over_rest_with_other_data_shapes(tmp_path, capsys, data_shape, mode, size):
  encoded = []
  handler = type("Handler", (_StubServing,), {"data_shape": data_shape,
                                              "encoded": encoded})
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    out = tmp_path / "samples.png"
    code = client.main(["--host=127.0.0.1", f"--rest_port={server.server_address[1]}",
                        "--num_samples=4", f"--out={out}", "--timeout=30"])
  finally:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
  printed = capsys.readouterr()
  assert code == 0, printed.err
  assert f"sample: 4 images {list(data_shape)}" in printed.out
  assert encoded == [(4, *data_shape)]
  with Image.open(out) as image:
    assert image.mode == mode and image.size == (2 * size[0], 2 * size[1])


def test_main_reports_an_unreachable_server(tmp_path, capsys):
  with socket.socket() as s:  # a loopback port nobody listens on
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  code = client.main(["--host=127.0.0.1", f"--rest_port={port}", "--timeout=5",
                      f"--out={tmp_path / 'x.png'}"])
  assert code == 1
  assert "is TF Serving running" in capsys.readouterr().err
  assert not (tmp_path / "x.png").exists()
