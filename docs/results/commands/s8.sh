#!/usr/bin/env bash
# Session 8 (2026-12-02, fourth session of the day). Machine: Intel with AMX (amx_bf16,
# avx512_bf16), 2 cores, bf16 by --precision=auto, two jobs at a time. Outputs under
# runs/s8/ (not committed); curves, flags and diagnostics of every run in
# docs/results/s8_clustering/validation_curves.json (made by s8_collect.py).

# --- Table 3 levers on 1000-1000 networks. Each run: the 16-cluster preset of 7c6a6e4
# (2-D style, discriminator noise 0.3 -> 0.5, per-pixel loss, input dropout 0.2, encoder
# batch norm, 3000-unit layers replaced by 1000) plus its flags; validation every epoch,
# the best checkpoint exported, then scripts/cluster_diagnostics.py on that export.
run() {  # NAME FLAGS...
  name=$1; shift
  python -m aae_tf.train --preset=paper_table3_16 --encoder_hidden=1000,1000 \
      --decoder_hidden=1000,1000 --epochs=10 "$@" \
      --workdir="runs/s8/$name/work" --export_dir="runs/s8/$name/export"
  python scripts/cluster_diagnostics.py "runs/s8/$name/export" --output="runs/s8/$name/diag.json"
}
# commit 09f17a0 (--adversary_sees_category, reverted in this session):
run A_sees_cat --adversary_sees_category
run B_sees_cat_z5 --adversary_sees_category --latent_dim=5 --discriminator_noise_std=0.3
# commit 2e4298c (--category_batch_norm, renamed --head_batch_norm=y in b28a95e):
run C_catbn --category_batch_norm
# commit ecb880e (--adversary_warmup_epochs, reverted in this session):
run E_warm3_rlr01 --adversary_warmup_epochs=3 --reconstruction_lr=0.1
# commit b28a95e (--head_batch_norm):
run F_bn_yz --head_batch_norm=y,z
run G_conv_bny --head_batch_norm=y --architecture=conv
run H_bny_drop05 --head_batch_norm=y --input_dropout=0.5
run J_img_bny_sd05 --reconstruction_scale=per_image --head_batch_norm=y --style_dropout=0.5
run K_img_bny_sd05_hard --reconstruction_scale=per_image --head_batch_norm=y --style_dropout=0.5 --hard_categories
run C5_bny_z5_dn03 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3
run C5_d05 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --input_dropout=0.5
run C5_s1 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --epochs=6 --seed=1
run C5_s2 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --epochs=6 --seed=2
run C5_rlr01 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --epochs=6 --reconstruction_lr=0.1
run C5_rlr1 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --epochs=6 --reconstruction_lr=1.0
run C5_rlr01_sd05 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --epochs=8 --reconstruction_lr=0.1 --style_dropout=0.5
run C_rlr01 --head_batch_norm=y --epochs=8 --reconstruction_lr=0.1
run D16_decay5 --head_batch_norm=y --latent_dim=5 --discriminator_noise_std=0.3 --epochs=10 --reconstruction_lr=0.1 --lr_decay_epochs=5,1000
# 30 clusters (the --preset flag after the script's wins: 5-D style, noise 0.3):
run I30_bny --preset=paper_table3_30 --head_batch_norm=y --epochs=15
run I30_s1 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --seed=1
run I30_s2 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --seed=2
run I30_d05 --preset=paper_table3_30 --head_batch_norm=y --input_dropout=0.5
run I30_bnyz --preset=paper_table3_30 --head_batch_norm=y,z --epochs=6
run I30_dlr03 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --discriminator_lr=0.3
run I30_glr03 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --generator_lr=0.3
run I30_dn05 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --discriminator_noise_std=0.5
run I30_rlr01 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --reconstruction_lr=0.1
run I30_rlr01 --preset=paper_table3_30 --head_batch_norm=y --epochs=20 --reconstruction_lr=0.1   # resumed
run I30_rlr01_s1 --preset=paper_table3_30 --head_batch_norm=y --epochs=10 --reconstruction_lr=0.1 --seed=1
run I30_rlr01_s2 --preset=paper_table3_30 --head_batch_norm=y --epochs=10 --reconstruction_lr=0.1 --seed=2
run I30_rlr1 --preset=paper_table3_30 --head_batch_norm=y --epochs=6 --reconstruction_lr=1.0
run I30_rlr01_sd05 --preset=paper_table3_30 --head_batch_norm=y --epochs=8 --reconstruction_lr=0.1 --style_dropout=0.5
run D30_decay5 --preset=paper_table3_30 --head_batch_norm=y --epochs=10 --reconstruction_lr=0.1 --lr_decay_epochs=5,1000
run D30_decay3 --preset=paper_table3_30 --head_batch_norm=y --epochs=10 --reconstruction_lr=0.1 --lr_decay_epochs=3,1000
# the paper's 3000-unit networks, stopped (SIGTERM) after 5 epochs:
run N30_3000_rlr01 --preset=paper_table3_30 --head_batch_norm=y --epochs=8 --reconstruction_lr=0.1 --encoder_hidden=3000,3000 --decoder_hidden=3000,3000
# commit 53a6c26 (the presets below), noise on the category adversary only:
run Z30_sdn0 --preset=paper_table3_30 --epochs=6 --style_discriminator_noise_std=0
# commit 4d12843 (the presets below plus the diagnostics' category-use measure):
run H30_hard --preset=paper_table3_30 --epochs=6 --hard_categories
run H30_sd02 --preset=paper_table3_30 --epochs=6 --style_dropout=0.2
# a test evaluation of one lever run (I30_s2):
python -m aae_tf.evaluate --export_dir=runs/s8/I30_s2/export --workdir=runs/s8/I30_s2/work \
    --output=docs/results/s8_clustering/I30_s2_eval.json

# --- The Table 3 presets as they are now (53a6c26), three seeds each, two at a time:
PYTHON=python scripts/reproduce.sh runs/s8/repro table3_30 table3_16_seed1 table3_30_seed2 &   # the draws were named _seedN at 53a6c26, _drawN now (renamed after)
PYTHON=python scripts/reproduce.sh runs/s8/repro table3_16 table3_30_seed1 table3_16_seed2
wait
for k in 16 30; do for d in 1 2; do
  mv runs/s8/repro/table3_${k}_seed$d runs/s8/repro/table3_${k}_draw$d; done; done
for name in table3_16 table3_16_draw1 table3_16_draw2 table3_30 table3_30_draw1 table3_30_draw2; do
  cp runs/s8/repro/$name/eval.json docs/results/s8_$name.json
  python scripts/cluster_diagnostics.py runs/s8/repro/$name/export \
      --output=docs/results/s8_clustering/${name}_diag.json
  python scripts/validation_curve.py runs/s8/repro/$name/work --from_log \
      --output=docs/results/s8_clustering/${name}_validation_curve.json \
      --png=docs/figures/s8_${name}_validation_curve.png   # not committed: the combined figure below
done
python docs/results/commands/s8_collect.py C_catbn C5_bny_z5_dn03 C5_s1 C5_s2 C5_rlr01 \
    J_img_bny_sd05 A_sees_cat D16_decay5 C_rlr01 I30_bny I30_s1 I30_s2 I30_rlr01 I30_rlr01_s1 \
    I30_rlr01_s2 I30_rlr1 D30_decay5 N30_3000_rlr01
python docs/results/commands/s8_presets_figure.py
