"""Validation curves of best-of-restarts runs (scripts/best_of_restarts.py), one panel each.

    python docs/results/commands/restarts_curves.py OUT_JSON FIGURE RUN_DIR...

reads RUN_DIR/restarts.json and RUN_DIR/restarts/seed_*/work/metrics.jsonl; writes every
restart's validation clustering curve and the choice to OUT_JSON and plots them (the
chosen restart bold, resumed to the full budget) to FIGURE.
"""
import json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

out_json, figure, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
STEPS_PER_EPOCH = 500
collected = {}
fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4.2), squeeze=False)
for ax, run in zip(axes[0], runs):
  choice = json.load(open(os.path.join(run, "restarts.json")))
  curves = {}
  for seed in sorted(choice["screen"], key=int):
    path = os.path.join(run, "restarts", f"seed_{seed}", "work", "metrics.jsonl")
    rows = [json.loads(line) for line in open(path)]
    curves[seed] = [(r["step"] / STEPS_PER_EPOCH, r["validation_clustering_error_pct"])
                    for r in rows if "validation_clustering_error_pct" in r]
    chosen = int(seed) == choice["chosen_seed"]
    ax.plot(*zip(*curves[seed]), marker=".", lw=2.5 if chosen else 0.8,
            label=f"seed {seed}" + (" (chosen)" if chosen else ""))
  ax.axhline(25, color="k", lw=0.8, ls="--")
  ax.axvline(choice["screen_epochs"], color="grey", lw=0.6, ls=":")
  ax.set_title(f"{os.path.basename(run.rstrip('/'))}: best of {len(curves)}")
  ax.set_xlabel("epoch"); ax.set_ylabel("validation clustering error %"); ax.set_ylim(0, 80)
  ax.grid(alpha=0.3); ax.legend(fontsize=7)
  collected[os.path.basename(run.rstrip("/"))] = {**choice, "curves": curves}
fig.tight_layout()
fig.savefig(figure, dpi=90)
json.dump(collected, open(out_json, "w"), indent=1)
for name, entry in collected.items():
  best = {s: min(v for _, v in c[:int(entry["screen_epochs"])]) for s, c in entry["curves"].items()}
  print(name, "chosen", entry["chosen_seed"], "screen bests", best)
