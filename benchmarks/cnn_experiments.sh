#!/usr/bin/env bash
# The CNN baseline and two ablations at the same seed and step budget:
# loss weighting (uncertainty vs fixed) and document pooling (mean+max vs attention).
# Each run is recorded by train_run.py in benchmarks/results/runs/.
# RUNS picks a subset, e.g. RUNS="fixed attention".
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-1500}
RUNS=${RUNS:-"baseline fixed attention"}
common=(--training.max_steps "$STEPS" --training.eval_frequency 250 --system.seed 0)
for run in $RUNS; do
  case $run in
    baseline)
      python benchmarks/train_run.py cnn_uncertainty_meanmax configs/joint_cnn.cfg \
        --note "CNN baseline: uncertainty weighting, mean+max pooling" -- "${common[@]}" ;;
    fixed)
      python benchmarks/train_run.py cnn_fixed_meanmax configs/joint_cnn.cfg \
        --note "ablation: fixed weights 1:1" -- "${common[@]}" \
        --components.nerel_joint.loss_weighting fixed ;;
    attention)
      python benchmarks/train_run.py cnn_uncertainty_attention configs/joint_cnn.cfg \
        --note "ablation: attention pooling" -- "${common[@]}" \
        '--components.nerel_joint.model.doc_pooling.@architectures' nerel.AttentionPooling.v1 ;;
    *) echo "unknown run: $run" >&2; exit 2 ;;
  esac
done
