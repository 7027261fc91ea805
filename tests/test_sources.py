"""The data sources one by one: what each accepts, and the one line each gives for what
it cannot use. Generated files in tmp_path; no TensorFlow, no network."""

import os

import numpy as np
import pytest
from PIL import Image

from aae_tf import configs
from aae_tf import data
from aae_tf import train
from aae_tf.data import DataError, load_splits
from aae_tf.errors import ConfigError


def _png(path, array, mode=None):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(np.asarray(array, np.uint8), mode).save(path)


def _grey_folder(root, classes=("a", "b"), per_class=8, size=(10, 12)):
  rng = np.random.default_rng(0)
  for name in classes:
    for i in range(per_class):
      _png(root / name / f"{i}.png", rng.integers(0, 256, size))
  return root


# ------------------------------------------------------------------------- npz


def test_npz_images_labels_and_test_split(tmp_path):
  path = tmp_path / "d.npz"
  x = np.random.default_rng(0).integers(0, 256, (70, 8, 8), dtype=np.uint8)
  np.savez(path, x_train=x, y_train=np.arange(70) % 5,
           x_test=x[:20], y_test=np.arange(20) % 5)
  splits = load_splits(f"npz:{path}", validation_size=10, logger=lambda _: None)
  assert splits.shape == (8, 8, 1) and splits.num_classes == 5
  assert len(splits.train.labels) == 60 and len(splits.test.labels) == 20
  assert splits.train.images.dtype == np.uint8


def test_npz_vectors_without_test_get_a_carved_one(tmp_path):
  path = tmp_path / "v.npz"
  np.savez(path, x_train=np.random.default_rng(0).uniform(size=(70, 5)).astype(np.float64))
  splits = load_splits(f"npz:{path}", logger=lambda _: None)
  assert splits.shape == (5,) and splits.num_classes == 0
  assert len(splits.test.labels) == 10                      # 70 / 7
  assert len(splits.validation.labels) == 10                # a sixth of the remaining 60
  assert splits.train.images.dtype == np.float32
  assert (splits.train.labels == -1).all()
  again = load_splits(f"npz:{path}", logger=lambda _: None)  # carving is fixed
  np.testing.assert_array_equal(again.test.images, splits.test.images)


