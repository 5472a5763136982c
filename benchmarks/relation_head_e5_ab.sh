#!/usr/bin/env bash
# Relation head v2 against v3 (pair attention over the tokens a pair spans) on contextual
# token vectors: fresh heads (configs/joint_trf_heads.cfg) on a frozen e5-small encoder,
# one run per head, the same schedule and seed (SEED, default 0), recorded by train_run.py in
# benchmarks/results/runs/NAME_v2.json and NAME_v3.json (docs/results.md, "The relation head").
#   bash benchmarks/relation_head_e5_ab.sh
#   INIT=training/joint_trf/model-best NAME=heads_e5_ft STEPS=2000 bash benchmarks/relation_head_e5_ab.sh
#   NAME=heads_e5_raw_s17_seed1 STEPS=1000 SEED=1 bash benchmarks/relation_head_e5_ab.sh
# INIT is the pipeline whose transformer is frozen. By default it is the pretrained encoder
# after one warm-up step of configs/joint_trf.cfg (made here, into training/e5_raw_init), so
# the A/B needs no 2-hour first stage; INIT=training/joint_trf/model-best compares the heads
# on `all`'s fine-tuned encoder instead.
set -euo pipefail
cd "$(dirname "$0")/.."
INIT=${INIT:-training/e5_raw_init/model-last}
NAME=${NAME:-heads_e5_raw_s17}
STEPS=${STEPS:-1500}
SEED=${SEED:-0}
ENCODER=${ENCODER:-assets/e5-small}
if [ "$INIT" = training/e5_raw_init/model-last ] && [ ! -d "$INIT" ]; then
  python -m spacy train configs/joint_trf.cfg --output training/e5_raw_init \
    --paths.train corpus/train.spacy --paths.dev corpus/dev.spacy --paths.encoder "$ENCODER" \
    --training.max_steps 1 --training.eval_frequency 1 --corpora.dev.limit 4
fi
head=components.nerel_joint.model.relation_head
for version in v2 v3; do
  python benchmarks/train_run.py "${NAME}_$version" configs/joint_trf_heads.cfg \
    --output "training/${NAME}_$version" \
    --note "relation head $version on the frozen encoder of $INIT ($STEPS steps, seed $SEED; benchmarks/relation_head_e5_ab.sh)" \
    -- --paths.init_model "$INIT" --paths.train corpus/train.spacy --paths.dev corpus/dev.spacy \
    --training.max_steps "$STEPS" --training.eval_frequency 500 --system.seed "$SEED" \
    --$head.@architectures "nerel.RelationScorer.$version"
done
