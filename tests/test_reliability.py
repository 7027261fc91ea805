"""Reliability of `python -m aae_tf.train`: kills, signals, resume, determinism, NaN.

Every case runs the real command line as a subprocess (its own process group, output
read incrementally by threads, a hard timeout, the group killed in a `finally`) on
the smoke preset and synthetic MNIST, with the caches in a temporary directory.

A smoke step takes ~1 ms; a subprocess ~10 CPU-seconds (the TensorFlow import, the
first trace, the final figures), ~4 if it fails before training. So the cost is the
number of processes (12 here): the independent chains of processes start in the
background, two at a time (one per core), when the first test asks for them; each
test collects its chain's result and asserts on it. One deterministic command (with
dropout) serves the kill -9 test and both bit-identity comparisons.
"""

import concurrent.futures
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from tests import helpers

TRAIN = ["-m", "aae_tf.train"]
STEP_KEY = "global_step/.ATTRIBUTES/VARIABLE_VALUE"
# Not a training variable: counts saves, so it differs between a resumed and an
# uninterrupted run by design. (The object graph is structure, not values.)
NOT_STATE = ("save_counter/.ATTRIBUTES/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH")
LONG = 10 ** 6                 # --train_steps of runs that are stopped from outside
PROC_TIMEOUT_S = 120.0         # hard limit of any one subprocess (~10 s on idle cores)
START_TIMEOUT_S = 90.0         # until a run logs its first steps (~6 s on idle cores)
STEP_LINE = re.compile(r"\bstep (\d+)/(\d+) ")
RESUMED = re.compile(r"resumed from (\S+) at step (\d+)")


# --------------------------------------------------------------------- processes


class Proc:
  """A training subprocess in its own process group, its output read by threads.

  `wait_for(regex)` blocks until a stderr line matches (or the process ends, or the
  timeout); `finish()` waits for the exit. Leaving the `with` block kills the group;
  `Proc.kill_all()` kills every group still running (a fixture's last resort).
  """

  _live = set()
  _live_lock = threading.Lock()

  def __init__(self, args, env, cwd=None):
    self.args = [sys.executable, *map(os.fspath, args)]
    self.popen = subprocess.Popen(self.args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, errors="replace", start_new_session=True)
    self.started = time.monotonic()
    with Proc._live_lock:
      Proc._live.add(self)
    self.stdout_lines, self.stderr_lines = [], []
    self._changed = threading.Condition()
    self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                     for stream, lines in ((self.popen.stdout, self.stdout_lines),
                                           (self.popen.stderr, self.stderr_lines))]
    for reader in self._readers:
      reader.start()

  def _read(self, stream, lines):
    for line in stream:
      with self._changed:
        lines.append(line.rstrip("\n"))
        self._changed.notify_all()
    with self._changed:
      self._changed.notify_all()

  def _eof(self):
    return not any(reader.is_alive() for reader in self._readers)

  @property
  def stderr(self):
    with self._changed:
      return "\n".join(self.stderr_lines)

  @property
  def stdout(self):
    with self._changed:
      return "\n".join(self.stdout_lines)

  def describe(self, tail=4000):
    return (f"command: {' '.join(self.args)}\nexit code: {self.popen.poll()}\n"
            f"--- stdout (tail) ---\n{self.stdout[-tail:]}\n"
            f"--- stderr (tail) ---\n{self.stderr[-tail:]}")

  def wait_for(self, predicate, timeout):
    """The first stderr line for which `predicate(line)` is truthy, and that value."""
    deadline = time.monotonic() + timeout
    seen = 0
    with self._changed:
      while True:
        for line in self.stderr_lines[seen:]:
          value = predicate(line)
          if value:
            return value
        seen = len(self.stderr_lines)
        remaining = deadline - time.monotonic()
        if self._eof() or remaining <= 0:
          break
        self._changed.wait(min(remaining, 0.5))
    raise AssertionError(("process ended" if self._eof() else f"no match in {timeout} s")
                         + "\n" + self.describe())

  def signal(self, sig):
    os.killpg(self.popen.pid, sig)

  def finish(self, timeout=PROC_TIMEOUT_S):
    """Waits for the exit (and the end of the output); kills the group on timeout."""
    try:
      self.popen.wait(timeout=max(0.0, timeout - (time.monotonic() - self.started)))
    except subprocess.TimeoutExpired:
      self.kill()
      raise AssertionError(f"timed out after {timeout} s\n{self.describe()}") from None
    for reader in self._readers:
      reader.join(10)
    return self.popen.returncode

  def kill(self):
    # Only while not reaped: until then the pid (= the group id) cannot be reused.
    if self.popen.poll() is None:
      try:
        os.killpg(self.popen.pid, signal.SIGKILL)
      except (ProcessLookupError, PermissionError):
        pass
    try:
      self.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
      pass

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.kill()
    for reader in self._readers:
      reader.join(5)
    with Proc._live_lock:
      Proc._live.discard(self)

  @classmethod
  def kill_all(cls):
    with cls._live_lock:
      live = list(cls._live)
    for proc in live:
      proc.kill()


