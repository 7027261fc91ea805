"""One record per paper row and per published figure: what to train, how, and what counts.

Nothing else names an experiment's flags: `experiments/reproduce.py` trains and evaluates
these records, and generates the results tables of docs/RESULTS.md and README.md from
them and the committed evaluation JSON (`docs/results/<name>[_drawN].json`). Each
committed JSON holds what `python -m aae_tf.evaluate` wrote, plus a `run` entry with how
the number was measured: commit, date, machine, the flags of that commit, and the
training time when it is not the evaluation's own `training_seconds`.

A record's flags are those of today's code. Where a number was measured on an older
commit with settings that are today's preset, the JSON's `run.flags` says what ran.
"""

import dataclasses
from typing import Optional, Tuple

@dataclasses.dataclass(frozen=True)
class Draw:
  """One label draw or seed of a row: its flags on top of the record's, and where its
  committed evaluation is."""
  flags: Tuple[str, ...] = ()
  result: str = ""                  # the committed evaluation JSON, relative to the repo
  epochs: Optional[float] = None    # when this draw's budget differs from the record's


@dataclasses.dataclass(frozen=True)
class Target:
  op: str        # ">=" or "<="
  bound: float

  def met(self, value: float) -> bool:
    return value >= self.bound if self.op == ">=" else value <= self.bound

  def __str__(self) -> str:
    return f"{'≥' if self.op == '>=' else '≤'} {self.bound:g}"


@dataclasses.dataclass(frozen=True)
class Experiment:
  name: str
  title: str                        # the row's label in the tables
  preset: str
  epochs: float                     # the budget of one run
  metric: str                       # key of eval.json
  paper: str                        # the paper's value, as the paper states it
  target: Optional[Target]          # what this project must reach; None: no target
  draws: Tuple[Draw, ...]
  overrides: Tuple[str, ...] = ()   # flags on top of the preset, for every draw
  prepare: Tuple[str, ...] = ()     # commands to run first ({dir}: the draw's directory)
  section: str = ""                 # anchor of its section in docs/RESULTS.md

  def __post_init__(self):
    if not self.draws or any(not d.result for d in self.draws):
      raise ValueError(f"{self.name}: every draw needs its committed result path")
    for flag in self.overrides + tuple(f for d in self.draws for f in d.flags):
      if flag.split("=")[0] in ("--preset", "--epochs", "--workdir", "--export_dir"):
        raise ValueError(f"{self.name}: {flag} is set from the record's fields")

  def draw_epochs(self, draw: Draw) -> float:
    return draw.epochs if draw.epochs is not None else self.epochs

  def flags(self, draw: Draw, directory: str = "{dir}") -> list:
    """The training flags of one draw, without --workdir and --export_dir."""
    flags = [f"--preset={self.preset}", *self.overrides, *draw.flags,
             f"--epochs={self.draw_epochs(draw):g}"]
    return [flag.replace("{dir}", directory) for flag in flags]


_PAPER_RULE = "clustering_error_pct"