@pytest.mark.parametrize("arrays,message", [
    ({"y_train": np.zeros(3)}, r"no x_train array \(found: y_train\)"),
    ({"x_train": np.full((4, 3), 2.0)}, r"float values span \[2, 2\]; scale them to \[0, 1\]"),
    ({"x_train": np.full((4, 3), np.nan)}, "12 values are NaN or infinite"),
    ({"x_train": np.zeros((4, 3), np.int64)}, r"values are int64; give uint8 \(0..255\)"),
    ({"x_train": np.zeros((4, 3, 3, 2), np.uint8)}, "images have 2 channels"),
    ({"x_train": np.zeros((4, 3), np.uint8), "y_train": np.zeros(5, int)}, "5 labels for 4"),
    ({"x_train": np.zeros((4, 3), np.uint8), "y_train": -np.ones(4, int)}, "is negative"),
    ({"x_train": np.zeros((4, 3), np.uint8), "x_test": np.zeros((4, 2), np.uint8)},
     r"x_test is uint8 \[2\] per example but x_train is uint8 \[3\]"),
    ({"x_train": np.zeros((4, 3), np.uint8), "pixels": np.zeros(3)}, r"unknown arrays \['pixels'\]"),
])
def test_npz_errors_name_the_file_and_the_problem(tmp_path, arrays, message):
  path = tmp_path / "bad.npz"
  np.savez(path, **arrays)
  with pytest.raises(DataError, match=message) as e:
    load_splits(f"npz:{path}", logger=lambda _: None)
  assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_npz_missing_or_corrupt_file(tmp_path):
  with pytest.raises(DataError, match="no such file"):
    load_splits(f"npz:{tmp_path}/none.npz")
  (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
  with pytest.raises(DataError, match="is not an .npz archive"):
    load_splits(f"npz:{tmp_path}/broken.npz")


# ---------------------------------------------------------------------- folder


def test_folder_classes_grey_auto(tmp_path):
  splits = load_splits(f"folder:{_grey_folder(tmp_path / 'f')}", validation_size=2,
                       logger=lambda _: None)
  assert splits.shape == (10, 12, 1)            # H, W from the files; grey kept grey
  assert splits.class_names == ("a", "b")
  assert "(grayscale" in splits.source


def test_folder_rgb_files_with_grey_content_stay_grey_and_colour_is_kept(tmp_path):
  grey = np.full((6, 6, 3), 90, np.uint8)
  for i in range(7):
    _png(tmp_path / "g" / f"{i}.png", grey)
  assert load_splits(f"folder:{tmp_path / 'g'}", logger=lambda _: None).shape == (6, 6, 1)
  coloured = grey.copy()
  coloured[0, 0] = (255, 0, 0)
  _png(tmp_path / "g" / "red.png", coloured)
  splits = load_splits(f"folder:{tmp_path / 'g'}", logger=lambda _: None)
  assert splits.shape == (6, 6, 3) and splits.num_classes == 0   # flat: unlabelled
  forced = load_splits(f"folder:{tmp_path / 'g'}", color="grayscale", logger=lambda _: None)
  assert forced.shape == (6, 6, 1)


def test_folder_train_test_layout(tmp_path):
  _grey_folder(tmp_path / "f" / "train")
  _grey_folder(tmp_path / "f" / "test", per_class=3)
  splits = load_splits(f"folder:{tmp_path / 'f'}", validation_size=4, logger=lambda _: None)
  assert len(splits.test.labels) == 6 and len(splits.train.labels) == 12
  assert sorted(set(splits.test.labels.tolist())) == [0, 1]


def test_folder_sizes_must_agree_unless_resized(tmp_path):
  root = _grey_folder(tmp_path / "f")
  _png(root / "a" / "big.png", np.zeros((20, 20)))
  with pytest.raises(DataError, match=r"big.png is 20x20 but .* is 12x10; pass --image_size"):
    load_splits(f"folder:{root}")
  splits = load_splits(f"folder:{root}", image_size=(16, 8), logger=lambda _: None)
  assert splits.shape == (16, 8, 1)


def test_folder_errors(tmp_path):
  root = _grey_folder(tmp_path / "f")
  (root / "b" / "3.png").write_bytes(b"\x89PNG truncated")
  with pytest.raises(DataError, match=r"b/3.png cannot be decoded as an image"):
    load_splits(f"folder:{root}")
  (tmp_path / "empty").mkdir()
  (tmp_path / "empty" / "notes.csv").write_text("x")
  with pytest.raises(DataError, match=r"no .png/.jpg/.jpeg images found \(found: notes.csv\)"):
    load_splits(f"folder:{tmp_path / 'empty'}")
  with pytest.raises(DataError, match="no such directory"):
    load_splits(f"folder:{tmp_path / 'missing'}")


def test_unknown_dataset_kind():
  with pytest.raises(DataError, match=r"--dataset=csv:x is not one of"):
    load_splits("csv:x")


# ----------------------------------------------------------- the run and the data


def _smoke(tmp_path, **changes):
  return configs.get("smoke").replace(**changes)


def test_run_refuses_data_its_variant_cannot_use_before_creating_the_workdir(tmp_path):
  vectors = tmp_path / "v.npz"
  np.savez(vectors, x_train=np.random.default_rng(0).uniform(size=(80, 6)).astype(np.float32))
  images = tmp_path / "i.npz"
  np.savez(images, x_train=np.zeros((80, 4, 4), np.uint8), y_train=np.arange(80) % 4)
  cases = [
      (dict(dataset=f"npz:{vectors}", variant="supervised"), "trains on labels, but"),
      (dict(dataset=f"npz:{images}", variant="supervised"),
       "the data has 4 classes: set --num_categories=4"),
      (dict(dataset=f"npz:{vectors}", architecture="conv"),
       "--architecture=conv needs images"),
      (dict(dataset=f"npz:{vectors}", variant="clustering", num_categories=4,
            category_shift_consistency=1.0), "--category_shift_consistency shifts images"),
  ]
  for changes, message in cases:
    workdir = tmp_path / "work"
    with pytest.raises(ConfigError, match=message):
      train.run(_smoke(tmp_path, **changes), str(workdir), log=lambda _: None)
    assert not workdir.exists()


def test_load_for_config_passes_every_data_field(tmp_path):
  root = _grey_folder(tmp_path / "f", size=(9, 9))
  config = configs.get("smoke").replace(dataset=f"folder:{root}", image_size=(5, 7),
                                        color="rgb", validation_size=3)
  splits = data.load_for_config(config, logger=lambda _: None)
  assert splits.shape == (5, 7, 3) and len(splits.validation.labels) == 3


def test_folder_images_keep_their_content_whatever_their_mode(tmp_path):
  """16-bit PNGs are scaled by their depth (not clipped to 0/255); ink saved in the alpha
  channel on a transparent page (drawing tools) is the image; the log names the modes."""
  from PIL import Image
  from aae_tf.sources import folder
  root = tmp_path / "modes"
  for k in ("a", "b"):
    (root / k).mkdir(parents=True)
  ramp16 = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)      # 0..63000
  Image.fromarray(ramp16).save(root / "a" / "sixteen.png")
  ink = np.zeros((8, 8, 4), np.uint8)
  ink[2:6, 3:5, 3] = 200                                              # black, alpha 200
  Image.fromarray(ink, "RGBA").save(root / "b" / "alpha_ink.png")
  raw = folder.load(str(root), color="grayscale")
  sixteen, alpha_ink = raw.train_images[0, ..., 0], raw.train_images[1, ..., 0]
  np.testing.assert_array_equal(sixteen, np.round(ramp16 / 65535 * 255).astype(np.uint8))
  assert len(np.unique(sixteen)) > 50                                 # not {0, 255}
  assert alpha_ink[3, 3] == 200 and alpha_ink[0, 0] == 0              # the strokes, not blank
  assert "1 grey 16-bit" in raw.source and "1 RGB with alpha" in raw.source


