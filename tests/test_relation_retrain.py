"""nerel_spacy.relation_retrain: a relation head trained on cached vectors and put into a pipeline."""
import numpy
import pytest
import spacy
from thinc.api import fix_random_seed

from nerel_spacy import relation_retrain as rr
from nerel_spacy.models import joint as joint_model

from pipeline_helpers import triples, v3_trained_on_nested

V4 = {"@architectures": "nerel.RelationScorer.v4", "max_distance": 16, "hidden_width": 64, "context_width": 16,
      "structure_width": 8, "prior": 0.01}


@pytest.fixture(scope="module")
def briefly_trained():
    """A v3 CNN pipeline whose other heads have learned the three docs, and its examples."""
    return v3_trained_on_nested(40)


def fresh_v4(joint, vectors, gold):
    fix_random_seed(0)  # the head's start and the epochs' order, whatever ran before in this process
    head = rr.build_relation_head(V4, len(joint.entity_labels), len(joint.cats_labels))
    head.initialize(X=([v.astype("float32") for v in vectors], [g.mentions for g in gold]))
    return head


def test_cached_vectors_are_what_the_heads_read(briefly_trained):
    nlp, examples = briefly_trained
    vectors = rr.encode_token_vectors(nlp, examples, batch_size=2)
    joint = nlp.get_pipe("nerel_joint")
    with joint_model.tokens_exposed(joint.model):
        tokens = joint.model.predict([eg.predicted for eg in examples])[joint_model.TOKENS]
    assert [v.dtype for v in vectors] == [numpy.float16] * 3
    for cached, read in zip(vectors, tokens):
        numpy.testing.assert_allclose(cached, read, rtol=1e-2, atol=1e-2)  # float16 rounding


def test_vectors_survive_the_cache_folder(briefly_trained, tmp_path):
    nlp, examples = briefly_trained
    vectors = rr.encode_token_vectors(nlp, examples)
    rr.save_vectors(tmp_path, "train", vectors)
    loaded = rr.load_vectors(tmp_path, "train")
    assert len(loaded) == len(vectors) == len(examples)
    for a, b in zip(loaded, vectors):
        numpy.testing.assert_array_equal(a, b)


def test_a_fresh_v4_head_learns_every_triple_and_its_best_epoch_is_kept(briefly_trained):
    nlp, examples = briefly_trained
    joint = nlp.get_pipe("nerel_joint")
    vectors = rr.encode_token_vectors(nlp, examples)
    gold = rr.gold_relations(examples, joint.entity_labels, joint.cats_labels, "nerel")
    head = fresh_v4(joint, vectors, gold)

    def evaluate():
        return rr.score_relation_head(head, examples, vectors, joint.entity_labels, joint.cats_labels, 0.5, "nerel")

    seen = []
    curve = rr.train_relation_head(head, vectors, gold, epochs=60, evaluate=evaluate, batch_size=3,
                                   learn_rate=0.01, on_epoch=seen.append)
    assert seen == curve and [entry["epoch"] for entry in curve] == list(range(61))
    assert curve[0]["dev"]["relations_gold_f"] < 1.0 and curve[-1]["loss"] < curve[1]["loss"]
    best = max(entry["dev"]["relations_gold_f"] for entry in curve)
    assert best == 1.0  # the three docs' triples, the cross-sentence and the nested one included
    assert evaluate()["relations_gold_f"] == best  # left at its best epoch


def test_bad_training_settings_are_refused(briefly_trained):
    with pytest.raises(ValueError, match="epochs"):
        rr.train_relation_head(None, [], [], epochs=0, evaluate=dict)


