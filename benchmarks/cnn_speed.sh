#!/usr/bin/env bash
# The two CNN pipelines against natasha in one `nerel-batch benchmark` run over all of dev
# (5 rounds), every process in RUNTIME_VENV: nerel-spacy's runtime dependencies and natasha,
# no torch. This is the run behind the README's CNN and natasha rows
# (benchmarks/results/throughput_cnn_s17.json and throughput_cnn_s17_b.json).
#   bash benchmarks/cnn_speed.sh
#   CNN=training/joint_cnn_rel FAST=training/joint_cnn_fast OUTPUT=/tmp/cnn.json bash benchmarks/cnn_speed.sh
# CNN is `spacy project run cnn . --vars.nerel_dir ../shared/data/nerel`'s output, FAST is
# `spacy project run train-cnn . --vars.cnn_config joint_cnn_fast`'s. Time it on a quiet
# machine: a training beside it changes every figure.
set -euo pipefail
cd "$(dirname "$0")/.."
CNN=${CNN:-training/joint_cnn_rel}
FAST=${FAST:-training/joint_cnn_fast}
RUNTIME_VENV=${RUNTIME_VENV:-.runtime-venv}
OUTPUT=${OUTPUT:-benchmarks/results/throughput_cnn.json}
ROUNDS=${ROUNDS:-5}
N_DOCS=${N_DOCS:-0}
NOTE=${NOTE:-}
# shellcheck source=benchmarks/copies.sh
. benchmarks/copies.sh
require_pipelines benchmarks/cnn_speed.sh "$CNN/model-best" "$FAST/model-best"
ensure_runtime_venv_with_natasha
runtime=$RUNTIME_VENV/bin/python
nerel-batch benchmark corpus/dev.spacy --n-docs "$N_DOCS" --rounds "$ROUNDS" --output "$OUTPUT" \
  --model "cnn-rel=$CNN/model-best" --python "cnn-rel=$runtime" \
  --model "cnn-fast=$FAST/model-best" --python "cnn-fast=$runtime" \
  --model natasha=natasha --python "natasha=$runtime" \
  --note "benchmarks/cnn_speed.sh, CNN=$CNN, FAST=$FAST, every process in $RUNTIME_VENV${NOTE:+; $NOTE}"
