"""Collects each session-9 run's validation curve, command and diagnostics; plots them."""
import json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

RUNS = "runs/s9"
OUT = "docs/results/s9_clustering"
curves = {}
for name in sorted(os.listdir(RUNS)):
  metrics = os.path.join(RUNS, name, "work", "metrics.jsonl")
  if not os.path.exists(metrics):
    continue
  curve, reconstruction = {}, {}
  for line in open(metrics):
    row = json.loads(line)
    if "validation_clustering_error_pct" in row:
      curve[row["step"]] = row["validation_clustering_error_pct"]
    if "reconstruction_loss" in row:
      reconstruction[row["step"]] = row["reconstruction_loss"]
  command = open(os.path.join(RUNS, name, "cmd.txt")).read().strip()
  entry = {"command": command, "finished": os.path.exists(os.path.join(RUNS, name, "done")),
           "validation_clustering_error_pct": sorted(curve.items()),
           "reconstruction_loss_at_validation": [reconstruction.get(s) for s in sorted(curve)]}
  diag = os.path.join(RUNS, name, "diag.json")
  if os.path.exists(diag):
    d = json.load(open(diag))
    entry["diagnostics_of_best"] = {k: v for k, v in d.items()
                                   if not isinstance(v, (list, dict)) and k != "export_dir"}
  curves[name] = entry
json.dump(curves, open(os.path.join(OUT, "validation_curves.json"), "w"), indent=1)
for name, e in curves.items():
  c = e["validation_clustering_error_pct"]
  best = min(c, key=lambda x: x[1]) if c else None
  print(f"{name:8s} best {best[1]:5.1f} @ep {best[0]/500:4.1f}  n={len(c)}" if best else name)
if len(sys.argv) > 1:
  fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
  for ax, k in zip(axes, (16, 30)):
    for name in sys.argv[1:]:
      e = curves[name]
      if ("table3_30" in e["command"]) != (k == 30):
        continue
      c = e["validation_clustering_error_pct"]
      ax.plot([s / 500 for s, _ in c], [v for _, v in c], marker=".", label=name)
    ax.axhline(25 if k == 16 else 20, color="k", lw=0.8, ls="--")
    ax.set_title(f"{k} clusters: validation error by the paper rule")
    ax.set_xlabel("epoch"); ax.set_ylabel("clustering error %"); ax.set_ylim(0, 90)
    ax.grid(alpha=0.3); ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig("docs/figures/s9_clustering_levers.png", dpi=90)
