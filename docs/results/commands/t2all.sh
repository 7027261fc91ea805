#!/bin/bash
# Table 2 all labels, paper SGD recipe via flags (mean loss x 784 lr == per-image sum with lr 0.01), commit 100e3cd
cd /work/wt-100e3cd
export TF_CPP_MIN_LOG_LEVEL=2
/work/main/.venv/bin/python -m aae_tf.train --preset=paper_table2_all --epochs=100 --precision=mixed_bfloat16 \
  --optimizer=sgd --momentum=0.9 --reconstruction_lr=7.84 --supervised_lr=0.1 --discriminator_lr=0.1 --generator_lr=0.1 --adversarial_momentum=0.1 --lr_decay_epochs=50,1000 \
  --checkpoint_every_steps=2500 --keep_checkpoints=25 \
  --workdir=/work/main/runs/s4/t2all/work --export_dir=/work/main/runs/s4/t2all/export
