#!/usr/bin/env bash
# Session 6 (2026-12-02): what makes the category head cluster. Table 3's preset
# (16 clusters, the paper's recipe) on 1000-1000 networks for 10 epochs, one lever at a
# time; each run validates every epoch and exports its best checkpoint. Commits: the
# aae_tf version each lever landed in (git worktree at that commit), AMX CPU shared
# by 3-5 jobs. Diagnostics of each export: scripts/cluster_diagnostics.py.
run() {  # NAME COMMIT FLAGS...
  name=$1 commit=$2; shift 2
  git worktree add "/tmp/wt-$commit" "$commit" 2>/dev/null
  (cd "/tmp/wt-$commit" && python -m aae_tf.train --preset=paper_table3_16 \
      --encoder_hidden=1000,1000 --decoder_hidden=1000,1000 --epochs=10 \
      --workdir="runs/s6/clu/$name/work" --export_dir="runs/s6/clu/$name/export" "$@")
  python scripts/cluster_diagnostics.py "runs/s6/clu/$name/export" \
      --output="runs/s6/clu/$name/diag.json"
}
run A_base            a3ca80a
run E_sd05            ae94146 --style_dropout=0.5
run D_reclr001        ae94146 --reconstruction_lr=0.001
run F_reclr001_sd05   ae94146 --reconstruction_lr=0.001 --style_dropout=0.5   # stopped at 7 epochs
run G_hard            16530fa --hard_categories
run H_hard_sd05       16530fa --hard_categories --style_dropout=0.5
run I_hard_sd05_idrop 5b6f4b7 --hard_categories --style_dropout=0.5 --input_dropout=0.2 --input_noise_std=0
run K_henry           5b6f4b7 --reconstruction_scale=per_pixel --input_dropout=0.2 --input_noise_std=0
run L_henry_bn        3c65acf --reconstruction_scale=per_pixel --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm
run M_bn              3c65acf --encoder_batch_norm                              # stopped at 8 epochs
run N_henry_bn_sd05   3c65acf --reconstruction_scale=per_pixel --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm --style_dropout=0.5
