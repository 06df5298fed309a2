#!/usr/bin/env bash
# Peak memory of one vit-tiny-p4 train step at batch 256 (64 labeled + 192 unlabeled) on the CPU: the engine before
# its node cuts, after, and PyTorch's reference step (fp32), each its own process under /usr/bin/time -v.
# Needs ~20 GB free; run after bench/cpu-peer.sh (which builds the older engine).
#   bash bench/peak-memory.sh OUT.txt
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results/local/peak-memory.txt}"
before="${BENCH_BEFORE:-9f889ab}"
work="${TMPDIR:-/tmp}/ssmae-cpu-peer"
: > "$out"
for side in before after; do
  cli="dist/src/cli/main.js"; [ "$side" = before ] && cli="$work/before-$before/dist/src/cli/main.js"
  dir="$work/$side-256/vit-tiny-p4"
  rm -rf "$dir"
  node "$cli" export --preset vit-tiny-p4 --image-size 32 --channels 3 --classes 10 --batch-labeled 64 --batch-unlabeled 192 --out "$dir" >/dev/null
done
for side in before after; do
  echo "== ssmae $side: node dist/bench/one-step.js --artifacts after-256/vit-tiny-p4 --onnx $side-256/vit-tiny-p4/train_step.onnx" >> "$out"
  /usr/bin/time -v node dist/bench/one-step.js --artifacts "$work/after-256/vit-tiny-p4" --onnx "$work/$side-256/vit-tiny-p4/train_step.onnx" >> "$out" 2>&1
done
echo "== PyTorch: ssmae_step_torch.py --device cpu --threads 2 --preset tiny --batch 256 --variants eager_fp32 --steps 2" >> "$out"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/time -v /usr/bin/python3 bench/ssmae_step_torch.py --device cpu --threads 2 \
  --preset tiny --batch 256 --variants eager_fp32 --steps 2 >> "$out" 2>&1
grep -E '^==|Maximum resident|"ms"|step_ms' "$out"
