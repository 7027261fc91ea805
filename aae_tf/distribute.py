"""Choosing a tf.distribute strategy from the config."""

import functools
import json
import os

import tensorflow as tf

from aae_tf import choices
from aae_tf.errors import ConfigError

STRATEGIES = choices.STRATEGIES


def split_cpu(num_devices: int) -> None:
  """Splits the host CPU into `num_devices` logical devices (before TF initialises)."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  wanted = [tf.config.LogicalDeviceConfiguration()] * num_devices
  current = tf.config.get_logical_device_configuration(cpu)
  if current is not None and len(current) == num_devices:
    return
  try:
    tf.config.set_logical_device_configuration(cpu, wanted)
  except RuntimeError as e:  # TF already initialised its devices.
    raise RuntimeError(
        f"cannot split the CPU into {num_devices} devices after TensorFlow has started; "
        "pass --cpu_replicas before any TensorFlow op runs (fresh process)") from e


def make_strategy(name: str, cpu_replicas: int = 1) -> tf.distribute.Strategy:
  """Builds the strategy `name` (see STRATEGIES).

  mirrored: all local GPUs; without GPUs, `cpu_replicas` logical CPU devices (a real
  all-reduce on one host, for testing the distributed path).
  multi_worker: MultiWorkerMirroredStrategy over the cluster in TF_CONFIG.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
      split_cpu(cpu_replicas)
    return _mirrored(None if gpus else tuple(f"/cpu:{i}" for i in range(cpu_replicas)))
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ConfigError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                        "naming the cluster and this worker's task (see BUILD.md)")
    try:
      json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as e:
      raise ConfigError(f"TF_CONFIG is not valid JSON ({e}); see BUILD.md for an example")
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ConfigError(f"--strategy={name} is not one of: {', '.join(STRATEGIES)}")


@functools.lru_cache(maxsize=None)
def _mirrored(devices):
  """One MirroredStrategy per device set and process.

  Every new MirroredStrategy restarts its collective keys, so a second one in the same
  process (a second run in a notebook or test) collides with the first's collective
  instances ("Shape mismatch in the collective instance"). Reusing it avoids that.
  """
  return tf.distribute.MirroredStrategy(list(devices) if devices else None)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes checkpoints, summaries, figures and exports."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type in (None, "chief") or (task_type == "worker" and task_id == 0
                                          and "chief" not in resolver.cluster_spec().jobs)
