"""experiments/tools/kmeans_baseline.py: k-means finds well-separated blobs, and the paper's rule
scores them as it scores an AAE's category head."""

import numpy as np

from tests import helpers

baseline = helpers.load_script("experiments/tools/kmeans_baseline.py", "kmeans_baseline")


def _blobs(n, seed):
  rng = np.random.default_rng(seed)
  labels = np.arange(n) % 3
  centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
  return centres[labels] + rng.normal(size=(n, 2)), labels


def test_kmeans_recovers_separated_blobs_and_the_paper_rule_scores_them():
  train, _ = _blobs(300, 0)
  (validation, val_labels), (test, test_labels) = _blobs(90, 1), _blobs(90, 2)
  centres = baseline.kmeans(train, 3, seed=0)
  assert sorted(np.round(centres).astype(int).tolist()) == [[0, 0], [0, 10], [10, 0]]
  result = baseline.score(centres, train, validation, test, val_labels, test_labels)
  assert result["paper_rule_test_error_pct"] == 0.0
  assert result["majority_test_accuracy"] == 1.0
  # Two clusters for three blobs: one blob is always labelled wrong.
  two = baseline.score(baseline.kmeans(train, 2, seed=0), train, validation, test,
                       val_labels, test_labels)
  assert two["paper_rule_test_error_pct"] >= 33.33  # rounded to 2 decimals


def test_cluster_probabilities_are_a_softmax_of_minus_squared_distances():
  probs = baseline.cluster_probabilities(np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]]),
                                         temperature=1.0)
  np.testing.assert_allclose(probs[0], np.array([1.0, np.exp(-4.0)]) / (1 + np.exp(-4.0)))
  np.testing.assert_allclose(probs[1], [0.5, 0.5])


def test_features_of_an_export_are_its_style_codes(tmp_path, monkeypatch):
  from aae_tf import configs, export, train
  monkeypatch.setenv("AAE_TF_CACHE", str(tmp_path / "cache"))
  config = configs.get("smoke").replace(
      data_dir=helpers.write_synthetic_mnist(tmp_path / "data"), validation_size=20,
      variant="clustering", num_categories=4, latent_dim=3, train_steps=2)
  train.run(config, str(tmp_path / "run"), log=lambda _: None)
  export.export_from_workdir(str(tmp_path / "run"), str(tmp_path / "export"))
  images = [np.random.default_rng(i).integers(0, 256, (n, 28, 28), dtype=np.uint8)
            for i, n in enumerate((12, 5, 7))]
  codes = baseline.features(f"export:{tmp_path / 'export'}", None, None, None, 0, 0, images)
  assert [c.shape for c in codes] == [(12, 3), (5, 3), (7, 3)]
  assert np.all(np.isfinite(codes[0])) and np.ptp(codes[0], axis=0).max() > 0