def run(args, env, timeout=PROC_TIMEOUT_S):
  """Runs to completion; returns the finished Proc (`returncode`, `stderr`, ...)."""
  with Proc(args, env) as proc:
    proc.returncode = proc.finish(timeout)
    proc.seconds = time.monotonic() - proc.started
    return proc


def steps_logged(stderr):
  return [int(m.group(1)) for m in STEP_LINE.finditer(stderr)]


def error_lines(stderr):
  return [line for line in stderr.splitlines() if line.startswith("error:")]


def step_at_least(n):
  def predicate(line):
    match = STEP_LINE.search(line)
    return match and int(match.group(1)) >= n and int(match.group(1))
  return predicate


def ckpt_step(prefix):
  return int(tf.train.load_checkpoint(prefix).get_tensor(STEP_KEY))


def ckpt_values(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
          if name not in NOT_STATE}


def ckpt_prefixes(directory):
  """Every `<prefix>` with a `<prefix>.index` in `directory`, by step number."""
  names = [name[:-len(".index")] for name in os.listdir(directory)
           if name.endswith(".index")]
  return [os.path.join(directory, name)
          for name in sorted(names, key=lambda n: int(re.sub(r"\D", "", n) or -1))]


def assert_one_line_error(proc, *fragments):
  errors = error_lines(proc.stderr)
  assert len(errors) == 1, proc.describe()
  for fragment in fragments:
    assert fragment in errors[0], (fragment, errors[0])
  assert "Traceback" not in proc.stderr, proc.describe()
  return errors[0]


# ----------------------------------------------------------------------- chains
# Each chain runs one scenario's processes in order and returns what the test checks.

CKPT_EVERY = 5
# Bit-reproducible runs: op determinism, a fixed seed, and dropout in every network
# (its masks are keyed by the step, so a resumed run must draw the same ones).
DETERMINISTIC = ["--seed=3", "--deterministic", "--encoder_dropout=0.3",
                 "--decoder_dropout=0.2", "--discriminator_dropout=0.2"]


def _determinism_flags(root):
  return root.common + DETERMINISTIC + ["--steps_per_loop=5", "--summary_every_steps=5",
                                        f"--checkpoint_every_steps={CKPT_EVERY}"]


def _killed_chain(root, total_steps):
  """One command (deterministic, dropout on), killed and resumed, and uninterrupted.

  killed: SIGKILL at an arbitrary moment after a checkpoint at step >= 25, then rerun
    to T = (last step logged) + 10 in the same workdir; `total_steps` gets T.
  whole: T steps, uninterrupted.
  """
  flags = _determinism_flags(root)
  killed_dir, whole_dir = root.path / "killed", root.path / "whole"
  try:
    with Proc(TRAIN + flags + [f"--workdir={killed_dir}", f"--train_steps={LONG}"],
              root.env) as proc:
      # The log line of step s is written before the save at s, so a logged step >= 30
      # means the checkpoint at 25 is complete.
      proc.wait_for(step_at_least(30), timeout=START_TIMEOUT_S)
      delay = random.uniform(0.0, 0.15)   # anywhere: mid-loop, mid-save, mid-log
      time.sleep(delay)
      proc.signal(signal.SIGKILL)
      proc.finish()
      killed = proc
    last_logged = max(steps_logged(killed.stderr))
    total = last_logged + 10
  except BaseException as e:
    total_steps.set_exception(e)
    raise
  total_steps.set_result(total)
  # What survived the kill (the rerun will add and delete checkpoints).
  survived = root.path / "killed_survived"
  shutil.copytree(killed_dir / "checkpoints", survived)
  rerun = run(TRAIN + flags + [f"--workdir={killed_dir}", f"--train_steps={total}"],
              root.env)
  whole = run(TRAIN + flags + [f"--workdir={whole_dir}", f"--train_steps={total}"], root.env)
  return types.SimpleNamespace(
      killed=killed, delay=delay, survived=str(survived), last_logged=last_logged,
      total=total, killed_dir=killed_dir, whole_dir=whole_dir, rerun=rerun, whole=whole)


