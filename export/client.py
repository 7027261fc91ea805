"""Client example for the exported AAE models served by TF Serving.

Asks the decoder for samples from the prior (`sample`), writes them as a PNG grid,
then sends the same images to the encoder (`encode`) and prints their codes. Any
export's data shape works: images [H, W, C] (C = 1 grey or 3 colour) or vectors [D].

  python export/client.py --host=localhost --num_samples=16 --seed=0 --out=samples.png
  python export/client.py --transport=grpc          # needs `pip install tensorflow-serving-api`

Two transports:
  rest  only the Python standard library (urllib, json) plus numpy and Pillow.
  grpc  `tensorflow-serving-api` (which brings TensorFlow); imported only when used.

The request builders are pure functions (no network), so they are tested offline
against the exported signatures (tests/test_client.py). The contract they follow is
`SIGNATURES` below, the same as the table in aae_tf/export.py and the README.
"""

import argparse
import json
import math
import sys
import urllib.error
import urllib.request
from typing import Dict, Optional, Sequence

import numpy as np

DECODER_MODEL = "aae_decoder"
ENCODER_MODEL = "aae_encoder"
#: The data shape of exports whose aae_config.json has no "data_shape" (MNIST).
LEGACY_DATA_SHAPE = (28, 28, 1)
#: The range the models were trained on (aae_config.json "value_range").
VALUE_RANGE = (0.0, 1.0)

# The serving contract: signature -> model, inputs (name -> (dtype, shape)) and output
# keys. `None` is a free dimension (batch, or the model's latent_dim). A trailing `...`
# stands for the export's data_shape, one or more fixed dimensions: (H, W, C) for
# images (C = 1 or 3), (D,) for vectors; "data_shape" in the export's aae_config.json,
# LEGACY_DATA_SHAPE when absent. So `encode` takes f32[None, *data_shape], and `decode`
# and `sample` return images f32[None, *data_shape].
SIGNATURES = {
    "sample": {"model": DECODER_MODEL,
               "inputs": {"num_samples": ("int32", ()), "seed": ("int64", ())},
               "outputs": ("images", "z")},
    "decode": {"model": DECODER_MODEL,
               "inputs": {"z": ("float32", (None, None))},
               "outputs": ("images",)},
    "encode": {"model": ENCODER_MODEL,
               "inputs": {"images": ("float32", (None, ...))},  # [batch, *data_shape]
               "outputs": ("z",)},
}

_INT32_MAX = 2**31 - 1


# --- request building (pure) ----------------------------------------------------------


def _check_int(name: str, value, low: int, high: int) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"{name} must be an integer, got {value!r}")
  if not low <= value <= high:
    raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
  return int(value)


def data_shape_from_config(asset: dict) -> tuple:
  """The data shape an export's aae_config.json declares (LEGACY_DATA_SHAPE if none)."""
  return _check_data_shape(asset.get("data_shape", LEGACY_DATA_SHAPE))


def _check_data_shape(data_shape) -> tuple:
  shape = tuple(data_shape)
  if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                          and d > 0 for d in shape):
    raise ValueError(f"data_shape must be one or more positive integers, got {data_shape!r}")
  return tuple(int(d) for d in shape)


