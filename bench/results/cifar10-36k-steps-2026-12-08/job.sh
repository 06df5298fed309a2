#!/bin/bash
# usage: job.sh NAME SEED METHOD REC LS STEPS [extra train flags...]
# One CIFAR-10 training of the hour's recipe, then the test split once (and hidden labels when there are any).
set -u
N=$1; SEED=$2; METHOD=$3; REC=$4; LS=$5; STEPS=$6; shift 6
E=EXP/$N; mkdir -p $E; cd BUILD
R="--lr 2e-3 --warmup-steps 100 --flip --tau 0.7 --lambda-u 2 --gate-confidence 0.8 --label-smoothing 0.1 --eval-every 100 --log-every 50"
date +%s > $E/start
/usr/bin/time -v node dist/src/cli/main.js train --artifacts ART --labeled CIFAR10_DIR/train --val-per-class 50 \
  --seed $SEED --threads 1 --quiet --keep-best $R --method $METHOD --lambda-rec $REC --labeled-steps $LS --steps $STEPS "$@" --out $E/run > $E/train.log 2>&1
date +%s > $E/end
node dist/bench/hidden-accuracy.js --run $E/run --threads 1 --max 0 > $E/hidden.json 2>$E/hidden.err
node dist/src/cli/main.js eval --run $E/run --data CIFAR10_DIR/test --json --threads 1 > $E/test.json 2>$E/test.err
