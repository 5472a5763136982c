#!/usr/bin/env bash
# The torch-free runtime beside the torch int8 pipeline (docs/quantization.md, "Without torch").
# From RUN's model-trimmed: `quantize` (torch int8) and `export-onnx` (ONNX Runtime int8), then
# one `nerel-batch benchmark` run over all of dev, 3 rounds, with the export twice: in this
# environment (torch installed, so spaCy's thinc imports it) and in RUNTIME_VENV, made here
# with nerel-spacy's core install and its onnxruntime extra: no torch. With STUDENT (a distilled
# student's folder, holding model-best) its int8 and ONNX copies join the same run instead of
# RUN's torch-side ONNX one. Copies that exist are reused; FORCE=1 makes them again.
#   RUN=training/joint_trf_heads_more_more bash benchmarks/onnx_runtime.sh
#   RUN=... STUDENT=training/joint_trf_student OUTPUT=benchmarks/results/onnx_runtime_students.json bash benchmarks/onnx_runtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:?set RUN to a training/ folder that holds model-trimmed}
STUDENT=${STUDENT:-}
RUNTIME_VENV=${RUNTIME_VENV:-.runtime-venv}
OUTPUT=${OUTPUT:-benchmarks/results/onnx_runtime.json}
NOTE=${NOTE:-}
FORCE=${FORCE:-0}
# shellcheck source=benchmarks/copies.sh
. benchmarks/copies.sh
ensure_runtime_venv
make_copies() {  # SOURCE_PIPELINE FOLDER: FOLDER/model-int8 and FOLDER/model-onnx
  make_copy int8 "$1" "$2/model-int8"
  make_copy onnx "$1" "$2/model-onnx"
}
make_copies "$RUN/model-trimmed" "$RUN"
MODELS=(--int8 "$RUN/model-int8" --model "onnx-no-torch=$RUN/model-onnx"
        --python "onnx-no-torch=$RUNTIME_VENV/bin/python")
if [ -n "$STUDENT" ]; then
  make_copies "$STUDENT/model-best" "$STUDENT"
  MODELS+=(--model "student-int8=$STUDENT/model-int8" --model "student-onnx-no-torch=$STUDENT/model-onnx"
           --python "student-onnx-no-torch=$RUNTIME_VENV/bin/python")
else
  MODELS+=(--model "onnx=$RUN/model-onnx")
fi
nerel-batch benchmark corpus/dev.spacy --n-docs 0 --rounds 3 --output "$OUTPUT" "${MODELS[@]}" \
  --note "benchmarks/onnx_runtime.sh, RUN=$RUN${STUDENT:+, STUDENT=$STUDENT}${NOTE:+; $NOTE}"
