#!/bin/bash
# CIFAR-10 probes, seed 0: more joint steps in the hour. Base (the hour on this build): --labeled-steps 3, 18,000 steps
# (4,500 joint): hidden labels, all 44,500: 61.10%; validation 57.8%.
# A: --labeled-steps 1, 24,000 steps (12,000 joint). B: --labeled-steps 0, 14,000 steps (all joint).
# Chosen on the hidden labels (all 44,500) and validation; the test split is read only for the chosen run.
cd BUILD
ART=EXP/cifar/artifacts
R="--lr 2e-3 --warmup-steps 100 --flip --tau 0.7 --lambda-u 2 --gate-confidence 0.8 --label-smoothing 0.1 --lambda-rec 0 --eval-every 100 --log-every 50"
probe() {
  mkdir -p EXP/cprobe/$1
  /usr/bin/time -v node dist/src/cli/main.js train --artifacts $ART --labeled CIFAR10_DIR/train --labels-per-class 500 --val-per-class 50 \
    --seed 0 --threads 1 --quiet --keep-best $R --labeled-steps $2 --steps $3 --out EXP/cprobe/$1/run > EXP/cprobe/$1/train.log 2>&1
  node dist/bench/hidden-accuracy.js --run EXP/cprobe/$1/run --threads 1 --max 0 > EXP/cprobe/$1/hidden.json
}
probe A 1 24000 & a=$!
probe B 0 14000 & b=$!
wait $a; wait $b
# 2026-12-04, same build (b846e15), side by side, one thread each, beside the ablation of the next section:
# LO24: labels-only with A's steps:  probe-like train ... --method labels-only --labeled-steps 1 --steps 24000; then
#   node dist/src/cli/main.js eval --run RUN --data CIFAR10_DIR/test --json --threads 1 > test.json
# C: A with artifacts exported with --strong-capacity 32 (otherwise as ART): ... --labeled-steps 1 --steps 24000
