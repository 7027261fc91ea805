"""Which compute precision a run uses: `--precision=auto` picks bf16 where the hardware
computes it natively and float32 elsewhere. Weights and optimizer state are float32
either way; exports are always float32 (aae_tf.export rebuilds the networks so)."""

import functools
from typing import Tuple

import tensorflow as tf

from aae_tf import choices

PRECISIONS = choices.PRECISIONS
# CPU flags under which oneDNN runs bf16 matmuls natively (AMX tiles or AVX512-BF16).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=None)
def cpu_flags(path: str = "/proc/cpuinfo") -> Tuple[str, ...]:
  """The bf16-relevant flags of this CPU, as /proc/cpuinfo lists them (empty if unknown)."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith("flags"):
          present = set(line.split(":", 1)[1].split())
          return tuple(flag for flag in BF16_CPU_FLAGS if flag in present)
  except OSError:
    pass
  return ()


def _gpu_has_bf16() -> bool:
  """Every visible GPU has bf16 tensor cores (compute capability >= 8.0)."""
  gpus = tf.config.list_physical_devices("GPU")
  if not gpus:
    return False
  for gpu in gpus:
    capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    if not capability or tuple(capability) < (8, 0):
      return False
  return True


def resolve(name: str) -> Tuple[str, str]:
  """(float32 | mixed_bfloat16, why) for a --precision value."""
  if name != "auto":
    return name, f"--precision={name}"
  if tf.config.list_physical_devices("GPU"):
    if _gpu_has_bf16():
      return "mixed_bfloat16", "auto: the GPUs have bf16 tensor cores (compute capability >= 8.0)"
    return "float32", "auto: a GPU without bf16 tensor cores"
  flags = cpu_flags()
  if flags:
    return "mixed_bfloat16", f"auto: this CPU computes bf16 natively ({', '.join(flags)})"
  return "float32", "auto: this CPU has neither AMX nor AVX512-BF16"


def compute_dtype(name: str) -> tf.DType:
  return tf.bfloat16 if resolve(name)[0] == "mixed_bfloat16" else tf.float32
