"""The paper's evaluation metrics as pure functions (numpy in, Python numbers out).

- Parzen-window log-likelihood (Table 1), the protocol of Goodfellow et al.'s GAN code
  that the AAE paper follows: a Gaussian kernel density with isotropic bandwidth sigma
  centred on generated samples, sigma chosen on a validation split, mean log-likelihood
  of the test images +- its standard error. Batched in TensorFlow: the squared
  distances come from one matmul per data batch and are shared by every sigma of the
  grid, so a 10k x 10k x 784 evaluation is a few seconds on a CPU.
- Classification error (Table 2), the paper's clustering error (Table 3), and two
  common unsupervised-clustering accuracies (Hungarian one-to-one, majority vote).
- Reconstruction MSE.
"""

from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

#: sigma grid of the GAN authors' Parzen script (`numpy.logspace(-1., 0., 10)`).
DEFAULT_SIGMAS = tuple(float(s) for s in np.logspace(-1.0, 0.0, 10))
#: Data rows per matmul: 500 x 10k distances (20 MB) was fastest here (500/1000/2000).
DEFAULT_BATCH_SIZE = 500


# --------------------------------------------------------------------------- Parzen


@tf.function
def _parzen_batch(x, samples, samples_sq, inv_two_sigma_sq):
  """[len(sigmas), B]: log sum_i exp(-|x - s_i|^2 / 2 sigma^2) for a data batch.

  |x - s|^2 = |x|^2 - 2 x.s + |s|^2: one matmul per batch, shared by every sigma.
  Rounding can make a distance slightly negative; it is clipped at 0. The log-sum-exp
  is shifted by each row's nearest-sample distance, computed once for all sigmas
  (about twice as fast as `tf.reduce_logsumexp` per sigma, measured here).
  """
  x_sq = tf.reduce_sum(tf.square(x), axis=1, keepdims=True)              # [B, 1]
  dist = tf.maximum(x_sq - 2.0 * tf.matmul(x, samples, transpose_b=True)
                    + samples_sq[tf.newaxis, :], 0.0)                     # [B, N]
  nearest = tf.reduce_min(dist, axis=1, keepdims=True)                   # [B, 1]
  excess = dist - nearest                                                 # >= 0
  return tf.stack([-c * nearest[:, 0] + tf.math.log(tf.reduce_sum(tf.exp(-c * excess), 1))
                   for c in tf.unstack(inv_two_sigma_sq)])


def _as_matrix(name: str, array, dtype) -> np.ndarray:
  array = np.asarray(array)
  if array.ndim < 2:
    raise ValueError(f"{name} must be [N, D] (or [N, ...] images), got shape {array.shape}")
  array = array.reshape(len(array), -1).astype(dtype, copy=False)
  if not np.all(np.isfinite(array)):
    raise ValueError(f"{name} contains NaN or infinite values")
  return array


def parzen_log_likelihoods(samples, data, sigmas: Sequence[float],
                           batch_size: int = DEFAULT_BATCH_SIZE,
                           dtype=np.float32) -> np.ndarray:
  """Per-example Gaussian-KDE log-likelihoods of `data` for several bandwidths.

  Args:
    samples: [N, D] kernel centres (generated images, pixels in [0, 1]); any [N, ...]
      shape is flattened.
    data: [M, D] points to score, same D.
    sigmas: bandwidths (positive).
    batch_size: data rows per matmul; memory is ~batch_size * N * 4 bytes per temporary.
    dtype: np.float32 (fast) or np.float64 (exact to ~1e-10; several times slower).

  Returns:
    float64 array [len(sigmas), M]:
    log p(x) = logsumexp_i(-|x - s_i|^2 / 2 sigma^2) - log N - D/2 log(2 pi sigma^2).
  """
  samples, data = _as_matrix("samples", samples, dtype), _as_matrix("data", data, dtype)
  if samples.shape[1] != data.shape[1]:
    raise ValueError(f"samples have {samples.shape[1]} dimensions, data {data.shape[1]}")
  if len(samples) == 0:
    raise ValueError("need at least one sample")
  sigmas = np.asarray(sigmas, np.float64).reshape(-1)
  if len(sigmas) == 0 or np.any(~(sigmas > 0)):
    raise ValueError(f"sigmas must be a non-empty list of positive numbers, got {sigmas}")
  if batch_size <= 0:
    raise ValueError(f"batch_size must be positive, got {batch_size}")
  n, dim = samples.shape
  # Centring on the samples' mean leaves distances unchanged but shrinks |x|^2 and
  # |s|^2, so less precision is lost in the float32 cancellation.
  centre = samples.mean(axis=0, keepdims=True)
  samples_t = tf.constant(samples - centre)
  samples_sq = tf.reduce_sum(tf.square(samples_t), axis=1)
  inv_two_sigma_sq = tf.constant(0.5 / sigmas ** 2, dtype)
  parts = [np.zeros((len(sigmas), 0))]
  for start in range(0, len(data), batch_size):
    x = tf.constant(data[start:start + batch_size] - centre)
    parts.append(_parzen_batch(x, samples_t, samples_sq, inv_two_sigma_sq)
                 .numpy().astype(np.float64))
  lse = np.concatenate(parts, axis=1)
  return lse - np.log(n) - 0.5 * dim * np.log(2.0 * np.pi * sigmas ** 2)[:, None]


