#!/usr/bin/env bash
# Runs medtune's and PyTorch's benchmarks interleaved on this machine and prints one JSON line per run, so that
# ratios come from the same minutes (this machine's neighbours make absolute numbers swing up to 2x). Needs
# `apt-get install -y python3-torch` (never in CI). Summarise with `node scripts/bench-summary.mjs FILE`.
#   bash scripts/bench-compare.sh [rounds] [threads] [workloads] [precisions] [torch-threads]
#   e.g. bash scripts/bench-compare.sh 3 2 "train:mini train:base" "fp32 bf16" "1 2" | tee runs.jsonl
# CPU=1: both on one core, timed in process CPU time (medtune --threads 1 --cpu-time; PyTorch 1 thread with
# OPENBLAS_NUM_THREADS=1 --cpu-time): per-core speed, what neighbours on a busy machine disturb least.
# PyTorch runs once per torch thread count given (1: OpenBLAS's own threads do the fp32 GEMMs - its best fp32
# setting here; bf16 autocast goes through oneDNN, which only uses the torch threads).
set -u
rounds=${1:-2}
threads=${2:-2}
workloads=${3:-"train:mini infer:mini train:base infer:base"}
precisions=${4:-"fp32"}
torch_threads=${5:-"1"}
cd "$(dirname "$0")/.."
cpu_flags=$(grep -m1 -o -w 'avx2\|avx512f\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "{\"cpu_flags\": \"$cpu_flags\", \"nproc\": $(nproc)}"
for r in $(seq 1 "$rounds"); do
  for w in $workloads; do
    task=${w%%:*}
    shape=${w##*:}
    for p in $precisions; do
      if [ "${CPU:-0}" = 1 ]; then
        node bin/medtune.js bench "$task" --shape "$shape" --threads 1 --cpu-time --precision "$p" --json | tail -1 |
          sed "s/^{/{\"round\":$r,/"
        OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/bench-pytorch.py --task "$task" --shape "$shape" --threads 1 \
          --cpu-time --precision "$p" --json | sed "s/^{/{\"round\": $r, /"
        continue
      fi
      node bin/medtune.js bench "$task" --shape "$shape" --threads "$threads" --precision "$p" --json | tail -1 |
        sed "s/^{/{\"round\":$r,/"
      for tt in $torch_threads; do
        /usr/bin/python3 scripts/bench-pytorch.py --task "$task" --shape "$shape" --threads "$tt" \
          --precision "$p" --json | sed "s/^{/{\"round\": $r, /"
      done
    done
  done
done
