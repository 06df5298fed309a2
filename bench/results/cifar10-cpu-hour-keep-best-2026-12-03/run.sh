#!/bin/bash
# CIFAR-10 hour, seed 0, current build: gated SSMAE 18,000 steps beside labels-only 27,000 steps, --best.
set -e
cd REPO
OUT=EXP/cifar
ART=$OUT/artifacts
node dist/src/cli/main.js export --preset vit-micro-d2-p4-convstem32-image --image-size 32 --channels 3 --classes 10 \
  --batch-unlabeled 48 --strong-capacity 16 --out $ART | tail -n 1
R="--lr 2e-3 --warmup-steps 100 --flip --tau 0.7 --lambda-u 2 --gate-confidence 0.8 --label-smoothing 0.1 --labeled-steps 3 --lambda-rec 0 --eval-every 100 --log-every 50"
bench() {
  node dist/bench/label-efficiency.js --artifacts $ART --labeled CIFAR10_DIR/train --test CIFAR10_DIR/test \
    --labels-per-class 500 --val-per-class 50 --methods $2 --seeds 0 --steps $3 --parallel 1 --threads 1 --best \
    --out $OUT/$1 -- $R > $OUT/$1.log 2>&1
}
bench ssmae ssmae 18000 & a=$!
bench labels-only-same-time labels-only 27000 & b=$!
wait $a; wait $b
