"""A training corpus with mention-replaced copies of every doc, for `nerel-batch distill --train`.

Distillation learns the teacher's outputs on whatever text it is shown, and NEREL's 746
training docs are all the Russian text this machine has. This writes the training docs
followed by ``--copies`` copies of each, in which every eligible mention of a name type
(``--types``) is swapped with probability ``--rate`` for another training mention of its
type (``nerel_spacy.augment``; the gold labels and relation triples move with them). The
teacher pass then labels the copies like any training doc, so the student sees the teacher's
predictions on names in contexts the teacher never saw them in.

    python benchmarks/mention_replaced_corpus.py corpus/train.spacy corpus/train_mr2.spacy --copies 2
"""
import argparse
import random
import sys
from pathlib import Path

import spacy
from spacy.tokens import DocBin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nerel_spacy.augment import eligible_mentions, mention_surfaces, replace_mentions  # noqa: E402
from nerel_spacy.brat.reader import DOC_ID_KEY  # noqa: E402
from nerel_spacy.corpus import read_corpus  # noqa: E402
from nerel_spacy.schema import SPANS_KEY  # noqa: E402

# Names, whose replacement keeps the sentence Russian; an EVENT or PROFESSION swapped for
# another is mostly a verb or a noun phrase that breaks the grammar around it.
NAME_TYPES = ("PERSON", "ORGANIZATION", "CITY", "COUNTRY", "STATE_OR_PROVINCE", "DISTRICT", "LOCATION",
              "FACILITY", "PRODUCT", "WORK_OF_ART", "AWARD")


def replaced_copy(doc, surfaces, rng: random.Random, rate: float, types=NAME_TYPES):
    """A copy of ``doc`` with each eligible mention of ``types`` swapped with probability
    ``rate`` for another surface, or None when none was swapped (the copy would repeat the doc)."""
    spans = doc.spans.get(SPANS_KEY, [])
    replacements = {}
    for i in eligible_mentions(doc):
        options = surfaces.get(spans[i].label_) if spans[i].label_ in types else None
        if options and len(options) > 1 and rng.random() < rate:
            words = tuple(t.text for t in spans[i])
            choice = options[rng.randrange(len(options))]
            while choice == words:
                choice = options[rng.randrange(len(options))]
            replacements[i] = choice
    return replace_mentions(doc, replacements) if replacements else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path, help="the converted training corpus (.spacy)")
    parser.add_argument("output", type=Path, help="the .spacy file to write: the docs, then their copies")
    parser.add_argument("--copies", type=int, default=2, help="mention-replaced copies of each doc")
    parser.add_argument("--rate", type=float, default=0.5, help="chance that each eligible mention is swapped")
    parser.add_argument("--types", default=",".join(NAME_TYPES), help="comma-separated mention types to swap")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.copies < 1 or not 0 < args.rate <= 1:
        parser.error("--copies must be at least 1 and --rate in (0, 1]")
    if not args.train.is_file():
        parser.error(f"{args.train} not found: give the training corpus that `nerel-batch convert` wrote")
    nlp = spacy.blank("ru")
    docs = list(read_corpus(args.train, nlp.vocab))
    surfaces = mention_surfaces(docs)
    rng = random.Random(args.seed)
    out = DocBin(store_user_data=True)
    for doc in docs:
        out.add(doc)
    made = 0
    for copy_number in range(args.copies):
        for doc in docs:
            copy = replaced_copy(doc, surfaces, rng, args.rate, tuple(args.types.split(",")))
            if copy is not None:
                copy.user_data[DOC_ID_KEY] = f"{doc.user_data.get(DOC_ID_KEY, '')}~copy{copy_number + 1}"
                out.add(copy)
                made += 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    out.to_disk(args.output)
    print(f"{len(docs)} docs and {made} mention-replaced copies written to {args.output}")


if __name__ == "__main__":
    main()
