"""Every variant in `aae_tf.variants.VARIANTS`: training step, phases, replicas, export.

Parameterised over the registry, so a new variant is tested as soon as it is added.
Per variant, one module fixture (`runs`) does the expensive work once:

  * trains 3 steps with `aae_tf.train.run` on MirroredStrategy over two logical CPUs
    (tests/conftest.py splits the CPU) on synthetic IDX data, and exports the newest
    checkpoint with `aae_tf.export.export_from_workdir`;
  * trains the same 3 steps in-process on one replica (a `Trainer` fed by
    `input_pipeline.distributed_train_dataset` with the labels `data.training_labels`
    gives, exactly as `train.run` does): one `train_loop` of 2 steps, then 1 more.
    The phase test then reuses this trainer (and its one trace of `train_loop`),
    stepping one optimizer at a time.

As each variant is exported, its SavedModels are handed to processes that run in the
background while the other variants train: ONE fresh interpreter for all variants
(`python -I -S`, cannot import `aae_tf`), and `saved_model_cli run` of `sample_class`
for every label-aware variant (the session loader TF Serving uses). They exchange data
with this process as .npy / JSON files.

Each MirroredStrategy here gets its own collective group (`_collective_key_base`, the
hook TF keeps for tests): a second MirroredStrategy over the same devices in one process
otherwise reuses group 1 and its instance keys, and TF's collective executor then
rejects the first all-reduce whose shape differs from what the earlier strategy sent
under that key ("Shape mismatch in the collective instance ...").
"""

import concurrent.futures
import itertools
import json
import math
import os
import sys
import traceback
import types

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import configs
from aae_tf import data
from aae_tf import export
from aae_tf import input_pipeline
from aae_tf import models
from aae_tf import train
from aae_tf import trainer as trainer_lib
from aae_tf import variants
from tests import helpers

NAMES = list(variants.VARIANTS)
LABEL_AWARE = [n for n in NAMES if variants.VARIANTS[n].label_aware]
CONDITIONED = [n for n in NAMES if variants.VARIANTS[n].prior_takes_label]

NUM_TRAIN, VALIDATION_SIZE = 120, 20
TRAIN_STEPS = 3
N = 5                         # batch of the probe inputs
ATOL = 1e-5
REPLICA_ATOL = 2e-6
SAMPLE_CLASS_SEED = 3         # the seed of the saved_model_cli `sample_class` call
PER_CLASS = 40                # sample_class draws per label for the prior test
SAMPLE_MANY = 400             # `sample` draws for the prior test
# Distinct per field, so the optimizer of each phase shows which field it was built from.
# Plain SGD: without optimizer slots a train step traces ~40% faster (7 variants, two
# strategies each); Adam on one and two replicas is covered by test_trainer.py.
OPTIMIZER = dict(optimizer="sgd", momentum=0.0, reconstruction_lr=0.02,
                 discriminator_lr=0.03, generator_lr=0.04, supervised_lr=0.05)
IMAGE = ["float32", [None, 28, 28, 1]]
LABELS = ["int32", [None]]
SEED = ["int64", []]


def variant_config(name, **changes):
  """`smoke` for variant `name`, with what that variant needs; then `changes`."""
  spec = variants.get_variant(name)
  config = configs.get("smoke").replace(variant=name, batch_size=8, latent_dim=2,
                                        **OPTIMIZER)
  if spec.prior_takes_label:
    config = config.replace(prior="gaussian_mixture")   # one 2-D component per class
  if spec.labels == "none" and spec.has_categories:
    config = config.replace(num_categories=16)          # clusters: exercise K != 10
  if spec.labels == "subset":
    config = config.replace(num_labels=40)              # 4 per class of ~10 per class
  return config.replace(**changes)


def lr_field(phase):
  if phase.startswith("discriminator_"):
    return "discriminator_lr"
  return {"reconstruction": "reconstruction_lr", "generator": "generator_lr",
          "supervised": "supervised_lr"}[phase]


_collective_bases = itertools.count(1000, 1000)


def mirrored_strategy():
  """MirroredStrategy over /cpu:0 and /cpu:1 in a collective group of its own."""
  cls = type("IsolatedMirroredStrategy", (tf.distribute.MirroredStrategy,),
             {"_collective_key_base": next(_collective_bases)})
  strategy = cls(["/cpu:0", "/cpu:1"])
  assert strategy.num_replicas_in_sync == 2
  return strategy


