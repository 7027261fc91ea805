"""Every command line of the package (absl), kept thin: flags -> Config -> library call.

  aae-train     (python -m aae_tf.train)     train_main
  aae-export    (python export/export_model.py)  export_main
  aae-evaluate  (python -m aae_tf.evaluate)  evaluate_main
  aae-explore   (python -m aae_tf.explore)   explore_main

Every field of `aae_tf.config.Config` is a training flag of the same name whose default
is "take it from the preset", so `--preset=seed2_mnist --latent_dim=4` works, a
`--flagfile` can hold any of them, and `--helpfull` documents them all. The groups of the
config are not visible here: the field names are unique, so the flags stay flat.
"""

import os
import sys
import textwrap
import typing

from absl import app
from absl import flags
from absl import logging

from aae_tf import config as config_lib
from aae_tf import configs
from aae_tf import errors
from aae_tf import startup

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


def _config_flag_fields():
  """The config fields that are flags: all but the preset and the derived ones."""
  return [field for _, field in config_lib.fields()
          if field.name not in _SKIP and not config_lib.is_derived(field)]


def _define_config_flags(flag_values: flags.FlagValues) -> None:
  for field in _config_flag_fields():
    help_text = (f"{field.metadata['help']} Unset: the preset's value "
                 f"(base config: {field.default!r}).")
    kind = typing.get_origin(field.type) or field.type
    args = typing.get_args(field.type)
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
              tuple: flags.DEFINE_list}.get(kind)
    if kind is str or (kind is typing.Union and str in args):
      define = flags.DEFINE_string
    if define is None:
      raise TypeError(f"no flag type for config field {field.name}: {field.type}")
    define(field.name, None, help_text + (" Comma-separated." if kind is tuple else ""),
           flag_values=flag_values)


_define_config_flags(FLAGS)


def _config_from(flag_values: flags.FlagValues) -> config_lib.Config:
  """The preset, with every flag the user set applied on top."""
  config = configs.get(flag_values.preset)
  changes = {}
  for field in _config_flag_fields():
    value = flag_values[field.name].value
    if value is None:
      continue
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


def config_from_flags() -> config_lib.Config:
  """The preset, with every flag the user set applied on top."""
  return _config_from(FLAGS)


def config_from_argv(argv) -> config_lib.Config:
  """The validated config that `aae-train ARGV` would train (ARGV: flags only, no
  program name), parsed apart from this process's flags: for tools that name runs by
  their flags. ConfigError for a bad flag."""
  from aae_tf import validate
  flag_values = flags.FlagValues()
  flags.DEFINE_string("preset", FLAGS["preset"].default, FLAGS["preset"].help,
                      flag_values=flag_values)
  _define_config_flags(flag_values)
  try:
    flag_values(["aae-train", *argv])
  except flags.Error as e:
    raise config_lib.ConfigError(str(e).splitlines()[0]) from None
  config = _config_from(flag_values)
  validate.validate(config)
  return config


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
  from aae_tf import controller
  return (errors.ConfigError, errors.DataError, errors.ExportError,
          controller.TrainingDivergedError, checkpoints.CheckpointMismatchError,
          checkpoints.CheckpointSaveError, checkpoints.CheckpointUnreadableError)


def _unexpected(arguments) -> str:
  if any(a.startswith("\ufeff") for a in arguments):
    return ("a --flagfile starts with a byte-order mark (an editor's \"UTF-8 with BOM\"), "
            "so its first flag was not read; save it as plain UTF-8")
  return f"unexpected arguments {list(arguments)}; all options are --flags"


def _flags_parser(check_config: bool = False):
  """absl's parser, then: no positional arguments; and with --only_check_args (where
  absl exits before main) the config the flags make is validated too."""
  def parse(argv):
    try:
      rest = FLAGS(argv)
    except flags.Error as e:    # absl would print "FATAL Flags parsing error" and exit 1
      first = str(e).splitlines()[0].replace("ERROR:: ", "")
      _fail(ValueError(f"{first} (--helpshort lists the flags)"))
    except UnicodeDecodeError:   # absl reads a --flagfile as text
      _fail(ValueError("a --flagfile is not UTF-8 text; give a text file, one --flag=value "
                       "per line"))
    if len(rest) > 1:
      _fail(ValueError(_unexpected(rest[1:])))
    if check_config and FLAGS.only_check_args:
      from aae_tf import validate
      try:
        validate.validate(config_from_flags())
      except config_lib.ConfigError as e:
        _fail(e)
    return rest
  return parse


