#!/bin/bash
# job.sh NAME ART STEPS [extra flags...]
[ -e EXP/q/SKIP-$1 ] && exit 0
name=$1; art=$2; steps=$3; shift 3
cd BUILD
D=EXP/q/$name; mkdir -p $D
R="--lr 2e-3 --warmup-steps 100 --flip --tau 0.7 --lambda-u 2 --gate-confidence 0.8 --label-smoothing 0.1 --lambda-rec 0 --eval-every 100 --log-every 50"
/usr/bin/time -v node dist/src/cli/main.js train --artifacts $art --labeled CIFAR10_DIR/train --labels-per-class 500 --val-per-class 50 \
  --seed 0 --threads 1 --quiet --keep-best $R --steps $steps "$@" --out $D/run > $D/train.log 2>&1
echo "train rc $?" >> $D/train.log
node dist/bench/hidden-accuracy.js --run $D/run --threads 1 --max 0 > $D/hidden.json 2> $D/hidden.err
echo done > $D/DONE
