# Session 9 (fifth session of 2026-12-02): Table 3. Every run: 1000-1000 networks (the
# Table 3 presets), validation by the paper rule every epoch, export of the best
# checkpoint, then `python scripts/cluster_diagnostics.py W/export --output=W/diag.json`.
# Runs were made from worktrees at the commit named beside them, two at a time.
# W = runs/s9/NAME; each command ended with --workdir=W/work --export_dir=W/export.

# k-means references (535fb89):
python scripts/kmeans_baseline.py --features=pixels,pca50 --output=docs/results/s9_clustering/kmeans_baseline.json
python scripts/kmeans_baseline.py --features=autoencoder --seeds=0 --output=docs/results/s9_clustering/kmeans_autoencoder_baseline.json

# Pretraining the autoencoder alone, then the preset (two stages; between them the run's
# config.json was rewritten to stage 2's flags so the resume accepts them; 1767952):
#  P1_16 / P1_30: stage 1 `--preset=paper_table3_{16,30} --discriminator_lr=0 --generator_lr=0
#    --reconstruction_lr=1.0 --lr_decay_epochs=8,1000 --epochs=3`, stage 2 the preset's rates
#    (--reconstruction_lr=0.1 --discriminator_lr=0.1 --generator_lr=0.1 --lr_decay_epochs=8,1000) to 13 epochs
#  P2_16 / P3_16: stage 1 `--optimizer=adam --reconstruction_lr=0.001 --discriminator_lr=0
#    --generator_lr=0 --lr_decay_epochs=9,1000 --epochs=4`, stage 2 `--optimizer=adam
#    --reconstruction_lr=0.0001` (P2) or `0.001` (P3) with --discriminator_lr=0.1 --generator_lr=0.1, 12 epochs (bdc4ac0)

# Virtual adversarial smoothness of q(y|x) (bdc4ac0; V1L at c1f4b3c, the same computation
# refactored for its test; both reverted by d0869ce):
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --category_smoothness_weight=1 --category_smoothness_epsilon=1     # V1
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --category_smoothness_weight=1 --category_smoothness_epsilon=2.5   # V2
python -m aae_tf.train --preset=paper_table3_16 --epochs=8 --category_smoothness_weight=5 --category_smoothness_epsilon=1.3     # V3 (stopped)
python -m aae_tf.train --preset=paper_table3_16 --epochs=8 --category_smoothness_weight=20 --category_smoothness_epsilon=1.3    # V4 (stopped)
python -m aae_tf.train --preset=paper_table3_30 --epochs=10 --category_smoothness_weight=1 --category_smoothness_epsilon=1     # V5
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --category_smoothness_weight=2 --category_smoothness_epsilon=1     # V6
# V1L_16: a copy of V1's workdir resumed with --epochs=25, stopped after epoch 21 (c1f4b3c)

# The paper's reconstruction rate on the per-image loss (bdc4ac0; stopped):
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --reconstruction_scale=per_image --reconstruction_lr=0.01 --encoder_batch_norm=false  # Q1
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --reconstruction_scale=per_image --reconstruction_lr=0.01                              # Q2

# The same, detached from the category head (557f08a; the switch landed in 02d131e with the
# same trainer code plus its validation and tests):
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --reconstruction_scale=per_image --reconstruction_lr=0.01 --encoder_batch_norm=false --detach_category_from_reconstruction  # R1_16 (seeds 1, 2: --seed=1, --seed=2)
python -m aae_tf.train --preset=paper_table3_16 --epochs=10 --reconstruction_lr=1.0 --detach_category_from_reconstruction                      # R2_16 (stopped)
python -m aae_tf.train --preset=paper_table3_30 --epochs=10 --reconstruction_scale=per_image --reconstruction_lr=0.01 --encoder_batch_norm=false --detach_category_from_reconstruction  # R1_30 (seeds 1, 2 likewise)
# These R1 flags are the Table 3 presets from 7ed1159 on (their config.json equals the
# preset's; 30 clusters: with 20 epochs, from e30fb13), so `scripts/reproduce.sh DIR table3_16 table3_16_draw1 table3_16_draw2
# table3_30 table3_30_draw1 table3_30_draw2` runs the same six.

# k-means on the style code z of the seed-0 exports (4dff1a4, which added --features=export:):
python scripts/kmeans_baseline.py --features=export:runs/s9/R1_16/export --seeds=0 --output=docs/results/s9_clustering/kmeans_on_R1_16_z.json
python scripts/kmeans_baseline.py --features=export:runs/s9/R1_30/export --seeds=0 --output=docs/results/s9_clustering/kmeans_on_R1_30_z.json

# The three R1 30-cluster runs resumed to 20 epochs in copies of their workdirs
# (cp -r runs/s9/R1_30*/work runs/s9/R1L_30*/; 557f08a): the same flags with --epochs=20
# (and --seed=1, --seed=2). The 30-cluster preset trains 20 epochs from e30fb13.

# Test evaluation of the R1 and R1L runs:
python -m aae_tf.evaluate --export_dir=W/export --workdir=W/work --output=W/eval.json   # copied to docs/results/s9_table3_*.json

# Curves and the figure:
python docs/results/commands/collect_session.py s9 R1_16 R1_16_seed1 R1_16_seed2 Q1_16 V1_16 V1L_16 P1_16 P2_16 R1L_30 R1L_30_seed1 R1L_30_seed2 P1_30 V5_30
