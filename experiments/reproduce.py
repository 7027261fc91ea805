"""Trains, evaluates and tabulates the records of experiments/paper.py.

    python experiments/reproduce.py list
    python experiments/reproduce.py run NAME... [--out=runs/repro] [--jobs=N] [-- FLAG ...]
    python experiments/reproduce.py evaluate NAME... [--out=runs/repro]
    python experiments/reproduce.py collect NAME [--out=runs/repro]
    python experiments/reproduce.py table [--write]

`run` trains every draw of the named records into OUT/NAME/drawD/ (work/, export/,
train.log, run.json). Resumable: rerun the same command after an interruption and each
run continues from its newest checkpoint; an exported draw is not trained again. Flags
after `--` go to every training command (e.g. `-- --precision=float32`); --jobs=N
trains N draws at a time. Each draw is one training run, as a user would run the preset.

`evaluate` scores each draw's export (`python -m aae_tf.evaluate`, the test set read
once) into drawD/eval.json. `collect` copies the draws' eval.json, with run.json as its
`run` entry (commit, date, machine, flags, training time), to the paths the record names
under docs/results/. `table` prints the results tables generated from the records and
the committed JSON; `--write` puts them between the markers of docs/RESULTS.md and
README.md. tests/test_experiments.py fails when a committed table is not what this
generates.
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import paper  # noqa: E402  pylint: disable=wrong-import-position

MARKER = "results table"
RESULTS_MD = os.path.join(ROOT, "docs", "RESULTS.md")
README_MD = os.path.join(ROOT, "README.md")
_SET_HERE = ("--workdir", "--export_dir")


class Stop(Exception):
  """A training or evaluation command failed; the message says which and why."""


def _write(path: str, text: str) -> None:
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  temporary = f"{path}.tmp{os.getpid()}"
  with open(temporary, "w") as f:
    f.write(text)
  os.replace(temporary, path)


def _write_json(path: str, value) -> None:
  _write(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


# --- where things go ------------------------------------------------------------------

def draw_dir(out: str, experiment: paper.Experiment, index: int) -> str:
  return os.path.join(out, experiment.name, f"draw{index}")


def _exported(directory: str) -> bool:
  return os.path.isdir(os.path.join(directory, "export", "encoder"))


# --- running commands ------------------------------------------------------------------

def _last_error(log_path: str) -> str:
  try:
    with open(log_path, errors="replace") as log:
      last = [line.strip() for line in log if line.startswith(("error:", "stopped:"))]
  except OSError:
    last = []
  return last[-1] if last else f"see {log_path}"


def run_group(commands: Sequence[tuple], jobs: int) -> float:
  """Runs (argv, log_path) commands, `jobs` at a time; waits for every command of a group
  before reporting a failure (none is left running unwatched). Returns the wall seconds."""
  start = time.time()
  for first in range(0, len(commands), jobs):
    running = []
    for argv, log_path in commands[first:first + jobs]:
      os.makedirs(os.path.dirname(log_path), exist_ok=True)
      print(" ".join(shlex.quote(a) for a in argv), flush=True)
      with open(log_path, "a") as log:
        running.append((argv, log_path,
                        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)))
    codes = [(argv, log_path, process.wait()) for argv, log_path, process in running]
    for argv, log_path, code in codes:
      if code >= 128:   # a signal: stop the whole reproduction
        raise SystemExit(code)
      if code:
        raise Stop(f"{argv[2] if len(argv) > 2 else argv[0]} stopped (exit {code}): "
                   f"{_last_error(log_path)}")
  return time.time() - start


def _commit() -> str:
  try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                            capture_output=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=ROOT, text=True, capture_output=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"
  return commit + ("+changes" if dirty else "")


def machine() -> str:
  """The CPU's model, its core count and whether it has bf16 natively."""
  model, flags = platform.processor() or platform.machine(), set()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name") and ":" in line:
          model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and ":" in line:
          flags = set(line.split(":", 1)[1].split())
  except OSError:
    pass
  bf16 = sorted(flags & {"amx_bf16", "avx512_bf16"})
  return f"{model}, {os.cpu_count()} cores" + (f", {', '.join(bf16)}" if bf16 else "")


