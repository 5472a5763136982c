"""Record one finished `spacy project run all` as benchmarks/results/workflow_NAME.json.

`all` leaves its training runs' curves in benchmarks/results/runs/ (one `train_run.py
--record-only` per stage and round) and its other outputs in metrics/RUN/: `evaluate`'s
dev.json (the fp32 model-best), `trim-vocab`'s trim_vocab.json, `benchmark`'s
quantization.json (fp32 against the trimmed int8 pipeline, speed and F1 on the same texts)
and `annotate-sample`'s sample.run.json. Models do not travel; this file does: it puts the
command, every stage's training time and dev scores, and the shipped pipeline's figures in
one place, so that the README's headline row can be checked against it.

    python benchmarks/workflow_record.py all_s33 --metrics metrics/joint_trf_heads_more_more_rounds \
        --runs all_s33_stage1 all_s33_stage2 ... --command "spacy project run all . --vars..." --note "..."
"""
import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEV_KEYS = ("spans_nerel_f", "seqeval_f", "cats_micro_f", "relations_f", "relations_gold_insent_f")
METRICS_FILES = {"evaluate": "dev.json", "trim_vocab": "trim_vocab.json", "benchmark": "quantization.json",
                 "annotate_sample": "sample.run.json"}


def stage_summary(name: str) -> dict:
    """A training stage's time, steps and dev scores, from its runs/NAME.json."""
    run = json.loads((RESULTS / "runs" / f"{name}.json").read_text(encoding="utf-8"))
    return {
        "run": f"runs/{name}.json",
        "steps": run["steps"],
        "training_seconds": run["training_seconds"],
        "evaluated": run.get("evaluated", "model-best"),
        "dev": {key: run["dev"].get(key) for key in DEV_KEYS},
    }


def read_metrics(folder: Path) -> dict:
    """The JSON each post-training stage of `all` wrote into ``folder``; a missing one is an error."""
    found = {}
    for stage, file in METRICS_FILES.items():
        path = folder / file
        if not path.is_file():
            raise SystemExit(f"{path} not found: did `all`'s {stage.replace('_', '-')} stage run? "
                             f"Run `spacy project run all` to its end first.")
        found[stage] = json.loads(path.read_text(encoding="utf-8"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="benchmarks/results/workflow_NAME.json")
    parser.add_argument("--metrics", type=Path, required=True, help="The run's metrics/RUN folder")
    parser.add_argument("--runs", nargs="+", required=True, help="Its stages' runs/NAME.json, in order")
    parser.add_argument("--command", required=True, help="The command, as run")
    parser.add_argument("--note", default="")
    args = parser.parse_args()

    metrics = read_metrics(args.metrics)
    stages = {name: stage_summary(name) for name in args.runs}
    benchmark = metrics["benchmark"]
    record = {
        "name": args.name,
        "command": args.command,
        "note": args.note,
        "stages": stages,
        "training_seconds": sum(stage["training_seconds"] or 0 for stage in stages.values()),
        "training_steps": sum(stage["steps"] or 0 for stage in stages.values()),
        "evaluate_fp32": {key: value for key, value in metrics["evaluate"].items()},
        "trim_vocab": metrics["trim_vocab"],
        "benchmark": benchmark,
        "annotate_sample": metrics["annotate_sample"],
    }
    out = RESULTS / f"workflow_{args.name}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    models = benchmark.get("models", {})
    shown = ", ".join(f"{name} {model.get('docs_per_second', 0):.2f} docs/s" for name, model in models.items())
    print(f"{len(stages)} stages, {record['training_seconds'] / 3600:.1f} h of training; {shown} -> {out}")


if __name__ == "__main__":
    main()
