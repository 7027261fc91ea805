"""Collects each clustering run's validation curve, command and diagnostics; plots them.

    python docs/results/commands/collect_session.py SESSION [RUN...]

reads runs/SESSION/*/ (cmd.txt, work/metrics.jsonl, diag.json), writes
docs/results/SESSION_clustering/validation_curves.json and, given run names, plots their
curves into docs/figures/SESSION_clustering_levers.png (s9 and later).
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustering_curves

SESSION = sys.argv[1]
RUNS = os.path.join("runs", SESSION)
OUT = f"docs/results/{SESSION}_clustering"


def describe(name):
  return {"command": open(os.path.join(RUNS, name, "cmd.txt")).read().strip(),
          "finished": os.path.exists(os.path.join(RUNS, name, "done"))}


curves = clustering_curves.collect(RUNS, describe)
os.makedirs(OUT, exist_ok=True)
json.dump(curves, open(os.path.join(OUT, "validation_curves.json"), "w"), indent=1)
clustering_curves.report(curves, "finished")
if len(sys.argv) > 2:
  clustering_curves.plot(curves, sys.argv[2:], lambda e: "table3_30" in e["command"],
                         f"docs/figures/{SESSION}_clustering_levers.png", targets=True)
