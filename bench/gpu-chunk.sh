#!/usr/bin/env bash
# Before/after of the parameter-traffic fix on the GPU machine: one optimizer step per run (train_step.onnx) against
# K steps per run (train_chunk.onnx), same process order, same warm machine. Usage: bash bench/gpu-chunk.sh cuda OUTFILE
set -u
dev=$1; out=$2
run() { timeout 200 node dist/bench/step-speed.js "$@" --device "$dev" >>"$out" 2>>"$out.err" || echo "{\"what\":\"failed\",\"device\":\"$dev\",\"args\":\"$*\",\"rc\":$?}" >>"$out"; }
run --preset vit-tiny-p4 --image-size 32 --channels 3 --bl 64 --bu 192 --steps 10
run --preset vit-tiny-p4 --image-size 32 --channels 3 --bl 64 --bu 192 --steps 4 --k 8
run --preset vit-base-p16 --image-size 224 --channels 3 --bl 16 --bu 48 --steps 4 --eval-batch 64
run --preset vit-base-p16 --image-size 224 --channels 3 --bl 16 --bu 48 --steps 3 --k 4 --eval-batch 64
