#!/usr/bin/env bash
# Rewrite throughput with vLLM on a GPU machine (vLLM installed, a refining model at MODEL).
#   MODEL=/models/prox-refining DOCS=2000 benchmarks/rewrite_vllm_gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:?set MODEL to a model folder or Hugging Face id}
PRESET=${PRESET:-prox}
python benchmarks/rewrite.py --backend vllm --model "$MODEL" --preset "$PRESET" --documents "${DOCS:-2000}" \
    --max-chars "${MAX_CHARS:-20000}"
