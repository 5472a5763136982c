#!/usr/bin/env bash
# The torch-free runtime beside the torch int8 pipeline (docs/quantization.md, "Without torch").
# From RUN's model-trimmed: `quantize` (torch int8) and `export-onnx` (ONNX Runtime int8), then
# one `nerel-batch benchmark` run over all of dev, 3 rounds, with the export twice: in this
# environment (torch installed, so spaCy's thinc imports it) and in RUNTIME_VENV, made here
# with nerel-spacy's core install and its onnxruntime extra: no torch.
#   RUN=training/joint_trf_heads_more_more bash benchmarks/onnx_runtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:?set RUN to a training/ folder that holds model-trimmed}
RUNTIME_VENV=${RUNTIME_VENV:-.runtime-venv}
OUTPUT=${OUTPUT:-benchmarks/results/onnx_runtime.json}
NOTE=${NOTE:-}
if [ ! -x "$RUNTIME_VENV/bin/python" ]; then
  python -m venv "$RUNTIME_VENV"
  "$RUNTIME_VENV/bin/pip" install --quiet -e ".[onnxruntime]"
fi
nerel-batch quantize "$RUN/model-trimmed" "$RUN/model-int8" --backend int8
nerel-batch export-onnx "$RUN/model-trimmed" "$RUN/model-onnx"
nerel-batch benchmark corpus/dev.spacy --n-docs 0 --rounds 3 --output "$OUTPUT" \
  --int8 "$RUN/model-int8" --model "onnx=$RUN/model-onnx" --model "onnx-no-torch=$RUN/model-onnx" \
  --python "onnx-no-torch=$RUNTIME_VENV/bin/python" \
  --note "benchmarks/onnx_runtime.sh, RUN=$RUN${NOTE:+; $NOTE}"
