# Sessions 10 and 11 (2026-12-02 night, 2026-12-03): Table 3 with 16 clusters. Every run:
# 1000-1000 networks (the Table 3 presets), validation by the paper rule every epoch,
# export of the best checkpoint, then `python scripts/cluster_diagnostics.py W/export
# --output=W/diag.json`. Runs were made from worktrees at the commit named beside them,
# two at a time. W = runs/s10/NAME; each command ended with --workdir=W/work --export_dir=W/export.

# The share of the reconstruction gradient that reaches q(y|x) (2631795, the switch
# --category_reconstruction_gradient; validated and tested in d05b2ae), on the preset of
# e30fb13 (detached), seed 0:
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.02   # G002_16
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.05   # G005_16
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.1    # G01_16
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.3    # G03_16
# share 0.1, seeds 1 and 2, 20 epochs (the first 10 are the 10-epoch run's):
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.1 --epochs=20 --seed=1   # G01_16_s1 (--seed=2: G01_16_s2)
# share 0.1, seeds 3-8, 3 epochs (SC_s3 ... SC_s8); seeds 3 and 4 resumed to 10 epochs in
# copies of their workdirs (R10_s3, R10_s4) with --epochs=10:
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.1 --epochs=3 --seed=3
# share 0.1 without the rates / 10 at epoch 5 (seed 1; stopped after 7 epochs):
python -m aae_tf.train --preset=paper_table3_16 --detach_category_from_reconstruction=false --category_reconstruction_gradient=0.1 --lr_decay_epochs=15,1000 --epochs=15 --seed=1   # NODECAY_s1

# q(y|x) pulled towards the category whose decoding of z rebuilds x best (9c44c14,
# --category_assignment_weight, reverted in ecf9e91), on the detached preset, seed 1:
python -m aae_tf.train --preset=paper_table3_16 --category_assignment_weight=1 --seed=1    # A1_s1 (stopped at 7 epochs)
python -m aae_tf.train --preset=paper_table3_16 --category_assignment_weight=10 --seed=1   # A10_s1 (stopped at 2.8 epochs)

# Test evaluation of the best share run:
python -m aae_tf.evaluate --export_dir=runs/s10/G01_16/export --workdir=runs/s10/G01_16/work --output=runs/s10/G01_16/eval.json   # docs/results/s10_table3_16_share01_seed0.json

# Curves and the figure:
python docs/results/commands/collect_session.py s10 G002_16 G005_16 G01_16 G03_16 G01_16_s1 G01_16_s2 R10_s3 R10_s4 A1_s1 A10_s1

# The preset now (4d45c15: share 0.1 for 16 clusters) as the best of 8 restarts on
# validation, three draws with their own seeds (0-7, 10-17, 20-27), from a worktree at 4d45c15:
PYTHON=python scripts/reproduce.sh runs/s11/repro table3_16          # in parallel with:
PYTHON=python scripts/reproduce.sh runs/s11/repro table3_16_draw1
JOBS=2 PYTHON=python scripts/reproduce.sh runs/s11/repro table3_16_draw2   # afterwards, alone
python scripts/cluster_diagnostics.py runs/s11/repro/table3_16/export --output=docs/results/s11_clustering/table3_16_diag.json   # likewise _draw1, _draw2
python docs/results/commands/restarts_curves.py docs/results/s11_clustering/restarts.json docs/figures/s11_table3_16_restarts.png runs/s11/repro/table3_16 runs/s11/repro/table3_16_draw1 runs/s11/repro/table3_16_draw2
