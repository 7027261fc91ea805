"""SIGTERM at any moment of a run ends it within a preemption grace period, with every
checkpoint on disk intact and the same command able to carry on.

The grace period is 10 s (Kubernetes' default is 30 s, a GCE preemption notice 30 s).
Moments, each found by the log line that precedes it: start-up (the TensorFlow import),
data loading, the first trace of the training loop, the end-of-run figures and export.
The loop itself (finish the steps in flight, save, exit 143) is tested in
test_reliability.py.
"""

import os
import signal
import time

import pytest
import tensorflow as tf

from tests import helpers
from tests.test_reliability import Proc

GRACE_S = 10.0
MOMENTS = {
    # moment: (predicate on a stderr line after which to send SIGTERM, extra flags)
    "start-up": (None, []),
    "data loading": (lambda line: "precision:" in line or "data:" in line, []),
    "first trace": (lambda line: "starting a new run" in line, []),
    "final figures and export": (lambda line: "validation_parzen_ll=" in line and
                                 "at step 40 " in line, []),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return helpers.write_synthetic_mnist(tmp_path_factory.mktemp("signals") / "data")


def _command(data_dir, workdir):
  return ["-m", "aae_tf.train", "--preset=smoke", f"--data_dir={data_dir}",
          "--validation_size=10", "--batch_size=10", "--train_steps=40",
          "--checkpoint_every_steps=10", "--steps_per_loop=10", f"--workdir={workdir}",
          f"--export_dir={workdir}/export"]


def _readable_checkpoints(workdir):
  directory = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(directory):
    return []
  prefixes = sorted({os.path.join(directory, name.split(".")[0])
                     for name in os.listdir(directory) if name.startswith("ckpt-")
                     and name.endswith(".index")})
  for prefix in prefixes:
    tf.train.load_checkpoint(prefix)   # raises on a damaged checkpoint
  return prefixes


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigterm_at_any_moment_ends_within_the_grace_period(moment, data_dir, tmp_path):
  predicate, extra = MOMENTS[moment]
  workdir = tmp_path / "work"
  env = helpers.hermetic_env(tmp_path / "cache")
  proc = Proc(_command(data_dir, workdir) + extra, env)
  try:
    if predicate is None:
      time.sleep(1.0)        # inside the interpreter's start-up and imports
    else:
      proc.wait_for(predicate, timeout=120)
    sent = time.monotonic()
    proc.signal(signal.SIGTERM)
    code = proc.finish(timeout=GRACE_S + 5 + (sent - proc.started))
    took = time.monotonic() - sent
  finally:
    proc.kill()
  assert took <= GRACE_S, f"{moment}: {took:.1f} s\n{proc.describe()}"
  assert code in (128 + signal.SIGTERM, -signal.SIGTERM, 0), proc.describe()
  assert "Traceback" not in proc.stderr, proc.describe()
  _readable_checkpoints(str(workdir))
  # The same command carries on from whatever was saved and finishes the run.
  rerun = helpers.run_module(_command(data_dir, workdir), env=env)
  assert rerun.returncode == 0, helpers.describe(rerun)
  for model in ("encoder", "decoder"):   # what TF Serving sees: one complete version
    visible = [n for n in os.listdir(workdir / "export" / model) if not n.startswith(".")]
    assert visible == ["40"], visible
    assert os.path.exists(workdir / "export" / model / "40" / "saved_model.pb")


@pytest.mark.parametrize("delay_s", [0.5, 2.0])
def test_ctrl_c_during_start_up_is_one_line(delay_s, data_dir, tmp_path):
  """Ctrl-C while the interpreter imports TensorFlow or reads flags and data: one line,
  exit 130, no KeyboardInterrupt traceback, nothing written."""
  import subprocess, sys  # pylint: disable=g-import-not-at-top,multiple-imports
  from aae_tf import startup  # pylint: disable=g-import-not-at-top
  workdir = tmp_path / "run"
  # A terminal's foreground process has SIGINT at its default; a shell's background
  # job (perhaps this test's runner) has it ignored, which the child would inherit.
  proc = subprocess.Popen(
      [sys.executable, *_command(data_dir, workdir)], env=helpers.hermetic_env(tmp_path / "c"),
      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  time.sleep(delay_s)
  proc.send_signal(signal.SIGINT)
  out, err = proc.communicate(timeout=60)
  lines = err.strip().splitlines()
  assert proc.returncode == 130, (proc.returncode, err[-2000:])
  assert "Traceback" not in err and lines[-1] == startup.stopped_line(signal.SIGINT), err[-2000:]
  assert not (workdir / "checkpoints").exists()
