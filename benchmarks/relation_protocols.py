"""In-sentence relation scores with gold mentions, as extraction and as classification.

Our ``relations_gold_insent_f`` is extraction: every ordered pair of gold mentions in a
sentence, multi-label, thresholded. The NEREL authors' 0.849 (OpenNRE over RuBERT-base)
is classification: a list of instances, each answered with one type or NA, scored by
OpenNRE's micro P/R/F; how many NA instances their list held is not published. This
script scores one pipeline's pair probabilities both ways
(``nerel_spacy.relation_protocols``), the classification with 0, some or all of the
unrelated in-sentence pairs as NA instances (``--ratios``: NA instances per gold triple;
``all``: every unrelated pair), each ratio over ``--seeds`` draws, at each of
``--thresholds`` (below which the answer is NA; 0 never answers NA). Both over every
in-sentence pair and over the nested ones (one argument inside the other; the authors'
"in-sentence nested relations", 0.787).

    python benchmarks/relation_protocols.py training/joint_trf_heads/model-best corpus/dev.spacy \\
        -o benchmarks/results/relation_protocols_all_s32_stage2.json

One forward pass over the data; about a minute for dev with e5-small on 2 cores.
"""
import argparse
import json
import time
from pathlib import Path
from statistics import mean
from typing import Any, Dict, List, Optional

import spacy
from spacy.training import Example

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.relation_protocols import (
    classification_instances,
    classification_scores,
    classify,
    extraction_scores,
)
from nerel_spacy.scoring_relations import gold_mention_pairs


def parse_ratio(value: str) -> Optional[float]:
    if value == "all":
        return None
    ratio = float(value)
    if ratio < 0:
        raise argparse.ArgumentTypeError(f"{value}: a ratio is 0 or more, or 'all'")
    return ratio


def rounded(scores: Dict[str, float]) -> Dict[str, float]:
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in scores.items()}


def scope_report(
    pairs, thresholds: List[float], ratios: List[Optional[float]], seeds: int, shipped: float, nested_only: bool
) -> Dict[str, Any]:
    """Both protocols over the in-sentence pairs, or over the nested ones only."""
    n_gold = len(classification_instances(pairs, 0.0, nested_only=nested_only))
    n_unrelated = len(classification_instances(pairs, None, nested_only=nested_only)) - n_gold
    report: Dict[str, Any] = {
        "gold_triples": n_gold, "unrelated_pairs": n_unrelated,
        "unrelated_per_gold_triple": round(n_unrelated / max(n_gold, 1), 2),
        "extraction": {str(t): rounded(extraction_scores(pairs, t, nested_only)) for t in thresholds},
        "extraction_nested_arguments_best": {
            str(t): rounded(extraction_scores(pairs, t, nested_only, nested_arguments="best")) for t in thresholds
        },
        "classification": {},
    }
    print(f"{n_gold} gold triples, {n_unrelated} unrelated pairs")
    print("extraction at", shipped, report["extraction"][str(shipped)], flush=True)
    print('  with nested_arguments = "best"', report["extraction_nested_arguments_best"][str(shipped)], flush=True)
    for ratio in ratios:
        name = "all" if ratio is None else str(ratio)
        draws = [classification_instances(pairs, ratio, seed=seed, nested_only=nested_only)
                 for seed in range(seeds if ratio else 1)]
        by_threshold: Dict[str, Any] = {}
        for threshold in thresholds:
            runs: List[Dict[str, float]] = [
                classification_scores(instances, classify(pairs, instances, threshold)) for instances in draws
            ]
            by_threshold[str(threshold)] = {
                "p": round(mean(r["p"] for r in runs), 4), "r": round(mean(r["r"] for r in runs), 4),
                "f": round(mean(r["f"] for r in runs), 4),
                "f_min": round(min(r["f"] for r in runs), 4), "f_max": round(max(r["f"] for r in runs), 4),
                "na_instances": runs[0]["na_instances"], "draws": len(runs),
            }
        best = max(by_threshold, key=lambda t: by_threshold[t]["f"])
        report["classification"][name] = {"by_threshold": by_threshold, "best_threshold_on_this_data": float(best)}
        print(f"NA per gold triple {name}: at {shipped} {by_threshold[str(shipped)]}; best at {best} "
              f"F {by_threshold[best]['f']}", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A pipeline with nerel.JointTagCat.v3")
    parser.add_argument("data", type=Path, help="A .spacy file (dev)")
    parser.add_argument("--ratios", type=parse_ratio, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 2.0, 4.0, None],
                        help="NA instances per gold triple; 'all' for every unrelated pair (default: 0 0.25 0.5 1 2 4 all)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    parser.add_argument("--seeds", type=int, default=5, help="Draws of the NA instances per ratio (default: 5)")
    parser.add_argument("--output", "-o", type=Path, required=True)
    args = parser.parse_args()

    nlp = spacy.load(args.model)
    shipped = float(nlp.get_pipe("nerel_joint").cfg["relation_threshold"])
    thresholds = sorted(set(args.thresholds) | {shipped})
    gold_docs = read_corpus(args.data, nlp.vocab)
    start = time.perf_counter()
    pairs = gold_mention_pairs(nlp, [Example(nlp.make_doc(doc.text), doc) for doc in gold_docs])
    seconds = time.perf_counter() - start
    report: Dict[str, Any] = {
        "model": args.model, "data": str(args.data), "machine": describe_machine(),
        "shipped_threshold": shipped, "forward_seconds": round(seconds, 1),
    }
    for scope, nested_only in (("in_sentence", False), ("nested", True)):
        print(f"== {scope} pairs ({seconds:.0f} s forward pass)")
        report[scope] = scope_report(pairs, thresholds, args.ratios, args.seeds, shipped, nested_only)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
