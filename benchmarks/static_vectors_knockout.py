"""A copy of a pipeline trained with static vectors, its vectors' projection set to zero.

Scoring the copy against the pipeline (``benchmarks/compare_models.py``, paired on the same
documents) shows what the trained pipeline takes from its vectors: the copy keeps every
other weight, so its encoder reads the text alone.

    python benchmarks/static_vectors_knockout.py training/joint_trf_navec_more/model-best \\
        training/joint_trf_navec_more_knockout
    python benchmarks/compare_models.py corpus/dev.spacy with=training/joint_trf_navec_more/model-best \\
        without=training/joint_trf_navec_more_knockout -o benchmarks/results/static_vectors_knockout.json
"""
import argparse
from pathlib import Path

import numpy
import spacy

from nerel_spacy.models.static_residual import WRAPPED
from nerel_spacy.static_vectors import static_projection, zero_static_vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="A pipeline trained from `nerel-batch add-vectors`")
    parser.add_argument("output", type=Path, help="Folder for the copy without its vectors' contribution")
    parser.add_argument("--component", default="nerel_joint")
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    W = static_projection(nlp, args.component).get_param("W")
    scale = nlp.get_pipe(args.component).model.get_ref(WRAPPED).attrs["scale"]
    print(f"projection {W.shape}: mean |W| {float(numpy.abs(W).mean()):.5f}, scale {scale:g}")
    zero_static_vectors(nlp, args.component)
    nlp.to_disk(args.output)
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
