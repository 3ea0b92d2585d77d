#!/usr/bin/env bash
# GPU checks of issue #18 (tests/gpu/checks.py): ours vs Trainer + PEFT, tokens/s and peak memory in bf16 on
# SmolLM2-135M's and a 1B-class architecture (random weights, nothing downloaded), the 4-bit path, and the
# memory estimate against torch.cuda.max_memory_allocated; one JSON. Not used by the test suite.
#
#   tests/gpu/run_checks.sh [OUT_DIR]          # on a CUDA machine: ~3-6 min on one H100, capped at 8 min
#   tests/gpu/run_checks.sh OUT_DIR --cpu-dry-run   # tiny shapes on the CPU: the paths run, numbers mean nothing
set -euo pipefail
cd "$(dirname "$0")/../.."
out_dir="${1:-${OUT:-gpu-results}}"
shift || true
python="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}"
mkdir -p "$out_dir"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out_dir/nvidia-smi.csv" 2>/dev/null || true
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 480 "$python" tests/gpu/checks.py --out "$out_dir/gpu_checks.json" "$@"