def _as_images(images, data_shape: Optional[Sequence[int]] = None) -> np.ndarray:
  """float32 [N, *data_shape] in [0, 1], checked: what `encode` takes.

  data_shape: the export's per-example shape, (H, W, C) or (D,) (see
    `data_shape_from_config`); None accepts any per-example shape of one or more
    dimensions. A grey batch [N, H, W] gets its channel axis when data_shape is
    (H, W, 1), or when data_shape is None.
  uint8 pixels (0..255) are scaled by 1/255; other numbers must be finite and in [0, 1].

  Raises:
    ValueError: the shape differs from [N, *data_shape], or (data_shape None) there is
      no per-example dimension; the values are not finite or outside [0, 1].
  """
  array = np.asarray(images)
  given = list(array.shape)
  if data_shape is None:
    if array.ndim < 2:
      raise ValueError(f"images must have shape [N, *data_shape] with data_shape of "
                       f"one or more dimensions, got {given}")
    if array.ndim == 3:  # [N, H, W] grey
      array = array[..., None]
  else:
    expected = _check_data_shape(data_shape)
    if (len(expected) == 3 and expected[2] == 1 and array.ndim == 3
        and array.shape[1:] == expected[:2]):
      array = array[..., None]
    if array.shape[1:] != expected:
      grey = (f" (or [N, {expected[0]}, {expected[1]}])"
              if len(expected) == 3 and expected[2] == 1 else "")
      raise ValueError(f"images must have shape [N, {', '.join(map(str, expected))}]"
                       f"{grey} for data_shape {expected}, got {given}")
  if array.dtype == np.uint8:
    return array.astype(np.float32) / 255.0
  if array.dtype.kind not in "biuf":
    raise ValueError(f"images must be numbers, got dtype {array.dtype}")
  array = array.astype(np.float32)
  bad = np.count_nonzero(~np.isfinite(array))
  if bad:
    raise ValueError(f"images must be finite, got {bad} NaN or infinite value(s)")
  low, high = VALUE_RANGE
  if array.size and (array.min() < low or array.max() > high):
    raise ValueError(f"images must be in [{low:g}, {high:g}] (the range the models were "
                     f"trained on; uint8 pixels are scaled by 1/255), got values in "
                     f"[{array.min():g}, {array.max():g}]")
  return array


def _as_codes(z) -> np.ndarray:
  array = np.asarray(z, dtype=np.float32)
  if array.ndim != 2:
    raise ValueError(f"z must have shape [N, latent_dim], got {list(array.shape)}")
  return array


def rest_sample_request(num_samples: int, seed: int) -> dict:
  """JSON body of a REST `sample` request (columnar "inputs": the inputs are scalars)."""
  return {"signature_name": "sample",
          "inputs": {"num_samples": _check_int("num_samples", num_samples, 0, _INT32_MAX),
                     "seed": _check_int("seed", seed, -2**63, 2**63 - 1)}}


def rest_encode_request(images: np.ndarray,
                        data_shape: Optional[Sequence[int]] = None) -> dict:
  """JSON body of a REST `encode` request; images as nested lists [N, *data_shape].

  Checked and converted as `_as_images` describes (data_shape None: any shape).
  """
  images = _as_images(images, data_shape)
  return {"signature_name": "encode", "inputs": {"images": images.tolist()}}


def rest_decode_request(z) -> dict:
  """JSON body of a REST `decode` request; z as nested lists [N, latent_dim]."""
  return {"signature_name": "decode", "inputs": {"z": _as_codes(z).tolist()}}


def rest_url(host: str, port: int, model: str, version: Optional[int] = None) -> str:
  """`http://host:port/v1/models/<model>[/versions/<v>]:predict`."""
  versioned = f"/versions/{version}" if version is not None else ""
  return f"http://{host}:{port}/v1/models/{model}{versioned}:predict"


def parse_rest_response(response: dict, signature_name: Optional[str] = None
                        ) -> Dict[str, np.ndarray]:
  """The outputs of a REST predict response as float32 numpy arrays, by output key.

  TF Serving answers a columnar request with `{"outputs": {key: value, ...}}`, but with
  `{"outputs": value}` when the signature has a single output: `signature_name` then
  supplies the key (e.g. "z" for encode). A row-format answer (`"predictions"`) is
  accepted too.

  Raises:
    RuntimeError: the response carries an "error".
    ValueError: the response has no outputs, or a single unnamed output and no
      `signature_name` to name it.
  """
  if "error" in response:
    raise RuntimeError(f"TF Serving error: {response['error']}")
  if "outputs" in response:
    outputs = response["outputs"]
    if isinstance(outputs, dict):
      return {key: np.asarray(value, np.float32) for key, value in outputs.items()}
    return {_single_output_key(signature_name): np.asarray(outputs, np.float32)}
  if "predictions" in response:
    rows = response["predictions"]
    if rows and isinstance(rows[0], dict):
      return {key: np.asarray([row[key] for row in rows], np.float32) for key in rows[0]}
    return {_single_output_key(signature_name): np.asarray(rows, np.float32)}
  raise ValueError(f"not a predict response (no 'outputs'): keys {sorted(response)}")