def _split_chain(root, total_steps):
  """The same command with --train_steps=15, then with T in the same workdir."""
  flags = _determinism_flags(root)
  split_dir = root.path / "split"
  first = run(TRAIN + flags + [f"--workdir={split_dir}", "--train_steps=15"], root.env)
  split_at_15 = root.path / "split_at_15"     # the rerun will delete ckpt-15
  shutil.copytree(split_dir / "checkpoints", split_at_15 / "checkpoints")
  total = total_steps.result(timeout=2 * START_TIMEOUT_S)
  second = run(TRAIN + flags + [f"--workdir={split_dir}", f"--train_steps={total}"],
               root.env)
  return types.SimpleNamespace(first=first, second=second, split_dir=split_dir,
                               split_at_15=split_at_15, total=total)


def _stop_with(proc, sig, after_step):
  """Sends `sig` once `proc` logged a step >= `after_step`; waits for the exit."""
  proc.wait_for(step_at_least(after_step), timeout=START_TIMEOUT_S)
  sent_at = time.monotonic()
  proc.signal(sig)
  proc.returncode = proc.finish()
  match = re.search(r"saved a checkpoint at step (\d+)", proc.stderr)
  return types.SimpleNamespace(stopped=proc, stop_seconds=time.monotonic() - sent_at,
                               saved=int(match.group(1)) if match else None)


def _signals_chain(root):
  """SIGTERM once training runs; the same command again (it resumes), then SIGINT."""
  workdir = root.path / "signals"
  command = TRAIN + root.common + [f"--workdir={workdir}", "--steps_per_loop=5",
                                   "--checkpoint_every_steps=1000", "--summary_every_steps=5",
                                   f"--train_steps={LONG}"]
  results = {}
  for sig in (signal.SIGTERM, signal.SIGINT):
    previous = results[signal.SIGTERM.name].saved if results else 0
    with Proc(command, root.env) as proc:
      result = _stop_with(proc, sig, after_step=(previous or 0) + 20)
    state = tf.train.get_checkpoint_state(str(workdir / "checkpoints"))
    result.latest_after_stop = state.model_checkpoint_path if state else None
    results[sig.name] = result
  return results


def _nan_chain(root, name, extra):
  workdir = root.path / name
  proc = run(TRAIN + root.common + [f"--workdir={workdir}", "--train_steps=40"] + extra,
             root.env)
  return types.SimpleNamespace(proc=proc, checkpoints=workdir / "checkpoints")


# The normal case: sane learning rates until epoch 1 (step 11 of 11 per epoch), then
# every rate x1e30: the losses blow up to NaN within a few steps. Checkpoints every 5.
DIVERGE_LATER = ["--steps_per_loop=5", "--checkpoint_every_steps=5", "--summary_every_steps=5",
                 "--lr_decay_epochs=1", "--lr_decay_factor=1e30"]
