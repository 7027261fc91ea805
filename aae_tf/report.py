"""Reports of an evaluation: the results JSON with its markdown table, and the loss
curves drawn from a run's metrics.jsonl.
"""

import json
import math
import os
from typing import Dict

import numpy as np
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from aae_tf import atomic
from aae_tf import figures


def save_png(image: Image.Image, path: str) -> str:
  return atomic.write_with(path, image.save)


def metrics_records(path: str, warn=None):
  """The JSON objects of a metrics.jsonl, one per line.

  A line that is not a JSON object (the half-written last line of a run killed
  mid-write) costs only itself: it is skipped and named through `warn`.
  """
  with open(path) as f:
    return parse_metrics_lines(f, path, warn)


def parse_metrics_lines(lines, path: str, warn=None):
  """`metrics_records` of lines already read (`path` only names them in warnings)."""
  records = []
  for number, line in enumerate(lines, 1):
    line = line.strip()
    if not line:
      continue
    try:
      record = json.loads(line)
    except ValueError:
      record = None
    if not isinstance(record, dict) or "step" not in record:
      (warn or (lambda message: None))(f"{path}:{number}: not a metrics record, skipped")
      continue
    records.append(record)
  return records


def read_metrics_log(path: str, warn=None) -> Dict[str, list]:
  """metrics.jsonl (one JSON object per summary) -> {name: [(step, value), ...]}."""
  series: Dict[str, list] = {}
  for record in metrics_records(path, warn):
    for name, value in record.items():
      if (name not in ("step", "train_seconds") and isinstance(value, (int, float))
          and math.isfinite(value)):
        series.setdefault(name, []).append((record["step"], float(value)))
  return series


def training_seconds(path: str) -> float:
  """A run's total training time (all resumes) from its metrics.jsonl `train_seconds`."""
  return sum(float(record.get("train_seconds", 0.0)) for record in metrics_records(path))


# The loss curves are drawn at this resolution: a panel of `width` x `height` pixels is
# width/100 x height/100 inches.
CURVES_DPI = 100
# Up to this many points a curve also marks each point (validation curves are sparse).
MARKED_POINTS = 50


def _finite_points(points):
  """(steps, values, dropped): the (step, value) pairs with both finite, as float64
  arrays in the given order, and how many pairs were not."""
  pairs = np.asarray(points, np.float64).reshape(-1, 2) if len(points) else np.zeros((0, 2))
  finite = np.all(np.isfinite(pairs), axis=1)
  return pairs[finite, 0], pairs[finite, 1], int(len(pairs) - finite.sum())


def _step_label(step, _=None) -> str:
  """A step tick label that stays short: 2500, 25k, 1.5M."""
  if abs(step) >= 1e6:
    return f"{step / 1e6:g}M"
  if abs(step) >= 1e4:
    return f"{step / 1e3:g}k"
  return f"{step:g}"


def _note(axes, text: str, **kwargs) -> None:
  axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center",
            fontsize=8, color="0.4", **kwargs)


