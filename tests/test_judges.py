"""The figures as numbers, on small hand-made cases: the class grid's style accuracy,
the cluster heads' agreement with their members, the Fréchet distance."""

import types

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import data
from aae_tf import digit_classifier
from aae_tf import metrics
from aae_tf.exported import Exported


def test_cluster_head_agreement_counts_used_clusters_only():
  # Cluster 0: members 3, 3, 5 (majority 3); cluster 1: 7, 7; cluster 2: 1; cluster 3 empty.
  assignments = [0, 0, 0, 1, 1, 2]
  labels = [3, 3, 5, 7, 7, 1]
  heads = [3, 2, 1, 9]          # cluster 1's head shows a 2: wrong; 3 is unused
  found = metrics.cluster_head_agreement(heads, assignments, labels, 4, 10)
  assert found == {"agreement_pct": pytest.approx(200 / 3), "used": 3, "agreeing": 2,
                   "distinct_head_digits": 3}
  same = metrics.cluster_head_agreement([3, 3, 3, 3], assignments, labels, 4, 10)
  assert same["distinct_head_digits"] == 1 and same["agreeing"] == 1


def test_frechet_distance_of_known_gaussians():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(20000, 3))
  assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
  # Equal covariances, means 2 apart in each of 3 dimensions: 3 * 2^2.
  assert metrics.frechet_distance(a, a + 2.0) == pytest.approx(12.0, abs=1e-6)
  # 1-D, b against 2b: means m and 2m, variances s^2 and 4s^2: m^2 + s^2.
  b = rng.normal(size=(1000, 1))
  expected = np.mean(b) ** 2 + np.var(b, ddof=1)
  assert metrics.frechet_distance(b, 2.0 * b) == pytest.approx(expected, rel=1e-9)
  with pytest.raises(ValueError, match="equal width"):
    metrics.frechet_distance(a, a[:, :2])


class _ReadsBrightness:
  """A stand-in judge: an image's digit is its mean brightness x 10 (rounded)."""

  def __call__(self, images):
    x = data.to_unit_float(np.asarray(images)).reshape(len(images), -1)
    return np.rint(x.mean(axis=1) * 10).astype(np.int32)


def _image_of(digits):
  """[N, 28, 28, 1] images whose brightness reads as `digits`."""
  return np.broadcast_to((np.asarray(digits, np.float32) / 10)[:, None, None, None],
                         (len(digits), 28, 28, 1)).copy()


def _fake_export(num_categories, decode_digit, encode_cluster):
  """An Exported whose signatures are plain functions: `decode(z, labels)` draws the
  digit `decode_digit(labels)`; `encode` puts every image in `encode_cluster(digit)`."""
  def decode(z, labels):
    return {"images": tf.constant(_image_of(decode_digit(labels.numpy())))}

  def sample_class(labels, seed):
    del seed
    return decode(None, labels)

  def sample(num_samples, seed):
    del seed
    return {"z": tf.zeros([int(num_samples), 2])}

  def encode(images):
    digits = _ReadsBrightness()(images.numpy())
    return {"z": tf.zeros([len(digits), 2]),
            "label_probs": tf.one_hot(encode_cluster(digits), num_categories)}

  signatures = lambda **fns: types.SimpleNamespace(signatures=fns)  # noqa: E731
  return Exported(encoder=signatures(encode=encode),
                  decoder=signatures(decode=decode, sample_class=sample_class, sample=sample),
                  info={"variant": "clustering", "num_categories": num_categories,
                        "latent_dim": 2, "data_shape": [28, 28, 1]},
                  version=1, paths={})


def _splits(digits):
  images = (_image_of(digits) * 255).astype(np.uint8)
  split = data.Split(images, np.asarray(digits, np.int32))
  return data.DataSplits(train=split, validation=split, test=split, source="hand-made",
                         class_names=tuple(str(d) for d in range(10)))


