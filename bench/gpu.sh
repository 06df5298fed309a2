#!/usr/bin/env bash
# GPU rows of docs/BENCHMARKS.md, on the remote GPU machine (protocol: shared/gpu/README.md), from /tmp/gpu/app
# after `source .gpu/remote.sh`. Usage: bash bench/gpu.sh webgpu|cuda OUTFILE
# Each measurement runs in its own process: the WebGPU provider has aborted whole processes before.
set -u
dev=$1; out=$2
run() { timeout 240 node dist/bench/step-speed.js "$@" --device "$dev" >>"$out" 2>>"$out.err" || echo "{\"what\":\"failed\",\"device\":\"$dev\",\"args\":\"$*\",\"rc\":$?}" >>"$out"; }
run --preset vit-tiny-p4 --image-size 32 --channels 3 --bl 64 --bu 192 --steps 10
run --preset vit-tiny-p4 --image-size 32 --channels 3 --bl 64 --bu 192 --steps 3 --profile /tmp/prof-tiny-$dev
run --preset vit-base-p16 --image-size 224 --channels 3 --bl 16 --bu 48 --steps 4 --eval-batch 64
