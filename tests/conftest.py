"""Shared fixtures: tiny joint-training examples and a tiny random BERT built on the spot.

Nothing is downloaded: the BERT and its WordPiece tokenizer are made from the
fixture texts, so the transformer tests run offline and in seconds.
"""
import re
import sys
from pathlib import Path
from typing import List

import pytest
import spacy
from spacy.tokens import Span
from spacy.training import Example

REPO_ROOT = Path(__file__).resolve().parents[1]
NEREL_DIR = REPO_ROOT.parent / "shared" / "data" / "nerel"
# The checks against the full corpus run where a NEREL copy with train/ and dev/ sits beside the repository.
needs_nerel = pytest.mark.skipif(
    not all((NEREL_DIR / split).is_dir() for split in ("train", "dev")),
    reason=f"NEREL corpus (train/ and dev/) not found at {NEREL_DIR}",
)


def pyproject() -> dict:
    """pyproject.toml's ``[project]`` table (tomllib from Python 3.11, tomli before)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf8"))["project"]

# (tokens joined by spaces, entity token spans, relation types present)
TINY_DOCS = [
    (
        "Барак Обама приехал в Москву в январе .",
        [(0, 2, "PERSON"), (4, 5, "CITY"), (5, 7, "DATE")],
        {"WORKS_AS": 0.0, "LOCATED_IN": 1.0, "POINT_IN_TIME": 1.0},
    ),
    (
        "Министр Сергей Лавров посетил Китай .",
        [(0, 1, "PROFESSION"), (1, 3, "PERSON"), (4, 5, "COUNTRY")],
        {"WORKS_AS": 1.0, "LOCATED_IN": 0.0, "POINT_IN_TIME": 0.0},
    ),
    (
        "Компания Газпром заработала 8 млн долларов в 2017 году .",
        [(1, 2, "ORGANIZATION"), (3, 6, "MONEY"), (6, 9, "DATE")],
        {"WORKS_AS": 0.0, "LOCATED_IN": 0.0, "POINT_IN_TIME": 1.0},
    ),
]


# Nested mentions: (tokens joined by spaces, every mention as a token span, relation types).
NESTED_DOCS = [
    (
        "Министр иностранных дел России Сергей Лавров прилетел в Москву .",
        [(0, 4, "PROFESSION"), (3, 4, "COUNTRY"), (4, 6, "PERSON"), (8, 9, "CITY")],
        {"WORKS_AS": 1.0, "LOCATED_IN": 0.0},
    ),
    (
        "Банк России повысил ставку , сообщил губернатор Московской области .",
        [(0, 2, "ORGANIZATION"), (1, 2, "COUNTRY"), (6, 9, "PROFESSION"), (7, 9, "STATE_OR_PROVINCE")],
        {"WORKS_AS": 0.0, "LOCATED_IN": 1.0},
    ),
    (
        "Газпром открыл офис в 2017 году . Офис находится в Петербурге .",
        [(0, 1, "ORGANIZATION"), (4, 6, "DATE"), (10, 11, "CITY")],
        {"WORKS_AS": 0.0, "LOCATED_IN": 1.0},
    ),
]
# Gold relations of NESTED_DOCS, (head, tail, type) indexing each doc's mentions: a
# person and the post that nests a country; an organization and the country nested in
# it; and an organization and a city one sentence later.
NESTED_RELATIONS = [
    [(2, 0, "WORKS_AS")],
    [(0, 1, "LOCATED_IN")],
    [(0, 2, "LOCATED_IN")],
]


@pytest.fixture(autouse=True)
def no_process_wide_ops_change():
    """A test may not leave thinc's current ops changed: later tests in the same worker would
    predict with other kernels (the Ray tests compare in-process predictions with fresh
    processes'). Tests that switch them on purpose restore them (test_ops.py)."""
    from thinc.api import get_current_ops

    before = get_current_ops()
    yield
    assert get_current_ops() is before, "the test changed thinc's current ops and did not restore them"


def model_weights(model) -> list:
    """Every weight of a thinc model as numpy: its own params and its PyTorch shims'."""
    weights = []
    for node in model.walk():
        weights += [node.get_param(name) for name in node.param_names if node.has_param(name)]
        for shim in node.shims:
            weights += [tensor.detach().numpy() for tensor in shim._model.state_dict().values()]
    return weights


BOX_DRAWING = re.compile("[\u2500-\u257f]")


def unwrapped(output: str) -> str:
    """A console's output as one line: no box borders, every run of whitespace one space, so
    a check doesn't depend on where a long tmp path made the console wrap."""
    return " ".join(BOX_DRAWING.sub(" ", output).split())


MENTIONS_TEXT = "Министр иностранных дел России Сергей Лавров прилетел в Москву"


def assert_annotates(nlp, text: str = "Путин посетил Москву.") -> None:
    """``nlp`` runs end to end on ``text``: every relation type scored in [0, 1], a span group
    of mentions, and relations indexing it (when the pipeline predicts them)."""
    doc = nlp(text)
    joint = nlp.get_pipe("nerel_joint")
    assert set(doc.cats) == set(joint.cats_labels) and joint.cats_labels
    assert all(0.0 <= score <= 1.0 for score in doc.cats.values())
    mentions = doc.spans[joint.cfg["spans_key"]]
    assert all(0 <= span.start < span.end <= len(doc) for span in mentions)
    for relation in (doc._.relations or []) if doc.has_extension("relations") else []:
        assert 0 <= relation["head"] < len(mentions) and 0 <= relation["tail"] < len(mentions)


def mention_example(gold, predicted) -> Example:
    """An Example over MENTIONS_TEXT whose spans["nerel"] hold the ``(start, end, label)`` token
    spans ``gold`` (reference) and ``predicted``."""
    nlp = spacy.blank("ru")
    ref, pred = nlp.make_doc(MENTIONS_TEXT), nlp.make_doc(MENTIONS_TEXT)
    ref.spans["nerel"] = [Span(ref, s, e, label=lab) for s, e, lab in gold]
    pred.spans["nerel"] = [Span(pred, s, e, label=lab) for s, e, lab in predicted]
    return Example(pred, ref)


def make_nested_examples(nlp) -> List[Example]:
    """Gold examples for NESTED_DOCS: every mention in spans["nerel"], the outermost in ents,
    the relations of NESTED_RELATIONS in ``_.relations``."""
    from nerel_spacy.spans import select_flat_entities

    examples = []
    for (text, mentions, cats), relations in zip(NESTED_DOCS, NESTED_RELATIONS):
        predicted = nlp.make_doc(text)
        reference = nlp.make_doc(text)
        assert len(reference) == len(text.split()), text
        reference.spans["nerel"] = [Span(reference, s, e, label=lab) for s, e, lab in mentions]
        reference.ents = select_flat_entities(reference.spans["nerel"])
        reference.cats = dict(cats)
        reference._.relations = [{"head": h, "tail": t, "label": label} for h, t, label in relations]
        examples.append(Example(predicted, reference))
    return examples


def save_fixture_vectors(path: Path, width: int = 6, seed: int = 0) -> Path:
    """A static vectors pipeline over the fixture texts' words, lower-cased as navec's are."""
    import numpy
    import spacy

    nlp = spacy.blank("ru")
    rng = numpy.random.default_rng(seed)
    for word in sorted({word.lower() for text, _, _ in TINY_DOCS for word in text.split()}):
        nlp.vocab.set_vector(word, rng.normal(size=width).astype("float32"))
    nlp.to_disk(path)
    return path


def make_examples(nlp) -> List[Example]:
    """Gold examples for TINY_DOCS, tokenized by ``nlp``'s tokenizer."""
    examples = []
    for text, ents, cats in TINY_DOCS:
        predicted = nlp.make_doc(text)
        reference = nlp.make_doc(text)
        reference.ents = [Span(reference, s, e, label=label) for s, e, label in ents]
        reference.spans["nerel"] = list(reference.ents)
        reference.cats = dict(cats)
        examples.append(Example(predicted, reference))
    return examples


def tiny_trf_config(bert_dir: Path, **overrides):
    """configs/joint_trf.cfg over the tiny BERT, on 8/6 windows, with dotted ``overrides``."""
    from spacy.util import load_config

    settings = {
        "paths.encoder": str(bert_dir),
        "components.transformer.model.get_spans.window": 8,
        "components.transformer.model.get_spans.stride": 6,
        **overrides,
    }
    return load_config(REPO_ROOT / "configs" / "joint_trf.cfg", overrides=settings, interpolate=True)


@pytest.fixture
def blank_ru():
    return spacy.blank("ru")


@pytest.fixture
def tiny_examples(blank_ru):
    return make_examples(blank_ru)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT with a WordPiece tokenizer trained on the fixture texts."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    corpus = [text for text, _, _ in TINY_DOCS] * 5 + ["Нью-Йорк Вашингтон Путин Россия 2020"]
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=False)
    fast.save_pretrained(str(path))
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(path))
    return path
