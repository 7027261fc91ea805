#!/bin/bash
# scikit-learn digits (npz), semi-supervised with 100 labels, paper_table2_100 preset, at commit eae547f.
cd /work/wt-eae547f
export TF_CPP_MIN_LOG_LEVEL=2
PY=/work/main/.venv/bin/python
d=/work/main/runs/s5/digits
$PY scripts/sklearn_digits_npz.py $d/digits.npz
$PY -m aae_tf.train --preset=paper_table2_100 --dataset=npz:$d/digits.npz --workdir=$d/work --export_dir=$d/export >> $d/train.log 2>&1
$PY -m aae_tf.evaluate --export_dir=$d/export --workdir=$d/work --output=$d/eval.json > $d/eval.log 2>&1