def train_main(argv) -> None:
  if FLAGS.list_presets:
    width = max(map(len, configs.names()))
    print("\n".join(f"{name:<{width}}  {configs.describe(name)}" for name in configs.names()))
    return
  # The flags are judged before TensorFlow is imported (validate needs none of it): a
  # bad value is refused in about a second, not after TensorFlow's start-up.
  from aae_tf import validate
  try:
    config = config_from_flags()
    validate.validate(config)
    if not FLAGS.workdir and not FLAGS.print_config:
      raise config_lib.ConfigError("--workdir is required: where checkpoints, summaries "
                                   "and figures go (rerun with the same one to resume)")
  except config_lib.ConfigError as e:
    _fail(e)
  if FLAGS.print_config:
    print(config.to_json())
    return
  startup.import_tensorflow_quietly()
  from aae_tf import controller
  from aae_tf import train
  try:
    train.run(config, FLAGS.workdir)
  except controller.TrainingInterrupted as e:
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
  from aae_tf import export
  from aae_tf import workdir as workdir_lib
  try:
    if not FLAGS.workdir or not FLAGS.export_dir:
      raise export.ExportError("--workdir (a training run) and --export_dir are required")
    workdir_lib.check_writable(FLAGS.export_dir, "--export_dir")
    workdir_lib.ensure_not_training(FLAGS.workdir)
    paths = export.export_from_workdir(FLAGS.workdir, FLAGS.export_dir, FLAGS.version,
                                       checkpoint=FLAGS.checkpoint)
  except (export.ExportError, ValueError, OSError) as e:
    _fail(e)
  for name, path in paths.items():
    logging.info("exported %s: %s", name, path)
    print(f"{name}: {path}")


def _define_evaluate_flags() -> None:
  """Replaces the training flags with the evaluation's own: a training flag given to
  `aae-evaluate` is refused as unknown, not silently ignored."""
  from aae_tf import evaluate, metrics  # deferred: TensorFlow
  definitions = [
      ("string", "export_dir", None, "Directory with encoder/<version>/ and decoder/<version>/."),
      ("integer", "version", None, "Version to evaluate (default: the newest)."),
      ("string", "workdir", None, "A training run: its --checkpoint is exported to a "
       "temporary directory and evaluated (unless --export_dir is given), and its "
       "metrics.jsonl is plotted."),
      ("string", "checkpoint", "best", "With --workdir alone, which checkpoint: best (on "
       "the validation metric; latest if none was kept) | latest | a step."),
      ("string", "data_dir", None, "Data directory (default: the training config's)."),
      ("string", "dataset", None, "Data to evaluate on, as aae-train's --dataset "
       "(default: the model's)."),
      ("string", "output", None, "Results JSON to write; a markdown table goes beside it."),
      ("string", "figures_dir", None, "Where figures go (default: figures/ beside --output)."),
      ("integer", "num_parzen_samples", evaluate.DEFAULT_NUM_PARZEN_SAMPLES,
       "Decoder samples for the Parzen window (the paper: 10,000)."),
      ("integer", "parzen_seed", evaluate.PARZEN_SEED, "Seed of the Parzen samples."),
      ("integer", "validation_size", None, "Validation examples carved from the training "
       "set (default: the training config's, or -1 = a sixth of it if it had none)."),
      ("list", "sigmas", None, "Parzen sigma grid (default: logspace(-1, 0, 10))."),
      ("integer", "parzen_batch_size", metrics.DEFAULT_BATCH_SIZE, "Rows per Parzen matmul."),
      ("integer", "classifier_epochs", 2, "Epochs of the independent digit classifier "
       "behind style_accuracy_pct (0: skip it)."),
  ]
  _replace_train_flags(definitions)


def evaluate_main(argv) -> None:
  from aae_tf import data, evaluate, export, report  # deferred: TensorFlow
  flags_ = FLAGS
  try:
    try:
      sigmas = [float(s) for s in flags_.sigmas] if flags_.sigmas else None
    except ValueError:
      raise evaluate.EvaluationError(
          f"--sigmas={','.join(flags_.sigmas)}: expected comma-separated positive "
          "numbers") from None
    results = evaluate.run(
        flags_.output, export_dir=flags_.export_dir, workdir=flags_.workdir,
        version=flags_.version, data_dir=flags_.data_dir, dataset=flags_.dataset,
        validation_size=flags_.validation_size, figures_dir=flags_.figures_dir,
        checkpoint=flags_.checkpoint, num_parzen_samples=flags_.num_parzen_samples,
        seed=flags_.parzen_seed, sigmas=sigmas, parzen_batch_size=flags_.parzen_batch_size,
        classifier_epochs=flags_.classifier_epochs,
        log=lambda message: print(message, file=sys.stderr))
  except (evaluate.EvaluationError, data.DataError, export.ExportError, ValueError, OSError) as e:
    _fail(e)
  print(report.markdown_table(results), end="")
  print(f"wrote {results['outputs']['json']} and {results['outputs']['markdown']}")


def console_evaluate() -> None:
  """`aae-evaluate` / `python -m aae_tf.evaluate`."""
  startup.import_tensorflow_quietly()
  _define_evaluate_flags()
  app.run(evaluate_main, flags_parser=_flags_parser())


def _replace_train_flags(definitions) -> None:
  """Replaces the training flags with a command's own: a training flag given to that
  command is refused as unknown, not silently ignored."""
  for name in ["preset", *_OTHER_FLAGS, *(f.name for f in _config_flag_fields())]:
    if name in FLAGS:
      delattr(FLAGS, name)
  for kind, name, default, help_text in definitions:
    getattr(flags, f"DEFINE_{kind}")(name, default, help_text)


