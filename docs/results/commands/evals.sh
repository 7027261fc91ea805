#!/bin/bash
# Evaluations of the stopped runs' best checkpoints (evaluate --workdir exports the best one).
cd /work/main
export TF_CPP_MIN_LOG_LEVEL=2
for r in table1 sup_gauss; do
  .venv/bin/python -m aae_tf.evaluate --workdir=runs/s4/$r/work --output=runs/s4/$r/eval.json > runs/s4/$r/eval.log 2>&1
done