# Only the generator update diverges, and its first non-finite update is the last step
# of a loop that ends with a checkpoint: loops of 13 steps, and the generator
# optimizer's 26th update is the first past the boundary at 24 iterations (epoch
# 24/11 of 11 steps), so loop 1 ends with a good checkpoint at 13; the rate is
# 3.4e38 (RMSprop's step is ~lr, so it overflows float32). The losses of step 26
# were computed before that update, so the loop's mean losses are finite: only a check
# of the weights themselves catches it. (An infinite
# factor would not do: Keras' PiecewiseConstantDecay multiplies every piece by 0 or 1,
# and 0 * inf = NaN poisons the rate from step 1.)
DIVERGE_IN_LAST_UPDATE = ["--steps_per_loop=13", "--checkpoint_every_steps=13",
                          "--summary_every_steps=13", "--reconstruction_lr=0",
                          "--discriminator_lr=0", "--generator_lr=1e-3", "--optimizer=rmsprop",
                          "--lr_decay_epochs=2.1818", "--lr_decay_factor=3.4e41",
                          # the loop layout above is the scenario: no validation stops
                          "--validate_every_epochs=0"]


def _bad_export_dir_chain(root):
  workdir, export_dir = root.path / "export_exists", root.path / "export_exists_out"
  # The version this run would export is its total step count.
  os.makedirs(export_dir / "decoder" / str(LONG))
  before = helpers.tree_snapshot(export_dir)
  # If the check did not run before training, this would train for ~20 minutes and
  # the timeout would fail the test.
  proc = run(TRAIN + root.common + [f"--workdir={workdir}", f"--train_steps={LONG}",
                                    f"--export_dir={export_dir}"], root.env, timeout=60)
  return types.SimpleNamespace(proc=proc, workdir=workdir, export_dir=export_dir,
                               before=before)


def _unwritable_workdir_chain(root):
  blocker = root.path / "a_regular_file"
  blocker.write_text("not a directory\n")
  workdir = blocker / "workdir"
  proc = run(TRAIN + root.common + [f"--workdir={workdir}"], root.env, timeout=60)
  return types.SimpleNamespace(proc=proc, blocker=blocker)


def _mismatched_checkpoint_chain(root):
  """A workdir trained with one network, rerun with another (or by another version)."""
  workdir = root.path / "mismatch"
  first = run(TRAIN + root.common + [f"--workdir={workdir}", "--train_steps=3"], root.env)
  before = helpers.tree_snapshot(workdir / "checkpoints")
  config_path = workdir / "config.json"
  config_before = config_path.read_text()
  # Other flags: refused from config.json before anything is built or written.
  proc = run(TRAIN + root.common + [f"--workdir={workdir}", "--train_steps=6",
                                    "--encoder_hidden=24"], root.env, timeout=60)
  config_after_refusal = config_path.read_text()
  # A config.json that matches but checkpoints that do not (another version wrote them):
  # the restore itself refuses.
  config_path.write_text(config_before.replace('"encoder_hidden": [\n      16\n    ]',
                                               '"encoder_hidden": [\n      24\n    ]'))
  edited = config_path.read_text()
  assert edited != config_before
  version = run(TRAIN + root.common + [f"--workdir={workdir}", "--train_steps=6",
                                       "--encoder_hidden=24"], root.env, timeout=60)
  return types.SimpleNamespace(first=first, proc=proc, version=version, workdir=workdir,
                               before=before, config_before=config_before,
                               config_after_refusal=config_after_refusal, edited=edited,
                               config_after_version=config_path.read_text())


def _multi_worker_without_tf_config_chain(root):
  env = {k: v for k, v in root.env.items() if k != "TF_CONFIG"}
  workdir = root.path / "no_tf_config"
  proc = run(TRAIN + root.common + [f"--workdir={workdir}", "--strategy=multi_worker"], env,
             timeout=60)
  return types.SimpleNamespace(proc=proc, workdir=workdir)


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def root(tmp_path_factory):
  base = tmp_path_factory.mktemp("reliability")
  data_dir = helpers.write_synthetic_mnist(base / "data")
  env = helpers.hermetic_env(base / "cache")
  common = ["--preset=smoke", f"--data_dir={data_dir}", "--validation_size=10",
            "--batch_size=10", "--figures_every_epochs=1000"]
  return types.SimpleNamespace(path=base, env=env, common=common)


def uses(*names):
  """Marks a test as reading these chains' results (so `-k` starts only those)."""
  def mark(test):
    test.chains = names
    return test
  return mark


