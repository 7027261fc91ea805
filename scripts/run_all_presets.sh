#!/usr/bin/env bash
# Runs every preset briefly on the real data and exports it: the check that each
# experiment's wiring works end to end (issue: every preset trains and exports).
#   scripts/run_all_presets.sh [OUT_DIR] [STEPS]
# Writes OUT_DIR/<preset>/{train.log,export/...} and prints one line per preset.
set -uo pipefail
out=${1:-runs/all_presets}
steps=${2:-50}
python=${PYTHON:-python}
mkdir -p "$out"
status=0
for preset in $("$python" -m aae_tf.train --list_presets 2>/dev/null); do
  [ "$preset" = smoke ] && continue
  dir="$out/$preset"
  rm -rf "$dir"
  start=$(date +%s)
  if "$python" -m aae_tf.train --preset="$preset" --train_steps="$steps" \
      --steps_per_loop=25 --summary_every_steps=25 --workdir="$dir/work" \
      --export_dir="$dir/export" > "$dir.log" 2>&1; then
    signatures=$("$python" - "$dir/export" <<'PY' 2>/dev/null
import os, sys, tensorflow as tf
base = sys.argv[1]
out = []
for model in ("decoder", "encoder"):
    version = max(os.listdir(os.path.join(base, model)), key=int)
    loaded = tf.saved_model.load(os.path.join(base, model, version))
    out.append(f"{model}/{version}: {','.join(sorted(loaded.signatures))}")
print("; ".join(out))
PY
)
    echo "ok   $preset ($(( $(date +%s) - start )) s) $signatures"
  else
    echo "FAIL $preset: $(grep -m1 -E '^error|Error' "$dir.log")"
    status=1
  fi
done
exit $status
