#!/usr/bin/env bash
# Session 6 (2026-12-02): the long runs, each from a git worktree at the commit named,
# AMX CPU shared by 3-5 jobs; every run validates every epoch and exports its best
# checkpoint, then `python -m aae_tf.evaluate --export_dir=W/export --workdir=W/work
# --output=W/eval.json`. Stopped runs were stopped with SIGTERM and exported with
# `python export/export_model.py --workdir=W/work --export_dir=W/export` (best checkpoint).
# Table 2, 100 labels, first draw (ae94146; stopped after 178 of 200 epochs):
EXTRA_FLAGS="--lr_decay_epochs=150,1000" scripts/reproduce.sh runs/s6 table2_100
# Fig. 10 (3c65acf): 40 epochs, then resumed to 60 with the same command and --epochs=60.
python -m aae_tf.train --preset=paper_fig10_2d --epochs=60 --lr_decay_epochs=15,1000 \
  --workdir=runs/s6/fig10/a_decay15/work --export_dir=runs/s6/fig10/a_decay15/export
python -m aae_tf.train --preset=paper_fig10_2d --epochs=35 --lr_decay_epochs=15,25 \
  --workdir=runs/s6/fig10/d_decay15_25/work --export_dir=runs/s6/fig10/d_decay15_25/export
python -m aae_tf.train --preset=paper_fig10_2d --epochs=30 --reconstruction_scale=per_pixel \
  --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm \
  --workdir=runs/s6/fig10/c_henry_bn/work --export_dir=runs/s6/fig10/c_henry_bn/export  # stopped at 12 epochs (37-46 %)
# Table 3 (3c65acf; stopped after 20 and 15 epochs):
for k in 16 30; do
  python -m aae_tf.train --preset=paper_table3_$k --epochs=150 --reconstruction_scale=per_pixel \
    --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm \
    --workdir=runs/s6/t3/table3_${k}_bn/work --export_dir=runs/s6/t3/table3_${k}_bn/export
done
