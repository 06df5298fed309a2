#!/usr/bin/env bash
# make bench: the CPU benchmarks (docs/BENCHMARKS.md). Results go to bench/results/local/.
# Benchmarks are not tests: this takes a quarter of an hour or more on two cores, and the efficiency part needs
# ~20 GB of memory for vit-tiny-p4 at batch 256 (set BENCH_EFFICIENCY=0 to skip it).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results/local
# Same-run comparison: the engine before/after its node cuts, and PyTorch fp32 / bf16 on the same step.
bash bench/cpu-peer.sh bench/results/local/cpu-peer.jsonl
# Single operators written two ways (layer normalization, bias gradients), alternately in one process.
node dist/bench/op-ab.js | tee bench/results/local/op-ab.jsonl
# Nodes per step and ORT's time by operator type.
for p in micro tiny; do
  node dist/bench/step-profile.js --artifacts "${TMPDIR:-/tmp}/ssmae-cpu-peer/after/vit-$p-p4" --label "after-$p"
  node dist/bench/step-profile.js --artifacts "${TMPDIR:-/tmp}/ssmae-cpu-peer/after/vit-$p-p4" \
    --onnx "${TMPDIR:-/tmp}/ssmae-cpu-peer/before/vit-$p-p4/train_step.onnx" --label "before-$p"
done | tee bench/results/local/step-profile.jsonl
if [ "${BENCH_EFFICIENCY:-1}" != 0 ]; then
  node dist/bench/cpu-efficiency.js --steps 3 | tee bench/results/local/cpu-efficiency.jsonl
fi
