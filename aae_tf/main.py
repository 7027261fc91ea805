"""Command-line entry points (absl). Kept thin: flags -> Config -> library call.

Every field of `aae_tf.config.Config` is a flag of the same name whose default is
"take it from the preset", so `--preset=seed2_mnist --latent_dim=4` works, a
`--flagfile` can hold any of them, and `--helpfull` documents them all.
"""

import dataclasses
import os
import sys
import textwrap
import typing

from absl import app
from absl import flags
from absl import logging

from aae_tf import config as config_lib
from aae_tf import configs

FLAGS = flags.FLAGS

flags.DEFINE_string("preset", "paper_table1", "Preset to start from (see --list_presets).")
flags.DEFINE_string("workdir", None, "Directory for checkpoints, summaries, figures, config.")
flags.DEFINE_bool("list_presets", False,
                  "Print each preset's name and description, one per line, and exit.")
flags.DEFINE_bool("print_config", False,
                  "Print the resolved config (the preset with your flags) as JSON and exit "
                  "without training.")
flags.DEFINE_integer("version", None,
                     "Export: version directory to write (default: the run's newest step, or "
                     "the --checkpoint step when one is given).")
flags.DEFINE_string("checkpoint", "best", "Export: which checkpoint of --workdir: best (on "
                    "the validation metric; latest if none was kept) | latest | a step.")

_SKIP = {"preset"}  # defined above with a real default


def _define_config_flags() -> None:
  for field in dataclasses.fields(config_lib.Config):
    if field.name in _SKIP or config_lib.is_derived(field):
      continue
    help_text = (f"{field.metadata['help']} Unset: the preset's value "
                 f"(base config: {field.default!r}).")
    kind = typing.get_origin(field.type) or field.type
    args = typing.get_args(field.type)
    if kind is bool:
      flags.DEFINE_bool(field.name, None, help_text)
    elif kind is int:
      flags.DEFINE_integer(field.name, None, help_text)
    elif kind is float:
      flags.DEFINE_float(field.name, None, help_text)
    elif kind is tuple:
      flags.DEFINE_list(field.name, None, help_text + " Comma-separated.")
    elif kind is str or (kind is typing.Union and str in args):
      flags.DEFINE_string(field.name, None, help_text)
    else:
      raise TypeError(f"no flag type for config field {field.name}: {field.type}")


_define_config_flags()


def config_from_flags() -> config_lib.Config:
  """The preset, with every flag the user set applied on top."""
  config = configs.get(FLAGS.preset)
  changes = {}
  for field in dataclasses.fields(config_lib.Config):
    if (field.name in _SKIP or config_lib.is_derived(field)
        or FLAGS[field.name].value is None):
      continue
    value = FLAGS[field.name].value
    if typing.get_origin(field.type) is tuple:
      item_type = typing.get_args(field.type)[0]
      try:
        value = tuple(item_type(v) for v in value if v != "")
      except ValueError:
        raise config_lib.ConfigError(
            f"--{field.name}={','.join(value)}: expected comma-separated "
            f"{item_type.__name__} values") from None
    changes[field.name] = value
  return config.replace(**changes)


def tf_errors():
  import tensorflow as tf  # deferred: --list_presets and --help stay instant
  return tf.errors


def _first_detail(error: Exception) -> str:
  """The first informative line of a TF error ("Graph execution error:" is not)."""
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  useful = [l for l in lines if "task" in l or "worker" in l or "Connection" in l]
  return (useful or lines[1:2] or lines or ["no detail"])[0][:200]


def _fail(error: Exception) -> None:
  print(f"error: {error}", file=sys.stderr)
  sys.exit(2)


def user_errors() -> tuple:
  """What `aae-train` answers with one line (`error: ...`, exit 2) instead of a traceback:
  bad flags or data, unusable checkpoints or exports, a diverged or unsaveable run."""
  from aae_tf import checkpoints
  from aae_tf import data
  from aae_tf import export
  from aae_tf import train
  return (config_lib.ConfigError, data.DataError, export.ExportError,
          train.TrainingDivergedError, train.CheckpointMismatchError,
          train.CheckpointSaveError, checkpoints.CheckpointUnreadableError)


