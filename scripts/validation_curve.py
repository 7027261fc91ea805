"""The validation metric of every checkpoint a run kept: the curve that says whether
more epochs would help, for runs (or steps) that training did not validate.

    python scripts/validation_curve.py WORKDIR [--output=curve.json] [--png=curve.png]
                                               [--from_log]

Scores each checkpoint in WORKDIR/checkpoints (rolling and best) with the variant's
validation metric (aae_tf.selection) on the validation split carved from the training
set; never reads the test split. Prints one line per checkpoint. With --from_log, plots
the validation lines training itself wrote to WORKDIR/metrics.jsonl instead.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import tensorflow as tf  # noqa: E402

from aae_tf import atomic  # noqa: E402
from aae_tf import checkpoints  # noqa: E402
from aae_tf import data  # noqa: E402
from aae_tf import export  # noqa: E402
from aae_tf import models  # noqa: E402
from aae_tf import report  # noqa: E402
from aae_tf import selection  # noqa: E402
from aae_tf import variants  # noqa: E402


def curve(workdir: str, log=print) -> dict:
  """{metric, higher_is_better, points: [[step, value], ...]} over the kept checkpoints."""
  config = export.load_config(workdir)
  splits = data.load_for_config(config.replace(allow_download=False), logger=lambda _: None)
  spec = variants.spec_for(config)
  networks = models.build_networks(config.replace(precision="float32"), spec)
  decoder = export.DecoderModule(networks.decoder, spec, config)
  encoder = export.EncoderModule(networks.encoder, networks.decoder, spec)
  validator = selection.Validator(encoder, decoder, spec, config, splits, splits.num_classes,
                                  log=log)
  saved = tf.train.Checkpoint(encoder=networks.encoder, decoder=networks.decoder)
  points = []
  for step, prefix in sorted(checkpoints.available(workdir).items()):
    saved.restore(prefix).expect_partial()
    points.append([step, validator()])
    log(f"step {step}: {validator.metric.name}={points[-1][1]:.4g}")
  return {"metric": validator.metric.name,
          "higher_is_better": validator.metric.higher_is_better, "points": points}


def from_log(workdir: str) -> dict:
  """The validation series training wrote into metrics.jsonl."""
  series = report.read_metrics_log(os.path.join(workdir, "metrics.jsonl"), warn=print)
  names = [name for name in series if name in selection.METRICS]
  if not names:
    raise SystemExit(f"{workdir}/metrics.jsonl has no validation lines; drop --from_log")
  metric = selection.METRICS[names[0]]
  return {"metric": metric.name, "higher_is_better": metric.higher_is_better,
          "points": [list(p) for p in series[metric.name]]}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workdir")
  parser.add_argument("--output", help="JSON to write (default: WORKDIR/validation_curve.json)")
  parser.add_argument("--png", help="plot to write (default: beside --output)")
  parser.add_argument("--from_log", action="store_true",
                      help="plot the validation lines of metrics.jsonl, score nothing")
  args = parser.parse_args()
  output = args.output or os.path.join(args.workdir, "validation_curve.json")
  result = from_log(args.workdir) if args.from_log else curve(args.workdir)
  atomic.write_text(output, json.dumps(result, indent=2) + "\n")
  png = args.png or os.path.splitext(output)[0] + ".png"
  report.save_png(report.plot_curves({result["metric"]: result["points"]}, width=480,
                                     height=260, columns=1), png)
  print(f"wrote {output} and {png}")


if __name__ == "__main__":
  main()
