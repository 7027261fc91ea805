"""Collects each run's validation curve, flags and diagnostics; plots the levers."""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustering_curves

RUNS = "runs/s8"
OUT = "docs/results/s8_clustering"
flags = {}
for q in ("q1.txt", "q2.txt", "q3.txt", "manual.txt"):
  path = os.path.join(RUNS, q)
  if os.path.exists(path):
    for line in open(path):
      if line.strip():
        name, _, rest = line.strip().partition(" ")
        flags[name] = rest
curves = clustering_curves.collect(RUNS, lambda name: {"flags": flags.get(name, "")})
json.dump(curves, open(os.path.join(OUT, "validation_curves.json"), "w"), indent=1)
clustering_curves.report(curves, "flags")
if len(sys.argv) > 1:
  clustering_curves.plot(curves, sys.argv[1:], lambda e: "table3_30" in e["flags"],
                         "docs/figures/s8_clustering_levers.png")