def train_main(argv) -> None:
  if len(argv) > 1:
    _fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
  if FLAGS.list_presets:
    width = max(map(len, configs.names()))
    print("\n".join(f"{name:<{width}}  {configs.describe(name)}" for name in configs.names()))
    return
  if FLAGS.print_config:
    try:
      config = config_from_flags()
      config_lib.validate(config)
    except config_lib.ConfigError as e:
      _fail(e)
    print(config.to_json())
    return
  from aae_tf import train
  try:
    config = config_from_flags()
    config_lib.validate(config)
    if not FLAGS.workdir:
      raise config_lib.ConfigError("--workdir is required: where checkpoints, summaries "
                                   "and figures go (rerun with the same one to resume)")
    train.run(config, FLAGS.workdir)
  except train.TrainingInterrupted as e:
    print(f"stopped: {e}", file=sys.stderr)
    # The checkpoint is on disk. Leave now: interpreter shutdown was seen to hang on
    # TensorFlow's background threads after a long run (a futex wait, past any
    # preemption grace period).
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(e.exit_code)
  except (tf_errors().UnavailableError, tf_errors().DeadlineExceededError) as e:
    _fail(RuntimeError(
        f"lost contact with another worker ({type(e).__name__}: {_first_detail(e)}); "
        "restart every worker with the same command to resume from the last checkpoint"))
  except user_errors() as e:
    _fail(e)


def export_main(argv) -> None:
  if len(argv) > 1:
    _fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
  from aae_tf import export
  try:
    if not FLAGS.workdir or not FLAGS.export_dir:
      raise export.ExportError("--workdir (a training run) and --export_dir are required")
    paths = export.export_from_workdir(FLAGS.workdir, FLAGS.export_dir, FLAGS.version,
                                       checkpoint=FLAGS.checkpoint)
  except (export.ExportError, ValueError) as e:
    _fail(e)
  for name, path in paths.items():
    logging.info("exported %s: %s", name, path)
    print(f"{name}: {path}")


#: What `aae-train --help` shows: the flags a first run needs.
KEY_FLAGS = ("preset", "workdir", "dataset", "data_dir", "epochs", "batch_size",
             "export_dir", "precision", "strategy")
#: Flags of this module that are not config fields, and absl's own.
_OTHER_FLAGS = ("workdir", "list_presets", "print_config", "version", "checkpoint")


def _preset_in(argv) -> str:
  """The --preset named on the command line (the last one wins, as absl parses)."""
  preset = FLAGS["preset"].default
  for i, arg in enumerate(argv):
    if arg.startswith("--preset="):
      preset = arg.split("=", 1)[1]
    elif arg == "--preset" and i + 1 < len(argv):
      preset = argv[i + 1]
  return preset


def help_text(argv, full: bool) -> str:
  """--help (the key flags) or --helpfull (every flag), with the chosen preset's values."""
  preset = _preset_in(argv)
  config = configs.get(preset)     # ConfigError for an unknown preset
  fields = {f.name: f for f in dataclasses.fields(config_lib.Config)}
  names = (list(KEY_FLAGS) if not full else
           ["preset", *_OTHER_FLAGS] + [n for n in fields if n != "preset"
                                        and not config_lib.is_derived(fields[n])])
  lines = ["aae-train (python -m aae_tf.train): trains an Adversarial Autoencoder, resumes",
           "a run in --workdir, and exports its encoder and decoder as SavedModels.",
           "", "Usage: aae-train --preset=NAME --workdir=DIR [--flag=value ...]", "",
           f"Values shown are preset {preset}'s; every flag overrides it "
           "(--list_presets: the presets).", ""]
  for name in names:
    if name in fields and name != "preset":
      value = getattr(config, name)
      value = ",".join(map(str, value)) if isinstance(value, tuple) else value
      text = fields[name].metadata["help"]
    else:
      value, text = FLAGS[name].value if name == "preset" else FLAGS[name].default, FLAGS[name].help
      value = preset if name == "preset" else value
    lines.append(f"  --{name}={'' if value is None else value}")
    lines += textwrap.wrap(text, 84, initial_indent="      ", subsequent_indent="      ")
  lines.append("")
  lines.append("--flagfile=FILE reads flags from FILE, one per line." if full else
               "Every flag, with this preset's values: --helpfull (also --preset=NAME --helpfull).")
  return "\n".join(lines) + "\n"


def console_main() -> None:
  """`aae-train` / `python -m aae_tf.train`."""
  asked = {arg.split("=", 1)[0] for arg in sys.argv[1:]}
  if asked & {"--help", "-h", "-?", "--helpshort", "--helpfull"}:
    try:
      sys.stdout.write(help_text(sys.argv[1:], full="--helpfull" in asked))
    except config_lib.ConfigError as e:
      _fail(e)
    sys.exit(0)
  app.run(train_main)


def console_export() -> None:
  """`aae-export` / `python export/export_model.py`."""
  app.run(export_main)


if __name__ == "__main__":
  console_main()
