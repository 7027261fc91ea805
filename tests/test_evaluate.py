"""The evaluation module: metrics on known answers, the evaluation logic on fake
exports, and `python -m aae_tf.evaluate` end to end on a tiny trained smoke model.

Metric checks: the Parzen estimator against a brute-force numpy implementation and
against the closed form of its large-sample limit (a KDE with bandwidth sigma on
samples from N(mu, s^2 I) tends to N(mu, (s^2 + sigma^2) I)); sigma selection on a
toy where the right sigma is known; clustering metrics on hand-made cases.
The evaluation logic runs on fake exports (plain Python objects with the export's
signatures) whose answers are known: an oracle encoder, label-exact decoders.
"""

import concurrent.futures
import itertools
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import configs
from aae_tf import data
from aae_tf import evaluate
from aae_tf import exported as exported_lib
from aae_tf import report
from aae_tf import metrics
from aae_tf import train
from aae_tf import variants
from tests import helpers


def brute_force_parzen(samples, x, sigma):
  """log (1/N) sum_i N(x; s_i, sigma^2 I), directly, in float64."""
  d = ((x[:, None, :] - samples[None, :, :]) ** 2).sum(-1)
  a = -d / (2 * sigma ** 2)
  top = a.max(axis=1, keepdims=True)
  lse = top[:, 0] + np.log(np.exp(a - top).sum(axis=1))
  dim = samples.shape[1]
  return lse - np.log(len(samples)) - 0.5 * dim * np.log(2 * np.pi * sigma ** 2)


# ------------------------------------------------------------------------ Parzen


@pytest.mark.parametrize("dtype,atol", [(np.float32, 1e-4), (np.float64, 1e-9)])
def test_parzen_matches_brute_force(dtype, atol):
  rng = np.random.default_rng(0)
  samples, x = rng.uniform(size=(57, 9)), rng.uniform(size=(23, 9))
  sigmas = [0.05, 0.2, 1.0]
  # A batch size that does not divide 23: the last, short batch must count too.
  got = metrics.parzen_log_likelihoods(samples, x, sigmas, batch_size=5, dtype=dtype)
  assert got.shape == (3, 23)
  for row, sigma in zip(got, sigmas):
    np.testing.assert_allclose(row, brute_force_parzen(samples, x, sigma), atol=atol, rtol=0)
    np.testing.assert_allclose(
        metrics.parzen_log_likelihood(samples, x, sigma, batch_size=100, dtype=dtype),
        row, atol=atol, rtol=0)


def test_parzen_accepts_image_shaped_inputs():
  rng = np.random.default_rng(1)
  samples, x = rng.uniform(size=(20, 4, 4, 1)), rng.uniform(size=(6, 4, 4))
  got = metrics.parzen_log_likelihood(samples, x, 0.3, dtype=np.float64)
  np.testing.assert_allclose(got, brute_force_parzen(samples.reshape(20, 16),
                                                     x.reshape(6, 16), 0.3), atol=1e-9)


def test_parzen_large_sample_limit_matches_closed_form():
  """E_x log N(x; mu, (s^2+sigma^2) I) for x ~ N(mu, s^2 I), the KDE's limit."""
  rng = np.random.default_rng(2)
  dim, mu, s, sigma = 3, np.array([0.5, -1.0, 2.0]), 0.7, 0.3
  samples = mu + s * rng.normal(size=(20000, dim))
  x = mu + s * rng.normal(size=(2000, dim))
  ll = metrics.parzen_log_likelihood(samples, x, sigma)
  var = s ** 2 + sigma ** 2
  expected = -0.5 * dim * np.log(2 * np.pi * var) - 0.5 * dim * s ** 2 / var
  standard_error = ll.std() / np.sqrt(len(ll))
  assert abs(ll.mean() - expected) < 4 * standard_error + 0.01, (ll.mean(), expected)
  # And close to the true density (sigma -> 0 limit) within the smoothing it adds.
  true_ll = -0.5 * dim * np.log(2 * np.pi * s ** 2) - 0.5 * dim
  assert abs(ll.mean() - true_ll) < 0.5


