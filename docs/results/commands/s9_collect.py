"""Collects each session-9 run's validation curve, command and diagnostics; plots them."""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustering_curves

RUNS = "runs/s9"
OUT = "docs/results/s9_clustering"


def describe(name):
  return {"command": open(os.path.join(RUNS, name, "cmd.txt")).read().strip(),
          "finished": os.path.exists(os.path.join(RUNS, name, "done"))}


curves = clustering_curves.collect(RUNS, describe)
json.dump(curves, open(os.path.join(OUT, "validation_curves.json"), "w"), indent=1)
clustering_curves.report(curves, "finished")
if len(sys.argv) > 1:
  clustering_curves.plot(curves, sys.argv[1:], lambda e: "table3_30" in e["command"],
                         "docs/figures/s9_clustering_levers.png", targets=True)
