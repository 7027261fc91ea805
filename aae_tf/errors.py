"""Errors every layer may raise, kept apart so that raising one imports nothing else."""


class ConfigError(ValueError):
  """A config or flag value that cannot work; the message says what to change."""


class DataError(ValueError):
  """A dataset could not be loaded; the message says why and how to fix it."""


class ExportError(RuntimeError):
  """An export could not be written or did not verify, or its run cannot be read."""