def plot_curves(series: Dict[str, list], width: int = 320, height: int = 200,
                columns: int = 3) -> Image.Image:
  """Small multiples of training curves, drawn with matplotlib (Agg canvas, no pyplot).

  `series` maps a metric name to its (step, value) pairs (as `read_metrics_log`
  returns). Each metric gets its own panel, in sorted name order, `columns` panels per
  row, with its own colour from `figures.PALETTE`:
  - titled with the name; x axis "step" with a few integer ticks (2500, 25k, 1.5M);
  - a linear y axis over the metric's own range, ticks by matplotlib's default
    formatter without its offset: plain numbers from about 1e-5 to 1e6, scientific
    notation beyond. (Not a log axis: metrics such as log-likelihoods go negative, and
    a log scale flattens the late, small changes of a converging loss.) A light grid;
  - points joined in the given order; up to MARKED_POINTS points are also marked, so
    a single point shows as a marker;
  - pairs with a non-finite step or value are dropped (the panel counts them); a metric
    with none left gets an empty panel saying so, an empty `series` a single note.

  `width` x `height` is the pixel size of ONE panel: the image is
  columns*width x rows*height pixels (rows = ceil(metrics / columns), at least 1), in
  mode "RGB", rendered at CURVES_DPI.
  """
  if width < 1 or height < 1 or columns < 1:
    raise ValueError(f"need width, height and columns >= 1, got width={width}, "
                     f"height={height}, columns={columns}")
  names = sorted(series)
  rows = max(1, math.ceil(len(names) / columns))
  size = (columns * width, rows * height)
  # Agg truncates the figure's pixel size to integers; a quarter pixel more keeps
  # width/dpi*dpi from landing just below the intended size.
  figure = Figure(figsize=((size[0] + 0.25) / CURVES_DPI, (size[1] + 0.25) / CURVES_DPI),
                  dpi=CURVES_DPI, layout="constrained")
  canvas = FigureCanvasAgg(figure)
  if not names:
    axes = figure.add_subplot()
    axes.set_axis_off()
    _note(axes, "no metrics to plot")
  for i, name in enumerate(names):
    axes = figure.add_subplot(rows, columns, i + 1)
    axes.set_title(name, fontsize=9)
    axes.tick_params(labelsize=7)
    steps, values, dropped = _finite_points(series[name])
    if not len(steps):
      axes.set_xticks([])
      axes.set_yticks([])
      _note(axes, "no finite values" + (f" ({dropped} non-finite)" if dropped else ""))
      continue
    colour = np.array(figures.PALETTE[i % len(figures.PALETTE)]) / 255.0
    axes.plot(steps, values, color=colour, linewidth=1.2,
              marker="o" if len(steps) <= MARKED_POINTS else None, markersize=3)
    axes.set_xlabel("step", fontsize=8)
    if len(np.unique(steps)) == 1:
      axes.set_xticks(steps[:1])
    else:
      axes.xaxis.set_major_locator(ticker.MaxNLocator(nbins=max(2, width // 70),
                                                      integer=True))
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(_step_label))
    # Whole tick values rather than an offset ("+1e3") that would sit under the title.
    axes.ticklabel_format(axis="y", useOffset=False)
    axes.yaxis.get_offset_text().set_fontsize(7)
    axes.grid(True, color="0.9", linewidth=0.6)
    axes.set_axisbelow(True)
    if dropped:
      axes.text(0.01, 0.01, f"{dropped} non-finite not drawn", transform=axes.transAxes,
                fontsize=6, color="0.4", va="bottom")
  canvas.draw()
  return Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")


def _format(value) -> str:
  if isinstance(value, bool) or value is None:
    return str(value)
  if isinstance(value, float):
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.6g}"
  return str(value)


def markdown_table(results: dict) -> str:
  """| metric | value | rows for the scalar results (Parzen as mean ± s.e.)."""
  lines = ["| metric | value |", "|---|---|"]
  if "parzen_ll" in results:
    lines.append(f"| parzen_ll (± s.e.) | {results['parzen_ll']:.2f} ± "
                 f"{results['parzen_se']:.2f} |")
  for key, value in results.items():
    if key in ("parzen_ll", "parzen_se") or isinstance(value, (dict, list)):
      continue
    lines.append(f"| {key} | {_format(value)} |")
  for name, seconds in results.get("timings_s", {}).items():
    lines.append(f"| time: {name} | {seconds:.2f} |")
  return "\n".join(lines) + "\n"


def write_results(results: dict, output: str) -> Dict[str, str]:
  """Writes `output` (JSON) and the markdown table beside it (`.md`)."""
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  md_path = os.path.splitext(output)[0] + ".md"
  for path, text in ((output, json.dumps(results, indent=2, sort_keys=True) + "\n"),
                     (md_path, markdown_table(results))):
    atomic.write_text(path, text)
  return {"json": output, "markdown": md_path}


def write_between_markers(path: str, name: str, text: str, title: str) -> None:
  """Writes `text` between `<!-- {name}: begin/end -->` in the markdown file `path`,
  keeping everything around the markers (a new file gets `# {title}` and the markers).
  Generated tables live in hand-written documents this way."""
  begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
  document = f"# {title}\n\n{begin}\n{end}\n"
  if os.path.exists(path):
    existing = open(path).read()
    if begin in existing and end in existing:
      document = existing
  head, rest = document.split(begin, 1)
  tail = rest.split(end, 1)[1]
  atomic.write_text(path, f"{head}{begin}\n{text}{end}{tail}")

