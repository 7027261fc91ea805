"""Training and serving throughput of the paper's MNIST model, with baselines.

  python benchmarks/benchmark.py [--quick] [--output=benchmarks/BENCHMARKS.md]

Each configuration runs in a fresh subprocess (fair start, own peak memory), one after
another (never two at once: the machine is the instrument). Training is timed on the
paper model (784-1000-1000-8 encoder, mirrored decoder, 8-1000-1000-1 discriminator,
three updates per batch) over windows of steps after a warm-up window, and over whole
epochs of 60,000 images including the input pipeline. Baselines, written here:

  keras_classic   three compiled Keras models and `train_on_batch` per batch, the
                  recipe most AAE repositories use, with `trainable` toggled around
                  each update so Keras 3 really trains the discriminator (checked
                  below: the worker reports whether its weights changed);
  plain_function  one `@tf.function` step per batch (three tapes), no XLA, Keras layers.

Timings are medians; ratios are against baselines measured in the same run.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List

import numpy as np
from absl import app
from absl import flags

# A tool beside the package: run from a checkout, it finds aae_tf there if not installed.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from aae_tf import report  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_bool("quick", False, "Fewer, shorter repetitions (a smoke run of the benchmark).")
flags.DEFINE_string("output", "benchmarks/BENCHMARKS.md", "Markdown table to write ('' = none).")
flags.DEFINE_string("json_output", "benchmarks/benchmarks.json", "JSON results to write ('' = none).")
flags.DEFINE_list("configs", None, "Only these configurations (names as in the table).")
flags.DEFINE_string("worker", None, "Internal: run one configuration and print JSON.")
flags.DEFINE_integer("worker_batch_size", 100, "Internal (worker): batch size.")

EPOCH_IMAGES = 60_000
PAPER_MODEL = dict(latent_dim=8, encoder_hidden=(1000, 1000), decoder_hidden=(1000, 1000),
                   discriminator_hidden=(1000, 1000))

# name -> (kind, config overrides). "ours" configurations go through aae_tf.trainer with
# the `paper_table1` preset (the README's first command: the paper's SGD recipe, dropout,
# Gaussian posterior) on the paper model; `aae_tf_default` changes nothing else, so its
# precision is `auto` (bf16 where the CPU has AMX or AVX512-BF16).
TRAINING_CONFIGS = {
    "keras_classic": ("keras_classic", {}),
    "plain_function": ("plain_function", {}),
    "aae_tf_default": ("ours", {}),
    "aae_tf_default_adam": ("ours", dict(optimizer="adam")),
    "aae_tf": ("ours", dict(jit=False, precision="float32")),
    "aae_tf_xla": ("ours", dict(jit=True, precision="float32")),
    "aae_tf_bf16": ("ours", dict(jit=False, precision="mixed_bfloat16")),
    "aae_tf_xla_updates": ("ours", dict(jit_updates=True, precision="float32")),
    "aae_tf_bf16_xla_updates": ("ours", dict(jit_updates=True, precision="mixed_bfloat16")),
}


def _synthetic_mnist(n=EPOCH_IMAGES, seed=0):
  """Random uint8 images: throughput does not depend on pixel values."""
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def _peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- the two baselines ----------------------------------------------------------------

def _keras_models():
  import keras
  def mlp(sizes, in_dim, out_act):
    layers = [keras.Input((in_dim,))]
    model = keras.Sequential(layers + [keras.layers.Dense(s, "relu") for s in sizes[:-1]]
                             + [keras.layers.Dense(sizes[-1], out_act)])
    return model
  encoder = mlp([1000, 1000, 8], 784, None)
  decoder = mlp([1000, 1000, 784], 8, "sigmoid")
  discriminator = mlp([1000, 1000, 1], 8, "sigmoid")
  return encoder, decoder, discriminator


def _keras_classic_trainer(batch_size):
  """The classic recipe: autoencoder, discriminator and combined models, train_on_batch."""
  import keras
  encoder, decoder, discriminator = _keras_models()
  images = keras.Input((784,))
  autoencoder = keras.Model(images, decoder(encoder(images)))
  autoencoder.compile(keras.optimizers.Adam(1e-4), "mse")
  discriminator.compile(keras.optimizers.Adam(5e-5), "binary_crossentropy")
  real, fake = np.ones((batch_size, 1), np.float32), np.zeros((batch_size, 1), np.float32)
  discriminator.trainable = False
  generator = keras.Model(images, discriminator(encoder(images)))
  generator.compile(keras.optimizers.Adam(5e-5), "binary_crossentropy")
  rng = np.random.default_rng(1)

  def step(x):
    autoencoder.train_on_batch(x, x)
    z_fake = encoder.predict_on_batch(x)
    z_real = (5.0 * rng.normal(size=z_fake.shape)).astype(np.float32)
    # Keras 3 reads `trainable` at each call: the Keras-2 habit of freezing once
    # before compiling the combined model leaves the discriminator never trained
    # (measured: its weights stay bit-identical). Toggle around each update.
    discriminator.trainable = True
    discriminator.train_on_batch(np.concatenate([z_real, z_fake]), np.concatenate([real, fake]))
    discriminator.trainable = False
    generator.train_on_batch(x, real)

  return step, discriminator


def _plain_function_trainer(batch_size):
  """One @tf.function per batch with three tapes over Keras layers; no XLA."""
  import keras
  import tensorflow as tf
  encoder, decoder, discriminator = _keras_models()
  opts = [keras.optimizers.Adam(lr) for lr in (1e-4, 5e-5, 5e-5)]
  bce = keras.losses.BinaryCrossentropy()

  @tf.function
  def step(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(decoder(encoder(x)) - x))
    variables = encoder.trainable_variables + decoder.trainable_variables
    opts[0].apply_gradients(zip(tape.gradient(loss, variables), variables))
    z_real = 5.0 * tf.random.normal([tf.shape(x)[0], 8])
    with tf.GradientTape() as tape:
      d_loss = (bce(tf.ones([tf.shape(x)[0], 1]), discriminator(z_real))
                + bce(tf.zeros([tf.shape(x)[0], 1]), discriminator(encoder(x))))
    opts[1].apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_variables),
                                discriminator.trainable_variables))
    with tf.GradientTape() as tape:
      g_loss = bce(tf.ones([tf.shape(x)[0], 1]), discriminator(encoder(x)))
    opts[2].apply_gradients(zip(tape.gradient(g_loss, encoder.trainable_variables),
                                encoder.trainable_variables))
  return step, discriminator


def _baseline_epoch_fn(kind, batch_size, images):
  """(run(num_batches, start_batch), discriminator) for a baseline."""
  import tensorflow as tf
  make = _keras_classic_trainer if kind == "keras_classic" else _plain_function_trainer
  step, discriminator = make(batch_size)
  flat = images.reshape(len(images), 784)
  dataset = (tf.data.Dataset.from_tensor_slices(flat).shuffle(10_000, seed=0).repeat()
             .batch(batch_size, drop_remainder=True)
             .map(lambda x: tf.cast(x, tf.float32) / 255.0).prefetch(tf.data.AUTOTUNE))
  iterator = iter(dataset)
  as_numpy = kind == "keras_classic"

  def run(num_batches):
    for _ in range(num_batches):
      batch = next(iterator)
      step(batch.numpy() if as_numpy else batch)
  return run, discriminator


# --- ours -------------------------------------------------------------------------------

def _ours_epoch_fn(overrides, batch_size, images, labels):
  import tensorflow as tf
  from aae_tf import configs, input_pipeline, trainer as trainer_lib
  config = configs.get("paper_table1").replace(batch_size=batch_size, **PAPER_MODEL,
                                               **overrides)
  strategy = tf.distribute.get_strategy()
  trainer = trainer_lib.Trainer(config, strategy, len(images) // batch_size)
  iterator = iter(input_pipeline.distributed_train_dataset(
      strategy, images, labels, global_batch_size=batch_size, seed=0, start_step=0))
  per_call = config.runtime.steps_per_loop
  last = {}

  def run(num_batches):
    done = 0
    while done < num_batches:
      n = min(per_call, num_batches - done)
      last.update({k: float(v) for k, v in trainer.train_loop(iterator, tf.constant(n)).items()})
      done += n
  return run, trainer, last


def worker(name: str, batch_size: int, quick: bool) -> Dict:
  """Times one configuration in this process; returns a JSON-able dict."""
  kind, overrides = TRAINING_CONFIGS[name]
  images, labels = _synthetic_mnist()
  if kind == "ours":
    run, handle, last = _ours_epoch_fn(overrides, batch_size, images, labels)
  else:
    run, handle = _baseline_epoch_fn(kind, batch_size, images)
    before = [w.copy() for w in handle.get_weights()]
  window = max(4, (4_000 if quick else 10_000) // batch_size)  # batches per window
  run(window)  # warm-up: tracing, XLA compilation, pipeline fill
  windows = []
  for _ in range(2 if quick else 3):
    start = time.perf_counter()
    run(window)
    windows.append(window * batch_size / (time.perf_counter() - start))
  epochs = []
  for _ in range(0 if quick else 1):
    start = time.perf_counter()
    run(EPOCH_IMAGES // batch_size)
    epochs.append(time.perf_counter() - start)
  result = {"name": name, "batch_size": batch_size,
            "images_per_second": statistics.median(windows), "windows": windows,
            "epoch_seconds": statistics.median(epochs) if epochs else None,
            "epochs": epochs, "peak_rss_mb": _peak_rss_mb()}
  if kind == "ours":
    result["reconstruction_loss"] = last.get("reconstruction_loss")
  else:  # prove the baseline's discriminator really trains (the Keras 3 trap)
    result["discriminator_trained"] = bool(any(
        not np.array_equal(a, b) for a, b in zip(before, handle.get_weights())))
  return result


# --- serving ---------------------------------------------------------------------------

def serving_benchmark(quick: bool) -> Dict:
  """Throughput of the exported decoder `sample` and encoder `encode` (loaded SavedModel)."""
  import tempfile
  import tensorflow as tf
  from aae_tf import configs, export, models, variants
  config = configs.get("paper_table1")
  networks = models.build_networks(config, variants.get_variant(config.model.variant))
  out = tempfile.mkdtemp(prefix="aae_bench_export_")
  paths = export.export_models(networks, config, step=1, export_dir=out)
  decoder = tf.saved_model.load(paths["decoder"]).signatures["sample"]
  encoder = tf.saved_model.load(paths["encoder"]).signatures["encode"]
  results = {}
  for n in (1, 100, 10_000):
    calls = max(3, (20_000 if not quick else 2_000) // n)
    decoder(num_samples=tf.constant(n), seed=tf.constant(0, tf.int64))  # warm-up
    start = time.perf_counter()
    for i in range(calls):
      decoder(num_samples=tf.constant(n), seed=tf.constant(i, tf.int64))["images"].numpy()
    results[f"sample_{n}_images_per_second"] = calls * n / (time.perf_counter() - start)
  images = tf.constant(np.random.default_rng(0).uniform(size=(10_000, 28, 28, 1)),
                       tf.float32)
  encoder(images=images)
  start = time.perf_counter()
  for _ in range(3):
    encoder(images=images)["z"].numpy()
  results["encode_10000_images_per_second"] = 30_000 / (time.perf_counter() - start)
  try:
    from aae_tf import metrics
    samples = decoder(num_samples=tf.constant(10_000), seed=tf.constant(0, tf.int64))
    flat = tf.reshape(samples["images"], [10_000, -1]).numpy()
    test = np.random.default_rng(1).uniform(size=(10_000, 784)).astype(np.float32)
    metrics.parzen_log_likelihood(flat[:100], test[:100], 0.2)  # warm-up
    start = time.perf_counter()
    metrics.parzen_log_likelihood(flat, test, 0.2)
    results["parzen_10k_x_10k_seconds"] = time.perf_counter() - start
  except ImportError:
    results["parzen_10k_x_10k_seconds"] = None
  return results


# --- orchestration ---------------------------------------------------------------------

def _run_worker(args: List[str]) -> Dict:
  out = subprocess.run([sys.executable, os.path.abspath(__file__), *args],
                       capture_output=True, text=True, check=False,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  if out.returncode != 0:
    raise RuntimeError(f"benchmark worker {args} failed:\n{out.stderr[-3000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def _machine() -> str:
  cpu = "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  import tensorflow as tf
  from aae_tf import precision
  flags_ = precision.cpu_flags()
  chosen, why = precision.resolve("auto")
  return (f"{cpu}, {os.cpu_count()} cores, bf16 CPU flags: {', '.join(flags_) or 'none'} "
          f"(`--precision=auto` chooses {chosen}: {why.split(': ', 1)[-1]}); "
          f"TensorFlow {tf.__version__}")


def markdown(training: List[Dict], serving: Dict, machine: str, command: str) -> str:
  lines = [f"Machine: {machine}.  ", f"Command: `{command}`", "",
           "| configuration | batch | images/s (median) | s / 60k-image epoch | "
           "vs keras_classic | vs plain_function | peak RSS MB |", "|---|---|---|---|---|---|---|"]
  for batch in sorted({r["batch_size"] for r in training}):
    rows = {r["name"]: r for r in training if r["batch_size"] == batch}
    base = {k: rows[k]["images_per_second"] for k in ("keras_classic", "plain_function")
            if k in rows}
    for name, r in rows.items():
      ratio = lambda k: f"{r['images_per_second'] / base[k]:.2f}×" if k in base else "—"
      epoch = f"{r['epoch_seconds']:.1f}" if r["epoch_seconds"] else "—"
      lines.append(f"| {name} | {batch} | {r['images_per_second']:,.0f} | {epoch} | "
                   f"{ratio('keras_classic')} | {ratio('plain_function')} | "
                   f"{r['peak_rss_mb']:,.0f} |")
  lines += ["", "| serving (loaded SavedModel) | value |", "|---|---|"]
  for key, value in serving.items():
    lines.append(f"| {key} | {'—' if value is None else f'{value:,.2f}'} |")
  return "\n".join(lines) + "\n"


def write_report(path: str, table: str) -> None:
  """Rewrites the table in `path` (between its markers), keeping the prose around it."""
  report.write_between_markers(path, "benchmark table", table, "Benchmarks")


def main(argv):
  del argv
  if FLAGS.worker:
    result = (serving_benchmark(FLAGS.quick) if FLAGS.worker == "serving"
              else worker(FLAGS.worker, FLAGS.worker_batch_size, FLAGS.quick))
    print(json.dumps(result))
    return
  names = FLAGS.configs or list(TRAINING_CONFIGS)
  training = []
  for batch in (100, 1000):
    for name in names:
      args = [f"--worker={name}", f"--worker_batch_size={batch}"] + (["--quick"] if FLAGS.quick else [])
      result = _run_worker(args)
      training.append(result)
      print(f"{name:16s} batch {batch:5d}: {result['images_per_second']:8,.0f} images/s",
            flush=True)
  serving = _run_worker(["--worker=serving"] + (["--quick"] if FLAGS.quick else []))
  command = "python benchmarks/benchmark.py" + (" --quick" if FLAGS.quick else "")
  table = markdown(training, serving, _machine(), command)
  print(table)
  if FLAGS.output:
    write_report(FLAGS.output, table)
  if FLAGS.json_output:
    with open(FLAGS.json_output, "w") as f:
      json.dump({"training": training, "serving": serving}, f, indent=2)


if __name__ == "__main__":
  app.run(main)
