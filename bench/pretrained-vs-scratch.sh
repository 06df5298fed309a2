#!/usr/bin/env bash
# Fine-tuning from a checkpoint against the same run from scratch (docs/BENCHMARKS.md, "Pretrained vs scratch"):
#   1. MAE pre-training with ssmae on Fashion-MNIST's training images, labels unused (mae-finetune with
#      --pretrain-steps = --steps: reconstruction only);
#   2. export-weights --format hf, then export --from-pretrained of that folder;
#   3. labels-only fine-tuning on 10% of the labels (600 per class) from the checkpoint, and from the seed with the
#      same architecture, flags and budget; both evaluated once on fashion-mnist:test at the end.
# Small on purpose (a 2-core machine shared with other jobs): PRE steps of pre-training, FT steps of fine-tuning.
set -euo pipefail
cd "$(dirname "$0")/.."
PRE=${PRE:-600}
FT=${FT:-300}
# The same peak learning rate for both fine-tunings (train's default differs: 1e-4 for --from-pretrained artifacts).
LR=${LR:-1e-3}
OUT=${OUT:-bench/results/pretrained-vs-scratch}
W=$(mktemp -d)
mkdir -p "$OUT"
ssmae() { node dist/src/cli/main.js "$@"; }
ARCH=(--image-size 28 --channels 1 --classes 10 --cls-token --pool cls --pos-embed fixed)
FINE=(--drop-path 0.1 --layer-decay 1)
ssmae export --preset vit-micro-d2-p4 "${ARCH[@]}" --out "$W/art-pre" | tail -1
ssmae train --artifacts "$W/art-pre" --labeled fashion-mnist:train --labels-per-class 1 --method mae-finetune \
  --steps "$PRE" --pretrain-steps "$PRE" --out "$W/pretrain" --quiet --cache-dir "$W/cache" 2> "$OUT/pretrain.log"
ssmae export-weights --run "$W/pretrain" --format hf --out "$W/hf"
ssmae export --from-pretrained "$W/hf" --classes 10 "${FINE[@]}" --out "$W/art-ft" | tail -1
ssmae export --preset vit-micro-d2-p4 "${ARCH[@]}" "${FINE[@]}" --out "$W/art-scratch" | tail -1
for kind in ft scratch; do
  ssmae train --artifacts "$W/art-$kind" --labeled fashion-mnist:train --labels-per-class 600 --method labels-only \
    --steps "$FT" --lr "$LR" --out "$W/run-$kind" --quiet --cache-dir "$W/cache" 2> "$OUT/$kind.log"
  ssmae eval --run "$W/run-$kind" --data fashion-mnist:test --json > "$OUT/$kind-test.json"
  echo "$kind: test accuracy $(node -e "console.log(JSON.parse(require('fs').readFileSync('$OUT/$kind-test.json','utf8')).accuracy)")"
done
cp "$W/pretrain/metrics.csv" "$OUT/pretrain-metrics.csv"
rm -rf "$W"