def _train_argv(python: str, flags: List[str], workdir: str,
                export_dir: Optional[str] = None) -> List[str]:
  argv = [python, "-m", "aae_tf.train", *flags, f"--workdir={workdir}"]
  return argv + ([f"--export_dir={export_dir}"] if export_dir else [])


def _start_record(directory: str, flags: List[str]) -> dict:
  path = os.path.join(directory, "run.json")
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return {"commit": _commit(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
          "machine": machine(), "flags": flags, "training_seconds": 0.0}


def _add_time(directory: str, record: dict, seconds: float) -> None:
  record["training_seconds"] = round(record["training_seconds"] + seconds, 1)
  _write_json(os.path.join(directory, "run.json"), record)


def _prepare(experiment: paper.Experiment, directory: str, python: str) -> None:
  for command in experiment.prepare:
    argv = shlex.split(command.replace("{dir}", directory))
    if argv[0] == "python":
      argv[0] = python
    run_group([(argv, os.path.join(directory, "prepare.log"))], 1)


def check_extra(experiments: Sequence[paper.Experiment], extra: List[str]) -> None:
  for flag in extra:
    name = flag.split("=")[0]
    if not flag.startswith("--"):
      raise Stop(f"{flag}: flags after -- must be --name=value")
    if name in _SET_HERE:
      raise Stop(f"{name} is set by reproduce.py (OUT/NAME/drawD/); drop it")


def run(experiments: Sequence[paper.Experiment], out: str, python: str, extra: List[str],
        jobs: int) -> None:
  check_extra(experiments, extra)
  singles = []
  for experiment in experiments:
    for index, draw in enumerate(experiment.draws):
      directory = draw_dir(out, experiment, index)
      os.makedirs(directory, exist_ok=True)
      if _exported(directory):
        print(f"{experiment.name} draw {index}: already exported ({directory}/export); "
              "remove it to train again")
        continue
      _prepare(experiment, directory, python)
      singles.append((experiment, index, directory))
  for first in range(0, len(singles), jobs):
    group = singles[first:first + jobs]
    records = []
    for experiment, index, directory in group:
      flags = experiment.flags(experiment.draws[index], directory) + extra
      records.append((directory, _start_record(directory, flags), flags))
    seconds = run_group([(_train_argv(python, flags, os.path.join(directory, "work"),
                                      os.path.join(directory, "export")),
                          os.path.join(directory, "train.log"))
                         for directory, _, flags in records], jobs)
    for directory, record, _ in records:
      _add_time(directory, record, seconds)
  print("trained; next: python experiments/reproduce.py evaluate "
        + " ".join(e.name for e in experiments) + f" --out={out}")


def evaluate(experiments: Sequence[paper.Experiment], out: str, python: str) -> None:
  for experiment in experiments:
    for index in range(len(experiment.draws)):
      directory = draw_dir(out, experiment, index)
      if not _exported(directory):
        raise Stop(f"{experiment.name} draw {index}: no export in {directory}; "
                   f"run `python experiments/reproduce.py run {experiment.name}` first")
      output = os.path.join(directory, "eval.json")
      run_group([([python, "-m", "aae_tf.evaluate", f"--export_dir={directory}/export",
                   f"--workdir={directory}/work", f"--output={output}"],
                  os.path.join(directory, "eval.log"))], 1)
      with open(output) as f:
        value = json.load(f).get(experiment.metric)
      print(f"{experiment.name} draw {index}: {experiment.metric} = {value}")


def collect(experiment: paper.Experiment, out: str, root: str = ROOT) -> List[str]:
  """Copies each draw's eval.json, with its run.json as `run`, to the committed paths."""
  written = []
  for index, draw in enumerate(experiment.draws):
    directory = draw_dir(out, experiment, index)
    try:
      with open(os.path.join(directory, "eval.json")) as f:
        results = json.load(f)
      with open(os.path.join(directory, "run.json")) as f:
        record = json.load(f)
    except OSError as e:
      raise Stop(f"{experiment.name} draw {index}: {e.strerror}: {e.filename} (run and "
                 "evaluate it first)") from None
    results.pop("figures", None)   # paths of this machine; the figures are not committed
    results["export_dir"] = f"runs/{experiment.name}/draw{index}/export"
    results["workdir"] = f"runs/{experiment.name}/draw{index}/work"
    results["run"] = record
    _write_json(os.path.join(root, draw.result), results)
    written.append(draw.result)
  return written


# --- the tables ------------------------------------------------------------------------

def load_results(experiment: paper.Experiment, root: str = ROOT) -> List[dict]:
  results = []
  for draw in experiment.draws:
    with open(os.path.join(root, draw.result)) as f:
      results.append(json.load(f))
  return results


def _number(value: float, metric: str) -> str:
  return f"{value:.1f}" if metric in ("parzen_ll", "style_accuracy_pct") else f"{value:.2f}"


def _unit(metric: str) -> str:
  return "" if metric == "parzen_ll" else " %"


def measured(experiment: paper.Experiment, results: List[dict]) -> str:
  """One draw's value (Parzen with its standard error), or mean ± sample std and each
  draw's value; then whether the target is met."""
  metric = experiment.metric
  values = [r[metric] for r in results]
  if len(values) == 1:
    text = _number(values[0], metric)
    if metric == "parzen_ll":
      text += f" ± {results[0]['parzen_se']:.1f}"
    text = f"**{text}{_unit(metric)}**"
  else:
    each = ", ".join(_number(v, metric) for v in values)
    text = (f"**{_number(statistics.mean(values), metric)} ± "
            f"{_number(statistics.stdev(values), metric)}{_unit(metric)}** ({each})")
  if experiment.target:
    mean = statistics.mean(values)
    text += " — met" if experiment.target.met(mean) else " — not met"
  return text


def _target(experiment: paper.Experiment) -> str:
  return f"{experiment.target}{_unit(experiment.metric)}" if experiment.target else "—"


def _listing(items: List[str]) -> str:
  """'a' when all are equal, else 'a, b, c' in draw order."""
  return items[0] if len(set(items)) == 1 else ", ".join(items)


def budget(experiment: paper.Experiment, results: List[dict]) -> str:
  text = _listing([f"{experiment.draw_epochs(d):g}" for d in experiment.draws]) + " epochs"
  stopped = [(i, r["run"]["epochs_trained"]) for i, r in enumerate(results)
             if r["run"].get("epochs_trained")]
  for index, epochs in stopped:
    text += (f"; draw {index} stopped at {epochs:g}" if len(results) > 1
             else f"; stopped at {epochs:g}")
  return text


def training_time(results: List[dict]) -> str:
  seconds = [r["run"].get("training_seconds") or r.get("training_seconds") or 0
             for r in results]
  if max(seconds) >= 90 * 60:
    return ", ".join(f"{s / 3600:.1f}" for s in seconds) + " h"
  return ", ".join(f"{s / 60:.0f}" for s in seconds) + " min"


def _command(experiment: paper.Experiment, results: List[dict]) -> str:
  commits = _listing([r["run"]["commit"] for r in results])
  dates = ", ".join(sorted({r["run"]["date"] for r in results}))
  return f"`reproduce.py run {experiment.name}`: {commits} ({dates})"


def results_table(root: str = ROOT) -> str:
  lines = ["| row | target | paper | measured (test; mean ± std (each draw)) | budget | "
           "training time | machine | command, commit (date) |",
           "|---|---|---|---|---|---|---|---|"]
  for experiment in paper.EXPERIMENTS:
    results = load_results(experiment, root)
    machines = "; ".join(dict.fromkeys(r["run"]["machine"] for r in results))
    lines.append(
        f"| [{experiment.title}](#{experiment.section}) | {_target(experiment)} | "
        f"{experiment.paper} | {measured(experiment, results)} | "
        f"{budget(experiment, results)} | {training_time(results)} | {machines} | "
        f"{_command(experiment, results)} |")
  return "\n".join(lines) + "\n"


def readme_table(root: str = ROOT) -> str:
  lines = ["| row | target | paper | measured (test) | budget |", "|---|---|---|---|---|"]
  for experiment in paper.EXPERIMENTS:
    results = load_results(experiment, root)
    lines.append(
        f"| [{experiment.title}](docs/RESULTS.md#{experiment.section}) | "
        f"{_target(experiment)} | {experiment.paper} | "
        f"{measured(experiment, results)} | {budget(experiment, results)} |")
  return "\n".join(lines) + "\n"


def _markers(name: str = MARKER):
  return f"<!-- {name}: begin -->\n", f"<!-- {name}: end -->"


def between_markers(path: str) -> Optional[str]:
  """The text between the results-table markers of a document, None without them."""
  begin, end = _markers()
  with open(path) as f:
    text = f.read()
  if begin not in text or end not in text:
    return None
  return text.split(begin, 1)[1].split(end, 1)[0]


def write_between_markers(path: str, table: str) -> None:
  begin, end = _markers()
  with open(path) as f:
    text = f.read()
  if begin not in text or end not in text:
    raise Stop(f"{path} has no `{begin.strip()}` ... `{end}` markers")
  head, rest = text.split(begin, 1)
  _write(path, head + begin + table + end + rest.split(end, 1)[1])


def tables(root: str = ROOT) -> Dict[str, str]:
  """{document: the table generated for it}."""
  return {os.path.join(root, "docs", "RESULTS.md"): results_table(root),
          os.path.join(root, "README.md"): readme_table(root)}


# --- the command line ------------------------------------------------------------------

def _records(names: List[str]) -> List[paper.Experiment]:
  unknown = [name for name in names if name not in paper.BY_NAME]
  if unknown:
    raise Stop(f"unknown experiment(s) {', '.join(unknown)}; known: "
               f"{', '.join(paper.BY_NAME)}")
  return [paper.BY_NAME[name] for name in names]


def parse(argv: List[str]):
  split = argv.index("--") if "--" in argv else len(argv)
  ours, extra = argv[:split], argv[split + 1:]
  parser = argparse.ArgumentParser(prog="experiments/reproduce.py",
                                   description=__doc__.split("\n")[0])
  commands = parser.add_subparsers(dest="command", required=True)
  commands.add_parser("list", help="the records, one a line")
  for name, help_text in (("run", "train every draw of the named records (resumable)"),
                          ("evaluate", "score the draws' exports into eval.json")):
    sub = commands.add_parser(name, help=help_text)
    sub.add_argument("names", nargs="+", metavar="NAME")
    sub.add_argument("--out", default="runs/repro")
    sub.add_argument("--python", default=sys.executable)
    if name == "run":
      sub.add_argument("--jobs", type=int, default=1,
                       help="trainings at a time (draws, or a best-of row's screens)")
  sub = commands.add_parser("collect", help="copy a finished run's evaluations to docs/results")
  sub.add_argument("name", metavar="NAME")
  sub.add_argument("--out", default="runs/repro")
  sub = commands.add_parser("table", help="print the generated results tables")
  sub.add_argument("--write", action="store_true",
                   help="replace the tables between the markers of docs/RESULTS.md, README.md")
  args = parser.parse_args(ours)
  if extra and args.command != "run":
    parser.error("flags after -- are for `run` only")
  if args.command == "run" and args.jobs < 1:
    parser.error("--jobs must be >= 1")
  args.extra = extra
  return args


def main(argv: List[str]) -> int:
  args = parse(argv)
  try:
    if args.command == "list":
      for experiment in paper.EXPERIMENTS:
        print(f"{experiment.name:<18} {experiment.title}")
    elif args.command == "run":
      run(_records(args.names), args.out, args.python, args.extra, args.jobs)
    elif args.command == "evaluate":
      evaluate(_records(args.names), args.out, args.python)
    elif args.command == "collect":
      for path in collect(_records([args.name])[0], args.out):
        print(f"wrote {path}")
      print("then: python experiments/reproduce.py table --write")
    elif args.command == "table":
      for path, table in tables().items():
        print(f"{os.path.relpath(path, ROOT)}:\n{table}")
        if args.write:
          write_between_markers(path, table)
  except (Stop, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
