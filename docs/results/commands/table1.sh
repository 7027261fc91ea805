#!/bin/bash
# Table 1 with the paper recipe preset at commit bdfc65f, 100 epochs (lr / 10 at 50), bf16, validation every 5 epochs.
cd /work/wt-bdfc65f
export TF_CPP_MIN_LOG_LEVEL=2
PY=/work/main/.venv/bin/python
d=/work/main/runs/s4/table1; mkdir -p $d
$PY -m aae_tf.train --preset=paper_table1 --epochs=100 --precision=mixed_bfloat16 --validate_every_epochs=5 --workdir=$d/work --export_dir=$d/export >> $d/train.log 2>&1 && \
$PY -m aae_tf.evaluate --export_dir=$d/export --workdir=$d/work --output=$d/eval.json > $d/eval.log 2>&1
