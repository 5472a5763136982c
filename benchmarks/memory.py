"""Peak memory and throughput of ``nerel-batch annotate`` as inputs grow long.

Three inputs, as issue #18 defines them:

* ``a``: the NEREL dev texts;
* ``b``: the same plus one text of 1.5 MB;
* ``c``: 20 texts of 1.5 MB each.

A 1.5 MB text is NEREL train texts (never dev ones) joined by blank lines until it holds
1.5 MB of UTF-8; each of ``c``'s starts at another train text. Every (pipeline, input,
budget) runs in a fresh process, as ``nerel-batch annotate`` does (load, stream, write
JSONL; ``--max-chars`` lowered to a budget under its default), and reports its own peak RSS, its load time, and its annotation time and chars/s
without the load. Run it on a quiet machine:

    python benchmarks/memory.py --pipeline cnn=training/joint_cnn/model-best \\
        --pipeline e5_int8=training/joint_trf/model-int8
    python benchmarks/memory.py --pipeline cnn=training/joint_cnn/model-best \\
        --inputs b --max-batch-chars 25000 50000 100000 200000 --output /tmp/budgets.json
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

from nerel_spacy.batching import DEFAULT_MAX_BATCH_CHARS
from nerel_spacy.machine import describe_machine

REPO = Path(__file__).resolve().parents[1]
NEREL = REPO.parent / "shared" / "data" / "nerel"
LONG_TEXT_BYTES = 1_500_000
N_LONG_TEXTS = 20
INPUTS = {
    "a": "the NEREL dev texts",
    "b": "the dev texts plus one 1.5 MB text",
    "c": f"{N_LONG_TEXTS} texts of 1.5 MB each",
}


def long_text(train_texts: Sequence[str], first: int, n_bytes: int = LONG_TEXT_BYTES) -> str:
    """Train texts from index ``first`` on (wrapping round), joined by blank lines, up to ``n_bytes`` of UTF-8."""
    pieces: List[str] = []
    size = 0
    i = first
    while size < n_bytes:
        text = train_texts[i % len(train_texts)].strip()
        pieces.append(text)
        size += len(text.encode("utf-8")) + 2
        i += 1
    return "\n\n".join(pieces)


def write_input(name: str, nerel: Path, folder: Path) -> Dict[str, Any]:
    """Write input ``name`` into ``folder``; its documents, characters and bytes."""
    dev = sorted((nerel / "dev").glob("*.txt"))
    train = [path.read_text(encoding="utf-8") for path in sorted((nerel / "train").glob("*.txt"))]
    if not dev or not train:
        raise SystemExit(f"no NEREL texts under {nerel}/{{train,dev}}; give --nerel")
    folder.mkdir(parents=True)
    texts: Dict[str, str] = {}
    if name in ("a", "b"):
        texts.update({path.name: path.read_text(encoding="utf-8") for path in dev})
    if name == "b":
        texts["long_00.txt"] = long_text(train, 0)
    if name == "c":
        step = len(train) // N_LONG_TEXTS
        texts.update({f"long_{i:02d}.txt": long_text(train, i * step) for i in range(N_LONG_TEXTS)})
    for file_name, text in texts.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return {
        "docs": len(texts),
        "chars": sum(len(text) for text in texts.values()),
        "bytes": sum(len(text.encode("utf-8")) for text in texts.values()),
    }


def child(model: str, folder: str, max_batch_chars: int, batch_size: int, output: str) -> None:
    """One annotate run in this process; prints its measurements as one JSON line."""
    from nerel_spacy.annotate import DEFAULT_MAX_CHARS, AnnotateOptions, JsonlWriter, write_events
    from nerel_spacy.annotate.engines import make_engine

    start = time.perf_counter()
    engine = make_engine("local", model)
    loaded = time.perf_counter()
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # A budget under --max-chars needs shorter parts, as annotate's --help says.
    options = AnnotateOptions(batch_size=batch_size, max_batch_chars=max_batch_chars,
                              max_chars=min(DEFAULT_MAX_CHARS, max_batch_chars))
    writer = JsonlWriter(Path(output), append=False)
    stats = write_events(engine.annotate([folder], options), writer)
    writer.close()
    done = time.perf_counter()
    seconds = done - loaded
    print(json.dumps({
        "load_seconds": round(loaded - start, 2),
        "annotate_seconds": round(seconds, 2),
        "records": stats.annotated,
        "failed": stats.n_failed,
        "chars": stats.chars,
        "chars_per_second": round(stats.chars / seconds),
        "docs_per_second": round(stats.annotated / seconds, 3),
        "peak_rss_after_load_mb": round(rss_loaded),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


def run_one(model: str, folder: Path, max_batch_chars: int, batch_size: int, output: Path) -> Dict[str, Any]:
    command = [sys.executable, __file__, "--child", model, str(folder), str(max_batch_chars),
               str(batch_size), str(output)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bounds(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Issue #18's criteria per pipeline and budget: RSS of b and c against a, chars/s of c against a."""
    out: Dict[str, Any] = {}
    keys = {(row["pipeline"], row["max_batch_chars"]) for row in rows}
    for pipeline, budget in sorted(keys):
        by_input = {row["input"]: row for row in rows
                    if row["pipeline"] == pipeline and row["max_batch_chars"] == budget}
        if "a" not in by_input:
            continue
        a = by_input["a"]
        check: Dict[str, Any] = {}
        for name in ("b", "c"):
            if name in by_input:
                check[f"rss_{name}_over_a"] = round(by_input[name]["peak_rss_mb"] / a["peak_rss_mb"], 3)
        if "c" in by_input:
            check["chars_per_second_c_over_a"] = round(
                by_input["c"]["chars_per_second"] / a["chars_per_second"], 3)
        check["met"] = all(value <= 1.5 for key, value in check.items() if key.startswith("rss_")) and (
            check.get("chars_per_second_c_over_a", 1.0) >= 0.8)
        out[f"{pipeline}@{budget}"] = check
    return out