def parzen_log_likelihood(samples, data, sigma: float,
                          batch_size: int = DEFAULT_BATCH_SIZE,
                          dtype=np.float32) -> np.ndarray:
  """Per-example log p(x) [M] under a Gaussian KDE with bandwidth `sigma` on `samples`.

  See `parzen_log_likelihoods` for the arguments and the formula.
  """
  return parzen_log_likelihoods(samples, data, [sigma], batch_size, dtype)[0]


def choose_parzen_sigma(samples, validation, sigmas: Optional[Iterable[float]] = None,
                        batch_size: int = DEFAULT_BATCH_SIZE, dtype=np.float32
                        ) -> Tuple[float, Dict[float, float]]:
  """The sigma of the grid that maximises the mean validation log-likelihood.

  Args:
    samples: [N, D] kernel centres.
    validation: [M, D] held-out points (from the training set, never the test set).
    sigmas: candidate bandwidths; default `DEFAULT_SIGMAS` (the GAN authors' grid).

  Returns:
    (best sigma, {sigma: mean validation log-likelihood}) in grid order.
  """
  sigmas = DEFAULT_SIGMAS if sigmas is None else tuple(float(s) for s in sigmas)
  means = parzen_log_likelihoods(samples, validation, sigmas, batch_size, dtype).mean(axis=1)
  scores = {sigma: float(mean) for sigma, mean in zip(sigmas, means)}
  return sigmas[int(np.argmax(means))], scores


def parzen_evaluation(samples, validation, test, sigmas: Optional[Iterable[float]] = None,
                      batch_size: int = DEFAULT_BATCH_SIZE, dtype=np.float32
                      ) -> Dict[str, float]:
  """The Table 1 protocol: sigma on `validation`, then the test log-likelihood.

  Returns:
    {"parzen_ll": mean test log-likelihood, "parzen_se": its standard error
    std/sqrt(M) (population std, as in the GAN authors' script), "parzen_sigma": sigma}.
  """
  sigma, _ = choose_parzen_sigma(samples, validation, sigmas, batch_size, dtype)
  ll = parzen_log_likelihood(samples, test, sigma, batch_size, dtype)
  return {"parzen_ll": float(ll.mean()),
          "parzen_se": float(ll.std() / np.sqrt(len(ll))),
          "parzen_sigma": float(sigma)}


# -------------------------------------------------------------- labels and clusters


def _labels(name: str, values, length: Optional[int] = None) -> np.ndarray:
  """A 1-D array of non-negative integer ids (integral floats accepted), as int64."""
  values = np.asarray(values)
  if values.ndim != 1:
    raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
  if values.size and (np.any(values != np.round(values)) or values.min() < 0):
    raise ValueError(f"{name} must hold non-negative integers")
  if length is not None and len(values) != length:
    raise ValueError(f"{name} has {len(values)} entries, expected {length}")
  return values.astype(np.int64)


def classification_error_pct(predicted, labels) -> float:
  """Percentage of `predicted` class ids that differ from `labels`."""
  labels = _labels("labels", labels)
  predicted = _labels("predicted", predicted, len(labels))
  if len(labels) == 0:
    raise ValueError("no examples")
  return float(100.0 * np.mean(predicted != labels))


def cluster_labels_from_validation(val_cluster_probs, val_labels) -> np.ndarray:
  """[K] label of each cluster: that of the validation image with the highest q(y=k|x)."""
  probs = np.asarray(val_cluster_probs)
  if probs.ndim != 2 or len(probs) == 0:
    raise ValueError(f"val_cluster_probs must be a non-empty [N, K] array, got {probs.shape}")
  val_labels = _labels("val_labels", val_labels, len(probs))
  return val_labels[np.argmax(probs, axis=0)]


