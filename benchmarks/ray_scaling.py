"""Scaling of ``nerel-batch annotate --engine ray``: docs/s with 1 and 2 actors of 1 thread.

The documents are NEREL's dev texts repeated under new ids up to ``--n-docs`` (1,000 by
default). Each configuration runs on one local Ray started here (its start is not timed);
a run's time includes its actor pool's start and pipeline loads, and ``steady_docs_per_second``
leaves them out (records after the first). The local engine (one process) runs first as
the reference: every Ray run must give its records, per id. Run it on a quiet machine.

    python benchmarks/ray_scaling.py -m training/joint_trf/model-int8
    python benchmarks/ray_scaling.py -m ./tiny --code tests/annotate_helpers.py --n-docs 20
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nerel_spacy.annotate import AnnotateOptions, Annotated, find_default_model
from nerel_spacy.annotate.engines import Engine, make_engine
from nerel_spacy.benchmark import describe_machine

DEV = REPO.parent / "shared" / "data" / "nerel" / "dev"


def write_docs(dev: Path, n_docs: int, folder: Path) -> int:
    """``n_docs`` files in ``folder``: the dev texts in turn, each copy under a new id; their characters."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(dev.glob("*.txt"))]
    if not texts:
        raise SystemExit(f"no *.txt in {dev}; give --dev the NEREL dev folder")
    chars = 0
    for i in range(n_docs):
        text = texts[i % len(texts)]
        (folder / f"{i:06d}.txt").write_text(text, encoding="utf-8")
        chars += len(text)
    return chars


def timed_run(engine: Engine, folder: Path, options: AnnotateOptions) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Records by id and the timings of one run."""
    records: Dict[str, Any] = {}
    start = time.perf_counter()
    first: Optional[float] = None
    for event in engine.annotate([str(folder)], options):
        if not isinstance(event, Annotated):
            raise SystemExit(f"unexpected event {event!r}")
        first = first if first is not None else time.perf_counter()
        records[event.record["id"]] = event.record
    seconds = time.perf_counter() - start
    steady = seconds - (first - start) if first is not None else 0.0
    timing = {
        "seconds": round(seconds, 3),
        "first_record_seconds": round((first or start) - start, 3),
        "docs_per_second": round(len(records) / seconds, 3),
        "steady_docs_per_second": round((len(records) - 1) / steady, 3) if steady > 0 else None,
    }
    return records, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", help="Pipeline folder or package; default as nerel-batch annotate")
    parser.add_argument("--code", type=Path, help="Python file registering the pipeline's custom components")
    parser.add_argument("--dev", type=Path, default=DEV, help="Folder of NEREL dev *.txt")
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Actor counts to run")
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "ray_scaling.json")
    args = parser.parse_args()

    import ray
    import torch

    model = args.model or find_default_model(REPO)
    options = AnnotateOptions(batch_size=args.batch_size)
    torch.set_num_threads(args.threads_per_worker)  # the local reference runs as one actor does
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        chars = write_docs(args.dev, args.n_docs, folder)
        local = make_engine("local", model, args.code)
        reference, timing = timed_run(local, folder, options)
        rows.append({"engine": "local", "workers": 1, "threads_per_worker": args.threads_per_worker, **timing})
        print(json.dumps(rows[-1]), flush=True)
        # Ray's workers import this checkout's nerel_spacy, as this script does.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        ray.init(num_cpus=max(args.workers) * args.threads_per_worker, include_dashboard=False,
                 log_to_driver=False, logging_level="WARNING")
        try:
            for workers in args.workers:
                engine = make_engine("ray", model, args.code, workers=workers,
                                     threads_per_worker=args.threads_per_worker)
                records, timing = timed_run(engine, folder, options)
                engine.close()
                rows.append({"engine": "ray", "workers": workers, "threads_per_worker": args.threads_per_worker,
                             **timing, "identical_to_local": records == reference})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            ray.shutdown()
    ray_rows = {row["workers"]: row for row in rows if row["engine"] == "ray"}
    speedup = None
    if 1 in ray_rows and 2 in ray_rows:
        speedup = round(ray_rows[2]["docs_per_second"] / ray_rows[1]["docs_per_second"], 3)
    result = {
        "model": str(model),
        "n_docs": args.n_docs,
        "n_chars": chars,
        "batch_size": args.batch_size,
        "machine": describe_machine(threads=args.threads_per_worker),
        "ray": ray.__version__,
        "rows": rows,
        "speedup_2_vs_1_actors": speedup,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"speedup 2 vs 1 actors: {speedup}; written to {args.output}")


if __name__ == "__main__":
    main()
