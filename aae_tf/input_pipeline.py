"""tf.data pipelines over in-memory uint8 images.

The training order is a pure function of (seed, epoch): epoch e visits the training
images in the permutation drawn from stateless seed (seed, e). So the position in the
data is just the global step — a resumed run skips to it and sees exactly the batches
an uninterrupted run would have seen — and no shuffle buffer is needed.

Each global batch of indices is split into one row per replica; an input pipeline
yields only the rows of the replicas it feeds. Replica r of N therefore always gets
rows [r*B/N, (r+1)*B/N) of the global batch, whatever N is, which is what makes 1 and
N replicas compute the same step.
"""

import numpy as np
import tensorflow as tf

from aae_tf import rng


def epoch_permutation(num_examples: int, seed: int, epoch) -> tf.Tensor:
  """The order in which epoch `epoch` visits the examples (int32 [num_examples])."""
  keys = rng.uniform(
      [num_examples], rng.fold_in(rng.make_seed(seed), epoch))
  return tf.argsort(keys, stable=True)


def train_dataset(images: np.ndarray, labels: np.ndarray, *, global_batch_size: int,
                  seed: int, start_step: int = 0, num_replicas: int = 1,
                  first_replica: int = 0, replicas_here: int = 1,
                  what: str = "training examples") -> tf.data.Dataset:
  """Endless per-replica batches of {"image": [b, *example shape], "label": int32 [b]}.

  Args:
    images: uint8 (0..255) or float32 (0..1) examples [N, ...]; `unit_float` maps a
      batch to [0, 1].
    labels: int [N].
    global_batch_size: batch over all replicas; must be divisible by num_replicas.
    seed: data-order seed.
    start_step: global step to start at (skips the batches before it).
    num_replicas: replicas in the whole job.
    first_replica, replicas_here: which consecutive replicas this pipeline feeds.
    what: how to name the examples in errors.
  """
  num_examples = len(images)
  per_replica = global_batch_size // num_replicas
  steps_per_epoch = num_examples // global_batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"batch size {global_batch_size} exceeds the {num_examples} {what}; "
                     "lower --batch_size")
  images_t = tf.constant(images)
  labels_t = tf.constant(np.asarray(labels, np.int32))

  def epoch_batches(epoch):
    order = epoch_permutation(num_examples, seed, epoch)[:steps_per_epoch * global_batch_size]
    rows = tf.reshape(order, [steps_per_epoch, num_replicas, per_replica])
    return tf.data.Dataset.from_tensor_slices(
        rows[:, first_replica:first_replica + replicas_here])

  start_epoch, offset = divmod(start_step, steps_per_epoch)
  dataset = (tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max)
             .flat_map(epoch_batches)
             .skip(offset)
             .unbatch()  # one element per replica, in replica order
             .map(lambda idx: {"image": tf.gather(images_t, idx),
                               "label": tf.gather(labels_t, idx)},
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
             .prefetch(tf.data.AUTOTUNE))
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  return dataset.with_options(options)


def distributed_train_dataset(strategy: tf.distribute.Strategy, images, labels, *,
                              global_batch_size: int, seed: int, start_step: int,
                              labelled=None):
  """`train_dataset` fed to every replica of `strategy`, one pipeline per worker.

  With `labelled=(images, labels)`, each batch also carries a batch of that labelled
  subset as "labelled_image"/"labelled_label" (its own order, same step keying).
  """
  def dataset_fn(context: tf.distribute.InputContext):
    replicas_here = context.num_replicas_in_sync // context.num_input_pipelines
    common = dict(global_batch_size=global_batch_size, start_step=start_step,
                  num_replicas=context.num_replicas_in_sync,
                  first_replica=context.input_pipeline_id * replicas_here,
                  replicas_here=replicas_here)
    dataset = train_dataset(images, labels, seed=seed, **common)
    if labelled is None:
      return dataset
    extra = train_dataset(*labelled, seed=seed + 1, what="labelled examples (--num_labels)",
                          **common)
    return tf.data.Dataset.zip((dataset, extra)).map(
        lambda main, more: dict(main, labelled_image=more["image"],
                                labelled_label=more["label"]))
  return strategy.distribute_datasets_from_function(dataset_fn)


def unit_float(images: tf.Tensor) -> tf.Tensor:
  """float32 in [0, 1] from a batch of uint8 (0..255) or float (0..1) examples."""
  if images.dtype == tf.uint8:
    return tf.cast(images, tf.float32) / 255.0
  return tf.cast(images, tf.float32)


def eval_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int = 1000):
  """Float examples in [0, 1] with labels, in order, last batch kept."""
  return tf.data.Dataset.from_tensor_slices(
      (images, np.asarray(labels, np.int32))
  ).batch(batch_size).map(lambda x, y: (unit_float(x), y)).prefetch(tf.data.AUTOTUNE)
