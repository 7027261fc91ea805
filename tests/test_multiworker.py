"""Two workers over loopback: `--strategy=multi_worker` with TF_CONFIG, as processes.

Each worker is a `python -m aae_tf.train` subprocess in its own process group, with a
TF_CONFIG naming 127.0.0.1:<free port> for both, a fixed --train_steps, a hard
timeout, and its group killed in a `finally`: a worker that never starts would block
the other forever.

The design makes the data order and the prior draws independent of the replica
count, so two workers end where one process does (to float round-off of the
all-reduce). The worker-death test is marked slow (two more worker start-ups).
"""

import contextlib
import json
import os
import signal
import socket
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from tests import helpers
from tests.test_reliability import (RESUMED, STEP_KEY, TRAIN, Proc, ckpt_values,
                                    error_lines, step_at_least, steps_logged)

HARD_TIMEOUT_S = 75.0   # any one worker; a run of 6 steps takes ~25 s on 2 busy cores


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  base = tmp_path_factory.mktemp("multiworker")
  data_dir = helpers.write_synthetic_mnist(base / "data")
  env = helpers.hermetic_env(base / "cache")
  env.pop("TF_CONFIG", None)
  common = ["--preset=smoke", f"--data_dir={data_dir}", "--validation_size=10",
            "--batch_size=10", "--figures_every_epochs=1000"]
  return types.SimpleNamespace(path=base, env=env, common=common)


def free_ports(n):
  """`n` distinct ports that were free a moment ago (bound together, then released)."""
  with contextlib.ExitStack() as stack:
    sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
    for s in sockets:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in sockets]


def worker_env(root, ports, index):
  tf_config = {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
               "task": {"type": "worker", "index": index}}
  return dict(root.env, TF_CONFIG=json.dumps(tf_config))


def start_workers(stack, root, args):
  """Both workers, on fresh ports; killed (group) when `stack` closes."""
  ports = free_ports(2)
  return [stack.enter_context(Proc(TRAIN + args + ["--strategy=multi_worker"],
                                   worker_env(root, ports, i)))
          for i in range(2)]


def finish_all(procs, timeout=HARD_TIMEOUT_S):
  """Waits for every worker; once one fails, the others (which would wait for it
  forever) are killed. Sets and returns each `returncode`."""
  deadline = time.monotonic() + timeout
  while True:
    codes = [proc.popen.poll() for proc in procs]
    if all(code is not None for code in codes):
      break
    if any(code not in (None, 0) for code in codes):
      time.sleep(2.0)   # let the others report the loss first
      for proc in procs:
        proc.kill()
      break
    if time.monotonic() > deadline:
      for proc in procs:
        proc.kill()
      raise AssertionError(f"workers still running after {timeout} s\n"
                           + "\n".join(proc.describe() for proc in procs))
    time.sleep(0.2)
  for proc in procs:
    proc.returncode = proc.finish(30)
  return [proc.returncode for proc in procs]


def loss_lines(stderr):
  """The progress lines up to the rate: 'step 3/6 reconstruction=... generator=...'."""
  return [line[line.index("step "):line.index("|")].strip() for line in stderr.splitlines()
          if steps_logged(line) and "|" in line]


PORT_TAKEN = ("already in use", "Failed to add port", "Could not start gRPC server")


