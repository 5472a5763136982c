"""Train one configuration, evaluate its model-best on dev, and record the run as JSON.

Every reported run goes through this script, so benchmarks/results/runs/NAME.json holds
the config, the overrides (the "config diff"), wall time, the training curve and the
dev scores of the model that was kept.

    python benchmarks/train_run.py NAME configs/joint_cnn.cfg -- --training.max_steps 1500
    python benchmarks/train_run.py NAME configs/joint_trf.cfg --record-only training/joint_trf \
        --log training/joint_trf.log --wall-seconds 6000 -- --paths.encoder assets/e5-small
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from nerel_spacy.evaluate import evaluate_model

REPO = Path(__file__).resolve().parents[1]

ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_training_table(log_text: str) -> list:
    """The console table of a spaCy training log as a list of {column: value} rows.

    A run resumed by ``nerel-batch train`` prints its header again and may evaluate a step
    twice (stopped between the evaluation and its checkpoint): one row per step, the last."""
    header, rows = None, []
    for raw in log_text.splitlines():
        line = ANSI.sub("", raw).replace("\r", "")
        if line.lstrip().startswith("E ") and "#" in line:
            header = re.split(r"\s{2,}", line.strip())
            continue
        match = ROW.match(line)
        if header and match and len(line.split()) == len(header):
            rows.append(dict(zip(header, [float(v) for v in line.split()])))
    by_step = {row.get("#"): row for row in rows}
    return sorted(by_step.values(), key=lambda row: row.get("#", 0))


def log_of_output(log_text: str, output: Path, cwd: Path = REPO) -> str:
    """The parts of a log that train into ``output``.

    ``spacy project run all`` writes every stage into one log, each after a ``Running
    command:`` line; keep the sections whose command has ``--output`` ``output`` (several
    when the workflow was run again after a stop). ``nerel-batch train-rounds --output OUT``
    trains round NAME into OUT/NAME, after a ``Round k/n (NAME):`` line: for such an
    ``output`` keep those lines' parts. A log without such lines is one run's."""
    import shlex

    sections = re.split(r"^(?=Running command: )", log_text, flags=re.MULTILINE)
    if len(sections) == 1:
        return log_text
    target = (cwd / output).resolve()

    def command_output(section: str) -> Optional[Path]:
        if not section.startswith("Running command: "):
            return None
        words = shlex.split(section.splitlines()[0][len("Running command: "):])
        outputs = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "--output"]
        return (cwd / outputs[0]).resolve() if outputs else None

    kept = []
    for section in sections:
        folder = command_output(section)
        if folder == target:
            kept.append(section)
        elif folder is not None and target.parent == folder:
            kept.extend(_round_parts(section, target.name))
    return "".join(kept)


def _round_parts(section: str, name: str) -> List[str]:
    """The parts of a train-rounds log section that train round ``name``."""
    parts = re.split(r"^(?=Round \d+/\d+ \()", section, flags=re.MULTILINE)
    return [part for part in parts if part.startswith("Round ") and re.match(rf"Round \d+/\d+ \({re.escape(name)}\):", part)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="Run name: benchmarks/results/runs/NAME.json")
    parser.add_argument("config", type=Path)
    parser.add_argument("--output", type=Path, help="Training output folder (default training/runs/NAME)")
    parser.add_argument("--record-only", type=Path, help="Record an existing training output folder")
    parser.add_argument("--log", type=Path, help="Its training log (with --record-only)")
    parser.add_argument("--wall-seconds", type=float, help="Its wall time (with --record-only)")
    parser.add_argument("--dev", type=Path, default=REPO / "corpus" / "dev.spacy")
    parser.add_argument("--note", default="")
    parser.add_argument("--evaluate", choices=["model-best", "model-last"], default="model-best",
                        help="Which saved model's dev scores to record (model-last when model-best is step 0)")
    args, overrides = parser.parse_known_args()
    overrides = [o for o in overrides if o != "--"]

    if args.record_only:
        output = args.record_only
        log_text = args.log.read_text(encoding="utf-8", errors="replace") if args.log else ""
        wall = args.wall_seconds
    else:
        output = args.output or REPO / "training" / "runs" / args.name
        log_path = output.with_suffix(".log")
        output.parent.mkdir(parents=True, exist_ok=True)
        # nerel-batch train: run the same command again after a stop and it resumes (the log
        # is appended to; wall_seconds is that of the last part, training_seconds all parts).
        command = [sys.executable, "-m", "nerel_spacy", "train", str(args.config), "--output", str(output),
                   *overrides]
        start = time.time()
        with log_path.open("a", encoding="utf-8") as log:
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        wall = time.time() - start
        log_text = log_path.read_text(encoding="utf-8", errors="replace")

    log_text = log_of_output(log_text, output)
    curve = parse_training_table(log_text)
    # The loop's own clock, summed over every part of a resumed run (its last line says it).
    trained = re.findall(r"Trained (\d+) steps in (\d+) s of training time", log_text)
    results = evaluate_model(output / args.evaluate, args.dev)
    dev = results[next(iter(results))]
    record = {
        "name": args.name,
        "config": str(args.config),
        "overrides": overrides,
        "note": args.note,
        "evaluated": args.evaluate,
        "wall_seconds": wall,
        "training_seconds": int(trained[-1][1]) if trained else None,
        "steps": int(curve[-1]["#"]) if curve else None,
        "curve": curve,
        "dev": dev,
        "meta": dev.get("meta", {}),
    }
    out = REPO / "benchmarks" / "results" / "runs" / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    took = ", ".join(f"{seconds:.0f} s {what}" for what, seconds in
                     (("wall", wall), ("of training", record["training_seconds"])) if seconds is not None)
    print(f"{args.name}: seqeval F {dev['seqeval_f']:.3f}, cats micro F {dev['cats_micro_f']:.3f} "
          f"(P {dev['cats_micro_p']:.3f}){', ' + took if took else ''} -> {out}")


if __name__ == "__main__":
    main()
