"""Where the entity tagger goes wrong on dev: type confusions and boundary errors.

Every gold flat entity is put in one class against the predicted entities:
exact (same span and type), wrong_type (same span, other type), boundary (overlaps a
prediction of the same type with other boundaries), boundary_and_type, or missed.
Predictions that touch no gold entity are spurious. Boundary errors are broken down by
gold span length in tokens. Writes benchmarks/results/error_analysis.json.

    python benchmarks/error_analysis.py training/joint_trf/model-best corpus/dev.spacy
"""
import argparse
import json
from collections import Counter
from pathlib import Path

import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.evaluate import predict_and_score

REPO = Path(__file__).resolve().parents[1]


def classify(gold_ents, predicted_ents):
    """Per gold entity ``(kind, gold, matched_prediction_or_None)`` and the spurious predictions."""
    outcomes, touched = [], set()
    for gold in gold_ents:
        overlapping = [p for p in predicted_ents if p.start < gold.end and gold.start < p.end]
        same_span = [p for p in overlapping if (p.start, p.end) == (gold.start, gold.end)]
        if any(p.label_ == gold.label_ for p in same_span):
            kind, match = "exact", next(p for p in same_span if p.label_ == gold.label_)
        elif same_span:
            kind, match = "wrong_type", same_span[0]
        elif any(p.label_ == gold.label_ for p in overlapping):
            kind, match = "boundary", next(p for p in overlapping if p.label_ == gold.label_)
        elif overlapping:
            kind, match = "boundary_and_type", overlapping[0]
        else:
            kind, match = "missed", None
        touched.update((p.start, p.end, p.label_) for p in overlapping)
        outcomes.append((kind, gold, match))
    spurious = [p for p in predicted_ents if (p.start, p.end, p.label_) not in touched]
    return outcomes, spurious


def length_bucket(n_tokens: int) -> str:
    return str(n_tokens) if n_tokens <= 3 else ("4-6" if n_tokens <= 6 else "7+")


def analyse(model: str, corpus: Path) -> dict:
    nlp = spacy.load(model)
    gold_docs = read_corpus(corpus, nlp.vocab)
    _, examples = predict_and_score(nlp, gold_docs, batch_size=16)
    predicted_docs = [eg.predicted for eg in examples]
    kinds, confusions, spurious_types = Counter(), Counter(), Counter()
    by_length = {}
    boundary_examples = []
    for gold_doc, pred_doc in zip(gold_docs, predicted_docs):
        outcomes, spurious = classify(list(gold_doc.ents), list(pred_doc.ents))
        spurious_types.update(p.label_ for p in spurious)
        for kind, gold, match in outcomes:
            kinds[kind] += 1
            bucket = by_length.setdefault(length_bucket(len(gold)), Counter())
            bucket[kind] += 1
            if kind in ("wrong_type", "boundary_and_type"):
                confusions[f"{gold.label_} → {match.label_}"] += 1
            if kind == "boundary" and len(boundary_examples) < 25:
                boundary_examples.append({"gold": gold.text, "predicted": pred_doc.text[match.start_char:match.end_char], "label": gold.label_})
    return {
        "model": model,
        "corpus": str(corpus),
        "gold_entities": sum(kinds.values()),
        "outcomes": dict(kinds),
        "spurious": sum(spurious_types.values()),
        "spurious_by_type": dict(spurious_types.most_common()),
        "top_confusions": dict(confusions.most_common(20)),
        "by_gold_length": {
            length: {**dict(counts), "boundary_rate": (counts["boundary"] + counts["boundary_and_type"]) / sum(counts.values())}
            for length, counts in sorted(by_length.items())
        },
        "boundary_examples": boundary_examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "error_analysis.json")
    args = parser.parse_args()
    report = analyse(args.model, args.corpus)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("outcomes", "spurious", "top_confusions", "by_gold_length")}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