def test_two_workers_end_where_one_process_ends(root):
  flags = root.common + ["--train_steps=6", "--seed=7"]   # smoke: loops and saves every 3
  single_dir = root.path / "one_process"
  with contextlib.ExitStack() as stack:
    # The single-process run shares the cores with the workers' waits.
    single = stack.enter_context(Proc(TRAIN + flags + [f"--workdir={single_dir}"], root.env))
    for attempt in range(2):   # once more if a "free" port was taken meanwhile
      workdir = root.path / f"two_workers_{attempt}"
      workers = start_workers(stack, root, flags + [f"--workdir={workdir}"])
      finish_all(workers)
      if not any(p.returncode and any(m in p.stderr for m in PORT_TAKEN) for p in workers):
        break
    single.returncode = single.finish(HARD_TIMEOUT_S)
  for proc in workers + [single]:
    assert proc.returncode == 0, proc.describe()
  for proc in workers:
    assert "on 2 replica(s)" in proc.stderr, proc.describe()
    assert "Traceback" not in proc.stderr, proc.describe()
  assert "on 1 replica(s)" in single.stderr

  # The chief (worker 0) wrote the run; worker 1's temporary save directory is gone.
  # Validation keeps a best checkpoint in one process only: under multi_worker that
  # save would have to be collective, so it is off there (and the run says so).
  assert sorted(os.listdir(workdir / "checkpoints")) == sorted(
      set(os.listdir(single_dir / "checkpoints")) - {"best"}), os.listdir(workdir / "checkpoints")
  assert "best" in os.listdir(single_dir / "checkpoints")
  assert "validation: off under multi_worker" in workers[0].stderr
  assert not [name for name in os.listdir(workdir) if name.startswith(".worker")]
  assert (workdir / "samples_final.png").is_file()

  # Both workers logged the same (all-reduced) losses, and so did the single process
  # (4 significant digits).
  assert loss_lines(workers[0].stderr) == loss_lines(workers[1].stderr)
  assert loss_lines(workers[0].stderr) == loss_lines(single.stderr)
  assert len(loss_lines(single.stderr)) == 2

  two = ckpt_values(os.path.join(workdir, "checkpoints", "ckpt-6"))
  one = ckpt_values(os.path.join(single_dir, "checkpoints", "ckpt-6"))
  assert int(two[STEP_KEY]) == int(one[STEP_KEY]) == 6
  assert sorted(two) == sorted(one)
  worst = {}
  for key in one:
    a, b = np.asarray(two[key]), np.asarray(one[key])
    if np.issubdtype(a.dtype, np.floating):
      worst[key] = float(np.max(np.abs(a - b), initial=0.0))
    else:
      assert np.array_equal(a, b), key
  assert max(worst.values()) <= 1e-6, sorted(worst.items(), key=lambda kv: -kv[1])[:5]


@pytest.mark.slow
def test_worker_death_fails_the_survivor_and_a_restart_resumes(root):
  """SIGKILL worker 1 mid-training: worker 0 fails within 30 s (TF's heartbeat timeout:
  ~8-10 s here) with the one-line error; restarting both resumes from the checkpoint.

  Slow: ~25 s on idle cores, ~50 s on busy ones (two worker start-ups and traces).
  """
  workdir = root.path / "worker_death"
  flags = root.common + [f"--workdir={workdir}", "--steps_per_loop=5",
                         "--checkpoint_every_steps=10", "--summary_every_steps=5"]
  with contextlib.ExitStack() as stack:
    workers = start_workers(stack, root, flags + ["--train_steps=2000"])
    for proc in workers:
      # A logged step >= 15 means the checkpoint at step 10 is complete.
      proc.wait_for(step_at_least(15), timeout=HARD_TIMEOUT_S)
    workers[1].signal(signal.SIGKILL)
    killed_at = time.monotonic()
    survivor = workers[0]
    survivor.returncode = survivor.finish(timeout=(killed_at - survivor.started) + 30)
    survivor_seconds = time.monotonic() - killed_at
  assert survivor.returncode != 0, survivor.describe()
  assert survivor_seconds < 30, survivor_seconds
  errors = error_lines(survivor.stderr)
  print(f"\nsurvivor: exit {survivor.returncode} {survivor_seconds:.1f} s after the kill: "
        f"{errors[-1] if errors else survivor.stderr[-300:]}")
  assert errors, ("no one-line error from the survivor", survivor.describe())
  assert errors[-1].startswith("error: lost contact with another worker"), errors
  assert "Traceback" not in survivor.stderr, survivor.describe()

  latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
  assert latest, os.listdir(workdir / "checkpoints")
  saved = int(tf.train.load_variable(latest, STEP_KEY))
  assert saved >= 10
  total = saved + 10
  with contextlib.ExitStack() as stack:
    restarted = start_workers(stack, root, flags + [f"--train_steps={total}"])
    finish_all(restarted)
  for proc in restarted:
    assert proc.returncode == 0, proc.describe()
    match = RESUMED.search(proc.stderr)
    assert match and int(match.group(2)) == saved, proc.describe()
    assert f"step {total}/{total} " in proc.stderr, proc.describe()
  assert int(tf.train.load_variable(
      tf.train.latest_checkpoint(str(workdir / "checkpoints")), STEP_KEY)) == total