@pytest.fixture(scope="module")
def chains(root, request):
  """Starts the chains the selected tests use, two processes at a time."""
  wanted = {name for item in request.session.items if item.module is request.module
            for name in getattr(item.function, "chains", ())}
  if "split" in wanted:
    wanted.add("killed")   # it computes the split chain's T
  total_steps = concurrent.futures.Future()   # T of the determinism runs
  jobs = {   # longest first
      # These two first, together: the second waits for the first's T.
      "killed": (_killed_chain, total_steps),
      "split": (_split_chain, total_steps),
      "signals": (_signals_chain,),
      "nan": (_nan_chain, "nan", DIVERGE_LATER),
      "nan_last_update": (_nan_chain, "nan_last_update", DIVERGE_IN_LAST_UPDATE),
      "export_exists": (_bad_export_dir_chain,),
      "unwritable_workdir": (_unwritable_workdir_chain,),
      "no_tf_config": (_multi_worker_without_tf_config_chain,),
      "mismatch": (_mismatched_checkpoint_chain,),
  }
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
  futures = {name: pool.submit(job[0], root, *job[1:]) for name, job in jobs.items()
             if name in wanted}
  try:
    yield types.SimpleNamespace(result=lambda name: futures[name].result())
  finally:
    # Normally every chain is done; after an interrupt, stop the ones still running.
    pool.shutdown(wait=False, cancel_futures=True)
    Proc.kill_all()
    pool.shutdown(wait=True)


# -------------------------------------------------------------------- kill -9


def assert_same_state(a, b, context):
  assert int(a[STEP_KEY]) == int(b[STEP_KEY]), context
  assert sorted(a) == sorted(b), context
  different = [key for key in a if not np.array_equal(a[key], b[key])]
  assert not different, (context, different)


@uses("killed")
def test_sigkill_leaves_loadable_checkpoints_and_rerun_resumes(chains):
  r = chains.result("killed")
  context = f"killed {r.delay:.3f} s after logging step >= 30"
  assert r.killed.popen.returncode == -signal.SIGKILL, r.killed.describe()

  # Every checkpoint that survived restores completely.
  prefixes = ckpt_prefixes(r.survived)
  assert prefixes, (context, os.listdir(r.survived))
  for prefix in prefixes:
    values = ckpt_values(prefix)   # reads every tensor
    assert values and STEP_KEY in values, prefix
    assert int(values[STEP_KEY]) == int(re.search(r"ckpt-(\d+)$", prefix).group(1))
  # The state file names an existing, complete checkpoint: the newest one.
  state = tf.train.get_checkpoint_state(r.survived)
  assert state is not None, (context, os.listdir(r.survived))
  latest = state.model_checkpoint_path
  if not os.path.isabs(latest):
    latest = os.path.join(r.survived, latest)
  assert latest in prefixes, (context, latest, prefixes)
  for suffix in (".index", ".data-00000-of-00001"):
    assert os.path.isfile(latest + suffix), (context, latest + suffix)
  latest_step, newest = ckpt_step(latest), max(ckpt_step(p) for p in prefixes)
  # A kill between writing ckpt-N and updating the state file leaves ckpt-N complete
  # but unlisted: the rerun starts one interval earlier and rewrites it.
  assert newest - CKPT_EVERY <= latest_step <= newest, (context, latest_step, newest)
  assert latest_step >= 25, context

  # The rerun resumes from the newest complete checkpoint, losing at most one interval,
  # and finishes. Restoring reads the checkpoints on disk, not only the state file, so a
  # ckpt-N complete but not yet listed (the kill fell between the two writes) is used.
  rerun = r.rerun
  assert rerun.returncode == 0, rerun.describe()
  match = RESUMED.search(rerun.stderr)
  assert match, rerun.describe()
  resumed_at = int(match.group(2))
  assert resumed_at == newest, (context, resumed_at, latest_step, newest)
  assert resumed_at >= r.last_logged - CKPT_EVERY, (context, resumed_at, r.last_logged)
  assert "starting a new run" not in rerun.stderr
  assert f"step {r.total}/{r.total} " in rerun.stderr, rerun.describe()
  assert min(steps_logged(rerun.stderr)) > resumed_at
  assert ckpt_step(tf.train.latest_checkpoint(str(r.killed_dir / "checkpoints"))) == r.total


