"""The joint component's prediction with and without ``pair_logits``, on the same encoder output.

Runs the pipeline up to its ``nerel_joint`` component once, then times that component's
``pipe`` over the encoded docs, alternating the prediction the relation head ships
(``pair_logits``: no joined pair rows, the attention pooling 49 projected columns) with
the joined rows through the output layer, as before session 43 (the best of ``--rounds``
each). It then checks that both give the same entities, nested mentions and relation
triples on every doc, and the largest difference of a cats or triple score.

    python benchmarks/relation_head_prediction.py training/joint_trf_heads_student/model-onnx corpus/dev.spacy \
        --name student4_onnx_s43

Writes ``benchmarks/results/relation_head_prediction_{name}.json`` with the machine described.
Time it on a quiet machine.
"""
import argparse
import copy
import json
import time
from pathlib import Path

import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.models import pair_logits
from nerel_spacy.threads import limit_threads

REPO = Path(__file__).resolve().parents[1]


def joint_seconds(joint, docs, batch_size, joined_rows: bool):
    """One pass of the component over copies of ``docs``: seconds and the annotated docs."""
    original = pair_logits.linear_output
    if joined_rows:  # no linear output found: the scorer predicts through its rows
        pair_logits.linear_output = lambda head: None
    try:
        start = time.perf_counter()
        annotated = list(joint.pipe([copy.copy(doc) for doc in docs], batch_size=batch_size))
        return time.perf_counter() - start, annotated
    finally:
        pair_logits.linear_output = original


def annotations(doc, spans_key):
    return {
        "ents": sorted((e.start, e.end, e.label_) for e in doc.ents),
        "spans": sorted((s.start, s.end, s.label_) for s in doc.spans.get(spans_key, [])),
        "triples": [(r["head"], r["tail"], r["label"]) for r in (doc._.relations or [])],
    }


def largest_difference(new_docs, old_docs) -> dict:
    """The largest difference of a cats score and of a triple's score (same triples in the same order)."""
    cats = max((abs(a.cats[label] - b.cats[label]) for a, b in zip(new_docs, old_docs) for label in a.cats),
               default=0.0)
    triples = max((abs(r["score"] - q["score"]) for a, b in zip(new_docs, old_docs)
                   if len(a._.relations or []) == len(b._.relations or [])
                   for r, q in zip(a._.relations or [], b._.relations or [])), default=0.0)
    return {"cats": cats, "triple_scores": triples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a pipeline folder or package name with a nerel_joint component")
    parser.add_argument("data", type=Path, help="a .spacy corpus whose texts are annotated")
    parser.add_argument("--name", required=True, help="results go to benchmarks/results/relation_head_prediction_{name}.json")
    parser.add_argument("--rounds", type=int, default=5, help="passes of each; each keeps its fastest")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch, OpenMP and BLAS threads")
    args = parser.parse_args()
    limit_threads(args.threads)
    nlp = spacy.load(args.model)
    texts = [doc.text for doc in read_corpus(args.data, nlp.vocab)]
    docs = [nlp.make_doc(text) for text in texts]
    upstream = nlp.pipe_names[: nlp.pipe_names.index("nerel_joint")]
    for name in upstream:
        docs = list(nlp.get_pipe(name).pipe(docs, batch_size=args.batch_size))
    joint = nlp.get_pipe("nerel_joint")
    spans_key = joint.cfg.get("spans_key") or "nerel"
    joint_seconds(joint, docs[:4], args.batch_size, joined_rows=False)  # warm-up
    seconds = {"pair_logits": [], "joined_rows": []}
    outputs = {}
    for _ in range(args.rounds):
        for way in seconds:
            taken, outputs[way] = joint_seconds(joint, docs, args.batch_size, joined_rows=way == "joined_rows")
            seconds[way].append(taken)
    new, old = ([annotations(doc, spans_key) for doc in outputs[way]] for way in ("pair_logits", "joined_rows"))
    difference = largest_difference(outputs["pair_logits"], outputs["joined_rows"])
    best = {way: min(values) for way, values in seconds.items()}
    result = {
        "model": str(args.model), "data": str(args.data), "docs": len(docs), "rounds": args.rounds,
        "batch_size": args.batch_size, "upstream": upstream,
        "nerel_joint_seconds": {way: round(value, 3) for way, value in best.items()},
        "nerel_joint_seconds_rounds": {way: [round(v, 3) for v in values] for way, values in seconds.items()},
        "speedup": round(best["joined_rows"] / best["pair_logits"], 3),
        "identical_docs": sum(a == b for a, b in zip(new, old)),
        "triples": sum(len(a["triples"]) for a in new),
        "largest_score_difference": difference,
        "machine": describe_machine(threads=args.threads),
    }
    out = REPO / "benchmarks" / "results" / f"relation_head_prediction_{args.name}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf8")
    print(f"nerel_joint: {best['pair_logits']:.3f} s with pair_logits, {best['joined_rows']:.3f} s with the "
          f"joined rows ({result['speedup']:.2f}x); identical annotations on {result['identical_docs']} of "
          f"{len(docs)} docs, {result['triples']} triples; scores differ by at most {difference['cats']:.1e} (cats), "
          f"{difference['triple_scores']:.1e} (triples) -> {out}")


if __name__ == "__main__":
    main()
