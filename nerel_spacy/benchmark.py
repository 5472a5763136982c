"""Speed, memory, size and F1 of pipelines side by side (float32 against int8).

Each model is measured in a fresh Python process (``python -m nerel_spacy.benchmark``),
one after another, so peak RSS belongs to that model alone and the models do not
compete for the cores. A worker loads the pipeline, annotates the first ``n_docs``
documents one at a time (ms/doc percentiles) and then in batches (docs/s, tokens/s),
and scores the pipeline with ``evaluate.predict_and_score`` on ``f1_docs`` documents (NER seqeval F1,
exact-span F1, relation-type micro F1). ``rounds > 1`` alternates the models and keeps
each model's fastest round, which tames a noisy shared machine.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .batching import DEFAULT_MAX_BATCH_CHARS, pipe_by_chars
from .corpus import find_split_file
from .machine import describe_machine, directory_size, load_average
from .measurements import current_rss_mb, timed_result
from .natasha_baseline import is_natasha, measure_natasha, natasha_size_bytes
from .threads import limit_threads

PathLike = Union[str, Path]
DEFAULT_DATA = Path("corpus/dev.spacy")
SCHEMA_VERSION = 1
LAUNCHED_AT = "NEREL_BENCHMARK_LAUNCHED_AT"  # when run_worker started the worker (time.time())
SPEED_KEYS = ("docs_per_second", "tokens_per_second", "ms_per_doc_p50", "ms_per_doc_p95")


class BenchmarkError(RuntimeError):
    """A worker failed: carries the model and the tail of its error output."""


def model_size_bytes(model: str) -> Optional[int]:
    """Bytes on disk of a pipeline folder, or of an installed pipeline package (None if neither)."""
    if is_natasha(model):
        return natasha_size_bytes()
    path = Path(model)
    if not path.exists():
        from spacy.util import get_package_path

        try:
            path = get_package_path(model)
        except ImportError:  # not an installed package either
            return None
    return directory_size(path)


def benchmark_models(
    models: Mapping[str, str],
    data: PathLike = DEFAULT_DATA,
    *,
    n_docs: int = 30,
    f1_docs: int = 0,
    threads: int = 2,
    batch_size: int = 16,
    max_batch_chars: int = DEFAULT_MAX_BATCH_CHARS,
    rounds: int = 1,
    score: bool = True,
    baseline: Optional[str] = None,
    notes: Sequence[str] = (),
    output: Optional[PathLike] = None,
    timeout: Optional[float] = None,
    pythons: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Measure each ``{label: model}`` in its own process and compare them with ``baseline``.

    n_docs: documents timed (0: all). f1_docs: documents scored (0: all); score=False
    skips scoring (speed only, e.g. to compare thread counts).
    baseline: the label the others are compared with (default: the first).
    pythons: ``{label: interpreter}`` for models that run elsewhere than this Python, e.g.
    an ONNX export in a virtual environment without torch.
    Returns (and writes to ``output``, if given) the results as plain JSON data.
    """
    if not models:
        raise ValueError("benchmark_models: give at least one model to measure.")
    data = find_split_file(data, "dev")
    baseline = baseline or next(iter(models))
    if baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not one of the models {list(models)}.")
    machine_start = describe_machine(threads)
    runs: Dict[str, List[Dict[str, Any]]] = {label: [] for label in models}
    for round_index in range(max(1, rounds)):
        for label, model in models.items():
            runs[label].append(
                run_worker(model, data, n_docs=n_docs, f1_docs=f1_docs, threads=threads,
                           batch_size=batch_size, max_batch_chars=max_batch_chars,
                           score=score and round_index == 0, timeout=timeout,
                           python=(pythons or {}).get(label, sys.executable))
            )
    results: Dict[str, Any] = {}
    for label, model in models.items():
        best = max(runs[label], key=lambda run: run["docs_per_second"])
        entry = {key: best[key] for key in SPEED_KEYS + ("n_docs", "n_tokens", "ms_per_doc")}
        entry.update(
            model=str(model),
            size_mb=_mb(model_size_bytes(model)),
            load_seconds=min(run["load_seconds"] for run in runs[label]),
            rss_after_load_mb=min(run["rss_after_load_mb"] for run in runs[label]),
            peak_rss_mb=min(run["peak_rss_mb"] for run in runs[label]),
            cold_start_seconds=_min_or_none(run.get("cold_start_seconds") for run in runs[label]),
            torch_imported=any(run.get("torch_imported", False) for run in runs[label]),
            docs_per_second_rounds=[run["docs_per_second"] for run in runs[label]],
            scores=runs[label][0]["scores"],
            pipeline=runs[label][0]["pipeline"],
            quantization=runs[label][0]["quantization"],
        )
        results[label] = entry
    comparison = {
        label: compare(results[baseline], results[label])
        for label in models if label != baseline
    }
    report = {
        "schema_version": SCHEMA_VERSION,
        "data": str(data),
        "settings": {"n_docs": n_docs, "f1_docs": f1_docs if score else None, "threads": threads,
                     "batch_size": batch_size, "max_batch_chars": max_batch_chars, "rounds": max(1, rounds)},
        "machine": machine_start,
        "load_average_end": load_average(),
        "baseline": baseline,
        "models": results,
        "comparison": comparison,
        "notes": list(notes),
    }
    if output is not None:
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def compare(baseline: Dict[str, Any], other: Dict[str, Any]) -> Dict[str, Optional[float]]:
    """Speed-up, memory and size ratios, and F1 differences (other − baseline)."""
    def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return a / b if a and b else None

    def delta(key: str) -> Optional[float]:
        a, b = baseline["scores"].get(key), other["scores"].get(key)
        return None if a is None or b is None else b - a

    return {
        "speedup_docs_per_second": ratio(other["docs_per_second"], baseline["docs_per_second"]),
        "speedup_ms_per_doc_p50": ratio(baseline["ms_per_doc_p50"], other["ms_per_doc_p50"]),
        "rss_ratio": ratio(other["peak_rss_mb"], baseline["peak_rss_mb"]),
        "size_ratio": ratio(other["size_mb"], baseline["size_mb"]),
        "delta_seqeval_f": delta("seqeval_f"),
        "delta_ents_f": delta("ents_f"),
        "delta_spans_nerel_f": delta("spans_nerel_f"),
        "delta_cats_micro_f": delta("cats_micro_f"),
        "delta_relations_f": delta("relations_f"),
        "delta_relations_gold_insent_f": delta("relations_gold_insent_f"),
    }