def _define_explore_flags() -> None:
  _replace_train_flags([
      ("string", "export_dir", None, "Directory with encoder/<version>/ and decoder/<version>/."),
      ("integer", "version", None, "Version to explore (default: the newest)."),
      ("string", "data", None, "Data whose test split is shown, as aae-train's --dataset "
       "(default: the model's own)."),
      ("string", "data_dir", None, "Where that data are (default: the training config's)."),
      ("string", "host", "127.0.0.1", "Interface to serve on (default: this machine only)."),
      ("integer", "port", 7860, "Port to serve on."),
      ("bool", "projector", False, "Write the test split's codes for TensorBoard's "
       "projector into --logdir and exit, instead of serving the page."),
      ("string", "logdir", None, "With --projector: where (default: EXPORT_DIR/projector)."),
  ])


def explore_main(argv) -> None:
  from aae_tf import explore  # deferred: TensorFlow
  from aae_tf import workdir as workdir_lib
  from aae_tf.exported import EvaluationError
  try:
    if not FLAGS.projector:
      explore.import_gradio()       # before the slow part: one line if it is missing
    if not FLAGS.export_dir:
      raise errors.ExportError("--export_dir is required: the export to explore")
    logdir = FLAGS.logdir or os.path.join(FLAGS.export_dir, "projector")
    if FLAGS.projector:
      workdir_lib.check_writable(logdir, "--logdir")
    elif not 1 <= FLAGS.port <= 65535:
      raise ValueError(f"--port must be in 1..65535, got {FLAGS.port}")
    explorer = explore.load(FLAGS.export_dir, FLAGS.version, FLAGS.data, FLAGS.data_dir,
                            log=lambda message: print(message, file=sys.stderr))
    if FLAGS.projector:
      path = explore.write_projector(explorer, logdir)
      print(f"wrote {path}; see it with: tensorboard --logdir {logdir}")
      return
  except (ImportError, ValueError, OSError, errors.ExportError, errors.ConfigError,
          EvaluationError) as e:
    _fail(e)
  try:
    explore.serve(explorer, FLAGS.host, FLAGS.port)
  except OSError as e:   # Gradio: the port is taken, or the host is not this machine's
    _fail(OSError(f"cannot serve on {FLAGS.host}:{FLAGS.port} ({str(e).splitlines()[0]}); "
                  "choose another --port or --host"))


def console_explore() -> None:
  """`aae-explore` / `python -m aae_tf.explore`."""
  startup.import_tensorflow_quietly()
  _define_explore_flags()
  app.run(explore_main, flags_parser=_flags_parser())


#: What `aae-train --help` shows: the flags a first run needs.
KEY_FLAGS = ("preset", "workdir", "dataset", "data_dir", "epochs", "batch_size",
             "export_dir", "precision", "strategy")
#: Flags of this module that are not config fields, and absl's own.
_OTHER_FLAGS = ("workdir", "list_presets", "print_config", "version", "checkpoint")
_EXPORT_ONLY_FLAGS = ("version", "checkpoint")


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
  fields = {f.name: f for _, f in config_lib.fields()}
  names = (list(KEY_FLAGS) if not full else
           ["preset", *(n for n in _OTHER_FLAGS if n not in _EXPORT_ONLY_FLAGS)]
           + [n for n in fields if n != "preset"
                                        and not config_lib.is_derived(fields[n])])
  lines = ["aae-train (python -m aae_tf.train): trains an Adversarial Autoencoder, resumes",
           "a run in --workdir, and exports its encoder and decoder as SavedModels.",
           "", "Usage: aae-train --preset=NAME --workdir=DIR [--flag=value ...]", "",
           f"Values shown are preset {preset}'s; every flag overrides it "
           "(--list_presets: the presets).", ""]
  for name in names:
    if name in fields and name != "preset":
      value = config.value(name)
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
  for name in _EXPORT_ONLY_FLAGS:   # aae-train would accept and ignore them
    if name in FLAGS:
      delattr(FLAGS, name)
  asked = {arg.split("=", 1)[0] for arg in sys.argv[1:]}
  if asked & {"--help", "-h", "-?", "--helpshort", "--helpfull"}:
    try:
      sys.stdout.write(help_text(sys.argv[1:], full="--helpfull" in asked))
    except config_lib.ConfigError as e:
      _fail(e)
    sys.exit(0)
  app.run(train_main, flags_parser=_flags_parser(check_config=True))


def _define_export_flags() -> None:
  _replace_train_flags([
      ("string", "workdir", None, "The training run to export."),
      ("string", "export_dir", None, "Where encoder/<version>/ and decoder/<version>/ go."),
      ("integer", "version", None, "Version directory to write (default: the run's newest "
       "step, or the --checkpoint step when one is given)."),
      ("string", "checkpoint", "best", "Which checkpoint of --workdir: best (on the "
       "validation metric; latest if none was kept) | latest | a step."),
  ])


def console_export() -> None:
  """`aae-export` / `python export/export_model.py`: only its own flags (a training
  flag is refused, not silently ignored)."""
  _define_export_flags()
  startup.import_tensorflow_quietly()
  app.run(export_main, flags_parser=_flags_parser())


if __name__ == "__main__":
  console_main()
