#!/bin/bash
# Supervised style/content sweep at commit bdfc65f: 20 epochs, bf16, paper recipe presets.
cd /work/wt-bdfc65f
export TF_CPP_MIN_LOG_LEVEL=2
PY=/work/main/.venv/bin/python
run() {
  name=$1; shift
  d=/work/main/runs/s4/$name; mkdir -p $d
  if [ ! -d $d/export/encoder ]; then
    echo "[$(date -u +%T)] $name: $*" >> /work/main/runs/s4/sweep.log
    $PY -m aae_tf.train "$@" --precision=mixed_bfloat16 --workdir=$d/work --export_dir=$d/export > $d/train.log 2>&1
  fi
  $PY -m aae_tf.evaluate --export_dir=$d/export --workdir=$d/work --output=$d/eval.json > $d/eval.log 2>&1
  echo "[$(date -u +%T)] $name: $(grep -o '"style_accuracy_pct": [0-9.]*' $d/eval.json) $(grep -o '"parzen_ll": [0-9.-]*' $d/eval.json) best=$(cat $d/work/checkpoints/best/best.json | tr -d '\n ')" >> /work/main/runs/s4/sweep.log
}
run sup_cond --preset=paper_fig6_supervised --epochs=20 --adversary_sees_label
run seed1_sup --preset=seed1_supervised --epochs=20
run sup_gauss --preset=paper_fig6_supervised --epochs=20 --posterior=gaussian
run sup_base --preset=paper_fig6_supervised --epochs=20