def clustering_error_pct(val_cluster_probs, val_labels, test_cluster_probs,
                         test_labels) -> float:
  """The paper's unsupervised clustering error (Table 3), in percent.

  Each cluster k takes the label of the validation image with the highest q(y=k|x);
  each test image goes to its argmax cluster; the error is the percentage of test
  images whose cluster's label is not their own.
  """
  cluster_label = cluster_labels_from_validation(val_cluster_probs, val_labels)
  test_probs = np.asarray(test_cluster_probs)
  if test_probs.ndim != 2 or test_probs.shape[1] != len(cluster_label):
    raise ValueError(f"test_cluster_probs must be [M, {len(cluster_label)}], "
                     f"got {test_probs.shape}")
  return classification_error_pct(cluster_label[np.argmax(test_probs, axis=1)], test_labels)


def confusion_matrix(assignments, labels, num_clusters: Optional[int] = None,
                     num_classes: Optional[int] = None) -> np.ndarray:
  """[num_clusters, num_classes] counts of (cluster, true label) pairs."""
  labels = _labels("labels", labels)
  assignments = _labels("assignments", assignments, len(labels))
  k = num_clusters or (int(assignments.max()) + 1 if len(assignments) else 0)
  c = num_classes or (int(labels.max()) + 1 if len(labels) else 0)
  if len(labels) and (assignments.max() >= k or labels.max() >= c):
    raise ValueError("a cluster or label id is out of range")
  counts = np.zeros((k, c), np.int64)
  np.add.at(counts, (assignments, labels), 1)
  return counts


def linear_sum_assignment(cost) -> Tuple[np.ndarray, np.ndarray]:
  """Minimum-cost assignment (Kuhn-Munkres with potentials, O(n^2 m)), numpy only.

  A drop-in for `scipy.optimize.linear_sum_assignment` (not a dependency here): for
  a rectangular [n, m] cost, every row (n <= m) or every column is assigned once.

  Returns:
    (row indices, column indices), sorted by row.
  """
  cost = np.asarray(cost, np.float64)
  if cost.ndim != 2:
    raise ValueError(f"cost must be 2-D, got shape {cost.shape}")
  if cost.shape[0] > cost.shape[1]:
    cols, rows = linear_sum_assignment(cost.T)
    order = np.argsort(rows)
    return rows[order], cols[order]
  n, m = cost.shape
  # 1-based arrays with a virtual column 0, after the classic e-maxx formulation.
  u, v = np.zeros(n + 1), np.zeros(m + 1)
  match = np.zeros(m + 1, np.int64)     # match[j] = row assigned to column j (0: none)
  way = np.zeros(m + 1, np.int64)
  for i in range(1, n + 1):
    match[0], j0 = i, 0
    minv = np.full(m + 1, np.inf)
    used = np.zeros(m + 1, bool)
    while True:
      used[j0] = True
      i0 = match[j0]
      free = ~used[1:]
      reduced = cost[i0 - 1] - u[i0] - v[1:]
      better = free & (reduced < minv[1:])
      minv[1:][better] = reduced[better]
      way[1:][better] = j0
      candidates = np.where(free, minv[1:], np.inf)
      j1 = int(np.argmin(candidates)) + 1
      delta = candidates[j1 - 1]
      u[match[used]] += delta
      v[used] -= delta
      minv[1:][free] -= delta
      j0 = j1
      if match[j0] == 0:
        break
    while j0:                           # augment along the alternating path
      j1 = way[j0]
      match[j0] = match[j1]
      j0 = j1
  cols = np.flatnonzero(match[1:]) + 1
  rows = match[cols] - 1
  order = np.argsort(rows)
  return rows[order], cols[order] - 1


def hungarian_accuracy(assignments, labels, num_clusters: Optional[int] = None,
                       num_classes: Optional[int] = None) -> float:
  """Accuracy (in [0, 1]) of the best one-to-one map from clusters to classes.

  With more clusters than classes (the paper's K = 16, 30), only `num_classes`
  clusters can be matched and every image in another cluster counts as an error;
  see `majority_accuracy` for the many-to-one variant. Computed on the evaluated set's
  own labels, as is usual for this metric (the paper's metric is
  `clustering_error_pct`).
  """
  counts = confusion_matrix(assignments, labels, num_clusters, num_classes)
  if counts.sum() == 0:
    raise ValueError("no examples")
  rows, cols = linear_sum_assignment(-counts)
  return float(counts[rows, cols].sum() / counts.sum())


