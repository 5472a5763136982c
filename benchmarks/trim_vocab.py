"""What each source of kept pieces costs and buys: rows kept against the out-of-vocabulary
rate on held-out text, for an encoder's tokenizer (#14, item 2).

The pieces are chosen from the --texts (NEREL train) and navec's words, plus digit and
punctuation pieces and one-character pieces; each variant adds one source. The OOV rate
is measured on --held-out texts (NEREL dev), which chose nothing. Then the identity check
of ``nerel-batch trim-vocab``'s default choice on both splits: every text whose pieces are
all kept must tokenize the same, piece for piece.

    python benchmarks/trim_vocab.py assets/e5-small --texts ../shared/data/nerel/train \\
        --held-out ../shared/data/nerel/dev -o benchmarks/results/trim_vocab.json
"""
import argparse
import json
import time
from pathlib import Path

from transformers import AutoTokenizer

from nerel_spacy.machine import describe_machine
from nerel_spacy.trim.encoder import check_identical_tokenization, choose_pieces, trim_tokenizer
from nerel_spacy.trim.pieces import coverage
from nerel_spacy.trim.texts import read_all_texts, read_words

VARIANTS = (
    ("texts", ("texts", "special")),
    ("texts + words", ("texts", "words", "special")),
    ("texts + words + numbers", ("texts", "words", "numbers", "special")),
    ("texts + words + numbers + single chars (default)", ("texts", "words", "numbers", "single_chars", "special")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("encoder", help="Hugging Face encoder folder or hub name")
    parser.add_argument("--texts", nargs="+", required=True, help="texts the pieces are chosen from")
    parser.add_argument("--held-out", nargs="+", required=True, help="texts the OOV rate is measured on")
    parser.add_argument("--words", default="navec", help="navec, none or a file of words")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.encoder, use_fast=True)
    texts, held_out = read_all_texts(args.texts), read_all_texts(args.held_out)
    words = read_words(args.words)
    choice = choose_pieces(tokenizer, texts, words, numbers=True, single_chars=True)
    variants = []
    for name, sources in VARIANTS:
        kept = set().union(*(getattr(choice, source) for source in sources))
        result = coverage(tokenizer, held_out, kept, show=30)
        variants.append({"variant": name, "rows": len(kept), "share_of_vocabulary": round(len(kept) / len(tokenizer), 4),
                         "held_out": result.to_dict()})
        print(f"{name:55s} {len(kept):7,d} rows  held-out OOV {result.oov_rate:.3%}  "
              f"texts unchanged {result.covered_texts}/{result.texts}")
    trimmed, old_to_new, _ = trim_tokenizer(tokenizer, choice.kept)
    identity = {}
    for split, split_texts in (("texts", texts), ("held_out", held_out)):
        check = check_identical_tokenization(tokenizer, trimmed, old_to_new, split_texts)
        identity[split] = {"texts": check.texts, "covered": check.covered, "mismatched": len(check.mismatched)}
    print("identity:", identity)
    report = {
        "encoder": args.encoder, "vocabulary": len(tokenizer), "texts": args.texts, "held_out": args.held_out,
        "words": args.words, "n_words": len(words), "sources": choice.counts(), "variants": variants,
        "identity": identity, "seconds": round(time.perf_counter() - start, 1), "machine": describe_machine(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
