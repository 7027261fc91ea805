"""The preset registry: `@preset` records a function returning a complete Config."""

from typing import Callable, Dict

from aae_tf.config import Config

PRESETS: Dict[str, Callable[[], Config]] = {}


def preset(fn: Callable[[], Config]) -> Callable[[], Config]:
  """Registers a preset under its function name; the docstring is its description."""
  PRESETS[fn.__name__] = fn
  return fn
