"""Shared by s8_collect.py and collect_session.py: each clustering run's validation curve and
diagnostics, and the figure of several runs' curves."""
import json, os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def collect(runs, describe):
  """{run: entry} for every run under `runs` with a metrics.jsonl; `describe(name)` gives
  the entry's identifying fields (its flags or command)."""
  curves = {}
  for name in sorted(os.listdir(runs)):
    metrics = os.path.join(runs, name, "work", "metrics.jsonl")
    if not os.path.exists(metrics):
      continue
    curve, reconstruction = {}, {}
    for line in open(metrics):
      row = json.loads(line)
      if "validation_clustering_error_pct" in row:
        curve[row["step"]] = row["validation_clustering_error_pct"]
      if "reconstruction_loss" in row:
        reconstruction[row["step"]] = row["reconstruction_loss"]
    entry = {**describe(name), "validation_clustering_error_pct": sorted(curve.items()),
             "reconstruction_loss_at_validation": [reconstruction.get(s) for s in sorted(curve)]}
    diag = os.path.join(runs, name, "diag.json")
    if os.path.exists(diag):
      d = json.load(open(diag))
      entry["diagnostics_of_best"] = {k: v for k, v in d.items()
                                     if not isinstance(v, (list, dict)) and k != "export_dir"}
    curves[name] = entry
  return curves


def report(curves, label):
  for name, e in curves.items():
    c = e["validation_clustering_error_pct"]
    best = min(c, key=lambda x: x[1]) if c else None
    print(f"{name:22s} best {best[1]:5.1f} @ep {best[0]/500:4.1f}  n={len(c)}  {e[label]}"
          if best else name)


def plot(curves, names, is_30, path, targets=False):
  """Validation curves of `names`, 16 clusters left and 30 right (`is_30(entry)`); a
  cluster count without runs gets no panel."""
  counts = [k for k in (16, 30) if any(is_30(curves[n]) == (k == 30) for n in names)]
  fig, axes = plt.subplots(1, len(counts), figsize=(6.5 * len(counts), 4.5), squeeze=False)
  for ax, k in zip(axes[0], counts):
    for name in names:
      e = curves[name]
      if is_30(e) != (k == 30):
        continue
      c = e["validation_clustering_error_pct"]
      ax.plot([s / 500 for s, _ in c], [v for _, v in c], marker=".", label=name)
    if targets:
      ax.axhline(25 if k == 16 else 20, color="k", lw=0.8, ls="--")
    ax.set_title(f"{k} clusters: validation error by the paper rule")
    ax.set_xlabel("epoch"); ax.set_ylabel("clustering error %"); ax.set_ylim(0, 90)
    ax.grid(alpha=0.3); ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
