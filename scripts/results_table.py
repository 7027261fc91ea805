"""Collects scripts/reproduce.sh runs into docs: the results table, JSON and figures.

    python scripts/results_table.py RUNS_DIR [--docs=docs] [--write]

For every experiment of scripts/reproduce.sh with an `eval.json` under RUNS_DIR, copies
the evaluation (docs/results/<experiment>.json|md) and its figures
(docs/figures/<experiment>_<figure>.png), and prints the markdown rows of the table in
docs/RESULTS.md: paper value, ours, training budget and time, the command. An
experiment's further draws (`<experiment>_draw2`, ... in reproduce.sh: other label draws
and seeds) join its row as mean ± sample standard deviation, each run's value listed. With
--write, the rows replace the tables between the markers of docs/RESULTS.md and (a
compact version) README.md.
"""

import argparse
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# experiment -> (what the paper measured, metric key, paper value, target (op, bound)).
# The targets are what this project must reach at the budget of scripts/reproduce.sh;
# the paper's value is the real goal.
PAPER = {
    "table1": ("Table 1, MNIST 8-D", "parzen_ll", "340 ± 2", (">=", 330.0)),
    "table2_100": ("Table 2, 100 labels", "test_error_pct", "1.90 ± 0.10 %", ("<=", 5.0)),
    "table2_1000": ("Table 2, 1000 labels", "test_error_pct", "1.60 ± 0.08 %", ("<=", 2.5)),
    "table2_all": ("Table 2, all labels", "test_error_pct", "0.85 %", ("<=", 1.2)),
    "table3_16": ("Table 3, 16 clusters", "clustering_error_pct", "9.55 ± 2.05 %", ("<=", 25.0)),
    "table3_30": ("Table 3, 30 clusters", "clustering_error_pct", "4.10 ± 1.13 %", ("<=", 20.0)),
    "fig6_supervised": ("Fig. 6, supervised style/content (15-D)", "style_accuracy_pct",
                        "figure", (">=", 95.0)),
    "seed1_supervised": ("Seed 1, supervised style/content (2-D)", "style_accuracy_pct",
                         "—", (">=", 95.0)),
    "fig10_2d": ("Fig. 10, 2-D, 20 clusters", "clustering_error_pct", "≈ 13.5 %", ("<=", 25.0)),
    "seed2_mnist": ("Seed 2, 2-D, MNIST", "parzen_ll", "—", None),
    "seed2_fashion_mnist": ("Seed 2, 2-D, Fashion-MNIST", "parzen_ll", "—", None),
}
TRAIN_IMAGES = {True: 50_000, False: 60_000}   # validation carved out or not


def experiment_flags() -> dict:
  """experiment -> flags, read from scripts/reproduce.sh (the one place they live)."""
  text = open(os.path.join(HERE, "reproduce.sh")).read()
  return dict(re.findall(r'^\s*\[(\w+)\]="([^"]*)"', text, flags=re.M))


def _value(results: dict, key: str) -> str:
  if key == "parzen_ll":
    return f"{results['parzen_ll']:.1f} ± {results['parzen_se']:.1f} nats"
  return f"{results[key]:.2f} %"


def _met(value: float, rule) -> str:
  if not rule:
    return ""
  op, bound = rule
  ok = value >= bound if op == ">=" else value <= bound
  return "met" if ok else "not met"


def _duration(seconds) -> str:
  if not seconds:
    return "—"
  minutes = seconds / 60
  return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def seconds_from_log(path: str):
  """Training seconds from the progress lines of a train.log (runs that predate the
  `train_seconds` of metrics.jsonl): each line reports its loop's steps/s."""
  if not os.path.exists(path):
    return None
  total, previous = 0.0, None
  for line in open(path, errors="replace"):
    match = re.search(r"step (\d+)/\d+ .*\| ([\d.]+) steps/s", line)
    if match:
      step, rate = int(match.group(1)), float(match.group(2))
      if previous is not None and step > previous and rate > 0:
        total += (step - previous) / rate
      previous = step
    elif "resumed from" in line or "starting a new run" in line:
      previous = int(m.group(1)) if (m := re.search(r"at step (\d+)", line)) else 0
  return total or None


def repeats(name: str, flags: dict) -> list:
  """The experiment and its further draws (`<name>_draw2`, ...) in scripts/reproduce.sh."""
  return [name] + sorted(n for n in flags if re.fullmatch(rf"{name}_draw\d+", n))


