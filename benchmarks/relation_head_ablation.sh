#!/usr/bin/env bash
# The relation-head ablations behind nerel.RelationScorer.v2, v3 and configs/joint_trf_heads.cfg:
# configs/joint_cnn_fast.cfg with one relation-head setting changed at a time, each trained
# for 5,000 steps at seed 0 and recorded by train_run.py in benchmarks/results/runs/rel_*.json
# (docs/results.md, "The relation head"). The baseline is the recorded run cnn_fast.
# RUNS picks a subset, e.g. RUNS="h256 v2_int". The v3 runs (session 13, pair attention over
# the spanned tokens) are not in the default set: RUNS="base v3_ctx v3_ctx_m5" (base: v2_int_h256 again).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-"h256 v2_int v2_d1 v2_int_d1 v2_int_h256"}
common=(--paths.vectors assets/navec_vectors --training.max_steps 5000 --training.eval_frequency 500 --system.seed 0)
relations=components.nerel_joint.model.relation_head
v2=(--$relations.@architectures nerel.RelationScorer.v2)
v3=(--$relations.@architectures nerel.RelationScorer.v3 --$relations.interaction true --$relations.depth 0
    --$relations.hidden_width 256)
record() {  # NAME OVERRIDES...
  local name=$1
  shift
  python benchmarks/train_run.py "rel_$name" configs/joint_cnn_fast.cfg \
    --note "relation head ablation, session 10 (cnn_fast, 5000 steps, seed 0)" -- "${common[@]}" "$@"
}
record13() {  # NAME OVERRIDES...: session 13's runs, under the shipped decoding settings
  local name=$1
  shift
  python benchmarks/train_run.py "rel13_$name" configs/joint_cnn_fast.cfg \
    --note "relation head ablation, session 13 (cnn_fast, 5000 steps, seed 0)" -- "${common[@]}" "$@"
}
for run in $RUNS; do
  case $run in
    h256) record h256 --$relations.hidden_width 256 ;;
    v2_int) record v2_int "${v2[@]}" --$relations.interaction true --$relations.depth 0 ;;
    v2_d1) record v2_d1 "${v2[@]}" --$relations.interaction false --$relations.depth 1 ;;
    v2_int_d1) record v2_int_d1 "${v2[@]}" --$relations.interaction true --$relations.depth 1 ;;
    v2_int_h256) record v2_int_h256 "${v2[@]}" --$relations.interaction true --$relations.depth 0 \
      --$relations.hidden_width 256 ;;
    base) record13 v2_int_h256 "${v2[@]}" --$relations.interaction true --$relations.depth 0 \
      --$relations.hidden_width 256 ;;
    v3_ctx) record13 v3_ctx "${v3[@]}" --$relations.context_width 64 --$relations.context_margin 0 ;;
    v3_ctx_m5) record13 v3_ctx_m5 "${v3[@]}" --$relations.context_width 64 --$relations.context_margin 5 ;;
    *) echo "unknown run: $run" >&2; exit 2 ;;
  esac
done
