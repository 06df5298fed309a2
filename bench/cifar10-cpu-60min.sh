#!/usr/bin/env bash
# CIFAR-10 with 10% of the labels on the 2-core CPU within an hour: gated SSMAE against labels-only with the same model
# and recipe, labels-only given both the same steps and the same wall time.
#
# Usage: bash bench/cifar10-cpu-60min.sh CIFAR10_DIR OUT [GATED_STEPS] [LABELS_ONLY_WALL_STEPS] [-- train flags]
#   Environment: PRESET (default vit-micro-d2-p4-convstem32), BATCH_UNLABELED (unlabeled images per step, default 48;
#   the labeled batch is 16), STRONG_CAPACITY (export --strong-capacity: strong views classified per step; default all),
#   TTA=flip (each run is also evaluated with eval --tta flip, its mirror images averaged in; both figures reported).
#   CIFAR10_DIR: the JPEG folder (train/<class>/*.jpg, test/<class>/*.jpg), e.g. ../shared/data/cifar10-jpg.tar.gz
#   unpacked. 500 labels and 50 validation images per class come out of train/, the other 44,500 train/ images are the
#   unlabeled set; test/ is read once per run, for the final figure.
#
# Three trainings, one thread each (label-efficiency.js runs train, then eval on test/):
#   1. gated SSMAE, GATED_STEPS steps, and beside it on the other core
#   2. labels-only, LABELS_ONLY_WALL_STEPS steps: about the gated run's wall time (a labels-only step is ~5× cheaper);
#   3. then labels-only with GATED_STEPS steps.
# LABELS_ONLY_WALL_STEPS 0 skips run 2 (the other core is then free for other work, one thread of it).
# Each run decodes the JPEGs into its own fresh cache, so every wall time includes decoding. Results, summaries and
# charts go to OUT/{ssmae,labels-only-same-time,labels-only-same-steps}/, and OUT/summary.txt gathers the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1; out=$2; steps=${3:-6000}; lo_steps=${4:-30000}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
recipe=("$@")
[ -d "$data/train" ] && [ -d "$data/test" ] || { echo "cifar10-cpu-60min: $data has no train/ and test/ folders; unpack cifar10-jpg.tar.gz there" >&2; exit 2; }
art=$out/artifacts
mkdir -p "$out"
node dist/src/cli/main.js export --preset "${PRESET:-vit-micro-d2-p4-convstem32}" --image-size 32 --channels 3 --classes 10 \
  --batch-unlabeled "${BATCH_UNLABELED:-48}" ${STRONG_CAPACITY:+--strong-capacity "$STRONG_CAPACITY"} --out "$art" | tail -n 1
bench() { # NAME METHOD STEPS
  node dist/bench/label-efficiency.js --artifacts "$art" --labeled "$data/train" --test "$data/test" \
    --labels-per-class 500 --val-per-class 50 --methods "$2" --seeds 0 --steps "$3" --parallel 1 --threads 1 --tta "${TTA:-none}" \
    --out "$out/$1" -- "${recipe[@]}" >"$out/$1.log" 2>&1
}
bench ssmae ssmae "$steps" & a=$!
runs=(ssmae)
if [ "$lo_steps" -gt 0 ]; then bench labels-only-same-time labels-only "$lo_steps" & b=$!; runs+=(labels-only-same-time); fi
rc=0; wait $a || rc=1; [ "$lo_steps" -eq 0 ] || wait $b || rc=1
bench labels-only-same-steps labels-only "$steps" || rc=1
runs+=(labels-only-same-steps)
{
  echo "model: ${PRESET:-vit-micro-d2-p4-convstem32}, batch 16 labeled + ${BATCH_UNLABELED:-48} unlabeled${STRONG_CAPACITY:+, strong capacity $STRONG_CAPACITY}; recipe: ${recipe[*]}"
  for r in "${runs[@]}"; do
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").at(-1));
      const f = (x) => x == null ? "-" : (100 * x).toFixed(2) + "%";
      console.log(`${process.argv[2]}: ${r.steps} steps, test ${f(r.test_acc)} of ${r.test_n}` +
        (r.test_acc_flip == null ? "" : ` (${f(r.test_acc_flip)} with --tta flip)`) + `, train ${(r.train_s / 60).toFixed(1)} min` +
        ` (decoding included), gate opened at ${r.gate_open_step ?? "-"}, pseudo-labels ${f(r.pseudo_precision)} right at mask rate ${f(r.pseudo_mask_rate)}`);
    ' "$out/$r/results.jsonl" "$r" || rc=1
  done
} | tee "$out/summary.txt"
exit $rc