def test_choose_sigma_picks_the_bandwidth_of_the_data():
  """Validation data = samples' distribution blurred by N(0, 0.4^2): sigma = 0.4 fits."""
  rng = np.random.default_rng(3)
  samples = 0.5 * rng.normal(size=(4000, 3))
  validation = 0.5 * rng.normal(size=(3000, 3)) + 0.4 * rng.normal(size=(3000, 3))
  grid = [0.1, 0.2, 0.4, 0.8, 1.6]
  best, scores = metrics.choose_parzen_sigma(samples, validation, grid)
  assert best == 0.4
  assert list(scores) == grid
  assert scores[0.4] == max(scores.values())


def test_default_sigma_grid_is_the_gan_authors():
  np.testing.assert_allclose(metrics.DEFAULT_SIGMAS, np.logspace(-1, 0, 10))


def test_parzen_evaluation_uses_validation_sigma_and_reports_standard_error():
  rng = np.random.default_rng(4)
  samples, validation = rng.uniform(size=(300, 5)), rng.uniform(size=(100, 5))
  test = rng.uniform(size=(80, 5))
  grid = [0.1, 0.3, 1.0]
  result = metrics.parzen_evaluation(samples, validation, test, grid, dtype=np.float64)
  assert set(result) == {"parzen_ll", "parzen_se", "parzen_sigma"}
  sigma = grid[int(np.argmax([brute_force_parzen(samples, validation, g).mean()
                              for g in grid]))]
  assert result["parzen_sigma"] == sigma
  ll = brute_force_parzen(samples, test, sigma)
  assert result["parzen_ll"] == pytest.approx(ll.mean(), abs=1e-9)
  assert result["parzen_se"] == pytest.approx(ll.std() / np.sqrt(80), abs=1e-9)


@pytest.mark.parametrize("samples,x,sigmas", [
    (np.zeros((5, 3)), np.zeros((2, 4)), [0.1]),   # dimensions differ
    (np.zeros((5, 3)), np.zeros((2, 3)), [0.0]),   # sigma must be positive
    (np.zeros((5, 3)), np.zeros((2, 3)), []),
    (np.zeros((0, 3)), np.zeros((2, 3)), [0.1]),
    (np.full((5, 3), np.nan), np.zeros((2, 3)), [0.1]),
])
def test_parzen_rejects_bad_input(samples, x, sigmas):
  with pytest.raises(ValueError):
    metrics.parzen_log_likelihoods(samples, x, sigmas)


# ---------------------------------------------------------- labels and clusters


def test_classification_error():
  assert metrics.classification_error_pct([0, 1, 2, 3], [0, 1, 1, 3]) == 25.0
  assert metrics.classification_error_pct(np.array([5, 5]), np.array([5, 5])) == 0.0
  with pytest.raises(ValueError):
    metrics.classification_error_pct([0, 1], [0, 1, 2])
  with pytest.raises(ValueError):
    metrics.classification_error_pct([0, -1], [0, 1])


def _one_hot(ids, k, confidence=0.9):
  probs = np.full((len(ids), k), (1 - confidence) / (k - 1))
  probs[np.arange(len(ids)), ids] = confidence
  return probs


def test_clustering_of_a_perfect_and_a_permuted_perfect_clustering():
  rng = np.random.default_rng(5)
  val_labels, test_labels = rng.integers(0, 10, 200), rng.integers(0, 10, 300)
  # Identity: cluster = class.
  assert metrics.clustering_error_pct(_one_hot(val_labels, 10), val_labels,
                                      _one_hot(test_labels, 10), test_labels) == 0.0
  # 16 clusters, classes scattered over 10 of them in a shuffled order.
  cluster_of = rng.permutation(16)[:10]
  assert metrics.clustering_error_pct(_one_hot(cluster_of[val_labels], 16), val_labels,
                                      _one_hot(cluster_of[test_labels], 16),
                                      test_labels) == 0.0
  assigned = cluster_of[test_labels]
  assert metrics.hungarian_accuracy(assigned, test_labels, 16, 10) == 1.0
  assert metrics.majority_accuracy(assigned, test_labels, 16, 10) == 1.0