def network_variables(networks):
  return (list(networks.encoder.trainable_variables)
          + list(networks.decoder.trainable_variables)
          + [v for name in sorted(networks.discriminators)
             for v in networks.discriminators[name].trainable_variables])


def weights(networks):
  """Position-keyed values of every network variable (names repeat across layers)."""
  return {f"{i}:{v.name}": v.numpy().copy()
          for i, v in enumerate(network_variables(networks))}


# ------------------------------------------------------------ the fresh interpreter

# `python -I -S`, run from a directory outside the repository. argv[1]: JSON with the
# site-packages directories, the io directory and the variant names. For each variant,
# in order, it waits for <io>/<name>/ready.json (or FAILED, or <io>/ABORT), loads both
# SavedModels, writes every output as <io>/<name>/fresh/<call>_<key>.npy and a
# report.json with the signatures, the config asset and the outcome of bad inputs.
FRESH_SCRIPT = r'''
import json, os, sys, time, traceback
args = json.load(open(sys.argv[1]))
sys.path.extend(args["site_packages"])   # no .pth files: no editable-install hook
sys.modules["aae_tf"] = None             # and no normal install either
top = {"isolated": sys.flags.isolated, "no_site": sys.flags.no_site, "cwd": os.getcwd()}
try:
    import aae_tf
    top["aae_tf_importable"] = repr(aae_tf)
except ImportError:
    top["aae_tf_importable"] = None

import numpy as np
import tensorflow as tf

def describe(fn):
    _, kwargs = fn.structured_input_signature
    return {"inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in kwargs.items()},
            "outputs": {k: [v.dtype.name, v.shape.as_list()]
                        for k, v in fn.structured_outputs.items()}}

def error_of(fn, **inputs):
    try:
        fn(**inputs)
    except Exception as e:
        return {"type": type(e).__name__, "message": str(e)[:500]}
    return None

io = args["io_dir"]
for name in args["variants"]:
    vdir = os.path.join(io, name)
    ready = os.path.join(vdir, "ready.json")
    deadline = time.time() + args["timeout_s"]
    while not os.path.exists(ready):
        if (os.path.exists(os.path.join(vdir, "FAILED")) or os.path.exists(os.path.join(io, "ABORT"))
                or time.time() > deadline):
            break
        time.sleep(0.1)
    if not os.path.exists(ready):
        continue
    out = os.path.join(vdir, "fresh")
    os.makedirs(out, exist_ok=True)
    report = {}
    try:
        paths = json.load(open(ready))
        models = {m: tf.saved_model.load(paths[m]) for m in ("decoder", "encoder")}
        report["signatures"] = {m: {s: describe(f) for s, f in model.signatures.items()}
                                for m, model in models.items()}
        report["asset"] = {m: json.load(open(model.aae_config.asset_path.numpy().decode()))
                           for m, model in models.items()}
        K = report["asset"]["decoder"]["num_categories"]
        load = lambda f: tf.constant(np.load(os.path.join(vdir, f + ".npy")))
        def call(tag, fn, **inputs):
            for key, value in fn(**inputs).items():
                np.save(os.path.join(out, f"{tag}_{key}.npy"), value.numpy())
        dec, enc = models["decoder"].signatures, models["encoder"].signatures
        z, labels, images = load("z"), load("labels"), load("images")
        takes_label = "labels" in report["signatures"]["decoder"]["decode"]["inputs"]
        decode_inputs = dict(z=z, labels=labels) if takes_label else dict(z=z)
        call("decode", dec["decode"], **decode_inputs)
        call("decoder_serving_default", dec["serving_default"], **decode_inputs)
        seed = lambda s: tf.constant(s, tf.int64)
        for tag, n, s in (("sample", 4, 11), ("sample_again", 4, 11), ("sample_other", 4, 12),
                          ("sample_empty", 0, 11), ("sample_many", args["many"], 21)):
            call(tag, dec["sample"], num_samples=tf.constant(n, tf.int32), seed=seed(s))
        errors = {}
        bad = {"too_large": tf.constant([K], tf.int32), "negative": tf.constant([-1], tf.int32)}
        if takes_label:
            for tag, value in bad.items():
                errors[f"decode_{tag}"] = error_of(dec["decode"], z=z[:1], labels=value)
        if "sample_class" in dec:
            sc = dec["sample_class"]
            call("sample_class", sc, labels=labels, seed=seed(args["sample_class_seed"]))
            call("sample_class_again", sc, labels=labels, seed=seed(args["sample_class_seed"]))
            call("sample_class_other", sc, labels=labels, seed=seed(args["sample_class_seed"] + 1))
            call("sample_class_many", sc, labels=load("many_labels"), seed=seed(5))
            call("sample_class_empty", sc, labels=tf.zeros([0], tf.int32), seed=seed(5))
            for tag, value in bad.items():
                errors[f"sample_class_{tag}"] = error_of(sc, labels=value, seed=seed(0))
        call("encode", enc["encode"], images=images)
        call("encoder_serving_default", enc["serving_default"], images=images)
        if "classify" in enc:
            call("classify", enc["classify"], images=images)
        report["errors"] = errors
    except Exception:
        report["failure"] = traceback.format_exc()
    json.dump(report, open(os.path.join(out, "report.json"), "w"), indent=2)

top["aae_tf_in_sys_modules"] = sorted(m for m, mod in sys.modules.items()
                                      if m.split(".")[0] == "aae_tf" and mod is not None)
json.dump(top, open(os.path.join(io, "fresh_report.json"), "w"), indent=2)
'''


