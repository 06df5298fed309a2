#!/usr/bin/env bash
# Peak memory and speed of `ssmae pseudo-label` over generated dumps of growing size (docs/BENCHMARKS.md,
# "pseudo-label in constant memory"). Each size runs under /usr/bin/time -v; the raw outputs and a summary go to
# bench/results/pseudo-label-memory-<date>[-TAG]/.
#
#   bash bench/pseudo-label-memory.sh
#   BENCH_SIZES="20000 200000" BENCH_SIDE=8 BENCH_KIND=png        # the defaults: 8×8 PNGs
#   BENCH_SIZES="2000 20000" BENCH_SIDE=224 BENCH_KIND=jpg BENCH_TAG=224   # 224×224 JPEGs
#   BENCH_BASE_CLI=../old/dist/src/cli/main.js                    # also time another build (the unstreamed one)
#   BENCH_BATCH=20                                                # --batch for both builds
#
# The dumps are generated once into BENCH_WORK (default ${TMPDIR:-/tmp}/ssmae-bench, outside the repository) and
# reused. The model is BENCH_PRESET (default vit-micro-d2-p4) at the dump's image size, trained for 2 steps (its accuracy does not matter
# here; BENCH_PRESET names another, e.g. vit-micro-d2-p16 for 224×224). BENCH_THREADS (default 1) intra-op threads for every run, so both builds get the same CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/ssmae-bench}
SIZES=${BENCH_SIZES:-"20000 200000"}
SIDE=${BENCH_SIDE:-8}
KIND=${BENCH_KIND:-png}
THREADS=${BENCH_THREADS:-1}
PRESET=${BENCH_PRESET:-vit-micro-d2-p4}
BASE_CLI=${BENCH_BASE_CLI:-}
BATCH=${BENCH_BATCH:+--batch $BENCH_BATCH}   # the same --batch for both builds (main's default is 256 at any size)
OUT=bench/results/pseudo-label-memory-$(date -u +%F)${BENCH_TAG:+-$BENCH_TAG}
CLI=dist/src/cli/main.js
mkdir -p "$WORK" "$OUT"

ART=$WORK/art-$PRESET-$SIDE
RUN=$WORK/run-$PRESET-$SIDE
if [ ! -f "$RUN/checkpoint.safetensors" ]; then
  [ -d "$WORK/labeled-$SIDE" ] || node dist/bench/make-dump.js "$WORK/labeled-$SIDE" 30 "$SIDE" "$KIND" classes
  node $CLI export --preset "$PRESET" --image-size "$SIDE" --channels 3 --classes 3 --batch-labeled 4 --batch-unlabeled 4 --out "$ART" >/dev/null
  node $CLI train --artifacts "$ART" --labeled "$WORK/labeled-$SIDE" --labels-per-class 4 --val-per-class 2 --out "$RUN" \
    --steps 2 --eval-every 2 --threads "$THREADS" --quiet --cache-dir "$WORK/cache" >/dev/null 2>&1
fi

measure() { # name cli n
  local name=$1 cli=$2 n=$3 dump=$WORK/dump-$3-$SIDE-$KIND out=$WORK/labels-$1-$3.csv
  rm -f "$out" "$out".*
  echo "== $name, $n images: node $cli pseudo-label --run RUN --input DUMP --out OUT --threads $THREADS $BATCH" | tee "$OUT/$name-$n.txt"
  /usr/bin/time -v node "$cli" pseudo-label --run "$RUN" --input "$dump" --out "$out" --threads "$THREADS" $BATCH >>"$OUT/$name-$n.txt" 2>&1
  rm -f "$out" "$out".*
}

for n in $SIZES; do
  [ -d "$WORK/dump-$n-$SIDE-$KIND" ] || node dist/bench/make-dump.js "$WORK/dump-$n-$SIDE-$KIND" "$n" "$SIDE" "$KIND"
  measure streamed $CLI "$n"
  [ -z "$BASE_CLI" ] || measure unstreamed "$BASE_CLI" "$n"
done

{
  echo "| build | images | peak RSS (MB) | wall (s) | images/s (wall) |"
  echo "|---|---|---|---|---|"
  for f in "$OUT"/*-*.txt; do
    b=$(basename "$f" .txt)
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$f")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; printf "%.1f", s}' "$f")
    # images over the whole command's wall time (listing, decoding, loading the model included): the unstreamed
    # build's own images/s figure counts only its labeling loop, after every image was decoded.
    echo "| ${b%-*} | ${b##*-} | $rss | $wall | $(awk -v n="${b##*-}" -v w="$wall" 'BEGIN {printf "%.0f", n / w}') |"
  done
} | tee "$OUT/summary.md"