def test_clustering_error_uses_the_most_confident_validation_image():
  """Cluster 0 holds mostly class 1 in validation, but its most confident member is
  class 0, so (the paper's rule) cluster 0 means class 0."""
  val_probs = np.array([[0.99, 0.01], [0.6, 0.4], [0.6, 0.4], [0.1, 0.9]])
  val_labels = np.array([0, 1, 1, 1])
  np.testing.assert_array_equal(
      metrics.cluster_labels_from_validation(val_probs, val_labels), [0, 1])
  test_probs = np.array([[0.8, 0.2], [0.7, 0.3], [0.3, 0.7], [0.2, 0.8]])
  test_labels = np.array([0, 1, 1, 0])
  # Test images 2 (cluster 0 -> class 0, true 1) and 4 (cluster 1 -> 1, true 0) err.
  assert metrics.clustering_error_pct(val_probs, val_labels, test_probs,
                                      test_labels) == 50.0


def test_hungarian_and_majority_on_a_hand_made_case():
  assigned, labels = [0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1]
  np.testing.assert_array_equal(metrics.confusion_matrix(assigned, labels),
                                [[2, 0], [1, 1], [0, 2]])
  # One-to-one: clusters 0 -> 0 and 2 -> 1 (4 images); cluster 1 is left unmatched.
  assert metrics.hungarian_accuracy(assigned, labels) == pytest.approx(4 / 6)
  # Many-to-one: cluster 1 takes either of its labels: 2 + 1 + 2.
  assert metrics.majority_accuracy(assigned, labels) == pytest.approx(5 / 6)
  # A relabelled perfect clustering is perfect for both.
  assert metrics.hungarian_accuracy([3, 3, 1, 0], [0, 0, 1, 2]) == 1.0


def test_linear_sum_assignment_is_optimal():
  """Against brute force over every assignment, square and rectangular both ways."""
  rng = np.random.default_rng(6)
  for _ in range(60):
    n, m = (int(v) for v in rng.integers(1, 6, size=2))
    cost = rng.integers(0, 9, size=(n, m)).astype(float)
    rows, cols = metrics.linear_sum_assignment(cost)
    assert len(rows) == min(n, m)
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
    if n <= m:
      best = min(cost[np.arange(n), list(p)].sum() for p in itertools.permutations(range(m), n))
    else:
      best = min(cost[list(p), np.arange(m)].sum() for p in itertools.permutations(range(n), m))
    assert cost[rows, cols].sum() == best


def test_reconstruction_mse():
  images = np.zeros((2, 28, 28, 1))
  recon = np.zeros((2, 28, 28))
  recon[0, 0, :4] = 1.0
  assert metrics.reconstruction_mse(images, recon) == pytest.approx(4 / (2 * 784))
  with pytest.raises(ValueError):
    metrics.reconstruction_mse(images, recon[:1])


# ------------------------------------------------------------- fake exports

K_CLUSTERS = 16


@pytest.fixture(scope="module")
def splits():
  def split(num, seed):
    images, labels = helpers.synthetic_mnist_arrays(num, seed)
    return data.Split(images, labels.astype(np.int32))
  return data.DataSplits(train=split(400, 10), validation=split(60, 11), test=split(80, 12),
                         source="synthetic", class_names=tuple("0123456789"))


def _fake_export(variant, splits, num_categories=10, cluster_of=None, shift=0):
  """An object with the export's signatures: an oracle encoder (it looks the true
  label up), decoders that draw training images of the requested class (of class
  label + `shift` for `sample_class`)."""
  spec = variants.get_variant(variant)
  label_of = {image.tobytes(): int(label)
              for part in (splits.train, splits.validation, splits.test)
              for image, label in zip(part.images, part.labels)}
  pool = [splits.train.images[splits.train.labels == k] for k in range(10)]
  cluster_of = np.arange(10) if cluster_of is None else cluster_of

  def images_of(classes):
    return tf.constant(np.stack([pool[c % 10][0] for c in classes]) / 255.0,
                       tf.float32)

  def encode(images):
    pixels = np.round(images.numpy()[..., 0] * 255).astype(np.uint8)
    y = np.array([label_of[p.tobytes()] for p in pixels])
    out = {"z": tf.constant(np.stack([y, -y], axis=1), tf.float32)}
    if spec.has_categories:
      out["label_probs"] = tf.constant(_one_hot(cluster_of[y], num_categories), tf.float32)
    return out

  def classify(images):
    probs = encode(images)["label_probs"]
    return {"labels": tf.argmax(probs, axis=1, output_type=tf.int32), "label_probs": probs}

  def decode(z, labels=None):
    classes = labels.numpy() if labels is not None else np.round(z.numpy()[:, 0]).astype(int)
    return {"images": images_of(classes)}

  def sample(num_samples, seed):
    rng = np.random.default_rng(int(seed))
    labels = rng.integers(0, num_categories, int(num_samples))
    out = {"images": images_of(labels), "z": tf.constant(rng.normal(size=(len(labels), 2)),
                                                         tf.float32)}
    if spec.label_aware:
      out["labels"] = tf.constant(labels, tf.int32)
    return out

  def sample_class(labels, seed):
    del seed
    return {"images": images_of(labels.numpy() + shift),
            "z": tf.zeros([len(labels), 2])}

  encoder = types.SimpleNamespace(signatures={"encode": encode, "classify": classify})
  decoder = types.SimpleNamespace(signatures={"decode": decode, "sample": sample,
                                              "sample_class": sample_class})
  info = {"variant": variant, "num_categories": num_categories, "dataset": "mnist",
          "training_step": 0, "config": {"validation_size": len(splits.validation.labels)}}
  return exported_lib.Exported(encoder, decoder, info, version=1, paths={})