def _single_output_key(signature_name: Optional[str]) -> str:
  if signature_name is None:
    raise ValueError("the response has one unnamed output: pass signature_name")
  outputs = SIGNATURES[signature_name]["outputs"]
  if len(outputs) != 1:
    raise ValueError(f"signature {signature_name!r} has outputs {outputs}, got one")
  return outputs[0]


# --- REST transport (standard library) ------------------------------------------------


def rest_predict(host: str, port: int, body: dict, version: Optional[int] = None,
                 timeout: float = 30.0) -> Dict[str, np.ndarray]:
  """POSTs a request built above to the model that serves its signature."""
  signature = body["signature_name"]
  url = rest_url(host, port, SIGNATURES[signature]["model"], version)
  request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"),
                                   headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(request, timeout=timeout) as answer:
      response = json.loads(answer.read().decode("utf-8"))
  except urllib.error.HTTPError as e:  # TF Serving puts its message in the body
    detail = e.read().decode("utf-8", "replace")
    raise RuntimeError(f"POST {url}: HTTP {e.code}: {detail}") from e
  except urllib.error.URLError as e:
    raise RuntimeError(f"POST {url}: {e.reason}; is TF Serving running "
                       "(see README, 'Serve with TF Serving')?") from e
  return parse_rest_response(response, signature)


# --- gRPC transport (tensorflow-serving-api) -------------------------------------------


def _serving_apis():
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        f"the gRPC transport needs tensorflow-serving-api ({e}); install it with "
        "`pip install tensorflow-serving-api`, or use --transport=rest") from e
  return tf, predict_pb2


def _grpc_request(model_name: str, signature: str, inputs: Dict[str, np.ndarray]):
  tf, predict_pb2 = _serving_apis()
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature
  for name, value in inputs.items():
    dtype, _ = SIGNATURES[signature]["inputs"][name]
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=getattr(tf, dtype)))
  return request


def grpc_sample_request(num_samples: int, seed: int, model_name: str = DECODER_MODEL):
  """A `predict_pb2.PredictRequest` for `sample`: num_samples DT_INT32, seed DT_INT64."""
  body = rest_sample_request(num_samples, seed)["inputs"]  # same checks
  return _grpc_request(model_name, "sample", {
      "num_samples": np.int32(body["num_samples"]), "seed": np.int64(body["seed"])})


def grpc_encode_request(images: np.ndarray, model_name: str = ENCODER_MODEL,
                        data_shape: Optional[Sequence[int]] = None):
  """A `predict_pb2.PredictRequest` for `encode`: images DT_FLOAT [N, *data_shape]."""
  return _grpc_request(model_name, "encode", {"images": _as_images(images, data_shape)})


def grpc_decode_request(z, model_name: str = DECODER_MODEL):
  """A `predict_pb2.PredictRequest` for `decode`: z DT_FLOAT [N, latent_dim]."""
  return _grpc_request(model_name, "decode", {"z": _as_codes(z)})


def grpc_predict(host: str, port: int, request, timeout: float = 30.0
                 ) -> Dict[str, np.ndarray]:
  """Sends a request built above over gRPC; returns the outputs by key."""
  tf, _ = _serving_apis()
  import grpc  # pylint: disable=g-import-not-at-top  (a dependency of the serving api)
  from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
  with grpc.insecure_channel(f"{host}:{port}") as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
      response = stub.Predict(request, timeout=timeout)
    except grpc.RpcError as e:
      raise RuntimeError(f"gRPC Predict at {host}:{port}: {e.code().name}: "
                         f"{e.details()}") from e
  return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}


# --- the example ----------------------------------------------------------------------


