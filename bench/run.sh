#!/usr/bin/env bash
# make bench: the CPU benchmark suite that exists so far (docs/BENCHMARKS.md). Results go to bench/results/local/.
# Benchmarks are not tests: this takes several minutes and needs ~20 GB of memory for vit-tiny-p4 at batch 256.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results/local
node dist/bench/cpu-efficiency.js --steps 3 | tee bench/results/local/cpu-efficiency.jsonl
