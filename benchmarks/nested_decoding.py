"""How a trained nested pipeline decodes on dev: ents source, span threshold, and its cost.

Scores one pipeline with `doc.ents` from the BIO head or from the outermost predicted
mentions, at several span thresholds (load-time settings, no retraining), and measures
the share of prediction time spent in the span head and its decoding.

Whether choosing either setting by these dev scores is worth it on unseen documents:
each of 5 folds of documents is scored with the setting best on the other four
(``cross_fitting.choice_report``): ``ents_source`` by flat ``ents_f`` at the shipped
threshold, ``span_threshold`` by the nested ``spans_nerel_f``.

    python benchmarks/nested_decoding.py /work/runs/cnn_nested/model-best corpus/dev.spacy \
        --name cnn_nested
"""
import argparse
import json
import time
from pathlib import Path

import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.cross_fitting import choice_report
from nerel_spacy.evaluate import predict_and_score
from nerel_spacy.machine import describe_machine
from nerel_spacy.per_doc_counts import check_against_scores, entity_counts, mention_counts
from nerel_spacy.pipeline import annotations as decoding_module

REPO = Path(__file__).resolve().parents[1]
KEYS = (
    "spans_nerel_p", "spans_nerel_r", "spans_nerel_f", "spans_nerel_outer_f", "spans_nerel_inner_f",
    "ents_f", "seqeval_f", "cats_micro_f",
)


def sweep(model: Path, dev: Path, thresholds, sources):
    """Scores of every (source, threshold), and the per-document counts behind ents_f and spans_nerel_f."""
    rows, counts = [], {}
    for source in sources:
        for threshold in thresholds:
            settings = {"ents_source": source, "span_threshold": threshold}
            nlp = spacy.load(model, config={"components": {"nerel_joint": settings}})
            spans_key = nlp.get_pipe("nerel_joint").cfg["spans_key"]
            scores, examples = predict_and_score(nlp, read_corpus(dev, nlp.vocab))
            ents, spans = entity_counts(examples), mention_counts(examples, spans_key)
            check_against_scores({"ents": ents, f"spans_{spans_key}": spans}, scores)
            counts[(source, threshold)] = {"ents": ents, "spans": spans}
            row = {**settings, **{key: round(float(scores[key]), 4) for key in KEYS}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows, counts


def choices(counts, shipped_source: str, shipped_threshold: float, thresholds, sources):
    """Cross-fitted choices of ``ents_source`` (by ents_f) and ``span_threshold`` (by spans_nerel_f)."""
    return {
        "ents_source (ents_f)": choice_report(
            {source: counts[(source, shipped_threshold)]["ents"] for source in sources}, shipped_source),
        "span_threshold (spans_nerel_f)": choice_report(
            {str(t): counts[(shipped_source, t)]["spans"] for t in thresholds}, str(shipped_threshold)),
    }


class Timer:
    """Adds the wall time of every call of ``func`` to ``self.seconds``."""

    def __init__(self, func):
        self.func, self.seconds = func, 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def span_head_cost(model: Path, dev: Path, rounds: int = 2):
    """Seconds in the whole pipeline, in the span head's forward, and in span decoding."""
    nlp = spacy.load(model)
    texts = [doc.text for doc in read_corpus(dev, nlp.vocab)]
    list(nlp.pipe(texts[:5]))  # warm up
    head = nlp.get_pipe("nerel_joint").model.get_ref("span_head")
    forward, decode = Timer(head._func), Timer(decoding_module.decode_spans)
    head._func, decoding_module.decode_spans = forward, decode
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            list(nlp.pipe(texts, batch_size=16))
        total = time.perf_counter() - start
    finally:
        head._func, decoding_module.decode_spans = forward.func, decode.func
    return {
        "docs": len(texts) * rounds,
        "seconds": round(total, 2),
        "docs_per_second": round(len(texts) * rounds / total, 2),
        "span_head_seconds": round(forward.seconds, 2),
        "span_decoding_seconds": round(decode.seconds, 2),
        "span_share": round((forward.seconds + decode.seconds) / total, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("--name", required=True, help="Writes benchmarks/results/nested_decoding_NAME.json")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.4, 0.5])
    parser.add_argument("--no-cost", action="store_true", help="Skip the timing (e.g. while a training runs)")
    args = parser.parse_args()
    shipped = spacy.load(args.model).get_pipe("nerel_joint").cfg
    shipped_source, shipped_threshold = shipped["ents_source"], float(shipped["span_threshold"])
    thresholds = sorted(set(args.thresholds) | {shipped_threshold})
    sources = ("tags", "spans")
    rows, counts = sweep(args.model, args.dev, thresholds, sources)
    record = {
        "model": str(args.model),
        "dev": str(args.dev),
        "shipped": {"ents_source": shipped_source, "span_threshold": shipped_threshold},
        "sweep": rows,
        "chosen_on_other_documents": choices(counts, shipped_source, shipped_threshold, thresholds, sources),
        "machine": describe_machine(),
    }
    print(json.dumps(record["chosen_on_other_documents"], indent=1), flush=True)
    if not args.no_cost:
        record["cost"] = span_head_cost(args.model, args.dev)
        print(json.dumps(record["cost"]), flush=True)
    out = REPO / "benchmarks" / "results" / f"nested_decoding_{args.name}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
