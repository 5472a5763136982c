#!/usr/bin/env bash
# Every pipeline side by side in one `nerel-batch benchmark` run over all of dev (3 rounds):
# the e5-small teacher in float32 and int8 (with and without its trimmed vocabulary), its
# distilled student in torch int8 and as an ONNX Runtime export run without torch, the fast
# CNN (as trained, and its compact copy: navec as codes, what the cnn workflow ships) and natasha. This is the run behind the README's speed table and issue 14's targets.
#   bash benchmarks/throughput.sh
#   RUN=training/joint_trf STUDENT=training/joint_trf_student CNN=training/joint_cnn_fast bash benchmarks/throughput.sh
# RUN must hold model-best and model-trimmed (`spacy project run train`, then `trim-vocab
# --vars.run joint_trf`); STUDENT is `spacy project run distill . --vars.run joint_trf`'s
# output; CNN is `spacy project run train-cnn . --vars.cnn_config joint_cnn_fast`'s. The
# copies made here (model-int8-untrimmed, model-int8, model-onnx, the CNN's model-compact) are reused when they exist;
# FORCE=1 makes them again. The torch-free process runs in RUNTIME_VENV, made here with
# nerel-spacy's core install and its onnxruntime extra. MORE_STUDENTS (folders separated by
# spaces, e.g. a student with another --layers) adds each as NAME-int8 and NAME-onnx-no-torch,
# NAME being its folder's name.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-training/joint_trf}
STUDENT=${STUDENT:-training/joint_trf_student}
CNN=${CNN:-training/joint_cnn_fast}
RUNTIME_VENV=${RUNTIME_VENV:-.runtime-venv}
OUTPUT=${OUTPUT:-benchmarks/results/throughput.json}
ROUNDS=${ROUNDS:-3}
NOTE=${NOTE:-}
MORE_STUDENTS=${MORE_STUDENTS:-}
FORCE=${FORCE:-0}
# shellcheck source=benchmarks/copies.sh
. benchmarks/copies.sh
require_pipelines benchmarks/throughput.sh "$RUN/model-best" "$RUN/model-trimmed" "$STUDENT/model-best" "$CNN/model-best"
ensure_runtime_venv
make_copy int8 "$RUN/model-best" "$RUN/model-int8-untrimmed"
make_copy int8 "$RUN/model-trimmed" "$RUN/model-int8"
make_copy int8 "$STUDENT/model-best" "$STUDENT/model-int8"
make_copy onnx "$STUDENT/model-best" "$STUDENT/model-onnx"
make_copy compact "$CNN/model-best" "$CNN/model-compact"
MORE=()
for extra in $MORE_STUDENTS; do
  require_pipelines benchmarks/throughput.sh "$extra/model-best"
  make_copy int8 "$extra/model-best" "$extra/model-int8"
  make_copy onnx "$extra/model-best" "$extra/model-onnx"
  name=$(basename "$extra")
  MORE+=(--model "$name-int8=$extra/model-int8"
         --model "$name-onnx-no-torch=$extra/model-onnx" --python "$name-onnx-no-torch=$RUNTIME_VENV/bin/python")
done
nerel-batch benchmark corpus/dev.spacy --n-docs 0 --rounds "$ROUNDS" --output "$OUTPUT" \
  --fp32 "$RUN/model-best" --int8 "$RUN/model-int8-untrimmed" --baseline int8 \
  --model "trimmed-int8=$RUN/model-int8" \
  --model "student-int8=$STUDENT/model-int8" \
  --model "student-onnx-no-torch=$STUDENT/model-onnx" --python "student-onnx-no-torch=$RUNTIME_VENV/bin/python" \
  --model "cnn-fast=$CNN/model-best" \
  --model "cnn-fast-compact=$CNN/model-compact" \
  --model natasha=natasha \
  "${MORE[@]}" \
  --note "benchmarks/throughput.sh, RUN=$RUN, STUDENT=$STUDENT, CNN=$CNN${MORE_STUDENTS:+, MORE_STUDENTS=$MORE_STUDENTS}${NOTE:+; $NOTE}"
