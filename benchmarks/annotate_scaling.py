"""``nerel-batch annotate`` on 2 cores: docs/s for each --n-process × --threads, per pipeline.

Every configuration is a fresh ``nerel-batch annotate`` process over the same folder
(NEREL's dev texts, repeated under new ids up to ``--n-docs``), timed from start to exit:
model loads and process start-up count, as they do for a user. Each configuration's JSONL
must equal the first one's, record for record (scores to 1e-4: another split into batches
changes their last digits). Run it on a
quiet machine: configurations of one pipeline run one after another.

    python benchmarks/annotate_scaling.py --model int8=training/joint_trf/model-trimmed-int8 \
        --model cnn=training/joint_cnn_rel/model-best
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nerel_spacy.machine import describe_machine  # noqa: E402

DEV = REPO.parent / "shared" / "data" / "nerel" / "dev"
CONFIGS = ((1, 1), (1, 2), (2, 1))  # (n_process, threads)


def write_docs(dev: Path, n_docs: int, folder: Path) -> int:
    texts = [path.read_text(encoding="utf-8") for path in sorted(dev.glob("*.txt"))]
    if not texts:
        raise SystemExit(f"no *.txt in {dev}; pass --dev the NEREL dev folder")
    for i in range(n_docs):
        (folder / f"{i:06d}.txt").write_text(texts[i % len(texts)], encoding="utf-8")
    return sum(len(texts[i % len(texts)]) for i in range(n_docs))


def records(path: Path) -> Dict[str, dict]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record.pop("meta", None)
        out[record["id"]] = record
    return out


def same(a, b, tolerance: float = 1e-4) -> bool:
    """Equal records, scores within ``tolerance``: another batch split changes the last digits."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= tolerance
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y, tolerance) for x, y in zip(a, b))
    return a == b


def run(model: str, folder: Path, output: Path, n_process: int, threads: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "nerel_spacy", "annotate", str(folder), "-m", model, "-o", str(output),
               "--n-process", str(n_process), "--threads", str(threads), "--quiet", "--overwrite"]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=MODEL")
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--n-docs", type=int, default=188)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "annotate_scaling.json")
    args = parser.parse_args()
    report = {"n_docs": args.n_docs, "configs": [list(c) for c in CONFIGS], "machine": describe_machine(threads=2),
              "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        report["n_chars"] = write_docs(args.dev, args.n_docs, folder)
        for item in args.model:
            label, _, model = item.partition("=")
            rows: List[dict] = []
            reference = None
            for n_process, threads in CONFIGS:
                out = Path(tmp) / f"{label}-{n_process}-{threads}.jsonl"
                seconds = run(model, folder, out, n_process, threads)
                got = records(out)
                reference = reference if reference is not None else got
                rows.append({"n_process": n_process, "threads": threads, "seconds": round(seconds, 2),
                             "docs_per_second": round(args.n_docs / seconds, 2),
                             "same_records_as_first": same(got, reference)})
                print(label, rows[-1], flush=True)
            report["models"][label] = {"model": model, "runs": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
