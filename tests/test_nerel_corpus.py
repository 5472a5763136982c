"""The whole NEREL v1.1 train+dev corpus: counts, accounting, alignment and speed.

Skipped when the corpus is not at ``../shared/data/nerel`` next to the repository.
"""
import re
import time
from collections import Counter

import pytest
import spacy

from nerel_spacy.brat import read_text
from nerel_spacy.corpus import convert_corpus, read_corpus
from nerel_spacy.brat import load_schema
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.tokenizer import make_blank_nlp

from conftest import NEREL_DIR, needs_nerel


pytestmark = [
    pytest.mark.nerel,
    pytest.mark.slow,  # converts the whole corpus (about 13 s) before its checks
    needs_nerel,
]

# Counted here with a regex of its own, not with the reader under test.
T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t")


def gold_mentions(split):
    """(doc id, label, start, end) of every T line of a split, discontinuous as hull."""
    mentions = []
    t_lines = 0
    for ann in sorted((NEREL_DIR / split).glob("*.ann")):
        for line in ann.read_text(encoding="utf-8-sig").splitlines():
            if line.startswith("T"):
                t_lines += 1
            match = T_LINE.match(line)
            if match:
                numbers = [int(n) for n in re.split(r"[ ;]", match.group(3))]
                mentions.append((ann.stem, match.group(2), min(numbers), max(numbers)))
    return t_lines, mentions


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("nerel")
    started = time.process_time()  # this process's CPU time: other work on the machine does not count
    reports = convert_corpus(NEREL_DIR, out)
    seconds = time.process_time() - started
    return out, reports, seconds


def test_converts_every_split_without_a_quadratic_step(converted):
    """About 25 s of CPU on 2 cores of an Intel Xeon; a slip into quadratic work would take minutes."""
    out, reports, seconds = converted
    print(f"\nNEREL converted in {seconds:.1f} s of CPU")
    assert {"train", "dev"} <= set(reports)  # and test, where a copy has it
    assert seconds < 60


def test_document_counts(converted):
    out, reports, _ = converted
    assert reports["train"].documents == 746
    assert reports["dev"].documents == 94
    assert len(read_corpus(out / "dev.spacy")) == 94


@pytest.mark.parametrize("split", ["train", "dev"])
def test_every_t_line_accounted_for(converted, split):
    _, reports, _ = converted
    report = reports[split]
    t_lines, _ = gold_mentions(split)
    dropped = sum(report.entities_dropped.values())
    assert report.entity_lines == t_lines
    assert report.entities_kept + dropped == t_lines
    assert report.unaccounted_entities == 0
    # What NEREL v1.1 actually holds: repeated spans only, no broken offsets.
    assert set(report.entities_dropped) <= {"duplicate"}


def test_relation_labels(converted):
    out, reports, _ = converted
    schema = load_schema(NEREL_DIR)
    assert len(schema.relation_types) == 49
    doc = read_corpus(out / "dev.spacy")[0]
    assert list(doc.cats) == list(schema.relation_types)
    labels = set()
    for ann in (NEREL_DIR / "train").glob("*.ann"):
        labels.update(re.findall(r"^R\d+\t(\S+) ", ann.read_text(encoding="utf-8"), re.M))
    assert labels == set(schema.relation_types)


def test_exact_offsets(converted):
    """At least 99% of gold mentions sit at exactly their character offsets."""
    out, _, _ = converted
    exact = total = 0
    for split in ("train", "dev"):
        _, mentions = gold_mentions(split)
        spans = Counter()
        for doc in read_corpus(out / f"{split}.spacy"):
            doc_id = doc.user_data["nerel_doc_id"]
            spans.update(
                (doc_id, span.label_, span.start_char, span.end_char)
                for span in doc.spans[SPANS_KEY]
            )
        total += len(mentions)
        exact += sum(1 for mention in mentions if spans[mention])
    share = exact / total
    print(f"\nexact character offsets: {exact}/{total} = {share:.4%}")
    assert share >= 0.99


def test_reports_match_corpus_and_warnings(converted):
    _, reports, _ = converted
    train = reports["train"]
    kinds = train.warning_counts()
    # The stray text line of 21013_text.ann is reported with its line number.
    stray = train.first_warnings()["malformed_line"]
    assert stray.path.endswith("21013_text.ann") and stray.line == 52
    assert "text_mismatch" not in kinds  # out-of-order fragments are read right
    assert train.entities_discontinuous + reports["dev"].entities_discontinuous >= 127


def test_tokenizer_beats_plain_russian_without_over_splitting():
    """Measured on train+dev: fewer expanded entities, at most a few % more tokens."""
    ours, plain = make_blank_nlp(), spacy.blank("ru")
    counts = {"ours": [0, 0], "plain": [0, 0]}
    for split in ("train", "dev"):
        _, mentions = gold_mentions(split)
        by_doc = {}
        for doc_id, _, start, end in mentions:
            by_doc.setdefault(doc_id, []).append((start, end))
        for doc_id, offsets in by_doc.items():
            text = read_text(NEREL_DIR / split / f"{doc_id}.txt")
            for name, nlp in (("ours", ours), ("plain", plain)):
                doc = nlp.make_doc(text)
                counts[name][0] += len(doc)
                counts[name][1] += sum(doc.char_span(s, e) is None for s, e in offsets)
    print(f"\ntokens/misaligned: plain {counts['plain']}, nerel tokenizer {counts['ours']}")
    assert counts["ours"][1] * 5 < counts["plain"][1]
    assert counts["ours"][0] < counts["plain"][0] * 1.03
