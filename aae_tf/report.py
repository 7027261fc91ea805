"""Reports of an evaluation: the results JSON with its markdown table, and the loss
curves drawn from a run's metrics.jsonl.
"""

import json
import math
import os
from typing import Dict

import numpy as np
from PIL import Image, ImageDraw

from aae_tf import atomic
from aae_tf import figures


def save_png(image: Image.Image, path: str) -> str:
  return atomic.write_with(path, image.save)


def metrics_records(path: str, warn=None):
  """The JSON objects of a metrics.jsonl, one per line.

  A line that is not a JSON object (the half-written last line of a run killed
  mid-write) costs only itself: it is skipped and named through `warn`.
  """
  records = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
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


def plot_curves(series: Dict[str, list], width: int = 320, height: int = 200,
                columns: int = 3) -> Image.Image:
  """Small multiples: one line plot per metric, each with its own y range."""
  names = sorted(series)
  rows = max(1, math.ceil(len(names) / columns))
  image = Image.new("RGB", (columns * width, rows * height), "white")
  draw = ImageDraw.Draw(image)
  for i, name in enumerate(names):
    left, top = (i % columns) * width, (i // columns) * height
    box = (left + 50, top + 22, left + width - 12, top + height - 24)
    steps, values = np.array(series[name], np.float64).T
    draw.rectangle(box, outline=(160, 160, 160))
    draw.text((left + 50, top + 5), name, fill="black")
    lo, hi = values.min(), values.max()
    span_y, span_x = max(hi - lo, 1e-12), max(steps.max() - steps.min(), 1e-12)
    xs = box[0] + (steps - steps.min()) / span_x * (box[2] - box[0])
    ys = box[3] - (values - lo) / span_y * (box[3] - box[1])
    colour = figures.PALETTE[i % len(figures.PALETTE)]
    if len(xs) > 1:
      draw.line(list(zip(xs, ys)), fill=colour, width=2)
    else:
      draw.ellipse([xs[0] - 2, ys[0] - 2, xs[0] + 2, ys[0] + 2], fill=colour)
    draw.text((left + 2, box[1] - 4), f"{hi:.3g}", fill="black")
    draw.text((left + 2, box[3] - 8), f"{lo:.3g}", fill="black")
    draw.text((box[0], box[3] + 4), f"{steps.min():.0f}", fill="black")
    draw.text((box[2] - 40, box[3] + 4), f"step {steps.max():.0f}", fill="black")
  return image


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

