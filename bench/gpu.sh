#!/usr/bin/env bash
# The GPU tables in one command (< 10 min on one H200):
#   1. bench/engine.py --device cuda on the synthetic Fashion-MNIST-shaped data,
#      60,000 samples, workloads fmnist (32 lrs x 5 epochs) and ofat (26 trials);
#   2. bench/ofat.py with study.device=cuda on the real Fashion-MNIST: the whole
#      `sweeplab run` against the plain loop on the GPU.
# Results: bench/results/engine-cuda.{md,json} and bench/results/ofat-cuda.{md,json}.
#
# The real data comes from the dataset-fashion-mnist package
# (/usr/share/datasets/fashion-mnist), or FMNIST_DIR (a folder with the four IDX
# files, .gz or raw); without either, step 2 is skipped.
# Usage: bash bench/gpu.sh [python]     (default: python3 on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device")'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

start=$(date +%s)
timeout 330 "$PY" bench/engine.py --device cuda --samples 60000 --trials 32 --epochs 5 \
    --workloads fmnist,ofat
echo "engine.py took $(( $(date +%s) - start )) s"

dir=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ -d "$dir" ]; then
    start=$(date +%s)
    timeout 240 "$PY" bench/ofat.py --device cuda --set study.device='"cuda"' \
        --set "data.path=\"$dir\""
    echo "ofat.py took $(( $(date +%s) - start )) s"
else
    echo "skipping bench/ofat.py: no Fashion-MNIST at $dir (set FMNIST_DIR)" >&2
fi
