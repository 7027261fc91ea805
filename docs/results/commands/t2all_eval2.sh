#!/bin/bash
# Re-evaluate Table 2 (all labels) with this session's export (float32 graphs): the final step and the best kept checkpoint on validation.
cd /work/main; export TF_CPP_MIN_LOG_LEVEL=2
d=runs/s4/t2all
.venv/bin/python -m aae_tf.evaluate --workdir=$d/work --checkpoint=latest --output=$d/eval_latest_fp32/eval.json > $d/eval_latest_fp32.log 2>&1
.venv/bin/python -m aae_tf.evaluate --workdir=$d/work --checkpoint=37500 --output=$d/eval_best37500/eval.json > $d/eval_best37500.log 2>&1