def _final_state(workdir, step):
  return ckpt_values(os.path.join(workdir, "checkpoints", f"ckpt-{step}"))


@uses("killed")
def test_sigkill_and_resume_is_bit_identical_to_uninterrupted(chains):
  """--deterministic: killed at an arbitrary step and resumed == never interrupted."""
  r = chains.result("killed")
  for proc in (r.rerun, r.whole):
    assert proc.returncode == 0, proc.describe()
  whole = _final_state(r.whole_dir, r.total)
  assert_same_state(_final_state(r.killed_dir, r.total), whole,
                    f"killed after step {r.last_logged}, resumed to {r.total}")


@uses("split", "killed")
def test_stop_at_15_and_rerun_is_bit_identical_to_uninterrupted(chains):
  """--train_steps=15, then the same command with T in the same workdir == T at once."""
  r, k = chains.result("split"), chains.result("killed")
  for proc in (r.first, r.second, k.whole):
    assert proc.returncode == 0, proc.describe()
  assert "starting a new run" in r.first.stderr
  match = RESUMED.search(r.second.stderr)
  assert match and match.group(2) == "15", r.second.describe()
  whole = _final_state(k.whole_dir, r.total)
  assert_same_state(_final_state(r.split_dir, r.total), whole, f"15, then {r.total}")
  # Not vacuous: the weights moved after step 15.
  at15 = _final_state(r.split_at_15, 15)
  assert any(not np.array_equal(at15[k], whole[k]) for k in whole if "kernel" in k)


# --------------------------------------------------------------- SIGTERM / SIGINT


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
@uses("signals")
def test_signal_saves_and_exits_128_plus_signal(chains, sig):
  r = chains.result("signals")[sig.name]
  proc = r.stopped
  assert proc.returncode == 128 + sig, proc.describe()
  assert "Traceback" not in proc.stderr, proc.describe()
  stopped = [line for line in proc.stderr.splitlines() if line.startswith("stopped:")]
  assert len(stopped) == 1, proc.describe()
  assert re.match(rf"stopped: {sig.name} received: saved a checkpoint at step \d+ ",
                  stopped[0]), stopped[0]
  assert not error_lines(proc.stderr), proc.describe()
  # It stops after the loop in flight, not at the next scheduled save: loops end every
  # 5 steps here, or at a validation (each epoch: 11 steps).
  assert r.stop_seconds < 20, r.stop_seconds
  assert r.saved >= max(steps_logged(proc.stderr)) >= 20
  assert (r.saved % 5 == 0 or r.saved % 11 == 0) and r.saved < 1000
  # The checkpoint it names is the newest one and holds that step: a rerun starts there.
  assert r.latest_after_stop is not None
  assert ckpt_step(r.latest_after_stop) == r.saved


@uses("signals")
def test_rerun_after_sigterm_resumes_at_the_saved_step(chains):
  """The same command again after SIGTERM (this rerun is the one stopped by SIGINT)."""
  results = chains.result("signals")
  saved, rerun = results["SIGTERM"].saved, results["SIGINT"].stopped
  assert saved is not None, results["SIGTERM"].stopped.describe()
  match = RESUMED.search(rerun.stderr)
  assert match and int(match.group(2)) == saved, rerun.describe()
  assert "starting a new run" not in rerun.stderr
  assert min(steps_logged(rerun.stderr)) > saved
  assert results["SIGINT"].saved >= saved + 20


# --------------------------------------------------------------------------- NaN


def _check_divergence(r):
  proc = r.proc
  assert proc.returncode != 0, proc.describe()
  line = assert_one_line_error(proc)
  assert re.search(r"\w+_loss=(nan|inf|-inf)\b|weights=non-finite", line), line
  match = re.search(r"in steps (\d+)-(\d+)", line)
  assert match, line
  first_bad, last_bad = int(match.group(1)), int(match.group(2))
  assert first_bad <= last_bad
  latest = tf.train.latest_checkpoint(str(r.checkpoints))
  assert latest, os.listdir(r.checkpoints)
  values = ckpt_values(latest)
  step = int(values[STEP_KEY])
  return types.SimpleNamespace(line=line, first_bad=first_bad, last_bad=last_bad,
                               step=step, values=values)


