#!/usr/bin/env bash
# The speed ablation behind configs/joint_cnn_fast.cfg: joint_cnn_rel.cfg made smaller one
# setting at a time, each trained for the same 5,000 steps at seed 0 and recorded by
# train_run.py in benchmarks/results/runs/cnn_speed_*.json. Their speed comes from one
# `nerel-batch benchmark` run over the saved pipelines (docs/results.md, "The fast CNN").
# RUNS picks a subset, e.g. RUNS="w128 mish128".
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-"w128 mish128 w128_h64 w128_h64_mw12 w96_h64_mw12 w96_d3_h64_mw10"}
common=(--paths.vectors assets/navec_vectors --training.max_steps 5000 --training.eval_frequency 500 --system.seed 0)
encoder=components.nerel_joint.model.tok2vec.encode
spans=components.nerel_joint.model.span_head
relations=components.nerel_joint.model.relation_head
record() {  # NAME CONFIG OVERRIDES...
  local name=$1 config=$2
  shift 2
  python benchmarks/train_run.py "cnn_speed_$name" "$config" \
    --note "speed ablation toward configs/joint_cnn_fast.cfg (benchmarks/cnn_speed_ablation.sh)" -- "${common[@]}" "$@"
}
for run in $RUNS; do
  case $run in
    w128) record w128 configs/joint_cnn_rel.cfg --$encoder.width 128 ;;
    mish128)
      # spacy.MishWindowEncoder.v2 takes no maxout_pieces, which an override cannot remove.
      mish=$(mktemp --suffix .cfg)
      python - "$mish" <<'PY'
import sys
text = open("configs/joint_cnn_rel.cfg", encoding="utf-8").read()
text = text.replace('@architectures = "spacy.MaxoutWindowEncoder.v2"', '@architectures = "spacy.MishWindowEncoder.v2"')
text = text.replace("maxout_pieces = 3\n", "", 1)
open(sys.argv[1], "w", encoding="utf-8").write(text)
PY
      record mish128 "$mish" --$encoder.width 128 ;;
    w128_h64) record w128_h64 configs/joint_cnn_rel.cfg --$encoder.width 128 --$spans.hidden_width 64 --$relations.hidden_width 64 ;;
    w128_h64_mw12) record w128_h64_mw12 configs/joint_cnn_rel.cfg --$encoder.width 128 --$spans.hidden_width 64 \
      --$relations.hidden_width 64 --$spans.max_width 12 ;;
    w96_h64_mw12) record w96_h64_mw12 configs/joint_cnn_rel.cfg --$encoder.width 96 --$spans.hidden_width 64 \
      --$relations.hidden_width 64 --$spans.max_width 12 ;;
    w96_d3_h64_mw10) record w96_d3_h64_mw10 configs/joint_cnn_rel.cfg --$encoder.width 96 --$encoder.depth 3 \
      --$spans.hidden_width 64 --$relations.hidden_width 64 --$spans.max_width 10 ;;
    *) echo "unknown run: $run" >&2; exit 2 ;;
  esac
done
