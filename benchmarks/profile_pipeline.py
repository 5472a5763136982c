"""Where a pipeline's time goes: the tokenizer, then each component, over the same texts.

Runs the tokenizer over every text, then each component's ``pipe`` over the docs the one
before it wrote, timing each stage separately (the best of ``--rounds``), in batches as
``nlp.pipe`` makes them. With ``--cprofile N`` it also lists the N functions with the most
time of their own in one more pass of the whole pipeline, to see inside a component.

    python benchmarks/profile_pipeline.py training/joint_trf_student/model-onnx corpus/dev.spacy \
        --name student_onnx --cprofile 15

Writes ``benchmarks/results/profile_{name}.json`` with the machine described. Time it on a
quiet machine: anything else running changes the shares as well as the totals.
"""
import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.threads import limit_threads

REPO = Path(__file__).resolve().parents[1]


def stage_seconds(nlp, texts, batch_size):
    """Seconds of the tokenizer and of each component, over all ``texts``."""
    timings = {}
    start = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    timings["tokenizer"] = time.perf_counter() - start
    for name, component in nlp.pipeline:
        start = time.perf_counter()
        docs = list(component.pipe(docs, batch_size=batch_size)) if hasattr(component, "pipe") else [
            component(doc) for doc in docs]
        timings[name] = time.perf_counter() - start
    return timings


def top_functions(nlp, texts, batch_size, n):
    profiler = cProfile.Profile()
    profiler.enable()
    list(nlp.pipe(texts, batch_size=batch_size))
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:n]
    return [{"function": f"{Path(file).name}:{line}({name})", "calls": calls, "own_seconds": round(own, 3),
             "cumulative_seconds": round(cumulative, 3)}
            for (file, line, name), (_, calls, own, cumulative, _) in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a pipeline folder or package name")
    parser.add_argument("data", type=Path, help="a .spacy corpus whose texts are annotated")
    parser.add_argument("--name", required=True, help="results go to benchmarks/results/profile_{name}.json")
    parser.add_argument("--n-docs", type=int, default=0, help="the first N documents only (0: all)")
    parser.add_argument("--rounds", type=int, default=3, help="passes; each stage keeps its fastest")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch, OpenMP and BLAS threads")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also list the N functions with "
                        "the most time of their own (one more pass, under cProfile)")
    args = parser.parse_args()
    limit_threads(args.threads)
    nlp = spacy.load(args.model)
    texts = [doc.text for doc in read_corpus(args.data, nlp.vocab)][: args.n_docs or None]
    list(nlp.pipe(texts[:4], batch_size=args.batch_size))  # warm up: lazy sessions, first allocations
    rounds = [stage_seconds(nlp, texts, args.batch_size) for _ in range(args.rounds)]
    best = {stage: min(r[stage] for r in rounds) for stage in rounds[0]}
    total = sum(best.values())
    result = {
        "model": str(args.model), "data": str(args.data), "docs": len(texts), "rounds": args.rounds,
        "batch_size": args.batch_size,
        "seconds": {stage: round(s, 3) for stage, s in best.items()},
        "share": {stage: round(s / total, 3) for stage, s in best.items()},
        "docs_per_second_sum_of_stages": round(len(texts) / total, 2),
        "machine": describe_machine(threads=args.threads),
    }
    if args.cprofile:
        result["top_functions"] = top_functions(nlp, texts, args.batch_size, args.cprofile)
    out = REPO / "benchmarks" / "results" / f"profile_{args.name}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf8")
    for stage, seconds in best.items():
        print(f"{stage:<14} {seconds:7.2f} s  {100 * seconds / total:5.1f}%")
    print(f"{len(texts)} docs, {len(texts) / total:.2f} docs/s (sum of stages) -> {out}")


if __name__ == "__main__":
    main()
