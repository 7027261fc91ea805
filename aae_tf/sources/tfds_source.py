"""`--dataset=tfds:NAME[/CONFIG]`: any TFDS dataset with an image feature.

The image feature is `image_key` (default: the dataset's only `Image` feature), the
label `label_key` (default: its only `ClassLabel` feature; none = unlabelled). Splits
"train" and "test" by name; without a "test" split one is carved from "train". A
dataset not prepared in `data_dir` (default: the TFDS directory) is downloaded only
if allowed and the TFDS host answers within seconds; otherwise the error says how to
prepare it offline. Variable-size images need `image_size=(H, W)`.
"""

import difflib
import os
from typing import Callable, Optional, Sequence

import numpy as np

from aae_tf.errors import DataError
from aae_tf.sources import common

#: Most TFDS datasets download through Google Cloud Storage; a TCP probe of it decides
#: in seconds whether a download can work here.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)


def _default_dir() -> str:
  return os.path.expanduser(
      os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets"))


def _feature_key(features, kind: str, chosen: str, name: str, flag: str) -> Optional[str]:
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  cls = getattr(tfds.features, kind)
  keys = [k for k, f in features.items() if isinstance(f, cls)]
  if chosen:
    if chosen not in features:
      raise DataError(f"tfds:{name}: no feature {chosen!r} ({flag}); features: "
                      f"{', '.join(features)}")
    return chosen
  if len(keys) > 1:
    raise DataError(f"tfds:{name}: several {kind} features ({', '.join(keys)}); choose one "
                    f"with {flag}")
  return keys[0] if keys else None


def _read_split(builder, split, image_key, label_key, image_size, name):
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  images, labels = [], []
  for example in tfds.as_numpy(builder.as_dataset(split=split)):
    image = np.asarray(example[image_key])
    if image_size:
      image = common.resize(image, image_size)
    if images and image.shape != images[0].shape:
      raise DataError(f"tfds:{name}: images of different sizes ({images[0].shape} and "
                      f"{image.shape}); pass --image_size=H,W to resize them")
    images.append(image)
    if label_key:
      labels.append(int(example[label_key]))
  if not images:
    raise DataError(f"tfds:{name}: split {split!r} is empty")
  return np.stack(images), (np.array(labels, np.int32) if label_key else None)


def _builder_error(spec: str, error: Exception) -> str:
  """One line for a dataset TFDS cannot build: for an unknown name, the closest names
  (TFDS's message lists all ~1,300 and buries its own guess at the end)."""
  first = (str(error).splitlines() or [""])[0]
  if type(error).__name__ != "DatasetNotFoundError":
    return f"tfds:{spec}: {type(error).__name__}: {first}"
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  name = spec.split("/")[0].split(":")[0]
  close = difflib.get_close_matches(name, tfds.list_builders(with_community_datasets=False), n=3, cutoff=0.6)
  hint = (f"did you mean {' or '.join('tfds:' + c for c in close)}?" if close else
          "no registered name is close")
  return (f"tfds:{spec}: no TFDS dataset named {name!r}; {hint} "
          "(every name: python -c 'import tensorflow_datasets as t; print(t.list_builders())')")


def load(spec: str, data_dir: Optional[str], allow_download: bool,
         image_key: str = "", label_key: str = "",
         image_size: Optional[Sequence[int]] = None,
         log: Callable[[str], None] = print) -> common.RawData:
  """Reads `spec` = NAME[/CONFIG][:VERSION] through tfds.builder."""
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  directory = data_dir or _default_dir()
  try:
    builder = tfds.builder(spec, data_dir=directory)
  except Exception as e:  # pylint: disable=broad-except  (TFDS raises many types)
    raise DataError(_builder_error(spec, e)) from None
  if not builder.is_prepared():
    how = (f"prepare it on a machine with internet access (`tfds build {spec} "
           f"--data_dir=DIR`) and pass --data_dir=DIR")
    if not allow_download:
      raise DataError(f"tfds:{spec} is not prepared in {directory} and downloads are off "
                      f"(--allow_download=false); {how}")
    if not common.download_host_reachable(*DOWNLOAD_HOST):
      raise DataError(f"tfds:{spec} is not prepared in {directory} and the TFDS download "
                      f"host {DOWNLOAD_HOST[0]} is not reachable; {how}")
    log(f"tfds:{spec}: downloading and preparing into {directory}")
    try:
      builder.download_and_prepare()
    except Exception as e:  # pylint: disable=broad-except
      raise DataError(f"tfds:{spec}: download failed ({type(e).__name__}: "
                      f"{str(e).splitlines()[0] if str(e) else ''}); {how}") from None
  features = builder.info.features
  image_key = _feature_key(features, "Image", image_key, spec, "--image_key")
  if image_key is None:
    raise DataError(f"tfds:{spec}: no Image feature (features: {', '.join(features)}); "
                    "aae_tf trains on images")
  label_key = _feature_key(features, "ClassLabel", label_key, spec, "--label_key")
  shape = features[image_key].shape
  if None in shape[:2] and not image_size:
    raise DataError(f"tfds:{spec}: images have no fixed size ({shape}); pass "
                    "--image_size=H,W to resize them")
  splits = set(builder.info.splits) or {"train", "test"}  # mocked builders list none
  if "train" not in splits:
    raise DataError(f"tfds:{spec}: no 'train' split (splits: {', '.join(sorted(splits))})")
  train, train_labels = _read_split(builder, "train", image_key, label_key, image_size, spec)
  test = test_labels = None
  if "test" in splits:
    test, test_labels = _read_split(builder, "test", image_key, label_key, image_size, spec)
  names = tuple(features[label_key].names) if label_key else None
  return common.RawData(train, train_labels, test, test_labels, f"TFDS {builder.name} ({builder.data_path})", names)