def majority_accuracy(assignments, labels, num_clusters: Optional[int] = None,
                      num_classes: Optional[int] = None) -> float:
  """Accuracy (in [0, 1]) when each cluster predicts its most frequent true label."""
  counts = confusion_matrix(assignments, labels, num_clusters, num_classes)
  if counts.sum() == 0:
    raise ValueError("no examples")
  return float(counts.max(axis=1).sum() / counts.sum())


def cluster_head_agreement(head_digits, assignments, labels, num_clusters: int,
                           num_classes: int) -> dict:
  """How many cluster heads show their members' digit.

  `head_digits[k]` is what an independent classifier reads in cluster k's head (its
  prototype: the decoder at category k with z = 0); a cluster's members are the examples
  `assignments` puts in it, and their majority label is the digit the head should show.
  Only used clusters (at least one member) count. Returns {agreement_pct (of the used
  clusters), used, agreeing, distinct_head_digits}.
  """
  head_digits = _labels("head_digits", head_digits, num_clusters)
  used, majority = _member_majority(assignments, labels, num_clusters, num_classes)
  agreeing = int(np.sum(head_digits[used] == majority[used]))
  return {"agreement_pct": 100.0 * agreeing / len(used), "used": int(len(used)),
          "agreeing": agreeing, "distinct_head_digits": int(len(np.unique(head_digits[used])))}


def cluster_grid_agreement(cell_digits, assignments, labels, num_clusters: int,
                           num_classes: int) -> float:
  """The share (%) of a cluster grid's cells that show their row's digit.

  `cell_digits[k, j]` is what an independent classifier reads in the decoder at category
  k with the j-th style z drawn from the prior. Where the category carries the content
  every cell of row k shows its members' majority digit (100 %); where z carries it,
  each column keeps one digit down the rows. Only used clusters' rows count.
  """
  cells = np.asarray(cell_digits)
  if cells.ndim != 2 or len(cells) != num_clusters:
    raise ValueError(f"cell_digits: need [{num_clusters}, styles], got {list(cells.shape)}")
  used, majority = _member_majority(assignments, labels, num_clusters, num_classes)
  return 100.0 * float(np.mean(cells[used] == majority[used, None]))


def _member_majority(assignments, labels, num_clusters: int, num_classes: int):
  """(the used clusters' ids, each cluster's majority label) from its members."""
  counts = confusion_matrix(assignments, labels, num_clusters, num_classes)
  used = np.flatnonzero(counts.sum(axis=1) > 0)
  if not len(used):
    raise ValueError("no examples")
  return used, counts.argmax(axis=1)


def frechet_distance(features_a, features_b) -> float:
  """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two sets of feature
  rows, each summarised by its mean and covariance (as FID does with Inception features).

  The matrix square root's trace is taken through symmetric eigendecompositions
  (S_a^(1/2) S_b S_a^(1/2) is symmetric positive semi-definite), which stays real and
  stable where a general `sqrtm` returns complex round-off.
  """
  a = _as_matrix("features_a", features_a, np.float64)
  b = _as_matrix("features_b", features_b, np.float64)
  if a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
    raise ValueError(f"need two sets of >= 2 rows of equal width, got {a.shape}, {b.shape}")
  mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
  cov_a = np.atleast_2d(np.cov(a, rowvar=False))
  cov_b = np.atleast_2d(np.cov(b, rowvar=False))
  values, vectors = np.linalg.eigh(cov_a)
  root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
  middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
  trace_root = np.sum(np.sqrt(np.clip(middle, 0, None)))
  return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
               - 2.0 * trace_root)


# -------------------------------------------------------------------- reconstruction


def reconstruction_mse(images, reconstructions) -> float:
  """Mean squared error over every pixel of every image (pixels in [0, 1]).

  Note the training loss `mse` sums over pixels; this is the per-pixel mean.
  """
  images = np.asarray(images, np.float64)
  reconstructions = np.asarray(reconstructions, np.float64)
  if images.size == 0 or images.size != reconstructions.size or len(images) != len(
      reconstructions):
    raise ValueError(f"images {images.shape} and reconstructions {reconstructions.shape} "
                     "must be non-empty and hold the same number of pixels per image")
  return float(np.mean(np.square(images.reshape(len(images), -1)
                                 - reconstructions.reshape(len(images), -1))))