def run_worker(
    model: str,
    data: Path,
    *,
    n_docs: int,
    f1_docs: int,
    threads: int,
    batch_size: int,
    max_batch_chars: int = DEFAULT_MAX_BATCH_CHARS,
    score: bool = True,
    timeout: Optional[float] = None,
    python: str = sys.executable,
) -> Dict[str, Any]:
    """Measure one model in a fresh interpreter (``python``); returns the worker's JSON."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env[LAUNCHED_AT] = repr(time.time())
    command = [
        python, "-m", "nerel_spacy.benchmark", str(model), str(data),
        "--n-docs", str(n_docs), "--f1-docs", str(f1_docs), "--threads", str(threads),
        "--batch-size", str(batch_size), "--max-batch-chars", str(max_batch_chars),
    ]
    if not score:
        command.append("--no-score")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise BenchmarkError(f"benchmarking {model} failed (exit {done.returncode}):\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the worker (one model, one process) -----------------------------------------------


def measure_model(
    model: str, data: PathLike, *, n_docs: int = 30, f1_docs: int = 0, threads: int = 2,
    batch_size: int = 16, max_batch_chars: int = DEFAULT_MAX_BATCH_CHARS, score: bool = True,
) -> Dict[str, Any]:
    """Load ``model`` and time it on ``data`` in this process (the worker's job)."""
    if is_natasha(model):
        result = measure_natasha(data, n_docs=n_docs, f1_docs=f1_docs, threads=threads, score=score)
        result.update(cold_start_seconds=None, torch_imported=sys.modules.get("torch") is not None)
        return result
    import spacy

    from .corpus import read_corpus
    from .evaluate import predict_and_score

    limit_threads(threads)
    start = time.perf_counter()
    nlp = spacy.load(model)
    load_seconds = time.perf_counter() - start
    rss_after_load = current_rss_mb()
    launched = os.environ.get(LAUNCHED_AT)
    # a user's cold start: the interpreter, every import (spaCy, thinc, torch if installed) and the load
    cold_start = time.time() - float(launched) if launched else None
    gold = read_corpus(data, nlp.vocab)
    if not gold:
        raise ValueError(f"{data}: no documents to benchmark on.")
    timed = gold[: n_docs or len(gold)]
    texts = [doc.text for doc in timed]
    nlp(texts[0])  # warm-up: first-call allocations and lazy inits are not the model's speed
    latencies = []
    for text in texts:
        t0 = time.perf_counter()
        nlp(text)
        latencies.append(1000 * (time.perf_counter() - t0))
    t0 = time.perf_counter()
    predicted = list(pipe_by_chars(nlp, texts, max_batch_chars, batch_size))
    seconds = time.perf_counter() - t0
    n_tokens = sum(len(doc) for doc in predicted)
    scores: Dict[str, Optional[float]] = {}
    if score:
        scored = gold[: f1_docs or len(gold)]
        all_scores, _ = predict_and_score(nlp, scored, batch_size=batch_size, max_batch_chars=max_batch_chars)
        scores = {key: _float_or_none(all_scores.get(key))
                  for key in ("seqeval_f", "ents_f", "ents_p", "ents_r", "spans_nerel_f", "cats_micro_f",
                              "cats_macro_f", "relations_f", "relations_gold_f", "relations_gold_insent_f")}
        scores["per_loc_org_f"] = _float_or_none(all_scores["natasha_mapping"].get("f"))
        scores["n_docs"] = len(scored)
    result = timed_result(str(model), nlp.pipe_names, nlp.meta.get("quantization"), load_seconds, rss_after_load,
                          len(timed), n_tokens, seconds, latencies, scores)
    result.update(cold_start_seconds=cold_start, torch_imported=sys.modules.get("torch") is not None)
    return result


def _min_or_none(values) -> Optional[float]:
    found = [value for value in values if value is not None]
    return min(found) if found else None


def _float_or_none(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def _mb(n_bytes: Optional[int]) -> Optional[float]:
    return None if n_bytes is None else n_bytes / 2**20


def _worker_main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Measure one pipeline (a benchmark worker).")
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--n-docs", type=int, default=30)
    parser.add_argument("--f1-docs", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-batch-chars", type=int, default=DEFAULT_MAX_BATCH_CHARS)
    parser.add_argument("--no-score", action="store_true")
    args = parser.parse_args(argv)
    result = measure_model(
        args.model, args.data, n_docs=args.n_docs, f1_docs=args.f1_docs, threads=args.threads,
        batch_size=args.batch_size, max_batch_chars=args.max_batch_chars, score=not args.no_score,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    _worker_main()
