#!/bin/bash
# Quiet-machine comparison at this build: bench/cpu-peer.sh (9f889ab before, this build after, PyTorch fp32/bf16), then
# ORT's profile of the after-steps.
cd REPO
O=OUT; mkdir -p $O
uptime > $O/uptime-before.txt
bash bench/cpu-peer.sh $O/cpu-peer.jsonl > $O/cpu-peer.log 2>&1
for p in micro tiny; do
  node dist/bench/step-profile.js --artifacts TMPDIR/ssmae-cpu-peer/after/vit-$p-p4 --label after-$p >> $O/step-profile.jsonl
done
uptime > $O/uptime-after.txt
