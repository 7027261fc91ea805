"""A quiet start for the command lines: TensorFlow's start-up lines hidden.

Importing TensorFlow and initialising its devices prints about nine lines to stderr
(oneDNN notices, the CUDA probe's "failed call to cuInit" on machines without a GPU)
that `TF_CPP_MIN_LOG_LEVEL` does not silence in TensorFlow 2.21. The command lines
import TensorFlow through `import_tensorflow_quietly`, which holds stderr while it
happens; if the import fails, what was held is printed. `--verbosity=1` (or `-v 1`) on
the command line, or `TF_CPP_MIN_LOG_LEVEL` set to 0 or 1, shows them as before.

A Ctrl-C (or SIGTERM) outside the training loop, e.g. while the command line starts
(imports, flags, data) or evaluates, ends it with one line and exit code 130 (143), not a
`KeyboardInterrupt` traceback or a silent death; the training loop installs its own
handler, which saves a checkpoint. The console entry points (`aae_tf.console`) install
it before anything heavy is imported.
"""

import os
import signal
import sys
import tempfile

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stopped_line(signum: int) -> str:
  return (f"stopped: {signal.Signals(signum).name} received; rerun the same command to "
          "carry on")


def _stopper(terminal_fd: int):
  def stop(signum, frame):
    del frame
    # To the stderr of the start, not sys.stderr: while TensorFlow is imported, file
    # descriptor 2 is a file that is thrown away.
    os.write(terminal_fd, (stopped_line(signum) + "\n").encode())
    # SystemExit, not os._exit: `finally` blocks still remove half-written files.
    raise SystemExit(128 + signum)
  return stop


def stop_quietly_on_interrupt() -> None:
  """Ctrl-C (SIGINT) or SIGTERM from here on is one line and exit 128 + the signal (a
  signal already ignored stays so, as SIGINT for a shell's background job)."""
  stop = _stopper(os.dup(sys.stderr.fileno()))
  for sig in STOP_SIGNALS:
    if signal.getsignal(sig) is not signal.SIG_IGN:
      signal.signal(sig, stop)


def _verbose(argv) -> bool:
  for i, arg in enumerate(argv):
    value = None
    if arg.startswith(("--verbosity=", "-v=")):
      value = arg.split("=", 1)[1]
    elif arg in ("--verbosity", "-v") and i + 1 < len(argv):
      value = argv[i + 1]
    if value is not None:
      try:
        return int(value) >= 1
      except ValueError:
        return False
  return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "") in ("0", "1")


def import_tensorflow_quietly(argv=None) -> None:
  """Imports TensorFlow and lists its devices with stderr held back (unless verbose)."""
  if "tensorflow" in sys.modules or _verbose(sys.argv[1:] if argv is None else argv):
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.stderr.flush()
  fd = sys.stderr.fileno()
  saved = os.dup(fd)
  with tempfile.TemporaryFile() as held:
    os.dup2(held.fileno(), fd)
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.config.list_physical_devices()   # the device probes print when they first run
    except Exception:   # a failed import shows what it printed; a Ctrl-C shows nothing
      os.dup2(saved, fd)
      held.seek(0)
      sys.stderr.write(held.read().decode("utf-8", "replace"))
      raise
    finally:
      os.dup2(saved, fd)
      os.close(saved)