def _evaluate(exported, splits, **kwargs):
  kwargs.setdefault("classifier_epochs", 2)
  return evaluate.evaluate(exported, splits, num_parzen_samples=100, log=lambda _: None,
                           **kwargs)


def test_which_metrics_apply_to_which_variant():
  expected = {  # variant: (classification, clustering, style)
      "unsupervised": (False, False, False), "label_conditioned": (False, False, True),
      "supervised": (False, False, True), "semi_supervised": (True, False, True),
      "clustering": (False, True, False), "dim_reduction": (False, True, False),
      "dim_reduction_semi_supervised": (True, False, True)}
  assert set(expected) == set(variants.VARIANTS)
  for name, flags in expected.items():
    exported = types.SimpleNamespace(spec=variants.get_variant(name), num_categories=10)
    got = evaluate.applicable(exported, num_classes=10)
    assert (got["classification"], got["clustering"], got["style"]) == flags, name
    # Unlabelled data: nothing to classify, cluster against or judge style by.
    assert not any(evaluate.applicable(exported, num_classes=0).values()), name
  clustering_k16 = types.SimpleNamespace(spec=variants.get_variant("semi_supervised"),
                                         num_categories=16)
  assert evaluate.applicable(clustering_k16, num_classes=10)["clustering"]


def test_evaluate_oracle_clustering(splits):
  cluster_of = np.random.default_rng(7).permutation(K_CLUSTERS)[:10]
  exported = _fake_export("clustering", splits, K_CLUSTERS, cluster_of)
  results, arrays = _evaluate(exported, splits)
  assert results["clustering_error_pct"] == 0.0
  assert results["hungarian_accuracy"] == 1.0
  assert results["majority_accuracy"] == 1.0
  assert results["clusters_used"] == 10
  assert "test_error_pct" not in results and "style_accuracy_pct" not in results
  for key in evaluate.REQUIRED_KEYS:
    assert np.isfinite(results[key]), key
  assert results["parzen_sigma"] in metrics.DEFAULT_SIGMAS
  assert results["recon_decoder_input"] == "z + argmax label"
  assert arrays["samples"]["images"].shape == (100, 28, 28, 1)


def test_evaluate_oracle_classifier(splits):
  results, _ = _evaluate(_fake_export("semi_supervised", splits), splits,
                         classifier_epochs=0)
  assert results["test_error_pct"] == 0.0
  assert results["validation_error_pct"] == 0.0
  assert "clustering_error_pct" not in results and "style_accuracy_pct" not in results


@pytest.mark.parametrize("shift,expected", [(0, 100.0), (1, 0.0)])
def test_style_accuracy_counts_images_of_the_requested_class(splits, shift, expected):
  results, _ = _evaluate(_fake_export("supervised", splits, shift=shift), splits)
  assert results["classifier_test_accuracy_pct"] == 100.0   # the synthetic task is easy
  assert results["style_accuracy_pct"] == expected
  # The decoder reads the label: reconstruction gets the true one, so it is exact here
  # up to the per-class template.
  assert results["recon_decoder_input"] == "z + true label"


