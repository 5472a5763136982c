"""The subject-marked relation classifier on a tiny random BERT: batches, and an overfit."""
import random

import numpy
import pytest

from nerel_spacy.gold_targets import gold_relations
from nerel_spacy.relation_markers import SubjectPass, pass_triples, subject_passes
from nerel_spacy.sentences import sentence_ids

from conftest import make_nested_examples

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ENTITY_LABELS = ["CITY", "COUNTRY", "DATE", "ORGANIZATION", "PERSON", "PROFESSION", "STATE_OR_PROVINCE"]
RELATION_LABELS = ["LOCATED_IN", "WORKS_AS"]


def nested_passes(nlp):
    examples = make_nested_examples(nlp)
    gold = gold_relations(examples, ENTITY_LABELS, RELATION_LABELS, "nerel")
    passes = []
    for d, (eg, doc_gold) in enumerate(zip(examples, gold)):
        passes.extend(subject_passes(d, sentence_ids(eg.predicted), doc_gold.mentions, doc_gold.triples, 2))
    tokens = [[t.text for t in eg.predicted] for eg in examples]
    return passes, tokens, [g.mentions for g in gold]


def test_length_batches_keep_every_pass_once():
    from nerel_spacy.relation_markers_model import length_batches

    passes = [SubjectPass(i, (0, 1 + i % 7), 0, (1,), numpy.zeros((1, 1))) for i in range(50)]
    batches = length_batches(passes, 4, random.Random(0), pool=3)
    assert all(len(batch) <= 4 for batch in batches)
    assert sorted(one.doc for batch in batches for one in batch) == list(range(50))


def test_make_batch_points_at_the_markers_and_objects(blank_ru, tiny_bert_dir):
    from transformers import AutoTokenizer

    from nerel_spacy.relation_markers_model import make_batch

    passes, tokens, mentions = nested_passes(blank_ru)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    batch = make_batch(tokenizer, passes, tokens, mentions, ENTITY_LABELS)
    ids = batch.inputs["input_ids"]
    at = tokenizer.convert_tokens_to_ids("@")
    for i, kept in enumerate(batch.kept):
        assert kept is not None and ids[i, kept.subject[0]] == at and ids[i, kept.subject[1]] == at
    assert len(batch.objects) == sum(len(one.objects) for one in passes) == len(batch.targets)
    assert batch.targets.sum() == 2  # the two in-sentence gold triples; the third crosses sentences


@pytest.mark.slow
def test_overfit_predicts_the_in_sentence_triples_exactly(blank_ru, tiny_bert_dir):
    """A nested argument (the country inside the bank) and a person's post, from 3 docs."""
    from transformers import AutoModel, AutoTokenizer

    from nerel_spacy.relation_markers_model import (
        build_classifier, make_batch, predict_probabilities, train_classifier,
    )

    torch.manual_seed(0)
    passes, tokens, mentions = nested_passes(blank_ru)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    model = build_classifier(AutoModel.from_pretrained(str(tiny_bert_dir)), len(ENTITY_LABELS), 2,
                             width=32, type_width=8, dropout=0.0)

    def make(batch):
        return make_batch(tokenizer, batch, tokens, mentions, ENTITY_LABELS)

    trained = train_classifier(model, lambda: [passes], make, epochs=80, learn_rate=1e-3, head_learn_rate=1e-2)
    assert trained["steps"] == 80 and not model.training
    batch = make(passes)
    found = set()
    for one, kept, probs in zip(passes, batch.kept, predict_probabilities(model, batch)):
        found.update((one.doc, *t[:3]) for t in pass_triples(one, kept.objects, probs, 0.5))
    assert found == {(0, 2, 0, 1), (1, 0, 1, 0)}  # Лавров WORKS_AS министр; Банк России LOCATED_IN России


@pytest.mark.slow
def test_a_time_budget_cuts_the_plan(blank_ru, tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer

    from nerel_spacy.relation_markers_model import build_classifier, make_batch, train_classifier

    passes, tokens, mentions = nested_passes(blank_ru)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    model = build_classifier(AutoModel.from_pretrained(str(tiny_bert_dir)), len(ENTITY_LABELS), 2, width=8)
    steps = []
    trained = train_classifier(model, lambda: [passes[:2], passes[2:]], lambda b: make_batch(
        tokenizer, b, tokens, mentions, ENTITY_LABELS), epochs=1000, learn_rate=1e-4, head_learn_rate=1e-3,
        seconds=1e-6, on_step=lambda step, planned, loss: steps.append((step, planned)))
    assert trained["steps"] == trained["planned_steps"] == 20 and steps[-1] == (20, 20)
