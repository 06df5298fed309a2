#!/bin/bash
# ORT's parallel executor against the sequential one, quiet machine. usage: session.sh OUTFILE
set -u
cd REPO
out=$1
{ date -u; uptime; } > $out.txt
for a in vit-micro-p4 vit-tiny-p4; do
  node dist/bench/session-ab.js --artifacts ART-$a --graph train_step --rounds 10 --configs seq:2,par:2x1,par:2x2,seq:1 | sed "s/^{/{\"artifacts\":\"$a\",/"
done > $out
for g in pseudo_step supervised_step; do
  node dist/bench/session-ab.js --artifacts ART-cifar10 --graph $g --rounds 10 --configs seq:2,par:2x1,par:2x2,seq:1 | sed "s/^{/{\"artifacts\":\"vit-micro-d2-p4-convstem32-image-c16\",/"
done >> $out
uptime >> $out.txt
