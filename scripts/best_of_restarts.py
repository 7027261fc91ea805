"""Best of R restarts, chosen on validation: the protocol for rows that the seed decides.

    python scripts/best_of_restarts.py OUT_DIR --restarts=10 --first_seed=0 \
        --screen_epochs=5 --epochs=10 [--jobs=1] [--python=python] -- --preset=paper_table3_16 [FLAG ...]

Some rows depend more on the seed than on any setting (Table 3 with 16 clusters: the same
flags end between 25 % and 34 % validation error). This trains R runs of one setting that
differ only in --seed for --screen_epochs, takes the one whose best validation value
(`<workdir>/checkpoints/best/best.json`, written by training; the test split is never
read) is best, and resumes that run to --epochs. Resuming is bit-exact, so the chosen
model is the one a single --epochs run with that seed gives. The compute is counted in
the row's epoch budget: R x screen_epochs + (epochs - screen_epochs).

Writes OUT_DIR/restarts/seed_<s>/{work/,train.log} for every restart, OUT_DIR/restarts.json
(each restart's best validation value and step at the screen, and the choice), the
chosen run's export in OUT_DIR/export and OUT_DIR/work, a link to its workdir, so
`python -m aae_tf.evaluate --export_dir=OUT_DIR/export --workdir=OUT_DIR/work` scores it.
Resumable: rerun the same command after an interruption.
"""

import argparse
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from aae_tf import atomic  # noqa: E402
from aae_tf import checkpoints  # noqa: E402


def restart_dir(out_dir: str, seed: int) -> str:
  return os.path.join(out_dir, "restarts", f"seed_{seed}")


def screen_records(out_dir: str, seeds: List[int]) -> Dict[int, Optional[dict]]:
  """Each restart's best validation record (None if it has none yet)."""
  return {seed: checkpoints.read_best(os.path.join(restart_dir(out_dir, seed), "work"))
          for seed in seeds}


def choose(records: Dict[int, Optional[dict]]) -> int:
  """The seed whose best validation value is best; ties go to the lower seed.

  Raises ValueError when a restart has no validation record or the records disagree on
  the metric: restarts are only comparable on one metric, all of them scored.
  """
  missing = [seed for seed, record in records.items() if not record]
  if missing:
    raise ValueError(f"restarts with seeds {missing} have no validation record "
                     f"(checkpoints/best/best.json): they did not validate; rerun them")
  metrics = {record["metric"] for record in records.values()}
  if len(metrics) != 1:
    raise ValueError(f"restarts were validated on different metrics {sorted(metrics)}")
  higher = next(iter(records.values()))["higher_is_better"]
  sign = -1.0 if higher else 1.0
  return min(records, key=lambda seed: (sign * records[seed]["value"], seed))


def _start(python: str, flags: List[str], seed: int, epochs: float, directory: str,
           export_dir: Optional[str] = None) -> subprocess.Popen:
  command = [python, "-m", "aae_tf.train", *flags, f"--seed={seed}", f"--epochs={epochs:g}",
             f"--workdir={os.path.join(directory, 'work')}"]
  if export_dir:
    command.append(f"--export_dir={export_dir}")
  print(" ".join(command), flush=True)
  with open(os.path.join(directory, "train.log"), "a") as log:
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _check(code: int, seed: int, directory: str) -> None:
  if code != 0:
    log_path = os.path.join(directory, "train.log")
    with open(log_path) as log:
      last = [line.strip() for line in log if line.startswith(("error:", "stopped:"))]
    raise SystemExit(f"training with --seed={seed} stopped (exit {code}): "
                     f"{last[-1] if last else 'see ' + log_path}")


def main(argv: List[str]) -> int:
  split = argv.index("--") if "--" in argv else len(argv)
  ours, flags = argv[:split], argv[split + 1:]
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("out_dir")
  parser.add_argument("--restarts", type=int, required=True)
  parser.add_argument("--first_seed", type=int, default=0)
  parser.add_argument("--screen_epochs", type=float, required=True)
  parser.add_argument("--epochs", type=float, required=True)
  parser.add_argument("--python", default=sys.executable)
  parser.add_argument("--jobs", type=int, default=1,
                      help="screens trained at a time (one per device or core group)")
  args = parser.parse_args(ours)
  if args.restarts < 1 or args.jobs < 1 or not 0 < args.screen_epochs <= args.epochs:
    parser.error("need --restarts >= 1, --jobs >= 1 and 0 < --screen_epochs <= --epochs")
  for flag in flags:
    if flag.split("=")[0] in ("--seed", "--epochs", "--workdir", "--export_dir"):
      parser.error(f"{flag.split('=')[0]} is set by this script; drop it after --")

  seeds = list(range(args.first_seed, args.first_seed + args.restarts))
  pending = [seed for seed in seeds
             if not os.path.exists(os.path.join(restart_dir(args.out_dir, seed), "screened"))]
  for start in range(0, len(pending), args.jobs):
    running = []
    for seed in pending[start:start + args.jobs]:
      directory = restart_dir(args.out_dir, seed)
      os.makedirs(directory, exist_ok=True)
      running.append((seed, directory, _start(args.python, flags, seed, args.screen_epochs,
                                              directory)))
    # Wait for every screen of the group before reporting a failure, so none is orphaned.
    codes = [(seed, directory, process.wait()) for seed, directory, process in running]
    for seed, directory, code in codes:
      _check(code, seed, directory)
      atomic.write_text(os.path.join(directory, "screened"), "")

  choice_path = os.path.join(args.out_dir, "restarts.json")
  if not os.path.exists(choice_path):   # on a rerun the screen's choice stands
    records = screen_records(args.out_dir, seeds)
    atomic.write_text(choice_path, json.dumps({
        "flags": flags, "screen_epochs": args.screen_epochs, "epochs": args.epochs,
        "budget_epochs": args.restarts * args.screen_epochs + args.epochs - args.screen_epochs,
        "screen": {str(seed): record for seed, record in records.items()},
        "chosen_seed": choose(records)}, indent=2, sort_keys=True))
  with open(choice_path) as f:
    choice = json.load(f)
  chosen = choice["chosen_seed"]
  record = choice["screen"][str(chosen)]
  print(f"chosen: --seed={chosen} ({record['metric']} {record['value']:g} at step "
        f"{record['step']} of the screen)")

  directory = restart_dir(args.out_dir, chosen)
  export_dir = os.path.join(args.out_dir, "export")
  if not os.path.isdir(os.path.join(export_dir, "encoder")):
    _check(_start(args.python, flags, chosen, args.epochs, directory, export_dir).wait(),
           chosen, directory)
  link = os.path.join(args.out_dir, "work")
  if not os.path.islink(link):
    os.symlink(os.path.relpath(os.path.join(directory, "work"), args.out_dir), link)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
