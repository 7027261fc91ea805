"""The console entry points (aae-train, aae-export, aae-evaluate, aae-explore).

Each makes a Ctrl-C one line before it imports anything heavy (the command lines
themselves, in `aae_tf.main`, import absl, then TensorFlow), then runs its command line.
"""

from aae_tf import startup


def _command(name: str):
  def run() -> None:
    startup.stop_quietly_on_interrupt()
    from aae_tf import main  # pylint: disable=g-import-not-at-top  (after the handler)
    getattr(main, name)()
  run.__name__ = name
  run.__doc__ = f"`main.{name}`, with Ctrl-C one line from the first instruction."
  return run


train = _command("console_main")
export = _command("console_export")
evaluate = _command("console_evaluate")
explore = _command("console_explore")