EXPERIMENTS = (
    Experiment(
        name="table1", title="Table 1: Parzen log-likelihood, MNIST, 8-D",
        preset="paper_table1", epochs=80,
        metric="parzen_ll", paper="340 ± 2", target=Target(">=", 340.0),
        draws=(Draw(result="docs/results/table1.json"),
               Draw(("--seed=1",), "docs/results/table1_draw1.json"),
               Draw(("--seed=2",), "docs/results/table1_draw2.json")),
        section="table-1"),
    Experiment(
        name="table2_100", title="Table 2: test error, 100 labels",
        preset="paper_table2_100", epochs=200, metric="test_error_pct",
        paper="1.90 ± 0.10 %", target=Target("<=", 2.5),
        draws=(Draw(result="docs/results/table2_100.json"),
               Draw(("--label_seed=1", "--seed=1"), "docs/results/table2_100_draw1.json"),
               Draw(("--label_seed=2", "--seed=2"), "docs/results/table2_100_draw2.json")),
        section="table-2-100-labels"),
    Experiment(
        name="table2_1000", title="Table 2: test error, 1000 labels",
        preset="paper_table2_1000", epochs=100, metric="test_error_pct",
        paper="1.60 ± 0.08 %", target=Target("<=", 1.6),
        draws=(Draw(result="docs/results/table2_1000.json"),
               Draw(("--label_seed=1", "--seed=1"), "docs/results/table2_1000_draw1.json"),
               Draw(("--label_seed=2", "--seed=2"), "docs/results/table2_1000_draw2.json")),
        section="table-2-1000-labels"),
    Experiment(
        name="table2_all", title="Table 2: test error, all labels",
        preset="paper_table2_all", epochs=100, metric="test_error_pct", paper="0.85 %",
        target=Target("<=", 0.95),
        draws=(Draw(result="docs/results/table2_all.json"),
               Draw(("--seed=1",), "docs/results/table2_all_draw1.json")),
        section="table-2-all-labels"),
    Experiment(
        name="table3_16", title="Table 3: clustering error, 16 clusters",
        preset="paper_table3_16", epochs=20, metric=_PAPER_RULE, paper="9.55 ± 2.05 %",
        target=Target("<=", 15.0),
        draws=(Draw(result="docs/results/table3_16.json"),
               Draw(("--seed=1",), "docs/results/table3_16_draw1.json"),
               Draw(("--seed=2",), "docs/results/table3_16_draw2.json")),
        section="table-3-16-clusters"),
    Experiment(
        name="table3_30", title="Table 3: clustering error, 30 clusters",
        preset="paper_table3_30", epochs=20, metric=_PAPER_RULE, paper="4.10 ± 1.13 %",
        target=Target("<=", 10.0),
        draws=(Draw(result="docs/results/table3_30.json"),
               Draw(("--seed=1",), "docs/results/table3_30_draw1.json"),
               Draw(("--seed=2",), "docs/results/table3_30_draw2.json")),
        section="table-3-30-clusters"),
    Experiment(
        name="fig6_supervised", title="Fig. 6: supervised style/content, 15-D: style accuracy",
        preset="paper_fig6_supervised", epochs=60, metric="style_accuracy_pct",
        paper="figure", target=Target(">=", 95.0),
        draws=(Draw(result="docs/results/fig6_supervised.json"),),
        section="fig-6-supervised-style-and-content"),
    Experiment(
        name="seed1_supervised", title="Seed 1 supervised, 2-D style: style accuracy",
        preset="seed1_supervised", epochs=20, metric="style_accuracy_pct", paper="—",
        target=Target(">=", 95.0), draws=(Draw(result="docs/results/seed1_supervised.json"),),
        section="seed-1-supervised"),
    Experiment(
        name="fig10_2d", title="Fig. 10: 2-D, 20 cluster heads: clustering error",
        preset="paper_fig10_2d", epochs=30, metric=_PAPER_RULE, paper="≈ 13.5 %",
        target=Target("<=", 16.0), draws=(Draw(result="docs/results/fig10_2d.json"),),
        section="fig-10-2-d-representation"),
    Experiment(
        name="fig10_2d_1000",
        title="Fig. 10b: 2-D, 1000 labels: test error",
        preset="paper_fig10_2d_1000", epochs=100, overrides=("--validate_every_epochs=5",),
        metric="test_error_pct", paper="figure", target=None,
        draws=(Draw(result="docs/results/fig10_2d_1000.json"),),
        section="fig-10b-2-d-with-1000-labels"),
    Experiment(
        name="quickstart", title="README quick start (Table 1 preset, 10 epochs): Parzen",
        preset="paper_table1", epochs=10, metric="parzen_ll", paper="—", target=None,
        draws=(Draw(result="docs/results/quickstart.json"),), section="quick-start"),
    Experiment(
        name="own_data_digits",
        title="Own data: scikit-learn 8×8 digits (`npz:`), 100 labels: test error",
        preset="paper_table2_100", epochs=100,
        # The preset of the commit it was measured on decayed the rates at epoch 50.
        overrides=("--dataset=npz:{dir}/digits.npz", "--lr_decay_epochs=50,1000"),
        prepare=("python scripts/sklearn_digits_npz.py {dir}/digits.npz",),
        metric="test_error_pct", paper="—", target=None,
        draws=(Draw(result="docs/results/own_data_sklearn_digits_100.json"),),
        section="own-data-scikit-learn-digits"),
)

BY_NAME = {experiment.name: experiment for experiment in EXPERIMENTS}