def markdown(rows: List[Dict[str, Any]]) -> str:
    lines = [
        "| pipeline | input | budget (chars) | docs | MB | peak RSS MB | load s | annotate s | chars/s | docs/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['pipeline']} | {row['input']} | {row['max_batch_chars']:,} | {row['docs']} | "
            f"{row['bytes'] / 1e6:.1f} | {row['peak_rss_mb']:,} | {row['load_seconds']} | "
            f"{row['annotate_seconds']} | {row['chars_per_second']:,} | {row['docs_per_second']} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        model, folder, budget, batch_size, output = sys.argv[2:7]
        child(model, folder, int(budget), int(batch_size), output)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", action="append", required=True, metavar="LABEL=MODEL",
                        help="A pipeline to measure, as label=folder-or-package (repeatable)")
    parser.add_argument("--inputs", nargs="+", choices=sorted(INPUTS), default=sorted(INPUTS))
    parser.add_argument("--max-batch-chars", type=int, nargs="+", default=[DEFAULT_MAX_BATCH_CHARS],
                        help="Character budgets of one batch to run each input with (default: annotate's)")
    parser.add_argument("--batch-size", type=int, default=32, help="Most docs in a batch, as annotate's default")
    parser.add_argument("--nerel", type=Path, default=NEREL, help="NEREL folder with train/ and dev/")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "memory.json")
    args = parser.parse_args()
    pipelines = dict(item.split("=", 1) for item in args.pipeline)

    rows: List[Dict[str, Any]] = []
    machine = describe_machine()
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {name: write_input(name, args.nerel, Path(tmp) / name) for name in args.inputs}
        for label, model in pipelines.items():
            for budget in args.max_batch_chars:
                for name in args.inputs:
                    result = run_one(model, Path(tmp) / name, budget, args.batch_size, Path(tmp) / "out.jsonl")
                    if result["records"] != sizes[name]["docs"] or result["failed"]:
                        raise SystemExit(f"{label} on {name}: {result['records']} records and "
                                         f"{result['failed']} failures for {sizes[name]['docs']} docs")
                    rows.append({"pipeline": label, "model": model, "input": name, "max_batch_chars": budget,
                                 **sizes[name], **result})
                    print(json.dumps(rows[-1]), flush=True)
    report = {
        "inputs": {name: INPUTS[name] for name in args.inputs},
        "batch_size": args.batch_size,
        "machine": machine,
        "rows": rows,
        "bounds": bounds(rows),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(rows))
    print(json.dumps(report["bounds"], indent=2))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
