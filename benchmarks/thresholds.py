"""Relation-type thresholds: the pipeline's own, tuned on dev, and cross-fitted on dev.

The dev scores of thresholds tuned on dev are optimistic, so beside them this reports
the cross-fitted estimate: dev split into folds, each fold thresholded by values tuned
on the others (averaged over several random splits). Only that estimate, or the
untuned 0.5, is a fair dev figure.

    python benchmarks/thresholds.py training/joint_trf_more/model-int8 corpus/dev.spacy
"""
import argparse
import json
from pathlib import Path

import numpy
import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.scoring import multilabel_prf
from nerel_spacy.thresholds import cats_gold_and_scores, score_at, score_cross_fitted, tune_thresholds

REPO = Path(__file__).resolve().parents[1]

SUMMARY_KEYS = ("cats_micro_p", "cats_micro_r", "cats_micro_f", "cats_macro_p", "cats_macro_r", "cats_macro_f")


def summary(result: dict) -> dict:
    return {key: round(float(result[key]), 4) for key in SUMMARY_KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10, help="Random fold splits to average over.")
    parser.add_argument(
        "--min-positives", type=int, nargs="+", default=[5, 20, 50, 1_000_000],
        help="Settings of tune-thresholds --min-positives to compare (a huge value: one global threshold).",
    )
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "thresholds.json")
    args = parser.parse_args()

    nlp = spacy.load(args.model)
    pipe = nlp.get_pipe("nerel_joint")
    labels = list(pipe.cats_labels)
    gold_docs = read_corpus(args.corpus, nlp.vocab)
    gold, scores = cats_gold_and_scores(nlp, gold_docs, labels)

    untuned = multilabel_prf(gold, scores, numpy.full(len(labels), 0.5), labels)
    print("untuned 0.5", json.dumps(summary(untuned)), flush=True)
    rows = []
    for min_positives in args.min_positives:
        tuned = tune_thresholds(gold, scores, labels, min_positives=min_positives)
        in_sample = score_at(gold, scores, tuned, labels)
        repeats = [
            summary(score_cross_fitted(gold, scores, labels, args.folds, seed, min_positives))
            for seed in range(args.repeats)
        ]
        row = {
            "min_positives": min_positives,
            "labels_with_own_threshold": int((gold.sum(axis=0) >= min_positives).sum()),
            "tuned_on_dev_in_sample": summary(in_sample),
            "cross_fitted_mean": {k: round(float(numpy.mean([r[k] for r in repeats])), 4) for k in SUMMARY_KEYS},
            "cross_fitted_std": {k: round(float(numpy.std([r[k] for r in repeats])), 4) for k in SUMMARY_KEYS},
            "thresholds_tuned_on_all_dev": {label: tuned[label] for label in labels},
        }
        rows.append(row)
        print(f"min_positives={min_positives} cross-fitted", json.dumps(row["cross_fitted_mean"]), flush=True)

    record = {
        "model": str(args.model),
        "corpus": str(args.corpus),
        "n_docs": len(gold_docs),
        "folds": args.folds,
        "repeats": args.repeats,
        "untuned_0.5": summary(untuned),
        "rows": rows,
        "machine": describe_machine(),
    }
    args.output.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
