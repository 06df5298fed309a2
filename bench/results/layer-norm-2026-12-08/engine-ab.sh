#!/bin/bash
# Engine A/B on a quiet machine: B0 (build d6bd873) vs LN (decomposed layer norm) vs LNG (LN + bias gradients as Gemm).
cd REPO
E=EXPORTS; O=OUT; mkdir -p $O
uptime > $O/uptime-before.txt
for t in 2 1; do
  node dist/bench/op-ab.js --rounds 20 --threads $t >> $O/op-ab.jsonl
done
for pair in "B0 LN" "LN LNG"; do
  set -- $pair
  for t in 2 1; do
    node dist/bench/graph-ab.js --before $E/$1-micro --after $E/$2-micro --graphs train_step,eval --rounds 10 --threads $t --eval-batch 256 | sed "s/^{/{\"pair\":\"$1-$2\",\"model\":\"vit-micro-p4\",/" >> $O/graph-ab.jsonl
    node dist/bench/graph-ab.js --before $E/$1-tiny --after $E/$2-tiny --graphs train_step --rounds 6 --threads $t | sed "s/^{/{\"pair\":\"$1-$2\",\"model\":\"vit-tiny-p4\",/" >> $O/graph-ab.jsonl
    node dist/bench/graph-ab.js --before $E/$1-cifar --after $E/$2-cifar --graphs pseudo_step,supervised_step --rounds 20 --threads $t | sed "s/^{/{\"pair\":\"$1-$2\",\"model\":\"cifar\",/" >> $O/graph-ab.jsonl
  done
done
uptime > $O/uptime-after.txt
