"""Tiny float32 transformer pipelines on disk, for the quantize and benchmark tests.

The pipelines are the ones ``test_pipeline_joint`` trains (tiny random BERT from
``conftest.tiny_bert_dir``, configs/joint_trf.cfg with small windows), trained for a
few steps so the heads are not all zero, and a gold ``.spacy`` file of the fixture texts.
"""
from pathlib import Path

from spacy.tokens import DocBin

from conftest import make_examples
from pipeline_helpers import cnn_nlp, train, trf_nlp

TRAIN_STEPS = 8


def save_trained_trf(bert_dir: Path, path: Path, inline: bool = False) -> Path:
    """Train the tiny transformer pipeline briefly and save it to ``path``."""
    nlp = trf_nlp(bert_dir, inline=inline)
    train(nlp, make_examples(nlp), TRAIN_STEPS)
    nlp.to_disk(path)
    return path


def save_trained_cnn(path: Path) -> Path:
    """The CNN-only joint pipeline (nothing to quantize), trained briefly and saved."""
    nlp = cnn_nlp()
    train(nlp, make_examples(nlp), 2)
    nlp.to_disk(path)
    return path


def save_gold_corpus(path: Path, copies: int = 1) -> Path:
    """The fixture texts with gold entities and cats as a ``.spacy`` file."""
    from spacy.lang.ru import Russian

    doc_bin = DocBin(store_user_data=True)
    for _ in range(copies):
        for example in make_examples(Russian()):
            doc_bin.add(example.reference)
    doc_bin.to_disk(path)
    return path
