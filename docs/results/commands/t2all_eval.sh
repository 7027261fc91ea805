#!/bin/bash
cd /work/main; export TF_CPP_MIN_LOG_LEVEL=2
d=runs/s4/t2all
.venv/bin/python -m aae_tf.evaluate --export_dir=$d/export --workdir=$d/work --output=$d/eval.json > $d/eval.log 2>&1
.venv/bin/python scripts/validation_curve.py $d/work --output=$d/validation_curve.json > $d/curve.log 2>&1
