#!/bin/bash
# Table 1: paper recipe + dropout 0.2 in every network + Gaussian posterior (the route of a port that reached 339.8), 60 epochs, at commit b87d5c4.
cd /work/wt-b87d5c4
export TF_CPP_MIN_LOG_LEVEL=2
PY=/work/main/.venv/bin/python
d=/work/main/runs/s4/table1_dropout; mkdir -p $d
$PY -m aae_tf.train --preset=paper_table1 --epochs=60 --encoder_dropout=0.2 --decoder_dropout=0.2 --discriminator_dropout=0.2 --posterior=gaussian --validate_every_epochs=5 --workdir=$d/work --export_dir=$d/export >> $d/train.log 2>&1
$PY -m aae_tf.evaluate --export_dir=$d/export --workdir=$d/work --output=$d/eval.json > $d/eval.log 2>&1
