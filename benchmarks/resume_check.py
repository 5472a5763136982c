"""A real stop and resume of `nerel-batch train`: does the resumed run end where an uninterrupted one does?

Runs CONFIG twice from the same seed into OUT/uninterrupted and OUT/stopped. The second run
is killed with SIGKILL (as a session or job limit would) as soon as its checkpoint reaches
--stop-after, then the same command is run again and resumes. The JSON record compares the
two model-last folders weight by weight, and gives the checkpoint's size, the time the
resumed run took to get back to training and the wall time of each run.

    python benchmarks/resume_check.py configs/joint_cnn_fast.cfg --out training/resume_check \
        --steps 300 --eval-frequency 100 --stop-after 100 \
        --json benchmarks/results/resume_check_cnn_fast.json -- --paths.vectors assets/navec_vectors
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import spacy

from nerel_spacy.machine import describe_machine, directory_size

REPO = Path(__file__).resolve().parents[1]


def command(config: Path, output: Path, args, overrides) -> list:
    return [sys.executable, "-m", "nerel_spacy", "train", str(config), "--output", str(output),
            "--training.max_steps", str(args.steps), "--training.eval_frequency", str(args.eval_frequency),
            "--training.logger.progress_bar", "null", *overrides]


def run(cmd, log: Path) -> float:
    start = time.perf_counter()
    with log.open("a") as out:
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    return time.perf_counter() - start


def run_and_kill(cmd, log: Path, checkpoint: Path, stop_after: int) -> dict:
    """Start ``cmd``; SIGKILL it once ``checkpoint`` holds step ``stop_after`` or later."""
    start = time.perf_counter()
    with log.open("a") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        while process.poll() is None:
            progress = checkpoint / "progress.json"
            try:
                step = json.loads(progress.read_text())["step"]
            except (OSError, ValueError, KeyError):
                step = -1
            if step >= stop_after:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return {"killed_after_step": step, "seconds": time.perf_counter() - start,
                        "checkpoint_bytes": directory_size(checkpoint)}
            time.sleep(0.5)
    raise SystemExit(f"the run ended (exit {process.returncode}) before its checkpoint reached step {stop_after}; see {log}")


def weights(path: Path) -> list:
    nlp = spacy.load(path)
    found = []
    for _, pipe in nlp.pipeline:
        for node in pipe.model.walk():
            found += [node.get_param(n) for n in node.param_names if node.has_param(n)]
            for shim in node.shims:
                found += [t.detach().numpy() for t in shim._model.state_dict().values()]
    return found


def compare(a: Path, b: Path) -> dict:
    left, right = weights(a), weights(b)
    differing = sum(not (x.shape == y.shape and (x == y).all()) for x, y in zip(left, right))
    largest = max((float(abs(x - y).max()) for x, y in zip(left, right) if x.shape == y.shape), default=0.0)
    return {"arrays": len(left), "arrays_differing": differing + abs(len(left) - len(right)),
            "largest_difference": largest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="Folder for the two runs (replaced).")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-frequency", type=int, default=100)
    parser.add_argument("--stop-after", type=int, default=100, help="Kill the second run once its checkpoint has this step.")
    parser.add_argument("--json", type=Path, required=True)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.overrides = argv[split + 1:]  # config overrides after --, as for spacy train
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    log = args.out / "runs.log"
    whole = command(args.config, args.out / "uninterrupted", args, args.overrides)
    stopped = command(args.config, args.out / "stopped", args, args.overrides)
    record = {"config": str(args.config), "overrides": args.overrides, "steps": args.steps,
              "eval_frequency": args.eval_frequency, "machine": describe_machine()}
    record["uninterrupted_seconds"] = run(whole, log)
    record["killed"] = run_and_kill(stopped, log, args.out / "stopped" / "checkpoint", args.stop_after)
    record["resumed_seconds"] = run(stopped, log)
    record["model_last"] = compare(args.out / "uninterrupted" / "model-last", args.out / "stopped" / "model-last")
    record["model_best"] = compare(args.out / "uninterrupted" / "model-best", args.out / "stopped" / "model-best")
    record["identical"] = record["model_last"]["arrays_differing"] == 0 == record["model_best"]["arrays_differing"]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: record[k] for k in ("killed", "model_last", "identical")}, indent=2))


if __name__ == "__main__":
    main()
