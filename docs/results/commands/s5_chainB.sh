#!/bin/bash
# Session 5, chain B: Table 2 with 100 labels (draw 0), 100 epochs, then Fig. 10 (2-D
# clustering), 100 epochs, at commit 897691b.
cd /work/wt-897691b
export TF_CPP_MIN_LOG_LEVEL=2 PYTHON=/work/main/.venv/bin/python EXTRA_FLAGS="--epochs=100"
bash scripts/reproduce.sh /work/main/runs/repro table2_100 fig10_2d
