"""Average the weights of several trained pipelines of one architecture into a new pipeline.

Rounds of ``train-more`` and side branches such as the wider fifth stage all descend from
one model, so their weights can be averaged (``nerel_spacy.weight_averaging``). This writes
the averaged pipeline; ``benchmarks/compare_models.py`` then scores it beside its parts on
the same documents, with bootstrap intervals and paired differences:

    python benchmarks/average_weights.py training/avg_round5_round6 \\
        training/joint_trf_heads_more_more_more/model-best \\
        training/joint_trf_heads_more_more_more_more/model-best
    python benchmarks/compare_models.py corpus/dev.spacy \\
        round6=training/joint_trf_heads_more_more_more_more/model-best \\
        avg56=training/avg_round5_round6 -o benchmarks/results/average_weights_s24.json

The sources are recorded in the output pipeline's meta (``averaged_from``).
"""
import argparse
import time
from pathlib import Path

import spacy

import nerel_spacy  # noqa: F401  (registers the architectures and factories)
from nerel_spacy.weight_averaging import average_pipelines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="Folder for the averaged pipeline")
    parser.add_argument("pipelines", nargs="+", help="Two or more pipeline folders of one architecture")
    args = parser.parse_args()
    if len(args.pipelines) < 2:
        parser.error("give at least two pipelines to average")
    started = time.perf_counter()
    pipelines = [spacy.load(path) for path in args.pipelines]
    averaged = average_pipelines(pipelines)
    averaged.meta["averaged_from"] = list(args.pipelines)
    averaged.to_disk(args.output)
    print(f"{len(pipelines)} pipelines averaged into {args.output} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