def _mean_std(values):
  mean = sum(values) / len(values)
  if len(values) < 2:
    return mean, None
  return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def _summary(finished: list, key: str) -> str:
  """One run's value, or mean ± sample std over the runs with each run's value."""
  if len(finished) == 1:
    return _value(finished[0], key)
  values = [r[key] for r in finished]
  mean, std = _mean_std(values)
  unit = " nats" if key == "parzen_ll" else " %"
  each = ", ".join(f"{v:.1f}" if key == "parzen_ll" else f"{v:.2f}" for v in values)
  return f"{mean:.2f} ± {std:.2f}{unit} ({len(values)} runs: {each})"


def _copy_outputs(runs: str, docs: str, name: str, results: dict) -> None:
  os.makedirs(os.path.join(docs, "results"), exist_ok=True)
  os.makedirs(os.path.join(docs, "figures"), exist_ok=True)
  path = os.path.join(runs, name, "eval.json")
  shutil.copy(path, os.path.join(docs, "results", f"{name}.json"))
  shutil.copy(path[:-5] + ".md", os.path.join(docs, "results", f"{name}.md"))
  for figure, source in results.get("figures", {}).items():
    shutil.copy(source, os.path.join(docs, "figures", f"{name}_{figure}.png"))


def _draw_flags(flags: dict, name: str, draw: str) -> str:
  """What a further draw adds to its experiment's flags (all its flags if not a suffix)."""
  base, own = flags[name], flags[draw]
  return own[len(base):].strip() if own.startswith(base) else own


def collect(runs: str, docs: str):
  """(full rows for RESULTS.md, compact rows for the README)."""
  flags = experiment_flags()
  rows, compact = [], []
  for name, (label, key, paper, rule) in PAPER.items():
    runs_of_name = repeats(name, flags)
    command = f"`scripts/reproduce.sh runs/repro {name}` (`{flags.get(name, '?')}`)"
    if len(runs_of_name) > 1:
      command += "; further draws: " + ", ".join(
          f"`{n}` (`{_draw_flags(flags, name, n)}`)" for n in runs_of_name[1:])
    names = [n for n in runs_of_name if os.path.exists(os.path.join(runs, n, "eval.json"))]
    if not names:
      rows.append(f"| {label} | {key} | {paper} | not run yet | | | | | {command} |")
      compact.append(f"| {label} | {key} | {paper} | not run yet | |")
      continue
    finished, seconds = [], []
    for run in names:
      results = json.load(open(os.path.join(runs, run, "eval.json")))
      _copy_outputs(runs, docs, run, results)
      finished.append(results)
      seconds.append(results.get("training_seconds")
                     or seconds_from_log(os.path.join(runs, run, "train.log")) or 0)
    config = json.load(open(os.path.join(runs, names[0], "work", "config.json")))
    images = config["batch_size"] * (finished[0].get("training_step") or 0)
    epochs = images / TRAIN_IMAGES[config.get("validation_size", 0) > 0]
    extra = ""
    if "validation_error_pct" in finished[0]:
      mean, _ = _mean_std([r["validation_error_pct"] for r in finished])
      extra = f" (validation {mean:.2f} %)"
    mean, _ = _mean_std([r[key] for r in finished])
    mse, _ = _mean_std([r["recon_mse"] for r in finished])
    time = _duration(sum(seconds) / len(seconds))
    time += " per run" if len(finished) > 1 else ""
    summary = _summary(finished, key)
    rows.append(
        f"| {label} | {key} | {paper} | {summary}{extra} | {mse:.4f} | "
        f"{_met(mean, rule)} | {epochs:.0f} epochs | {time} | {command} |")
    compact.append(f"| {label} | {key} | {paper} | {summary} | {epochs:.0f} epochs |")
  return rows, compact


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("runs")
  parser.add_argument("--docs", default=os.path.join(HERE, "..", "docs"))
  parser.add_argument("--write", action="store_true",
                      help="also rewrite the table in DOCS/RESULTS.md")
  args = parser.parse_args()
  lines = ["| experiment | metric | paper | ours (1 run, or mean ± std) | test recon MSE | target | "
           "trained | training time | command |", "|---|---|---|---|---|---|---|---|---|"]
  rows, compact = collect(args.runs, args.docs)
  table = "\n".join(lines + rows) + "\n"
  print(table, end="")
  if args.write:
    sys.path.insert(0, os.path.join(HERE, ".."))
    from aae_tf import report  # pylint: disable=g-import-not-at-top
    report.write_between_markers(os.path.join(args.docs, "RESULTS.md"), "results table",
                                 table, "Results")
    readme = ["| experiment | metric | paper | measured here (1 run, or mean ± std) | trained |",
              "|---|---|---|---|---|"]
    report.write_between_markers(os.path.join(args.docs, "..", "README.md"),
                                 "results table", "\n".join(readme + compact) + "\n",
                                 "aae_tf")


if __name__ == "__main__":
  main()
