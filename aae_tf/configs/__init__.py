"""Presets: named, documented configs. `python -m aae_tf.train --list_presets`."""

from typing import Callable, Dict

from aae_tf.config import Config, ConfigError

_PRESETS: Dict[str, Callable[[], Config]] = {}


def preset(fn: Callable[[], Config]) -> Callable[[], Config]:
  """Registers a preset under its function name; the docstring is its description."""
  _PRESETS[fn.__name__] = fn
  return fn


def names():
  return list(_PRESETS)


def describe(name: str) -> str:
  return (_PRESETS[name].__doc__ or "").strip().splitlines()[0]


def get(name: str) -> Config:
  if name not in _PRESETS:
    raise ConfigError(f"--preset={name} is not a preset; choose one of: {', '.join(_PRESETS)}"
                      " (--list_presets)")
  return _PRESETS[name]().replace(preset=name)


from aae_tf.configs import presets as _presets  # noqa: E402,F401  (registers the presets)