def _nonfinite(values):
  return [k for k, v in values.items() if np.issubdtype(np.asarray(v).dtype, np.floating)
          and not np.all(np.isfinite(v))]


@uses("nan")
def test_divergence_fails_with_one_line_and_keeps_last_good_checkpoint(chains):
  r = chains.result("nan")
  d = _check_divergence(r)
  # The loop that crossed the learning-rate jump (after step 11) failed: it reports the
  # loop's step range, 11-15; the last save, at 10, is older.
  assert 11 <= d.first_bad <= 16 and d.last_bad <= 20, d.line
  assert 5 <= d.step < d.first_bad, (d.step, d.line)
  assert not _nonfinite(d.values)
  # Nothing was written for the failing steps.
  assert all(ckpt_step(p) < d.first_bad for p in ckpt_prefixes(str(r.checkpoints)))


@uses("nan_last_update")
def test_divergence_in_the_last_update_of_a_loop_is_not_checkpointed(chains):
  """The first infinite update is the last step of a loop that ends with a save."""
  r = chains.result("nan_last_update")
  d = _check_divergence(r)
  assert (d.first_bad, d.last_bad, d.step) == (14, 26, 13), d.line  # the scenario happened
  assert "weights=non-finite" in d.line, d.line    # the losses alone looked fine
  assert not _nonfinite(d.values)                  # ckpt-13 really is the last good one
  assert all(ckpt_step(p) <= 13 for p in ckpt_prefixes(str(r.checkpoints)))


# ---------------------------------------------------------------------- bad input


@uses("export_exists")
def test_existing_export_version_fails_before_training(chains):
  r = chains.result("export_exists")
  proc = r.proc
  assert proc.returncode == 2, proc.describe()
  assert_one_line_error(proc, str(r.export_dir / "decoder" / str(LONG)), "already exists")
  assert not steps_logged(proc.stderr), proc.describe()   # no step ran
  checkpoints = r.workdir / "checkpoints"
  assert not checkpoints.exists() or not ckpt_prefixes(str(checkpoints))
  assert helpers.tree_snapshot(r.export_dir) == r.before
  assert proc.seconds < 60, proc.seconds


@uses("unwritable_workdir")
def test_unwritable_workdir_fails_with_one_line(chains):
  r = chains.result("unwritable_workdir")
  proc = r.proc
  assert proc.returncode != 0, proc.describe()
  assert_one_line_error(proc, "--workdir")
  assert r.blocker.read_text() == "not a directory\n"


@uses("mismatch")
def test_other_settings_on_resume_fail_with_one_line_and_change_nothing(chains):
  r = chains.result("mismatch")
  assert r.first.returncode == 0, r.first.describe()
  assert r.proc.returncode != 0, r.proc.describe()
  assert_one_line_error(r.proc, "--encoder_hidden: (16,) -> (24,)", "--workdir",
                        "config.json")
  assert r.config_after_refusal == r.config_before   # config.json still the run's own
  assert not steps_logged(r.proc.stderr)


@uses("mismatch")
def test_mismatched_checkpoint_fails_with_one_line_and_keeps_it(chains):
  r = chains.result("mismatch")
  assert r.version.returncode != 0, r.version.describe()
  assert_one_line_error(r.version, "does not fit", "--workdir", "ckpt-3")
  assert helpers.tree_snapshot(r.workdir / "checkpoints") == r.before
  assert r.config_after_version == r.edited   # written only once a resume is accepted


@uses("no_tf_config")
def test_multi_worker_without_tf_config_fails_with_one_line(chains):
  r = chains.result("no_tf_config")
  proc = r.proc
  assert proc.returncode != 0, proc.describe()
  assert "TF_CONFIG" in proc.stderr, proc.describe()
  assert not (r.workdir / "checkpoints").exists()
  assert "Traceback" not in proc.stderr, proc.describe()
  assert proc.returncode == 2, proc.describe()
  assert_one_line_error(proc, "TF_CONFIG")