def test_the_new_head_goes_into_a_pipeline_that_keeps_everything_else(briefly_trained, tmp_path):
    nlp, examples = briefly_trained
    joint = nlp.get_pipe("nerel_joint")
    vectors = rr.encode_token_vectors(nlp, examples)
    gold = rr.gold_relations(examples, joint.entity_labels, joint.cats_labels, "nerel")
    head = fresh_v4(joint, vectors, gold)
    rr.train_relation_head(head, vectors, gold, epochs=30, batch_size=3, learn_rate=0.01,
                           evaluate=lambda: rr.score_relation_head(head, examples, vectors, joint.entity_labels,
                                                                   joint.cats_labels, 0.5, "nerel"))
    swapped = rr.with_relation_head(nlp, V4, head)
    assert swapped.config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == \
        "nerel.RelationScorer.v4"
    assert nlp.config["components"]["nerel_joint"]["model"]["relation_head"]["@architectures"] == \
        "nerel.RelationScorer.v1"  # the source is untouched
    texts = [eg.predicted.text for eg in examples]
    before, after = list(nlp.pipe(texts)), list(swapped.pipe(texts))
    for old, new in zip(before, after):
        assert [(e.start, e.end, e.label_) for e in old.ents] == [(e.start, e.end, e.label_) for e in new.ents]
        assert [(s.start, s.end, s.label_) for s in old.spans["nerel"]] == \
            [(s.start, s.end, s.label_) for s in new.spans["nerel"]]
        assert old.cats.keys() == new.cats.keys()
    new_joint = swapped.get_pipe("nerel_joint")
    assert new_joint.relation_head.to_bytes() == head.to_bytes()  # the relations are the new head's
    swapped.to_disk(tmp_path / "swapped")
    loaded = spacy.load(tmp_path / "swapped")
    assert [triples(doc) for doc in loaded.pipe(texts)] == [triples(doc) for doc in after]
    assert new_joint.cfg["entity_labels"] == joint.cfg["entity_labels"]


def test_a_pipeline_without_a_relation_head_is_refused():
    from pipeline_helpers import cnn_nlp

    nlp = cnn_nlp()  # nerel.JointTagCat.v2: no relation head
    with pytest.raises(ValueError, match="no relation head"):
        rr.with_relation_head(nlp, V4, None)


def test_dev_scores_decode_nested_arguments_as_the_pipeline_does():
    """With ``nested_arguments="best"`` only the better variant of a nest is a triple, as in
    ``nerel-batch evaluate``: here the gold PERSON → "МИД России" and not PERSON → "МИД".
    A stub head scores the pairs, so nothing is trained."""
    from spacy.tokens import Span
    from spacy.training import Example
    from thinc.api import Model

    from nerel_spacy.relation_decoding import enumerate_pairs

    def forward(model, inputs, is_train):
        scores = {(0, 1): 2.0, (0, 2): 1.0}  # both above 0.5; the nested variant lower
        found = []
        for mentions in inputs[1]:
            heads, tails = enumerate_pairs(mentions, 10)
            found.append(numpy.asarray([[scores.get(pair, -10.0)] for pair in zip(heads.tolist(), tails.tolist())],
                                       dtype="float32"))
        return found, None

    head = Model("stub", forward, attrs={"max_distance": 10})
    nlp = spacy.blank("ru")
    text = "Сергей Лавров возглавляет МИД России ."
    reference = nlp.make_doc(text)
    reference.spans["nerel"] = [Span(reference, 0, 2, "PERSON"), Span(reference, 3, 5, "ORGANIZATION"),
                                Span(reference, 3, 4, "ORGANIZATION")]
    reference._.relations = [{"head": 0, "tail": 1, "label": "WORKPLACE"}]
    examples, vectors = [Example(nlp.make_doc(text), reference)], [numpy.zeros((6, 4), dtype="float32")]
    labels = (["ORGANIZATION", "PERSON"], ["WORKPLACE"])
    every = rr.score_relation_head(head, examples, vectors, *labels, 0.5, "nerel")
    best = rr.score_relation_head(head, examples, vectors, *labels, 0.5, "nerel", nested_arguments="best")
    assert (every["relations_gold_insent_p"], every["relations_gold_insent_r"]) == (0.5, 1.0)
    assert (best["relations_gold_insent_p"], best["relations_gold_insent_r"]) == (1.0, 1.0)
