"""float32 against int8 on dev: writes benchmarks/results/quantization.json.

    python benchmarks/quantization.py [FP32_MODEL] [INT8_MODEL] [--n-docs 30] [--rounds 3] [--note ...]

A thin wrapper over ``nerel_spacy.benchmark`` (the same as ``nerel-batch benchmark``)
with the models `spacy project run all` trains and quantizes as defaults.
"""
import argparse
import json
from pathlib import Path

from rich.console import Console

from nerel_spacy.benchmark import benchmark_models
from nerel_spacy.cli.benchmark import results_table

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32", nargs="?", default=str(ROOT / "training/joint_trf_heads_more_more_rounds/model-best"))
    parser.add_argument("int8", nargs="?", default=str(ROOT / "training/joint_trf_heads_more_more_rounds/model-int8"))
    parser.add_argument("--data", default=str(ROOT / "corpus/dev.spacy"))
    parser.add_argument("--n-docs", type=int, default=30)
    parser.add_argument("--f1-docs", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/quantization.json"))
    args = parser.parse_args()
    report = benchmark_models(
        {"fp32": args.fp32, "int8": args.int8}, args.data, n_docs=args.n_docs,
        f1_docs=args.f1_docs, threads=args.threads, rounds=args.rounds, notes=args.note,
        output=args.output,
    )
    Console().print(results_table(report))
    print(json.dumps(report["comparison"], indent=2))


if __name__ == "__main__":
    main()
