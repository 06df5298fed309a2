#!/usr/bin/env bash
# CIFAR-10 with 10% of the labels on the 2-core CPU within an hour: gated SSMAE against labels-only with the same model
# and recipe, labels-only given both the same steps and the same wall time.
#
# Usage: bash bench/cifar10-cpu-60min.sh CIFAR10_DIR OUT [GATED_STEPS] [LABELS_ONLY_WALL_STEPS] [-- train flags]
#   Defaults: the best recipe measured in the hour (docs/BENCHMARKS.md, "`--labeled-steps 1` on a third seed"):
#   GATED_STEPS 24000, LABELS_ONLY_WALL_STEPS 40000 (labels-only took 35.8 min for 40,000 steps beside another run,
#   the gated runs 40-51 min for 24,000, so no more than the gated run's wall time), and when no train flags follow `--`:
#     --lr 2e-3 --warmup-steps 100 --flip --tau 0.7 --lambda-u 2 --gate-confidence 0.8 --label-smoothing 0.1
#     --lambda-rec 0 --labeled-steps 1 --eval-every 100 --log-every 50
#   Flags after `--` replace that recipe whole (they are not added to it).
#   Environment: SEEDS (comma-separated, default 0; each seed its own labels, validation split and draws; every set
#   runs its seeds one after the other), PRESET (default vit-micro-d2-p4-convstem32-image), BATCH_UNLABELED
#   (unlabeled images per step, default 48; the labeled batch is 16), STRONG_CAPACITY (export --strong-capacity:
#   strong views classified per step; default 16, set it empty for all), TTA=flip (each run is also evaluated with
#   eval --tta flip, its mirror images averaged in; both figures reported).
#   CIFAR10_DIR: the JPEG folder (train/<class>/*.jpg, test/<class>/*.jpg), e.g. ../shared/data/cifar10-jpg.tar.gz
#   unpacked. 500 labels and 50 validation images per class come out of train/, the other 44,500 train/ images are the
#   unlabeled set; test/ is read once per run, for the final figure.
#
# Three sets of trainings, one thread each (label-efficiency.js runs train, then eval on test/):
#   1. gated SSMAE, GATED_STEPS steps, and beside it on the other core
#   2. labels-only with the same GATED_STEPS steps;
#   3. then labels-only with LABELS_ONLY_WALL_STEPS steps (about the gated run's wall time); 0 skips it.
# Each set decodes the JPEGs into its own fresh cache (OUT/<set>/.cache), so its first seed's wall time includes
# decoding (about a minute); its later seeds read that cache. Results, summaries and
# charts go to OUT/{ssmae,labels-only-same-steps,labels-only-same-time}/; OUT/summary.txt gathers every run, each
# set's mean ± std over the seeds and the gated run's gains paired by seed (bench/hour-summary.ts).
# Running it again with the same OUT resumes: finished runs are kept, a run cut off continues from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  [ $# -ge 2 ] || exit 2; exit 0
fi
[ -f dist/bench/hour-summary.js ] || { echo "cifar10-cpu-60min: dist/ is missing or older than this script; run make build first" >&2; exit 2; }
data=$1; out=$2; steps=${3:-24000}; lo_steps=${4:-40000}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
recipe=("$@")
[ ${#recipe[@]} -gt 0 ] || recipe=(--lr 2e-3 --warmup-steps 100 --flip --tau 0.7 --lambda-u 2 --gate-confidence 0.8
  --label-smoothing 0.1 --lambda-rec 0 --labeled-steps 1 --eval-every 100 --log-every 50)
[ -d "$data/train" ] && [ -d "$data/test" ] || { echo "cifar10-cpu-60min: $data has no train/ and test/ folders; unpack cifar10-jpg.tar.gz there" >&2; exit 2; }
preset=${PRESET:-vit-micro-d2-p4-convstem32-image}; capacity=${STRONG_CAPACITY-16}; seeds=${SEEDS:-0}
art=$out/artifacts
mkdir -p "$out"
if [ -f "$art/manifest.json" ]; then # a resumed benchmark keeps the artifacts its checkpoints were trained with
  echo "cifar10-cpu-60min: reusing $art (delete it to export again)" >&2
else
  node dist/src/cli/main.js export --preset "$preset" --image-size 32 --channels 3 --classes 10 \
    --batch-unlabeled "${BATCH_UNLABELED:-48}" ${capacity:+--strong-capacity "$capacity"} --out "$art" | tail -n 1
fi
bench() { # NAME METHOD STEPS
  node dist/bench/label-efficiency.js --artifacts "$art" --labeled "$data/train" --test "$data/test" \
    --labels-per-class 500 --val-per-class 50 --methods "$2" --seeds "$seeds" --steps "$3" --parallel 1 --threads 1 --tta "${TTA:-none}" \
    --out "$out/$1" -- "${recipe[@]}" >"$out/$1.log" 2>&1
}
echo "cifar10-cpu-60min: seeds $seeds; gated SSMAE and labels-only, $steps steps each, side by side (logs: $out/ssmae.log, $out/labels-only-same-steps.log)" >&2
bench ssmae ssmae "$steps" & a=$!
bench labels-only-same-steps labels-only "$steps" & b=$!
rc=0; wait $a || rc=1; wait $b || rc=1
if [ "$lo_steps" -gt 0 ]; then
  echo "cifar10-cpu-60min: labels-only, $lo_steps steps (about the gated run's wall time; log: $out/labels-only-same-time.log)" >&2
  bench labels-only-same-time labels-only "$lo_steps" || rc=1
fi
node dist/bench/hour-summary.js --out "$out" \
  --header "model: $preset, batch 16 labeled + ${BATCH_UNLABELED:-48} unlabeled${capacity:+, strong capacity $capacity}; recipe: ${recipe[*]}
train times: one thread each, the gated and same-steps runs side by side; each set's first seed includes decoding the JPEGs" \
  | tee "$out/summary.txt" || rc=1
exit $rc