def _tiles(images) -> np.ndarray:
  """[N, H, W, C] tiles (C = 1 or 3) of grey, colour or vector examples."""
  array = np.asarray(images, np.float32)
  if array.ndim == 2:  # [N, D] vectors: h x w tiles, h = floor(sqrt(D)), padded white
    size = array.shape[1]
    if size == 0:
      raise ValueError("cannot draw vectors of length 0")
    h = math.isqrt(size)
    w = math.ceil(size / h)
    padded = np.ones((len(array), h * w), np.float32)
    padded[:, :size] = array
    return padded.reshape(-1, h, w, 1)
  if array.ndim == 3:  # [N, H, W] grey
    return array[..., None]
  if array.ndim == 4 and array.shape[3] in (1, 3):
    return array
  raise ValueError("save_grid draws [N, H, W] or [N, H, W, 1] grey, [N, H, W, 3] colour "
                   f"or [N, D] vector examples, got shape {list(array.shape)}")


def save_grid(images: np.ndarray, path: str, scale: int = 2) -> None:
  """Tiles examples with values in [0, 1] into a near-square PNG (Pillow, no TensorFlow).

  [N, H, W] and [N, H, W, 1] make a grey PNG, [N, H, W, 3] an RGB one; vectors [N, D]
  are drawn as grey h x w tiles (h = floor(sqrt(D)), w = ceil(D / h), padded white).
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top

  tiles = _tiles(images)
  if len(tiles) == 0:
    raise ValueError("no images to save")
  n, h, w, channels = tiles.shape
  cols = math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  pad = 2
  canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, channels), np.float32)
  for k, tile in enumerate(tiles):
    top, left = pad + (k // cols) * (h + pad), pad + (k % cols) * (w + pad)
    canvas[top:top + h, left:left + w] = tile
  pixels = (np.clip(np.nan_to_num(canvas), 0, 1) * 255).round().astype(np.uint8)
  if channels == 1:
    grid = Image.fromarray(pixels[..., 0], "L")
  else:
    grid = Image.fromarray(pixels, "RGB")
  grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST).save(path)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--host", default="localhost")
  parser.add_argument("--rest_port", type=int, default=8501)
  parser.add_argument("--grpc_port", type=int, default=8500)
  parser.add_argument("--transport", choices=("rest", "grpc"), default="rest")
  parser.add_argument("--num_samples", type=int, default=16)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--version", type=int, default=None,
                      help="model version to ask for (default: the newest served)")
  parser.add_argument("--out", default="samples.png", help="PNG grid of the samples")
  parser.add_argument("--timeout", type=float, default=30.0)
  return parser.parse_args(argv)


def _predict_rest(args, body):
  return rest_predict(args.host, args.rest_port, body, args.version, args.timeout)


def _predict_grpc(args, request):
  if args.version is not None:
    request.model_spec.version.value = args.version
  return grpc_predict(args.host, args.grpc_port, request, args.timeout)


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = parse_args(argv)
  if args.num_samples <= 0:
    print("error: --num_samples must be positive", file=sys.stderr)
    return 2
  try:
    if args.transport == "rest":
      sampled = _predict_rest(args, rest_sample_request(args.num_samples, args.seed))
    else:
      sampled = _predict_grpc(args, grpc_sample_request(args.num_samples, args.seed))
    images, z = sampled["images"], sampled["z"]
    save_grid(images, args.out)
    print(f"sample: {images.shape[0]} images {list(images.shape[1:])}, "
          f"z {list(z.shape)} -> {args.out}")
    data_shape = images.shape[1:]  # the export's data_shape, whatever it is
    if args.transport == "rest":
      codes = _predict_rest(args, rest_encode_request(images, data_shape))["z"]
    else:
      codes = _predict_grpc(args, grpc_encode_request(images, data_shape=data_shape))["z"]
  except (RuntimeError, ImportError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"encode: z {list(codes.shape)}; first code {np.round(codes[0], 3).tolist()} "
        f"(prior draw was {np.round(z[0], 3).tolist()})")
  return 0


if __name__ == "__main__":
  sys.exit(main())
