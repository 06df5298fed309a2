#!/usr/bin/env bash
# Peak memory of `ssmae train` on CIFAR-10 resized to 224×224, from the JPEG folder, at three data sizes
# (docs/BENCHMARKS.md, "Training with the images on disk"). Each run is 5 steps under /usr/bin/time -v, twice per
# size: "cold" decodes every image into an empty --cache-dir, "warm" trains again from that cache (opened, its
# sha256 checked, read by offset). The raw outputs and a summary go to bench/results/train-memory-<date>[-TAG]/.
#
#   BENCH_DATA=path/to/cifar10/train bash bench/train-memory.sh
#   BENCH_SIZES="50 500 5000"            # images per class (default "50 500 5000": 500, 5,000 and all 50,000)
#   BENCH_BASE_CLI=../old/dist/src/cli/main.js BENCH_BASE_SIZES="50 500"   # also an earlier build, at these sizes
#
# BENCH_DATA is the train folder of the CIFAR-10 JPEG folder from ../shared/data/cifar10-jpg.tar.gz
# (<class>/<image>.jpg, 5,000 per class). Smaller sets are folders of symbolic links to its first N images per
# class, made under BENCH_WORK (default ${TMPDIR:-/tmp}/ssmae-train-bench, outside the repository), as are the
# artifacts, runs and caches (the 50,000-image cache is ~7.5 GB; BENCH_KEEP_CACHE=1 keeps it, by default it is
# deleted at the end). BENCH_THREADS (default 1) intra-op threads.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BENCH_DATA:?set BENCH_DATA to the CIFAR-10 JPEG train folder}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/ssmae-train-bench}
SIZES=${BENCH_SIZES-"50 500 5000"}
BASE_CLI=${BENCH_BASE_CLI:-}
BASE_SIZES=${BENCH_BASE_SIZES:-"50 500"}
THREADS=${BENCH_THREADS:-1}
PRESET=vit-micro-d2-p16
OUT=bench/results/train-memory-$(date -u +%F)${BENCH_TAG:+-$BENCH_TAG}
CLI=dist/src/cli/main.js
mkdir -p "$WORK" "$OUT"

ART=$WORK/art-$PRESET-224
[ -f "$ART/manifest.json" ] || node $CLI export --preset $PRESET --image-size 224 --channels 3 --classes 10 \
  --batch-labeled 8 --batch-unlabeled 24 --out "$ART" >/dev/null

folder() { # images per class -> a folder holding that many per class
  local per=$1 dir
  if [ "$per" -ge 5000 ]; then echo "$DATA"; return; fi
  dir=$WORK/cifar10-$per
  if [ ! -d "$dir" ]; then
    for c in "$DATA"/*/; do
      c=$(basename "$c"); mkdir -p "$dir/$c"
      ls "$DATA/$c" | sort | head -n "$per" | while read -r f; do ln -s "$DATA/$c/$f" "$dir/$c/$f"; done
    done
  fi
  echo "$dir"
}

measure() { # build cli per-class
  local build=$1 cli=$2 per=$3 data cache run n
  data=$(folder "$per"); n=$((per * 10))
  cache=$WORK/cache-$build-$per; run=$WORK/run-$build-$per
  rm -rf "$cache" "$run"
  for pass in cold warm; do
    local cmd="node $cli train --artifacts ART --labeled DATA --labels-per-class 20 --val-per-class 10 --steps 5 --eval-every 5 --threads $THREADS --quiet --cache-dir CACHE --out RUN --overwrite"
    echo "== $build, $n images, $pass cache: $cmd" | tee "$OUT/$build-$n-$pass.txt"
    echo "   (DATA=$([ "$per" -ge 5000 ] && echo 'the CIFAR-10 JPEG train folder' || echo "its first $per images per class"))" >>"$OUT/$build-$n-$pass.txt"
    /usr/bin/time -v node "$cli" train --artifacts "$ART" --labeled "$data" --labels-per-class 20 --val-per-class 10 --steps 5 \
      --eval-every 5 --threads "$THREADS" --quiet --cache-dir "$cache" --out "$run" --overwrite >>"$OUT/$build-$n-$pass.txt" 2>&1 ||
      echo "(exit status above: the run failed)" >>"$OUT/$build-$n-$pass.txt"
    du -sb "$cache" | awk '{printf "cache folder: %d bytes\n", $1}' >>"$OUT/$build-$n-$pass.txt"
  done
  [ -n "${BENCH_KEEP_CACHE:-}" ] || rm -rf "$cache"
}

for per in $SIZES; do measure disk-store $CLI "$per"; done
if [ -n "$BASE_CLI" ]; then for per in $BASE_SIZES; do measure in-memory "$BASE_CLI" "$per"; done; fi

{
  echo "| build | images | cache | peak RSS (MiB) | wall (s) | user+sys CPU (s) | data line, or why it failed |"
  echo "|---|---|---|---|---|---|---|"
  for f in "$OUT"/*-*-*.txt; do
    b=$(basename "$f" .txt); pass=${b##*-}; rest=${b%-*}; n=${rest##*-}; build=${rest%-*}
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$f")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; printf "%.1f", s}' "$f")
    cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.1f", s}' "$f")
    data=$(grep -m1 '^data:' "$f" || echo "failed: $(grep -m1 -E 'Error|error:' "$f" || echo 'see the raw output')")
    echo "| $build | $n | $pass | $rss | $wall | $cpu | $data |"
  done
} | tee "$OUT/summary.md"
