"""Validation curves of the Table 3 presets' three seeds, one panel per cluster count."""
import json
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, k in zip(axes, (16, 30)):
  for name, seed in ((f"table3_{k}", 0), (f"table3_{k}_draw1", 1), (f"table3_{k}_draw2", 2)):
    points = json.load(open(f"docs/results/s8_clustering/{name}_validation_curve.json"))["points"]
    ax.plot([s / 500 for s, _ in points], [v for _, v in points], marker=".",
            label=f"seed {seed}")
  ax.axhline(25 if k == 16 else 20, color="grey", linestyle="--", label="target")
  ax.axvline(5, color="grey", linestyle=":", label="rates / 10")
  ax.set_title(f"paper_table3_{k}: validation error by the paper rule")
  ax.set_xlabel("epoch"); ax.set_ylabel("clustering error %"); ax.set_ylim(0, 80)
  ax.grid(alpha=0.3); ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("docs/figures/s8_table3_presets_validation_curves.png", dpi=90)
