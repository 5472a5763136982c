#!/usr/bin/env bash
# The fast CNN before and after session 27's two inference changes, beside natasha, in one
# `nerel-batch benchmark` run over all of dev (every process in RUNTIME_VENV, no torch):
#   BEFORE  the pipeline as trained before them: spaCy's identity tokenizer rules (the one
#           for "—" stops the tokenizer's cache) and each batch in one pass;
#   AFTER   the same weights, retrained with them: the redundant rules dropped and
#           max_batch_tokens = 2048 (configs/joint_cnn_fast.cfg).
# Both come from `spacy project run train-cnn . --vars.cnn_config joint_cnn_fast`, BEFORE
# with a checkout before 6f982a4 (training is deterministic: the weights are the same bytes).
#   BEFORE=training/joint_cnn_fast_before AFTER=training/joint_cnn_fast bash benchmarks/cnn_inference_speedups.sh
#   AVX2=1 ...  also hides AVX-512 from OpenBLAS and numpy (OPENBLAS_CORETYPE=Haswell,
#               NPY_DISABLE_CPU_FEATURES), an approximation of an AVX2-only CPU.
# Time it on a quiet machine: a training beside it changes every figure.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${BEFORE:-training/joint_cnn_fast_before}
AFTER=${AFTER:-training/joint_cnn_fast}
RUNTIME_VENV=${RUNTIME_VENV:-.runtime-venv}
ROUNDS=${ROUNDS:-5}
AVX2=${AVX2:-0}
suffix=""
if [ "$AVX2" = 1 ]; then suffix=_avx2; fi
OUTPUT=${OUTPUT:-benchmarks/results/throughput_cnn_fast_speedups$suffix.json}
# shellcheck source=benchmarks/copies.sh
. benchmarks/copies.sh
require_pipelines benchmarks/cnn_inference_speedups.sh "$BEFORE/model-best" "$AFTER/model-best"
ensure_runtime_venv_with_natasha
note="benchmarks/cnn_inference_speedups.sh, BEFORE=$BEFORE, AFTER=$AFTER, every process in $RUNTIME_VENV"
if [ "$AVX2" = 1 ]; then
  export OPENBLAS_CORETYPE=Haswell
  export NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
  note="$note; AVX-512 hidden from OpenBLAS (Haswell kernels) and numpy"
fi
runtime=$RUNTIME_VENV/bin/python
nerel-batch benchmark corpus/dev.spacy --n-docs 0 --rounds "$ROUNDS" --output "$OUTPUT" \
  --model "cnn-fast-before=$BEFORE/model-best" --python "cnn-fast-before=$runtime" \
  --model "cnn-fast=$AFTER/model-best" --python "cnn-fast=$runtime" \
  --model natasha=natasha --python "natasha=$runtime" \
  --note "$note"
