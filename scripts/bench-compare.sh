#!/usr/bin/env bash
# Runs medtune's and PyTorch's benchmarks interleaved on this machine and prints one JSON line per run, so that
# ratios come from the same conditions. Needs `apt-get install -y python3-torch` (never in CI).
#   bash scripts/bench-compare.sh [rounds] [threads]
set -u
rounds=${1:-2}
threads=${2:-2}
cd "$(dirname "$0")/.."
for r in $(seq 1 "$rounds"); do
  for w in "train mini" "infer mini" "train base" "infer base"; do
    set -- $w
    node bin/medtune.js bench "$1" --shape "$2" --threads "$threads" --json | tail -1
    /usr/bin/python3 scripts/bench-pytorch.py --task "$1" --shape "$2" --threads 1 --json
  done
done
