#!/usr/bin/env bash
# CIFAR-10 with 10% of the labels (500 per class), read as a user's data would be: the JPEG image folder
# (train/<class>/*.jpg, test/<class>/*.jpg). Gated SSMAE and the labels-only baseline, same model (vit-tiny-p4 at
# 32×32), same steps, same seed, run side by side; the gate's validation split (50 per class) comes out of train/,
# test/ is read only for the final figure.
#
# Usage: bash bench/gpu-cifar10.sh CIFAR10_JPG_TAR_GZ OUT_DIR [STEPS] [DEVICE] [PRESET]
#   on the GPU machine (DEVICE cuda, after .gpu/remote.sh) or on the CPU (DEVICE cpu, a small STEPS to try it).
# TRAIN_LIMIT_S caps each training's wall time (exit 124 in summary.txt; the last checkpoint is then evaluated).
# PHASE=decode stops after unpacking and decoding into the cache (on the CPU, so it can run before the CUDA provider is
# on the machine); PHASE=train then finds both ready. Decoding runs on libuv's pool: UV_THREADPOOL_SIZE sets its size.
# Writes OUT_DIR/<method>/{config.json,metrics.csv,gate.jsonl,eval.json,train.log} and OUT_DIR/summary.txt.
set -u
tarball=$1; out=$2; steps=${3:-2000}; dev=${4:-cuda}; preset=${5:-vit-tiny-p4}
cli="node dist/src/cli/main.js"
data=/tmp/ssmae-cifar10; art=/tmp/ssmae-cifar10-art-$preset; runs=/tmp/ssmae-cifar10-runs
mkdir -p "$out" "$runs"
t0=$(date +%s)
if [ ! -d "$data/train" ]; then mkdir -p "$data" && tar xzf "$tarball" -C "$data"; fi
echo "data ready in $(( $(date +%s) - t0 )) s: $(find "$data/train" -name '*.jpg' | wc -l) train, $(find "$data/test" -name '*.jpg' | wc -l) test images"
# K = 8 optimizer steps per run: the state stays on the device between steps (docs/BENCHMARKS.md, parameter traffic).
$cli export --preset "$preset" --image-size 32 --channels 3 --classes 10 --batch-labeled 64 --batch-unlabeled 192 \
  --steps-per-run 8 --out "$art" | tail -1
# Settings: the MNIST study's (τ 0.7, λu 2, chosen on MNIST's validation split, not on CIFAR), flips and the default
# 4-pixel crop for natural images, AdamW 1e-3 with 100 warmup steps.
common=(--artifacts "$art" --labeled "$data/train" --labels-per-class 500 --val-per-class 50 --steps "$steps"
  --device "$dev" --eval-every 200 --log-every 100 --checkpoint-every 400 --warmup-steps 100 --lr 1e-3 --flip
  --seed 0 --quiet --cache-dir /tmp/ssmae-cifar10-cache)
# Decode once into the cache (a one-step run on the CPU) before the two runs start, so they do not both decode.
if [ ! -f "$runs/decode/checkpoint.safetensors" ]; then
  $cli train "${common[@]}" --method labels-only --steps 1 --device cpu --out "$runs/decode" >"$out/decode.log" 2>&1 || true
fi
echo "decoded in $(( $(date +%s) - t0 )) s"
[ "${PHASE:-all}" = decode ] && exit 0
train() {
  local method=$1; shift
  local s; s=$(date +%s)
  timeout "${TRAIN_LIMIT_S:-86400}" $cli train "${common[@]}" --method "$method" "$@" --out "$runs/$method" --overwrite >"$out/$method.train.log" 2>&1
  local rc=$?
  echo "$method: train rc=$rc in $(( $(date +%s) - s )) s" >>"$out/summary.txt"
}
train ssmae --tau 0.7 --lambda-u 2 &
train labels-only &
wait
for m in ssmae labels-only; do
  mkdir -p "$out/$m"
  cp "$runs/$m"/{config.json,metrics.csv,gate.jsonl} "$out/$m/" 2>/dev/null
  $cli eval --run "$runs/$m" --data "$data/test" --device "$dev" --json >"$out/$m/eval.json" 2>"$out/$m/eval.err"
  echo "$m: test accuracy $(node -e 'try{console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).accuracy)}catch{console.log("n/a")}' "$out/$m/eval.json")" >>"$out/summary.txt"
done
echo "total $(( $(date +%s) - t0 )) s" >>"$out/summary.txt"
cat "$out/summary.txt"
