#!/usr/bin/env bash
# Session 7 (2026-12-02, third session of the day). Machine: Intel with AMX (amx_bf16,
# avx512_bf16), 2 cores, bf16 by --precision=auto, shared by 3-5 jobs at a time.
# Every run below used a git worktree at 4e4ba86 (the code of main without the
# --category_consistency experiment), except X and Y (a718ee2 and 3d8f0d4, reverted in
# 3e9ddfd). Outputs under runs/s7/ (not committed); metrics and diagnostics copied to
# docs/results/s7_clustering/.

# --- Clustering levers: Table 3's preset with 16 clusters on 1000-1000 networks, 10
# epochs, on top of run L of the previous session (per-pixel loss, input dropout 0.2,
# no input noise, batch norm in the encoder). Each run validates every epoch, exports
# its best checkpoint, and scripts/cluster_diagnostics.py reads that export.
run() {  # NAME FLAGS...
  name=$1; shift
  python -m aae_tf.train --preset=paper_table3_16 --encoder_hidden=1000,1000 \
      --decoder_hidden=1000,1000 --epochs=10 --reconstruction_scale=per_pixel \
      --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm "$@" \
      --workdir="runs/s7/$name/work" --export_dir="runs/s7/$name/export"
  python scripts/cluster_diagnostics.py "runs/s7/$name/export" \
      --output="runs/s7/$name/diag.json"
}
run P_L_z2            --latent_dim=2
run R_z2_dn0          --latent_dim=2 --discriminator_noise_std=0          # stopped at 7 epochs
run S_z2_rlr01        --latent_dim=2 --reconstruction_lr=0.1
run T_z2_dn05         --latent_dim=2 --discriminator_noise_std=0.5
run T20_z2_dn05       --latent_dim=2 --discriminator_noise_std=0.5 --epochs=20  # T resumed
run U_z2_gauss        --latent_dim=2 --posterior=gaussian
run V_z2_dn07         --latent_dim=2 --discriminator_noise_std=0.7        # stopped at 8 epochs
run W_z2_dn05_sd05    --latent_dim=2 --discriminator_noise_std=0.5 --style_dropout=0.5
run X_z2_dn05_cc1     --latent_dim=2 --discriminator_noise_std=0.5 --category_consistency=1  # a718ee2, soft target; stopped at 8.6
run Y_z2_dn05_cchard  --latent_dim=2 --discriminator_noise_std=0.5 --category_consistency=1  # 3d8f0d4, argmax target; stopped at 6.4
run T30_z2_dn05       --preset=paper_table3_30 --latent_dim=2 --discriminator_noise_std=0.5
run T30_z2_dn05       --preset=paper_table3_30 --latent_dim=2 --discriminator_noise_std=0.5 --epochs=25  # resumed

# --- Table 3 with 16 clusters on the paper's 3000-3000 networks, with T's levers.
python -m aae_tf.train --preset=paper_table3_16 --epochs=150 --reconstruction_scale=per_pixel \
    --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm --latent_dim=2 \
    --discriminator_noise_std=0.5 --workdir=runs/s7/t3_16/work --export_dir=runs/s7/t3_16/export
# stopped (SIGTERM) after 23 epochs, flat from epoch 9; then the best checkpoint:
python export/export_model.py --workdir=runs/s7/t3_16/work --export_dir=runs/s7/t3_16/export
python -m aae_tf.evaluate --export_dir=runs/s7/t3_16/export --workdir=runs/s7/t3_16/work \
    --output=docs/results/s7_table3_16_z2_dn05.json
python scripts/cluster_diagnostics.py runs/s7/t3_16/export --output=docs/results/s7_clustering/t3_16_3000.json
python scripts/validation_curve.py runs/s7/t3_16/work --from_log \
    --output=docs/results/s7_table3_16_validation_curve.json --png=docs/figures/s7_table3_16_validation_curve.png

# --- A short look at the previous session's clustering levers on Table 2 with 100 labels
# (stopped after 6 epochs: 22.5 % validation error against 12.5 % for the preset at 5).
python -m aae_tf.train --preset=paper_table2_100 --epochs=30 --reconstruction_scale=per_pixel \
    --input_dropout=0.2 --input_noise_std=0 --encoder_batch_norm \
    --workdir=runs/s7/Q_100_L/work --export_dir=runs/s7/Q_100_L/export

# --- Table 2 with 100 labels, label draws 1 and 2 of the preset (draw 0: the previous
# session). reproduce.sh evaluates each export; its eval.json is
# docs/results/s7_table2_100_draw{1,2}.json.
PYTHON=python scripts/reproduce.sh runs/s7/repro table2_100_draw1 table2_100_draw2
for d in 1 2; do
  python scripts/validation_curve.py runs/s7/repro/table2_100_draw$d/work --from_log \
      --output=docs/results/s7_table2_100_draw${d}_validation_curve.json \
      --png=docs/figures/s7_table2_100_draw${d}_validation_curve.png
done
