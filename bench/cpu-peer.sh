#!/usr/bin/env bash
# The same-run CPU comparison (docs/BENCHMARKS.md, "CPU engine"): builds the engine as it was before the engine work
# (commit $BENCH_BEFORE) next to this checkout, exports vit-micro-p4 and vit-tiny-p4 at batch 16 + 48 with both, and
# runs dist/bench/cpu-peer.js, which times both steps and PyTorch's reference step alternately, two rounds.
# PyTorch is Debian's python3-torch with libopenblas0-pthread (installed here when missing, as
# scripts/install-system-deps.sh installs its packages); /usr/bin/python3 is used because a python3 earlier on PATH
# may lack torch.
#   bash bench/cpu-peer.sh OUT.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench/results/local/cpu-peer.jsonl}"
before="${BENCH_BEFORE:-9f889ab}"
work="${TMPDIR:-/tmp}/ssmae-cpu-peer"
python=/usr/bin/python3

if ! "$python" -c 'import torch' 2>/dev/null || ! ls /usr/lib/*/openblas-pthread/libblas.so.3 >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
  else
    echo "bench/cpu-peer.sh: needs Debian's python3-torch and libopenblas0-pthread (apt-get install, as root); not installed" >&2
    exit 2
  fi
fi

mkdir -p "$work" "$(dirname "$out")"
if [ ! -f "$work/before-$before/dist/src/cli/main.js" ]; then
  rm -rf "$work/before-$before" && mkdir -p "$work/before-$before"
  git archive "$before" | tar -x -C "$work/before-$before"
  ln -s "$PWD/node_modules" "$work/before-$before/node_modules"
  (cd "$work/before-$before" && npx tsc -p .)
fi
for p in micro tiny; do
  for side in before after; do
    dir="$work/$side/vit-$p-p4"
    cli="dist/src/cli/main.js"; [ "$side" = before ] && cli="$work/before-$before/dist/src/cli/main.js"
    rm -rf "$dir"
    node "$cli" export --preset "vit-$p-p4" --image-size 32 --channels 3 --classes 10 --batch-labeled 16 --batch-unlabeled 48 --out "$dir" >/dev/null
  done
done
node dist/bench/cpu-peer.js --presets micro,tiny --before "$work/before" --after "$work/after" --rounds 2 --steps 6 --threads 2 | tee "$out"
