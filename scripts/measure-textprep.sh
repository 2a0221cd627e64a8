#!/usr/bin/env bash
# The measurements of docs/textprep.md: symptom2disease with mini-biobert at 10 % and 100 % of the training rows,
# seeds 1 and 2: baseline, --augment 2, TAPT (masked-LM pretraining on the training texts, then fine-tuning),
# TAPT + --augment 2. The REFERENCE recipe: lr 2e-4, 15 epochs, max length 128, batch 32; a fixed stratified 10 %
# validation split per seed; test.csv evaluated once with the best model. Results: OUT/results.jsonl
# (summary table: node scripts/textprep-summary.mjs OUT).
# Controls: CONDITIONS="baseline-steps augment-contextual" (45 epochs = the optimizer steps of --augment 2;
# --augment 2 with masked-LM substitution too). SIZES="10", SEEDS="2" restrict the data sizes and seeds.
# usage: scripts/measure-textprep.sh [OUT=/tmp/textprep-runs] [SHARED=../shared]   (hours on 2 busy cores)
set -euo pipefail
OUT=${1:-/tmp/textprep-runs}
SHARED=${2:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
SIZES=${SIZES:-"10 100"}
SEEDS=${SEEDS:-"1 2"}
CONDITIONS=${CONDITIONS:-"baseline augment tapt tapt+augment"}
DATA=$SHARED/data/symptom2disease
MODEL=$SHARED/models/mini-biobert
M="node $(dirname "$0")/../bin/medtune.js"
RECIPE="--learning-rate 2e-4 --epochs 15 --max-length 128 --batch-size 32 --no-baseline"
mkdir -p "$OUT"
record() { # condition size seed dir
  node -e "const m=require('$4/metrics.json');console.log(JSON.stringify({condition:'$1',size:$2,seed:$3,\
accuracy:m.accuracy,f1_macro:m.f1_macro,seconds:m.train_seconds}))" >> "$OUT/results.jsonl"
}
for SIZE in $SIZES; do
  for SEED in $SEEDS; do
    S=$OUT/splits-$SEED
    [ -f "$S/validation.csv" ] || node "$(dirname "$0")/textprep-splits.mjs" "$DATA/train.csv" "$S" "$SEED" 0.1
    TRAIN=$S/train-$SIZE.csv
    EPOCHS_TAPT=$([ "$SIZE" = 10 ] && echo 100 || echo 30)
    TAPT=$OUT/tapt-$SIZE-$SEED
    if [[ " $CONDITIONS " == *" tapt"* ]] && [ ! -f "$TAPT/metrics.json" ]; then
      $M pretrain --model "$MODEL" --corpus "$TRAIN" --output-dir "$TAPT" --epochs "$EPOCHS_TAPT" \
        --learning-rate 1e-4 --batch-size 32 --seed "$SEED" --save-total-limit 1 > "$TAPT.log" 2>&1
    fi
    for COND in $CONDITIONS; do
      R=$OUT/run-$COND-$SIZE-$SEED
      [ -f "$R/metrics.json" ] && continue
      BASE=$MODEL; EXTRA=""
      case $COND in tapt*) BASE=$TAPT;; esac
      case $COND in
        augment-contextual) EXTRA="--augment 2 --augment-ops synonym,insert,swap,delete,contextual";;
        *augment) EXTRA="--augment 2";;
        baseline-steps) EXTRA="--epochs 45";;
      esac
      $M train --model "$BASE" --train "$TRAIN" --validation "$S/validation.csv" --test "$DATA/test.csv" \
        --output-dir "$R" --seed "$SEED" $RECIPE $EXTRA --save-total-limit 1 > "$R.log" 2>&1
      record "$COND" "$SIZE" "$SEED" "$R"
      tail -1 "$OUT/results.jsonl"
    done
  done
done