def test_reconstruct_dim_reduction_removes_the_cluster_head():
  """encode gives W_c q(y|x) + z; decode adds W_c[label]: the round trip must not add
  W_c twice. A linear fake: the decoder's image is sigmoid(representation @ A)."""
  rng = np.random.default_rng(8)
  heads = rng.normal(size=(20, 2)).astype(np.float32)
  mix, readout = rng.normal(size=(784, 20)) / 30, rng.normal(size=(2, 784))
  style_map = rng.normal(size=(784, 2)) / 30

  def encode(images):
    x = images.numpy().reshape(len(images), -1)
    probs = tf.nn.softmax(x @ mix).numpy()
    return {"z": tf.constant(probs @ heads + x @ style_map, tf.float32),
            "label_probs": tf.constant(probs, tf.float32)}

  def decode(z, labels):
    representation = z.numpy() + heads[labels.numpy()]
    return {"images": tf.constant(tf.sigmoid(representation @ readout).numpy().reshape(
        -1, 28, 28, 1), tf.float32)}

  encoder = types.SimpleNamespace(signatures={"encode": encode},
                                  cluster_heads=tf.Variable(heads))
  decoder = types.SimpleNamespace(signatures={"decode": decode})
  exported = exported_lib.Exported(encoder, decoder, {"variant": "dim_reduction",
                                                      "num_categories": 20}, 1, {})
  images, labels = helpers.synthetic_mnist_arrays(7, seed=3)
  recon, _ = exported_lib.reconstruct(exported, images, labels)
  representation = encode(tf.constant(images[..., None] / 255.0))["z"].numpy()
  want = 1 / (1 + np.exp(-(representation @ readout)))
  np.testing.assert_allclose(recon.reshape(7, -1), want, atol=1e-5)


# ------------------------------------------------------- loading, reports, figures


def test_find_version(tmp_path):
  for name, versions in (("encoder", (1, 3, 7)), ("decoder", (1, 3))):
    for v in versions:
      (tmp_path / name / str(v)).mkdir(parents=True)
  (tmp_path / "decoder" / ".tmp-xyz").mkdir()
  assert exported_lib.find_version(str(tmp_path)) == 3       # newest present for both
  assert exported_lib.find_version(str(tmp_path), 1) == 1
  with pytest.raises(evaluate.EvaluationError, match="version 7"):
    exported_lib.find_version(str(tmp_path), 7)
  with pytest.raises(evaluate.EvaluationError, match="encoder/<version>"):
    exported_lib.find_version(str(tmp_path / "nothing"))


def test_loss_curves_and_reports(tmp_path):
  log = tmp_path / "metrics.jsonl"
  log.write_text("".join(json.dumps({"reconstruction_loss": 1.0 / s, "gen_loss": s,
                                     "step": s, "train_seconds": 1.5}) + "\n"
                         for s in (3, 6, 9)) + "\n")
  series = report.read_metrics_log(str(log))
  assert series["gen_loss"] == [(3, 3.0), (6, 6.0), (9, 9.0)]
  assert "train_seconds" not in series   # a duration, summed, not plotted
  assert report.training_seconds(str(log)) == pytest.approx(4.5)
  image = report.plot_curves(series)   # the drawing itself: tests/test_report.py
  assert image.mode == "RGB" and image.size == (3 * 320, 200)
  results = {"parzen_ll": 123.456, "parzen_se": 2.0, "parzen_sigma": 0.2,
             "recon_mse": 0.01, "variant": "unsupervised", "timings_s": {"sample_s": 1.5}}
  paths = report.write_results(results, str(tmp_path / "out" / "r.json"))
  assert json.loads(open(paths["json"]).read()) == results
  table = open(paths["markdown"]).read()
  assert paths["markdown"].endswith("r.md")
  assert "| parzen_ll (± s.e.) | 123.46 ± 2.00 |" in table
  assert "| recon_mse | 0.01 |" in table and "| time: sample_s | 1.50 |" in table