def test_cluster_heads_that_show_their_members_digit():
  splits = _splits([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3)
  # Clusters: digit d -> cluster d // 2 (5 clusters); the heads decode 2k (right) except
  # cluster 4, whose head shows a 1 (its members are 8s and 9s).
  exported = _fake_export(5, lambda labels: np.where(labels == 4, 1, 2 * labels),
                          lambda digits: digits // 2)
  found = digit_classifier.cluster_head_agreement(exported, splits, _ReadsBrightness())
  assert found["cluster_heads_used"] == 5
  assert found["cluster_heads_agreeing"] == 4
  assert found["cluster_heads_agreement_pct"] == pytest.approx(80.0)
  # A decoder that ignores the category: every head is the same image.
  ignoring = _fake_export(5, lambda labels: np.full_like(labels, 4), lambda d: d // 2)
  found = digit_classifier.cluster_head_agreement(ignoring, splits, _ReadsBrightness())
  assert found["cluster_heads_distinct_digits"] == 1 and found["cluster_heads_agreeing"] == 1


def test_style_accuracy_of_a_class_grid():
  splits = _splits(list(range(10)))
  right = _fake_export(10, lambda labels: labels, lambda d: d)
  assert digit_classifier.style_accuracy(right, splits, _ReadsBrightness(), seed=0,
                                         per_class=3)["style_accuracy_pct"] == 100.0
  # Classes 0-6 drawn right, 7-9 drawn as 7: 8 of 10 classes right.
  capped = _fake_export(10, lambda labels: np.minimum(labels, 7), lambda d: d)
  assert digit_classifier.style_accuracy(capped, splits, _ReadsBrightness(), seed=0,
                                         per_class=3)["style_accuracy_pct"] == 80.0


def test_cluster_grid_agreement_counts_the_cells_that_show_their_rows_digit():
  # Cluster 0: members 3, 3, 5 (majority 3); cluster 1: 7, 7; cluster 2 empty.
  assignments, labels = [0, 0, 0, 1, 1], [3, 3, 5, 7, 7]
  cells = [[3, 3, 3, 1], [7, 2, 7, 7], [0, 0, 0, 0]]   # 6 of the used rows' 8 cells right
  assert metrics.cluster_grid_agreement(cells, assignments, labels, 3, 10) == 75.0
  # z carries the digit: each column keeps one digit down the rows.
  columns = [[3, 7, 1, 2]] * 3
  assert metrics.cluster_grid_agreement(columns, assignments, labels, 3, 10) == 25.0
  with pytest.raises(ValueError, match="styles"):
    metrics.cluster_grid_agreement([3, 7, 0], assignments, labels, 3, 10)


def test_cluster_grid_agreement_of_an_export_whose_style_carries_the_digit():
  splits = _splits([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3)
  # Five clusters of digits 2k, 2k + 1 (majority ties go to 2k). The decoder draws 2k at
  # z = 0 but, away from it, the digit its style code names: heads right, grid wrong.
  style_digit = lambda z: np.rint(z[:, 0]).astype(np.int64) % 10  # noqa: E731
  exported = _fake_export(5, lambda labels: 2 * labels, lambda digits: digits // 2)
  exported.decoder.signatures["sample"] = lambda num_samples, seed: {
      "z": tf.constant(np.stack([np.arange(int(num_samples)) + 1.0,
                                 np.zeros(int(num_samples))], axis=1), tf.float32)}
  exported.decoder.signatures["decode"] = lambda z, labels: {"images": tf.constant(_image_of(
      np.where(np.any(z.numpy() != 0, axis=1), style_digit(z.numpy()), 2 * labels.numpy())))}
  found = digit_classifier.cluster_head_agreement(exported, splits, _ReadsBrightness())
  assert found["cluster_heads_agreement_pct"] == 100.0
  # Styles 1..10 read as digits 1..9, 0: row k is right only in the column of digit 2k.
  assert found["cluster_grid_agreement_pct"] == pytest.approx(10.0)
  right = _fake_export(5, lambda labels: 2 * labels, lambda digits: digits // 2)
  assert digit_classifier.cluster_head_agreement(
      right, splits, _ReadsBrightness())["cluster_grid_agreement_pct"] == 100.0
