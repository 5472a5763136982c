"""A pipeline's dense static vectors against its compact copy (nerel-batch compact-vectors).

Makes the copy, checks that both give the same spans, entities, cats (exact floats) and
relations on every document of DATA, then times both in one `nerel-batch benchmark` run
(each in its own process: load time, peak RSS, size on disk, docs/s, F1) and writes one JSON.
Time it on a quiet machine; --no-benchmark leaves the timing out.

    python benchmarks/compact_vectors.py training/joint_cnn_fast/model-best corpus/dev.spacy \
        --output benchmarks/results/compact_vectors_cnn_fast_s41.json
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import spacy
from spacy.tokens import DocBin

from nerel_spacy.benchmark import model_size_bytes
from nerel_spacy.machine import describe_machine
from nerel_spacy.vector_compaction import compact_vectors_in_folder


def annotations(nlp, texts):
    return [([(s.start_char, s.end_char, s.label_) for s in doc.spans.get("nerel", [])],
             [(e.start_char, e.end_char, e.label_) for e in doc.ents], sorted(doc.cats.items()),
             repr(getattr(doc._, "relations", None)) if doc.has_extension("relations") else None)
            for doc in nlp.pipe(texts, batch_size=8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="pipeline folder with a dense static vectors table")
    parser.add_argument("data", type=Path, help=".spacy corpus whose texts are annotated and timed")
    parser.add_argument("--output", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--rounds", type=int, default=3, help="benchmark rounds (the fastest counts)")
    parser.add_argument("--note", default="", help="how MODEL was made, recorded with the results")
    parser.add_argument("--no-benchmark", action="store_true",
                        help="the compaction, sizes and identity check only, no timing (any machine load)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        compact = Path(scratch) / "compact"
        shutil.copytree(args.model, compact)
        started = time.perf_counter()
        report = compact_vectors_in_folder(compact)
        report["seconds"] = round(time.perf_counter() - started, 1)
        texts = [doc.text for doc in DocBin().from_disk(args.data).get_docs(spacy.blank("ru").vocab)]
        dense_seen = annotations(spacy.load(args.model), texts)
        compact_seen = annotations(spacy.load(compact), texts)
        differing = [i for i, (a, b) in enumerate(zip(dense_seen, compact_seen)) if a != b]
        sizes = {"dense": model_size_bytes(str(args.model)), "compact": model_size_bytes(str(compact))}
        benchmark = None
        if not args.no_benchmark:
            timed = Path(scratch) / "benchmark.json"
            subprocess.run([sys.executable, "-m", "nerel_spacy", "benchmark", "--model", f"dense={args.model}",
                            "--model", f"compact={compact}", str(args.data), "--n-docs", "0", "--rounds",
                            str(args.rounds), "--output", str(timed)], check=True)
            benchmark = json.loads(timed.read_text(encoding="utf8"))
    result = {
        "command": " ".join(["python", *sys.argv]),
        "machine": describe_machine(),
        "model": str(args.model),
        "note": args.note,
        "data": str(args.data),
        "compaction": report,
        "folder_bytes": sizes,
        "identical": {"docs": len(texts), "differing_docs": differing,
                      "compared": "nerel spans, ents, cats (exact floats), relations"},
        "benchmark": benchmark,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf8")
    for label in ("dense", "compact"):
        m = benchmark["models"][label] if benchmark else None
        timing = (f", load {m['load_seconds']:.2f} s, peak RSS {m['peak_rss_mb']:.0f} MB, "
                  f"{m['docs_per_second']:.1f} docs/s" if m else "")
        print(f"{label}: {sizes[label] / 2**20:.0f} MiB on disk{timing}")
    print(f"identical on {len(texts) - len(differing)} of {len(texts)} docs; written to {args.output}")


if __name__ == "__main__":
    main()