def test_run_needs_a_model_and_an_output(tmp_path):
  with pytest.raises(evaluate.EvaluationError, match="--export_dir"):
    evaluate.run(str(tmp_path / "r.json"))
  with pytest.raises(evaluate.EvaluationError, match="--output"):
    evaluate.run("", export_dir=str(tmp_path))


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  """Trains and exports `smoke` in-process on synthetic MNIST.

  Meanwhile a command line with a missing export directory runs in a subprocess:
  training is mostly single-threaded tracing, so the second core is free for it.
  """
  root = tmp_path_factory.mktemp("evaluate_run")
  env = helpers.hermetic_env(root / "cache")
  bad_cmd = ["-m", "aae_tf.evaluate", f"--output={root / 'bad.json'}",
             f"--export_dir={root / 'no_such_dir'}"]
  data_dir = helpers.write_synthetic_mnist(root / "data")
  workdir, export_dir = str(root / "workdir"), str(root / "exports")
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    bad = pool.submit(helpers.run_module, bad_cmd, cwd=helpers.REPO_ROOT, env=env)
    with pytest.MonkeyPatch.context() as mp:
      mp.setenv("AAE_TF_CACHE", str(root / "cache"))
      mp.setenv("TFDS_DATA_DIR", str(root / "no_tfds"))
      config = configs.get("smoke").replace(data_dir=data_dir, validation_size=10,
                                            batch_size=10, export_dir=export_dir)
      train.run(config, workdir, log=lambda _: None)
    return types.SimpleNamespace(root=root, workdir=workdir, export_dir=export_dir,
                                 env=env, bad_proc=bad.result())


def test_evaluate_command_line_error_is_one_line(smoke_run):
  bad = smoke_run.bad_proc
  assert bad.returncode == 2, helpers.describe(bad)
  last = bad.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and "no_such_dir" in last, helpers.describe(bad)
  assert "Traceback" not in bad.stderr, helpers.describe(bad)


def test_evaluate_command_line(smoke_run):
  """`--export_dir` (+ `--workdir` for loss curves) in a subprocess; meanwhile,
  in-process, `--workdir` alone (a temporary export of the newest checkpoint): the same
  checkpoint and seed must give the same numbers."""
  root = smoke_run.root
  output = root / "eval" / "results.json"
  cmd = ["-m", "aae_tf.evaluate", f"--export_dir={smoke_run.export_dir}",
         f"--workdir={smoke_run.workdir}", f"--output={output}", "--num_parzen_samples=50"]
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    future = pool.submit(helpers.run_module, cmd, cwd=helpers.REPO_ROOT, env=smoke_run.env)
    in_process = evaluate.run(str(root / "eval_workdir" / "r.json"),
                              workdir=smoke_run.workdir, num_parzen_samples=50,
                              log=lambda _: None)
    proc = future.result()

  assert proc.returncode == 0, helpers.describe(proc)
  results = json.loads(output.read_text())
  for key in evaluate.REQUIRED_KEYS:
    assert isinstance(results[key], float) and np.isfinite(results[key]), key
  assert results["parzen_sigma"] in metrics.DEFAULT_SIGMAS
  assert results["variant"] == "unsupervised" and results["training_step"] == 6
  assert results["num_parzen_samples"] == 50 and results["version"] == 6
  assert results["num_validation"] == 10 and results["num_test"] == 40
  assert not results["validation_overlaps_training"]
  assert not {"test_error_pct", "clustering_error_pct", "hungarian_accuracy"} & set(results)
  assert "| parzen_ll (± s.e.) |" in proc.stdout
  assert (root / "eval" / "results.md").read_text().startswith("| metric | value |")
  for name in ("samples", "latent", "loss_curves"):
    assert os.path.getsize(root / "eval" / "figures" / f"{name}.png") > 0, name

  for key in evaluate.REQUIRED_KEYS:
    assert in_process[key] == pytest.approx(results[key], rel=1e-5, abs=1e-6), key
  assert in_process["export_dir"] is None and in_process["training_step"] == 6


def test_a_half_written_metrics_line_costs_only_that_line(tmp_path):
  from aae_tf import report
  log = tmp_path / "metrics.jsonl"
  log.write_text(json.dumps({"step": 1, "loss": 2.0, "train_seconds": 1.5}) + "\n"
                 + "garbage\n"
                 + json.dumps({"step": 2, "loss": 1.0, "train_seconds": 1.5}) + "\n"
                 + '{"step": 3, "loss": 0.')  # a run killed mid-write
  warnings = []
  series = report.read_metrics_log(str(log), warn=warnings.append)
  assert series["loss"] == [(1, 2.0), (2, 1.0)]
  assert [w.split(": ")[0] for w in warnings] == [f"{log}:2", f"{log}:4"]
  assert report.training_seconds(str(log)) == 3.0
