"""Dev scores of one trained transformer pipeline read with other windows (inference only).

Checks whether reading with more overlap, or with wider or narrower windows than a
pipeline was trained on, helps at prediction time, without retraining.

    python benchmarks/inference_windows.py training/joint_trf_more/model-best corpus/dev.spacy \
        --output benchmarks/results/inference_windows_trf_e5_small_more.json
"""
import argparse
import json
from pathlib import Path

from nerel_spacy.evaluate import evaluate_model
from nerel_spacy.machine import describe_machine
from nerel_spacy.windows import load_with_windows

REPO = Path(__file__).resolve().parents[1]

WINDOWS = [(128, 96), (128, 64), (256, 192), (256, 128)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--output", type=Path, help="Default: benchmarks/results/inference_windows_RUN.json, "
                        "RUN being the model's training folder name")
    args = parser.parse_args()
    output = args.output or REPO / "benchmarks" / "results" / f"inference_windows_{args.model.resolve().parent.name}.json"
    rows = []
    for window, stride in WINDOWS:
        nlp = load_with_windows(args.model, window, stride)
        dev = next(iter(evaluate_model(nlp, args.corpus).values()))
        row = {"window": window, "stride": stride, "seqeval_f": dev["seqeval_f"],
               "cats_micro_f": float(dev["cats_micro_f"]), "cats_micro_p": float(dev["cats_micro_p"]),
               "docs_per_second": dev["speed"]["docs_per_second"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    record = {"model": str(args.model), "corpus": str(args.corpus), "machine": describe_machine(), "rows": rows}
    output.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
