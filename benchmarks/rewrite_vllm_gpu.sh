#!/usr/bin/env bash
# Rewrite throughput with vLLM on a GPU machine (vLLM installed, ProX's chunk model at MODEL, its document
# model at DOC_MODEL; both engines share the GPU, 0.4 of its memory each).
#   MODEL=/models/web-chunk-refining-lm DOC_MODEL=/models/web-doc-refining-lm DOCS=2000 benchmarks/rewrite_vllm_gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:?set MODEL to a model folder or Hugging Face id}
PRESET=${PRESET:-prox}
python benchmarks/rewrite.py --backend vllm --model "$MODEL" ${DOC_MODEL:+--doc-model "$DOC_MODEL"} \
    --preset "$PRESET" --documents "${DOCS:-2000}" --max-chars "${MAX_CHARS:-20000}"
