#!/bin/bash
# Session 5, chain A: Table 2 with 1000 labels, draws 1 and 2, 100 epochs each (draw 0's
# validation curve is flat from epoch ~80), at commit 897691b.
cd /work/wt-897691b
export TF_CPP_MIN_LOG_LEVEL=2 PYTHON=/work/main/.venv/bin/python EXTRA_FLAGS="--epochs=100"
bash scripts/reproduce.sh /work/main/runs/repro table2_1000_draw1 table2_1000_draw2
