"""Presets: named, documented configs. `python -m aae_tf.train --list_presets`."""

from aae_tf.config import Config, ConfigError
from aae_tf.configs import presets as _presets  # noqa: F401  (registers the presets)
from aae_tf.configs.registry import PRESETS as _PRESETS


def names():
  return list(_PRESETS)


def describe(name: str) -> str:
  return (_PRESETS[name].__doc__ or "").strip().splitlines()[0]


def get(name: str) -> Config:
  if name not in _PRESETS:
    raise ConfigError(f"--preset={name} is not a preset; choose one of: {', '.join(_PRESETS)}"
                      " (--list_presets)")
  return _PRESETS[name]().replace(preset=name)
