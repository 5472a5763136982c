"""thinc's blis kernels against numpy's BLAS (``nerel.numpy_blas_ops.v2``) for the CNN config:
training seconds per step, inference docs/s, and whether the outputs are identical.

Training: ``spacy train`` runs twice per kernel, for ``--short`` and ``--long`` steps, in
fresh processes; the difference of their wall times over the difference of steps is the
time of a step (loading, initialising, the step-0 evaluation and saving cancel out).
Inference: the pipeline the numpy run trained is loaded twice, once per kernel (the
callback removed from its config for blis), and times ``nlp.pipe`` over the dev texts;
entities, mentions and triples are compared, and the relation-type scores within a tolerance. Run it on a quiet machine.

    python benchmarks/cpu_ops.py configs/joint_cnn.cfg -o benchmarks/results/cpu_ops.json
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

from nerel_spacy.machine import describe_machine

REPO = Path(__file__).resolve().parents[1]
CALLBACK = re.compile(
    r"\[nlp\.(before_creation|after_pipeline_creation)\]\n(#[^\n]*\n)*@callbacks = \"nerel\.numpy_blas_ops\.v[12]\"\n")


def without_callback(config_text: str) -> str:
    """The config with its numpy-BLAS callback removed (blis kernels): v2's
    ``[nlp.after_pipeline_creation]`` or, in older pipelines, v1's ``[nlp.before_creation]``."""
    match = CALLBACK.search(config_text)
    if match is None or len(CALLBACK.findall(config_text)) != 1:
        raise SystemExit("the config has no (or more than one) nerel.numpy_blas_ops callback section")
    text = CALLBACK.sub("", config_text)
    setting = match.group(1)
    if f"\n{setting} = " not in text:  # a saved pipeline's config is not filled at load
        text = text.replace("\nafter_creation = ", f"\n{setting} = null\nafter_creation = ", 1)
    return text


def train_seconds(config: Path, output: Path, steps: int, paths: Dict[str, str]) -> float:
    command = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
               "--training.max_steps", str(steps), "--training.eval_frequency", "100000",
               "--system.seed", "0"]
    for key, value in paths.items():
        command += [f"--paths.{key}", value]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


INFER = r'''
import json, sys, time
import spacy
from nerel_spacy.corpus import read_corpus
from nerel_spacy.spans import get_relations
from thinc.api import get_current_ops
model, data = sys.argv[1:3]
nlp = spacy.load(model)
texts = [doc.text for doc in read_corpus(data, nlp.vocab)]
list(nlp.pipe(texts[:4]))
start = time.perf_counter()
docs = list(nlp.pipe(texts, batch_size=32))
seconds = time.perf_counter() - start
out = {"ents": [[(e.start, e.end, e.label_) for e in d.ents] for d in docs],
       "spans": [[(s.start, s.end, s.label_) for s in d.spans.get("nerel", [])] for d in docs],
       "relations": [[(r["head"], r["tail"], r["label"]) for r in get_relations(d)] for d in docs],
       "cats": [[d.cats[k] for k in sorted(d.cats)] for d in docs]}
ops = get_current_ops()
print(json.dumps({"docs_per_second": len(docs) / seconds, "seconds": seconds,
                  "ops": f"{type(ops).__name__}(use_blis={getattr(ops, 'use_blis', None)})", "out": out}))
'''


def infer(model: Path, data: str) -> Dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", INFER, str(model), data], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"inference on {model} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--short", type=int, default=50)
    parser.add_argument("--long", type=int, default=250)
    parser.add_argument("--train", default="corpus/train.spacy")
    parser.add_argument("--dev", default="corpus/dev.spacy")
    parser.add_argument("--vectors", default="assets/navec_vectors")
    parser.add_argument("--output", "-o", type=Path, default=REPO / "benchmarks" / "results" / "cpu_ops.json")
    args = parser.parse_args()
    paths = {"train": args.train, "dev": args.dev, "vectors": args.vectors}
    machine = describe_machine()
    report: Dict[str, Any] = {"config": str(args.config), "steps": [args.short, args.long], "machine": machine}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {"numpy": args.config, "blis": Path(tmp) / "blis.cfg"}
        configs["blis"].write_text(without_callback(args.config.read_text(encoding="utf-8")), encoding="utf-8")
        training = {}
        for kernel, config in configs.items():
            short = train_seconds(config, Path(tmp) / f"{kernel}_short", args.short, paths)
            long = train_seconds(config, Path(tmp) / f"{kernel}_long", args.long, paths)
            training[kernel] = {"seconds": [round(short, 1), round(long, 1)],
                                "seconds_per_step": round((long - short) / (args.long - args.short), 4)}
            print(kernel, training[kernel], flush=True)
        report["training"] = training
        report["training_speedup"] = round(
            training["blis"]["seconds_per_step"] / training["numpy"]["seconds_per_step"], 2)
        model = Path(tmp) / "numpy_long" / "model-last"
        blis_model = Path(tmp) / "blis_model"
        subprocess.run(["cp", "-r", str(model), str(blis_model)], check=True)
        config_path = blis_model / "config.cfg"
        config_path.write_text(without_callback(config_path.read_text(encoding="utf-8")), encoding="utf-8")
        results = {"numpy": infer(model, args.dev), "blis": infer(blis_model, args.dev)}
    report["inference"] = {kernel: {key: value for key, value in result.items() if key != "out"}
                           for kernel, result in results.items()}
    report["inference_speedup"] = round(
        results["numpy"]["docs_per_second"] / results["blis"]["docs_per_second"], 2)
    a, b = results["numpy"]["out"], results["blis"]["out"]
    # Sums in another order differ in the last bits, so scores are compared within a tolerance
    # and the decisions (entities, mentions, triples) exactly.
    report["outputs"] = {
        **{f"identical_{key}": a[key] == b[key] for key in ("ents", "spans", "relations")},
        "docs_with_other_ents": sum(x != y for x, y in zip(a["ents"], b["ents"])),
        "docs_with_other_spans": sum(x != y for x, y in zip(a["spans"], b["spans"])),
        "cats_max_abs_difference": max((abs(x - y) for xs, ys in zip(a["cats"], b["cats"])
                                        for x, y in zip(xs, ys)), default=0.0),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({key: report[key] for key in ("training", "training_speedup", "inference",
                                                   "inference_speedup", "outputs")}, indent=1))


if __name__ == "__main__":
    main()
