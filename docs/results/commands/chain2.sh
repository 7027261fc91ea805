#!/bin/bash
# After the supervised sweep: the Fig. 6 preset (adversary_sees_label, 60 epochs) at commit 27dfa1e.
while pgrep -f sweep_sup.sh > /dev/null; do sleep 20; done
cd /work/wt-27dfa1e
export TF_CPP_MIN_LOG_LEVEL=2
PY=/work/main/.venv/bin/python
d=/work/main/runs/s4/fig6; mkdir -p $d
echo "[$(date -u +%T)] fig6: --preset=paper_fig6_supervised (commit 27dfa1e)" >> /work/main/runs/s4/sweep.log
$PY -m aae_tf.train --preset=paper_fig6_supervised --workdir=$d/work --export_dir=$d/export >> $d/train.log 2>&1
$PY -m aae_tf.evaluate --export_dir=$d/export --workdir=$d/work --output=$d/eval.json > $d/eval.log 2>&1
echo "[$(date -u +%T)] fig6: $(grep -o '"style_accuracy_pct": [0-9.]*' $d/eval.json)" >> /work/main/runs/s4/sweep.log