def test_grey_alpha_and_palette_transparency_keep_their_strokes(tmp_path):
  """Two more ways drawing tools save ink on a transparent page: grey + alpha (LA), and
  a palette whose background index is transparent (P with tRNS)."""
  from PIL import Image
  from aae_tf.sources import folder
  for k in ("a", "b"):
    (tmp_path / k).mkdir()
  grey_alpha = np.zeros((8, 8, 2), np.uint8)
  grey_alpha[2:6, 3:5, 1] = 200                                       # black, alpha 200
  Image.fromarray(grey_alpha, "LA").save(tmp_path / "a" / "grey_alpha.png")
  strokes = np.zeros((8, 8), np.uint8)
  strokes[2:6, 3:5] = 1                                               # index 1: black ink
  palette = Image.fromarray(strokes, "P")
  palette.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)            # index 0: white page
  palette.save(tmp_path / "b" / "palette.png", transparency=0)
  raw = folder.load(str(tmp_path), color="grayscale")
  grey_alpha_image, palette_image = raw.train_images[0, ..., 0], raw.train_images[1, ..., 0]
  assert grey_alpha_image[3, 3] == 200 and grey_alpha_image[0, 0] == 0
  assert palette_image[3, 3] == 255 and palette_image[0, 0] == 0
  assert "1 grey with alpha" in raw.source and "1 palette" in raw.source


def _terabyte_npz(path):
  import io
  import zipfile
  header = io.BytesIO()
  np.lib.format.write_array_header_1_0(
      header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 20, 1 << 20)})
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("x_train.npy", header.getvalue())


@pytest.mark.parametrize("write, message", [
    (lambda p: np.save(p, np.zeros((3, 4))), "is a single .npy array"),
    (lambda p: p.write_text("x_train,y_train\n1,2\n"), "is not an .npz archive"),
    (_terabyte_npz, "declares [1048576, 1048576] float64"),
    (lambda p: np.savez(p, x_train=np.array([{"a": 1}], dtype=object)), "Python objects"),
    (lambda p: np.savez(p, x_train=np.zeros((4, 0, 28), np.uint8)), "every size > 0"),
    (lambda p: np.savez(p, x_train=np.zeros((2, 8), np.uint8),
                        y_train=np.array([0, 10**9])), "label 1000000000 is not a class id"),
    (lambda p: np.savez(p, x_train=np.zeros((2, 8), np.uint8),
                        y_train=np.array([0, 2**32 + 3])), "label 4294967299"),
    # Found by scripts/break_it.py beyond the probe's list:
    (lambda p: np.savez(p, x_train=np.full((2, 8), np.nan)), "values are NaN or infin"),
    (lambda p: np.savez(p, x_train=np.zeros((2, 8), np.uint8), y_train=np.array([0.5, 1.5])),
     "expected 1-D integer class id"),
    (lambda p: np.savez(p, x_train=np.array(["digit", "seven"])), "expected images"),
    (lambda p: np.savez(p, x_train=np.zeros((2, 8, 8, 4), np.uint8)), "images have 4 channels"),
])
def test_hostile_npz_files_are_refused_with_one_line_before_any_work(tmp_path, write, message):
  """Each one once ended in a traceback, an abort inside oneDNN, exhausted memory, or a
  label wrapped into a valid class (2**32 + 3 read as class 3)."""
  from aae_tf import data
  from aae_tf.errors import DataError
  path = tmp_path / "hostile.npz"
  write(path if message != "is a single .npy array" else tmp_path / "hostile.npy")
  if message == "is a single .npy array":
    (tmp_path / "hostile.npy").rename(path)
  config = configs.get("smoke").replace(dataset=f"npz:{path}", validation_size=1)
  with pytest.raises(DataError) as e:
    data.load_for_config(config, logger=lambda _: None)
  assert message in str(e.value) and "\n" not in str(e.value)