# ----------------------------------------------------------------------- fixtures


def _training_labels(spec, config, splits, log):
  """`data.training_labels` with the variant's label use, as `train.run` calls it."""
  return data.training_labels(splits, spec.labels, spec.supervised_phase,
                              config.data.num_labels, config.data.label_seed, log)


def _train_single_replica(config, splits):
  """The 3 steps of `train.run`, on one replica: a 2-step loop, then a 1-step loop."""
  spec = variants.get_variant(config.model.variant)
  strategy = tf.distribute.get_strategy()
  trainer = trainer_lib.Trainer(config, strategy,
                                len(splits.train.labels) // config.training.batch_size)
  train_labels, labelled = _training_labels(spec, config, splits, lambda _: None)

  def data_iterator():
    """The batches from the trainer's current step on (as train.run feeds them)."""
    return iter(input_pipeline.distributed_train_dataset(
        strategy, splits.train.images, train_labels, labelled=labelled,
        global_batch_size=config.training.batch_size, seed=config.training.seed,
        start_step=int(trainer.global_step.numpy())))

  iterator = data_iterator()
  metrics = trainer.train_loop(iterator, tf.constant(2, tf.int32))
  metrics = {k: float(v) for k, v in metrics.items()}
  trainer.train_loop(iterator, tf.constant(TRAIN_STEPS - 2, tf.int32))
  # Not kept: deleting a tf.data iterator that has been idle for a while can block
  # for many seconds (seen on a loaded machine), so iterators live only while used.
  del iterator
  return types.SimpleNamespace(trainer=trainer, data_iterator=data_iterator,
                               metrics=metrics, train_labels=train_labels,
                               labelled=labelled, weights=weights(trainer.networks),
                               step=int(trainer.global_step.numpy()))


def _restore_checkpoint(config, workdir):
  """Encoder, decoder and discriminators of the newest checkpoint, and its step."""
  spec = variants.get_variant(config.model.variant)
  networks = models.build_networks(config, spec)
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(**networks.checkpoint_items(), global_step=step)
  latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
  checkpoint.restore(latest).expect_partial().assert_existing_objects_matched()
  return networks, int(step.numpy())


def _write_probe_inputs(vdir, config):
  k = config.model.num_categories
  probe = np.random.default_rng(42)
  np.save(os.path.join(vdir, "z.npy"),
          probe.normal(size=(N, config.model.latent_dim)).astype(np.float32))
  np.save(os.path.join(vdir, "labels.npy"), np.array([0, k - 1, 1, k // 2, 2], np.int32))
  np.save(os.path.join(vdir, "many_labels.npy"),
          np.repeat(np.arange(k, dtype=np.int32), PER_CLASS))
  images, _ = helpers.synthetic_mnist_arrays(N, seed=99)
  np.save(os.path.join(vdir, "images.npy"), (images[..., None] / 255.0).astype(np.float32))


class _VariantRun(types.SimpleNamespace):
  def get(self):
    if self.error is not None:
      pytest.fail(f"training/export of {self.name} failed:\n{self.error}")
    return self


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  return tmp_path_factory.mktemp("variants")


@pytest.fixture(scope="module")
def data_dir(root):
  return helpers.write_synthetic_mnist(root / "data", num_train=NUM_TRAIN)


@pytest.fixture(scope="module")
def splits(data_dir):
  return data.load_splits("mnist", data_dir, validation_size=VALIDATION_SIZE,
                          allow_download=False, logger=lambda _: None)


@pytest.fixture(scope="module")
def runs(root, data_dir, splits):
  """Trains and exports every variant once; external checks run in the background."""
  io_dir, outside = root / "io", root / "outside_repo"
  io_dir.mkdir()
  outside.mkdir()
  script = outside / "check_exports.py"
  script.write_text(FRESH_SCRIPT)
  args_file = outside / "args.json"
  args_file.write_text(json.dumps({
      "site_packages": helpers.site_packages_dirs(), "io_dir": str(io_dir),
      "variants": NAMES, "sample_class_seed": SAMPLE_CLASS_SEED, "many": SAMPLE_MANY,
      "timeout_s": 600}))
  env = helpers.hermetic_env(root / "cache")
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
  background = {"fresh": pool.submit(
      helpers.run_command, [sys.executable, "-I", "-S", str(script), str(args_file)],
      cwd=str(outside), env=env, timeout=900)}
  cli = helpers.venv_script("saved_model_cli")
  results = {}
  try:
    with pytest.MonkeyPatch.context() as mp:
      mp.setenv("AAE_TF_CACHE", str(root / "cache"))
      mp.setenv("TFDS_DATA_DIR", str(root / "no_tfds"))
      for name in NAMES:
        spec = variants.get_variant(name)
        vdir = io_dir / name
        vdir.mkdir()
        run = _VariantRun(name=name, spec=spec, error=None, vdir=str(vdir))
        results[name] = run
        try:
          run.config = variant_config(name, data_dir=data_dir, validation_size=VALIDATION_SIZE,
                                      train_steps=TRAIN_STEPS, steps_per_loop=TRAIN_STEPS,
                                      checkpoint_every_steps=TRAIN_STEPS,
                                      summary_every_steps=TRAIN_STEPS)
          run.workdir = str(root / "work" / name)
          run.logs = []
          run.mirrored_metrics = train.run(run.config, run.workdir,
                                           strategy=mirrored_strategy(),
                                           log=run.logs.append)
          run.paths = export.export_from_workdir(run.workdir, str(root / "exports" / name))
          _write_probe_inputs(str(vdir), run.config)
          with open(vdir / "ready.tmp", "w") as f:
            json.dump(run.paths, f)
          os.replace(vdir / "ready.tmp", vdir / "ready.json")
          if spec.label_aware:
            run.cli_out = str(vdir / "cli")
            background[f"cli_{name}"] = pool.submit(
                helpers.run_command,
                [cli, "run", "--dir", run.paths["decoder"], "--tag_set", "serve",
                 "--signature_def", "sample_class",
                 "--inputs", f"labels={vdir / 'labels.npy'}",
                 "--input_exprs", f"seed={SAMPLE_CLASS_SEED}", "--outdir", run.cli_out],
                cwd=str(outside), env=env)
          run.networks, run.checkpoint_step = _restore_checkpoint(run.config, run.workdir)
          run.single = _train_single_replica(run.config, splits)
        except Exception:  # pylint: disable=broad-except
          run.error = traceback.format_exc()
          (vdir / "FAILED").write_text(run.error)
  except BaseException:
    (io_dir / "ABORT").write_text("fixture failed")
    pool.shutdown(wait=True)
    raise
  yield types.SimpleNamespace(variants=results, background=background, io_dir=str(io_dir))
  (io_dir / "ABORT").write_text("done")
  pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def fresh(runs):
  proc = runs.background["fresh"].result()
  assert proc.returncode == 0, helpers.describe(proc)
  with open(os.path.join(runs.io_dir, "fresh_report.json")) as f:
    return json.load(f)


def fresh_results(runs, fresh, name):
  """(report, load) of the fresh interpreter's checks of variant `name`."""
  del fresh  # only waited for
  run = runs.variants[name].get()
  out = os.path.join(run.vdir, "fresh")
  with open(os.path.join(out, "report.json")) as f:
    report = json.load(f)
  assert "failure" not in report, report.get("failure")
  return report, lambda tag: np.load(os.path.join(out, tag + ".npy"))


def probe(run, tag):
  return np.load(os.path.join(run.vdir, tag + ".npy"))


# -------------------------------------------------- 1. one train_loop, finite metrics


@pytest.mark.parametrize("name", NAMES)
def test_train_loop_gives_finite_metrics(runs, name):
  run = runs.variants[name].get()
  trainer = run.single.trainer
  assert trainer.spec is variants.VARIANTS[name]
  for metrics in (run.single.metrics, run.mirrored_metrics):
    assert set(metrics) == set(trainer.metric_names), sorted(metrics)
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    assert not bad, bad
    for key, value in metrics.items():
      if "accuracy" in key:
        assert 0.0 <= value <= 1.0, (key, value)
    assert metrics.get("cluster_head_penalty", 0.0) >= 0.0
  expected = {"reconstruction_loss", "generator_loss"}
  for adversary in run.spec.adversaries:
    expected |= {f"discriminator_{adversary.name}_{m}"
                 for m in ("loss", "accuracy_real", "accuracy_fake")}
  if run.spec.supervised_phase:
    expected |= {"supervised_loss", "supervised_accuracy"}
  if run.spec.cluster_head_penalty:
    expected.add("cluster_head_penalty")
  assert set(trainer.metric_names) == expected
  assert run.single.step == TRAIN_STEPS
  # What the label streams held (the same as train.run feeds).
  unlabelled = int((run.single.train_labels == -1).sum())
  if run.spec.labels == "subset" and not run.spec.supervised_phase:
    assert unlabelled == len(run.single.train_labels) - run.config.data.num_labels > 0
  else:
    assert unlabelled == 0
  if run.spec.supervised_phase:
    assert len(run.single.labelled[0]) == len(run.single.labelled[1]) == run.config.data.num_labels
  else:
    assert run.single.labelled is None


# ------------------------------------------------- 2. each phase changes only its own


@pytest.mark.parametrize("name", NAMES)
def test_each_phase_changes_only_its_own_variables(runs, name):
  """Only one optimizer steps (learning rate > 0) at a time; 2 steps per phase.

  The optimizers' learning rates are the config fields (checked first); zeroing the
  others through the optimizers' learning-rate variables keeps the one traced
  `train_loop` (no retrace per phase).
  """
  run = runs.variants[name].get()
  trainer, spec = run.single.trainer, run.spec
  net = trainer.networks
  ids = lambda vs: {id(v) for v in vs}
  expected_phases = {"reconstruction", "generator"} | {
      f"discriminator_{a.name}" for a in spec.adversaries}
  if spec.supervised_phase:
    expected_phases.add("supervised")
  assert set(trainer.phase_variables) == expected_phases
  assert set(trainer.optimizers) == expected_phases
  phases = trainer.phase_variables
  assert ids(phases["reconstruction"]) == ids(net.encoder.trainable_variables) | ids(
      net.decoder.trainable_variables)
  assert ids(phases["generator"]) == ids(net.encoder.trainable_variables)
  for adversary in spec.adversaries:
    assert ids(phases[f"discriminator_{adversary.name}"]) == ids(
        net.discriminators[adversary.name].trainable_variables)
  if spec.supervised_phase:   # the trunk and the y head: not the z head
    assert ids(phases["supervised"]) == ids(net.encoder.trunk.trainable_variables) | ids(
        net.encoder.heads["y"].trainable_variables)
    assert not ids(phases["supervised"]) & ids(net.encoder.heads["z"].trainable_variables)

  rates = {phase: float(opt.learning_rate.numpy()) for phase, opt in trainer.optimizers.items()}
  for phase, rate in rates.items():
    assert rate == pytest.approx(run.config.value(lr_field(phase))), phase

  everything = network_variables(net)
  assert len(ids(everything)) == len(everything)
  iterator = run.single.data_iterator()
  try:
    for phase in phases:
      for other, optimizer in trainer.optimizers.items():
        optimizer.learning_rate = rates[other] if other == phase else 0.0
      own = ids(phases[phase])
      before = [v.numpy().copy() for v in everything]
      trainer.train_loop(iterator, tf.constant(2, tf.int32))
      changed = [not np.array_equal(v.numpy(), old) for v, old in zip(everything, before)]
      intruded = [v.name for v, c in zip(everything, changed) if c and id(v) not in own]
      assert not intruded, f"{name}: phase {phase} changed variables it does not own: {intruded}"
      still = [v.name for v, c in zip(everything, changed) if not c and id(v) in own]
      assert not still, f"{name}: phase {phase} did not update its variables {still}"
  finally:
    del iterator
    for phase, optimizer in trainer.optimizers.items():
      optimizer.learning_rate = rates[phase]
  assert trainer.train_loop.experimental_get_tracing_count() == 1   # no retrace per phase
  assert tf.distribute.get_strategy().num_replicas_in_sync == 1


# ------------------------------------------------ 3. one replica == two replicas


@pytest.mark.parametrize("name", NAMES)
def test_two_replicas_match_one_at_the_same_global_batch(runs, name):
  run = runs.variants[name].get()
  assert run.checkpoint_step == run.single.step == TRAIN_STEPS
  assert any("2 replica(s)" in line for line in run.logs), run.logs[:5]
  two = weights(run.networks)   # train.run on MirroredStrategy, from its checkpoint
  one = run.single.weights
  assert one.keys() == two.keys()
  for key in one:
    np.testing.assert_allclose(two[key], one[key], atol=REPLICA_ATOL,
                               err_msg=f"{name}: {key}")
  # Not vacuous: training moved the weights away from their initial values.
  initial = weights(models.build_networks(run.config, run.spec))
  assert any(not np.allclose(initial[k], one[k], atol=1e-4) for k in one)


# ---------------------------------------------------------- 4. the export contract


def expected_signatures(spec, config):
  code = ["float32", [None, config.model.latent_dim]]
  probs = ["float32", [None, config.model.num_categories]]
  decode = {"inputs": dict({"z": code}, **({"labels": LABELS} if spec.decoder_takes_label
                                            else {})),
            "outputs": {"images": IMAGE}}
  sample_outputs = {"images": IMAGE, "z": code}
  if spec.label_aware:
    sample_outputs["labels"] = LABELS
  decoder = {"decode": decode, "serving_default": decode,
             "sample": {"inputs": {"num_samples": ["int32", []], "seed": SEED},
                        "outputs": sample_outputs}}
  if spec.label_aware:
    decoder["sample_class"] = {"inputs": {"labels": LABELS, "seed": SEED},
                               "outputs": {"images": IMAGE, "z": code}}
  encode = {"inputs": {"images": IMAGE},
            "outputs": dict({"z": code}, **({"label_probs": probs} if spec.has_categories
                                             else {}))}
  encoder = {"encode": encode, "serving_default": encode}
  if spec.has_categories:
    encoder["classify"] = {"inputs": {"images": IMAGE},
                           "outputs": {"labels": LABELS, "label_probs": probs}}
  return {"decoder": decoder, "encoder": encoder}


def expected_decode(run, z, labels=None):
  category = (tf.one_hot(labels, run.config.model.num_categories)
              if run.spec.decoder_takes_label else None)
  logits = run.networks.decoder(tf.constant(z), category)
  return tf.reshape(tf.sigmoid(logits), [-1, 28, 28, 1]).numpy()


def expected_encode(run, images):
  codes = run.networks.encoder(tf.constant(images))
  if not run.spec.has_categories:
    return {"z": codes["z"].numpy()}
  probs = tf.nn.softmax(codes["y"])
  z = codes["z"]
  if run.spec.decoder_input == "cluster_heads+z":
    z = tf.matmul(probs, run.networks.decoder.cluster_heads) + z
  return {"z": z.numpy(), "label_probs": probs.numpy()}


def test_fresh_interpreter_cannot_import_the_project(runs, fresh):
  assert fresh["isolated"] == 1 and fresh["no_site"] == 1
  assert fresh["aae_tf_importable"] is None, fresh
  assert fresh["aae_tf_in_sys_modules"] == []
  assert not os.path.realpath(fresh["cwd"]).startswith(os.path.realpath(helpers.REPO_ROOT))


@pytest.mark.parametrize("name", NAMES)
def test_export_signatures_and_asset(runs, fresh, name):
  report, _ = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  assert report["signatures"] == expected_signatures(run.spec, run.config)
  for module in ("decoder", "encoder"):
    asset = report["asset"][module]
    assert asset["variant"] == name
    assert asset["num_categories"] == run.config.model.num_categories
    assert asset["latent_dim"] == run.config.model.latent_dim
    assert asset["training_step"] == TRAIN_STEPS
    assert asset["label_aware"] == run.spec.label_aware
    assert asset["has_categories"] == run.spec.has_categories
    assert asset["decoder_input"] == run.spec.decoder_input
  for module in ("decoder", "encoder"):
    assert sorted(os.listdir(os.path.dirname(run.paths[module]))) == [str(TRAIN_STEPS)]


@pytest.mark.parametrize("name", NAMES)
def test_export_decode_and_encode(runs, fresh, name):
  report, load = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  k, d = run.config.model.num_categories, run.config.model.latent_dim
  z, labels, images = probe(run, "z"), probe(run, "labels"), probe(run, "images")

  want = expected_decode(run, z, labels)
  for tag in ("decode", "decoder_serving_default"):
    got = load(f"{tag}_images")
    assert got.dtype == np.float32 and got.shape == (N, 28, 28, 1)
    np.testing.assert_allclose(got, want, atol=ATOL, err_msg=tag)
  if run.spec.decoder_takes_label:
    assert not np.allclose(want, expected_decode(run, z, (labels + 1) % k)), (
        "decode ignores its labels")

  want = expected_encode(run, images)
  for tag in ("encode", "encoder_serving_default"):
    assert load(f"{tag}_z").shape == (N, d)
    np.testing.assert_allclose(load(f"{tag}_z"), want["z"], atol=ATOL, err_msg=tag)
    if run.spec.has_categories:
      probs = load(f"{tag}_label_probs")
      assert probs.dtype == np.float32 and probs.shape == (N, k)
      np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
      assert (probs >= 0).all()
      np.testing.assert_allclose(probs, want["label_probs"], atol=ATOL)

  if run.spec.has_categories:
    classes, probs = load("classify_labels"), load("classify_label_probs")
    assert classes.dtype == np.int32 and classes.shape == (N,)
    assert probs.dtype == np.float32 and probs.shape == (N, k)
    np.testing.assert_array_equal(classes, probs.argmax(axis=1))
    np.testing.assert_allclose(probs, load("encode_label_probs"), atol=ATOL)
    assert ((classes >= 0) & (classes < k)).all()


@pytest.mark.parametrize("name", NAMES)
def test_export_sample(runs, fresh, name):
  report, load = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  k, d = run.config.model.num_categories, run.config.model.latent_dim
  keys = {"images", "z"} | ({"labels"} if run.spec.label_aware else set())
  for tag in ("sample", "sample_again", "sample_other"):
    assert load(f"{tag}_images").shape == (4, 28, 28, 1)
    assert load(f"{tag}_z").shape == (4, d)
  present = {key for key in ("images", "z", "labels")
             if os.path.exists(os.path.join(run.vdir, "fresh", f"sample_{key}.npy"))}
  assert present == keys
  for key in keys:   # same seed, same samples
    np.testing.assert_array_equal(load(f"sample_{key}"), load(f"sample_again_{key}"))
  assert not np.allclose(load("sample_z"), load("sample_other_z"))
  assert load("sample_empty_images").shape == (0, 28, 28, 1)
  assert load("sample_empty_z").shape == (0, d)
  if run.spec.label_aware:
    assert load("sample_empty_labels").shape == (0,)
    many = load("sample_many_labels")   # drawn uniformly from [0, K)
    assert ((many >= 0) & (many < k)).all() and len(np.unique(many)) >= k // 2
  labels = load("sample_labels") if run.spec.label_aware else None
  if labels is not None:
    assert labels.dtype == np.int32 and labels.shape == (4,)
    assert ((labels >= 0) & (labels < k)).all()
  # The images are the decoding of the returned codes (and labels).
  np.testing.assert_allclose(load("sample_images"),
                             expected_decode(run, load("sample_z"), labels), atol=ATOL)


@pytest.mark.parametrize("name", NAMES)
def test_export_sample_class(runs, fresh, name):
  report, load = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  if not run.spec.label_aware:
    assert "sample_class" not in report["signatures"]["decoder"]
    return
  labels = probe(run, "labels")
  for key in ("images", "z"):
    np.testing.assert_array_equal(load(f"sample_class_{key}"),
                                  load(f"sample_class_again_{key}"))
  assert load("sample_class_z").shape == (N, run.config.model.latent_dim)
  assert load("sample_class_images").shape == (N, 28, 28, 1)
  assert not np.allclose(load("sample_class_z"), load("sample_class_other_z"))
  assert load("sample_class_empty_images").shape == (0, 28, 28, 1)
  assert load("sample_class_empty_z").shape == (0, run.config.model.latent_dim)
  np.testing.assert_allclose(load("sample_class_images"),
                             expected_decode(run, load("sample_class_z"), labels), atol=ATOL)


@pytest.mark.parametrize("name", NAMES)
def test_export_rejects_out_of_range_labels(runs, fresh, name):
  report, _ = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  expected = set()
  if run.spec.decoder_takes_label:
    expected |= {"decode_too_large", "decode_negative"}
  if run.spec.label_aware:
    expected |= {"sample_class_too_large", "sample_class_negative"}
  errors = report["errors"]
  assert set(errors) == expected
  for call, error in errors.items():
    assert error is not None, f"{name}: {call} accepted an out-of-range label"
    assert error["type"] == "InvalidArgumentError", (call, error)
    assert "labels must be" in error["message"], (call, error)


@pytest.mark.parametrize("name", LABEL_AWARE)
def test_saved_model_cli_run_sample_class(runs, fresh, name):
  """The session loader (TF Serving's) gives what the fresh interpreter got."""
  _, load = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  proc = runs.background[f"cli_{name}"].result()
  assert proc.returncode == 0, helpers.describe(proc)
  for key in ("images", "z"):
    path = os.path.join(run.cli_out, f"{key}.npy")
    assert os.path.exists(path), helpers.describe(proc)
    got = np.load(path)
    want = load(f"sample_class_{key}")
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=ATOL, err_msg=key)


# ------------------------------------------------------------------- 5. priors


def nearest_component(prior, z):
  k = prior["num_components"]
  angles = 2 * np.pi * np.arange(k) / k
  centres = prior["shift"] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  return ((z[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)


@pytest.mark.parametrize("name", CONDITIONED)
def test_sample_class_draws_from_the_labels_component(runs, fresh, name):
  """GaussianMixture2D: the code of label k lies nearest component k's centre."""
  report, load = fresh_results(runs, fresh, name)
  run = runs.variants[name]
  prior = report["asset"]["decoder"]["prior"]
  assert prior["name"] == "gaussian_mixture"
  k = prior["num_components"]
  assert k == run.config.model.num_categories
  z = load("sample_class_many_z")
  labels = np.repeat(np.arange(k), PER_CLASS)
  assert z.shape == (len(labels), 2)
  hits = nearest_component(prior, z) == labels
  assert hits.mean() >= 0.9, hits.mean()   # ~98% for the default mixture
  per_class = hits.reshape(k, PER_CLASS).mean(axis=1)
  assert per_class.min() >= 0.7, per_class
  # `sample` draws a label uniformly and then a code from that label's component.
  z, labels = load("sample_many_z"), load("sample_many_labels")
  assert z.shape == (SAMPLE_MANY, 2) and labels.shape == (SAMPLE_MANY,)
  assert (nearest_component(prior, z) == labels).mean() >= 0.9


# ------------------------------------------------------------- 6. label subsets


@pytest.mark.parametrize("name", NAMES)
def test_training_labels(splits, name):
  spec = variants.get_variant(name)
  config = variant_config(name)
  logs = []
  labels, labelled = _training_labels(spec, config, splits, logs.append)
  truth = splits.train.labels
  assert len(labels) == len(truth)
  validation = {image.tobytes() for image in splits.validation.images}
  test_set = {image.tobytes() for image in splits.test.images}
  training = {image.tobytes() for image in splits.train.images}
  assert validation and not validation & training   # the split itself is disjoint
  per_class = config.data.num_labels // 10

  if spec.labels != "subset":
    np.testing.assert_array_equal(labels, truth)
    assert labelled is None
    return

  if spec.supervised_phase:
    np.testing.assert_array_equal(labels, truth)   # the main stream keeps its labels
    images, subset_labels = labelled
    assert len(images) == len(subset_labels) == config.data.num_labels
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28, 1)
    np.testing.assert_array_equal(np.bincount(subset_labels, minlength=10),
                                  [per_class] * 10)
    chosen = [image.tobytes() for image in images]
    assert len(set(chosen)) == config.data.num_labels
    by_image = {image.tobytes(): label for image, label in
                zip(splits.train.images, truth)}
    assert all(c in by_image for c in chosen), "labelled images not from the train split"
    assert [by_image[c] for c in chosen] == list(subset_labels), "wrong labels"
  else:   # label-conditioned: one stream, the unlabelled ones are -1
    assert labelled is None
    kept = np.flatnonzero(labels >= 0)
    assert set(np.unique(labels)) <= set(range(-1, 10))
    assert len(kept) == config.data.num_labels
    np.testing.assert_array_equal(labels[kept], truth[kept])
    np.testing.assert_array_equal(np.bincount(labels[kept], minlength=10), [per_class] * 10)
    chosen = [splits.train.images[i].tobytes() for i in kept]
  assert not set(chosen) & validation, "a labelled image is in the validation split"
  assert not set(chosen) & test_set, "a labelled image is in the test split"
  assert any(str(config.data.num_labels) in line for line in logs), logs

  # Seeded: the same seed gives the same subset, another seed another one.
  again, again_labelled = _training_labels(spec, config, splits, lambda _: None)
  other, other_labelled = _training_labels(
      spec, config.replace(label_seed=config.data.label_seed + 1), splits, lambda _: None)
  if spec.supervised_phase:
    np.testing.assert_array_equal(again_labelled[0], labelled[0])
    assert not np.array_equal(other_labelled[0], labelled[0])
  else:
    np.testing.assert_array_equal(again, labels)
    assert not np.array_equal(other, labels)
