"""nerel_joint with a relation head (nerel.JointTagCat.v3): training, triples, cats, round trips."""
import numpy
import pytest
import spacy

from nerel_spacy.scoring_relations import relation_triples, score_relations_with_gold_mentions
from nerel_spacy.spans import get_relations

from conftest import NESTED_RELATIONS, make_nested_examples
from pipeline_helpers import V3_MODEL, V3_SCORER, cnn_nlp, train, triples, v3_nlp, v3_trained_on_nested

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A v3 pipeline overfit on the three nested docs, and its saved copy's path."""
    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    history = train(nlp, examples, 120)
    path = tmp_path_factory.mktemp("v3") / "model"
    nlp.to_disk(path)
    return nlp, examples, history, path


@pytest.mark.slow
def test_cnn_overfit_predicts_every_triple_exactly(trained):
    nlp, examples, history, _ = trained
    assert history[-1]["nerel_joint_relations"] < history[0]["nerel_joint_relations"] / 10
    assert set(nlp.get_pipe("nerel_joint").cfg["sigmas"]) == {"ner", "spans", "cats", "relations"}
    for example, gold in zip(examples, NESTED_RELATIONS):
        doc = nlp(example.reference.text)
        assert triples(doc) == triples(example.reference) and len(gold) == len(get_relations(doc))
        assert all(0.5 <= r["score"] <= 1.0 for r in get_relations(doc))
    # one nested argument (Банк [России]) and one pair across sentences (Газпром … Петербурге)
    assert (((0, 2, "ORGANIZATION"), (1, 2, "COUNTRY")), "LOCATED_IN") in triples(nlp(examples[1].reference.text))
    assert (((0, 1, "ORGANIZATION"), (10, 11, "CITY")), "LOCATED_IN") in triples(nlp(examples[2].reference.text))
    scores = nlp.evaluate(examples)
    assert scores["relations_f"] == 1.0 and scores["spans_nerel_f"] == 1.0
    assert scores["relations_per_type"]["LOCATED_IN"]["f"] == 1.0
    gold_mentions = score_relations_with_gold_mentions(nlp, examples)
    assert gold_mentions["relations_gold_f"] == 1.0
    assert gold_mentions["relations_gold_insent_r"] == 1.0  # two of the three are in-sentence
    # nlp.evaluate (spacy evaluate, training's dev scores) carries the same gold-mention scores
    for key in ("relations_gold_f", "relations_gold_insent_f", "relations_gold_insent_p"):
        assert scores[key] == gold_mentions[key]


@pytest.mark.slow
def test_saved_pipeline_predicts_the_same_triples(trained):
    nlp, examples, _, path = trained
    loaded = spacy.load(path)
    assert loaded.get_pipe("nerel_joint").tasks == ("ner", "spans", "cats", "relations")
    for example in examples:
        a, b = nlp(example.reference.text), loaded(example.reference.text)
        assert [r["score"] for r in get_relations(a)] == pytest.approx([r["score"] for r in get_relations(b)])
        assert relation_triples(a) == relation_triples(b)


@pytest.mark.slow
def test_relation_scorer_v2_overfits_and_round_trips(tmp_path):
    """The v2 head (interaction, one hidden layer) learns every triple and saves and loads."""
    relation_head = {"@architectures": "nerel.RelationScorer.v2", "max_distance": 16, "hidden_width": 64,
                     "interaction": True, "depth": 1}
    nlp = cnn_nlp(model={**V3_MODEL, "relation_head": relation_head}, scorer=V3_SCORER)
    examples = make_nested_examples(nlp)
    train(nlp, examples, 120)
    for example in examples:
        assert triples(nlp(example.reference.text)) == triples(example.reference)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    for example in examples:
        a, b = nlp(example.reference.text), loaded(example.reference.text)
        assert [r["score"] for r in get_relations(a)] == pytest.approx([r["score"] for r in get_relations(b)])
        assert relation_triples(a) == relation_triples(b)


@pytest.mark.slow
def test_cats_can_come_from_the_triples(trained):
    nlp, examples, _, path = trained
    from_triples = spacy.load(path, config={"components": {"nerel_joint": {"cats_source": "triples"}}})
    both = spacy.load(path, config={"components": {"nerel_joint": {"cats_source": "max"}}})
    for example in examples:
        text = example.reference.text
        doc_cats, triple_cats, max_cats = nlp(text).cats, from_triples(text).cats, both(text).cats
        relation_types = {r["label"] for r in example.reference._.relations}
        assert {label for label, score in triple_cats.items() if score >= 0.5} == relation_types
        for label in doc_cats:
            assert max_cats[label] == pytest.approx(max(doc_cats[label], triple_cats[label]))


@pytest.mark.slow
def test_relation_threshold_is_a_setting(trained):
    _, examples, _, path = trained
    strict = spacy.load(path, config={"components": {"nerel_joint": {"relation_threshold": 1.0}}})
    loose = spacy.load(path, config={"components": {"nerel_joint": {"relation_threshold": 0.0}}})
    kept = [r for eg in examples for r in get_relations(strict(eg.reference.text))]
    every = [r for eg in examples for r in get_relations(loose(eg.reference.text))]
    assert all(r["score"] >= 1.0 for r in kept) and len(kept) < len(every)
    with pytest.raises(ValueError, match="relation_threshold is a probability, from 0 to 1, not 1.01"):
        spacy.load(path, config={"components": {"nerel_joint": {"relation_threshold": 1.01}}})


def test_get_loss_accepts_model_predict_outputs_and_update_trains_the_relation_head():
    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("nerel_joint")
    outputs = pipe.model.predict([eg.predicted for eg in examples])
    assert "tokens" in outputs and "relations" not in outputs
    total, gradients = pipe.get_loss(examples, outputs)
    assert set(gradients) >= {"ner", "spans", "cats", "relations", "log_variances"}
    assert [g.shape[0] for g in gradients["relations"]] == [12, 12, 6]  # 4, 4, 3 gold mentions
    assert not pipe.model.get_ref("relation_output").get_param("W").any()  # zero-initialised
    losses = pipe.update(examples, drop=0.0, sgd=nlp.create_optimizer())
    assert losses["nerel_joint"] == pytest.approx(total, rel=1e-5)
    assert losses["nerel_joint_relations"] == pytest.approx(gradients["task_losses"]["relations"], rel=1e-5)
    assert pipe.model.get_ref("relation_output").get_param("W").any()


def test_fixed_weights_include_the_relation_task():
    nlp = v3_nlp(loss_weighting="fixed", fixed_weights={"ner": 1.0, "spans": 1.0, "cats": 1.0, "relations": 2.0})
    first = train(nlp, make_nested_examples(nlp), 1)[0]
    expected = sum(first[f"nerel_joint_{t}"] for t in ("ner", "spans", "cats")) + 2 * first["nerel_joint_relations"]
    assert first["nerel_joint"] == pytest.approx(expected, rel=1e-5)


def test_docs_without_gold_relations_teach_no_relations():
    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("nerel_joint")
    for eg in examples:
        eg.reference._.relations = None
    _, gradients = pipe.get_loss(examples, pipe.model.predict([eg.predicted for eg in examples]))
    assert gradients["task_losses"]["relations"] == 0.0
    assert all(not g.any() for g in gradients["relations"])


def test_cats_from_triples_needs_a_relation_head():
    with pytest.raises(ValueError, match="relation head"):
        cnn_nlp(cats_source="triples")
    with pytest.raises(ValueError, match="cats_source"):
        v3_nlp(cats_source="magic")


def test_v2_pipelines_write_no_relations():
    nlp = cnn_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 2)
    assert nlp.get_pipe("nerel_joint").relation_head is None
    doc = nlp(examples[0].reference.text)
    assert doc._.relations is None
    with pytest.raises(ValueError, match="no relation head"):
        nlp.get_pipe("nerel_joint").predict_relations([doc], [numpy.zeros((0, 3), dtype="int32")])


def test_empty_docs_and_docs_without_mentions():
    nlp = v3_nlp()
    examples = make_nested_examples(nlp)
    train(nlp, examples, 2)
    docs = list(nlp.pipe(["", "Привет", examples[0].reference.text]))
    assert get_relations(docs[0]) == [] and get_relations(docs[1]) == []
    # a batch of docs without a word: the attribute itself is [], as in a mixed batch
    for doc in nlp.pipe(["", " \n "]):
        assert doc._.relations == [] and len(doc.spans["nerel"]) == 0 and set(doc.cats.values()) == {0.0}


@pytest.mark.parametrize("threshold", [0.05, 0.5, 0.9])
def test_predict_relations_decodes_as_if_every_pair_were_scored(threshold):
    """Only pairs near the threshold get a probability, and each type's best is its best logit's."""
    from nerel_spacy.models.loss import sigmoid
    from nerel_spacy.models.relations import RELATION_OUTPUT, build_relation_scorer
    from nerel_spacy.pipeline.relations import predict_relations
    from nerel_spacy.relation_decoding import decode_relations, enumerate_pairs

    rng = numpy.random.default_rng(3)
    head = build_relation_scorer(max_distance=5, hidden_width=8, nO=6, n_entity_types=3)
    vectors = [rng.normal(size=(n, 4)).astype("float32") for n in (12, 3)]
    mentions = [numpy.asarray([[0, 2, 0], [1, 2, 1], [3, 5, 2], [6, 7, 0], [10, 12, 1]], dtype="int32"),
                numpy.asarray([[0, 1, 0]], dtype="int32")]
    head.initialize(X=(vectors, mentions))
    output = head.get_ref(RELATION_OUTPUT)
    output.set_param("W", rng.normal(scale=3.0, size=output.get_param("W").shape).astype("float32"))
    relations, best = predict_relations(head, vectors, [0, 2], mentions, 3, threshold, 6)
    logits = head.predict((vectors, mentions))[0]
    probs = sigmoid(head.ops, logits)
    heads, tails = enumerate_pairs(mentions[0], 5)
    assert relations[0] == decode_relations(probs, heads, tails, threshold)
    assert relations[1] == relations[2] == []
    numpy.testing.assert_array_equal(best[0], probs.max(axis=0).astype("float32"))
    assert not best[1].any() and not best[2].any()


def test_nested_arguments_best_keeps_one_triple_of_each_nest(tmp_path):
    """``nested_arguments = "best"`` is ``best_of_nested_variants`` over the triples of "all",
    in predict and with gold mentions alike, and a load-time setting."""
    from nerel_spacy.pipeline.relations import decoded_mentions
    from nerel_spacy.relation_decoding import best_of_nested_variants

    nlp, examples = v3_trained_on_nested(60)
    pipe = nlp.get_pipe("nerel_joint")
    pipe.cfg["relation_threshold"] = 0.02  # many triples, nested rivals among them
    docs = [nlp.make_doc(eg.reference.text) for eg in examples]
    every = pipe.predict(docs)
    pipe.cfg["nested_arguments"] = "best"
    best = pipe.predict(docs)
    assert sum(len(r) for r in every.relations) > 0
    for i, spans in enumerate(every.spans):
        assert best.relations[i] == best_of_nested_variants(every.relations[i], decoded_mentions(spans))
    numpy.testing.assert_array_equal(best.triple_cat_probs, every.triple_cat_probs)
    # given mentions with a nest ("Министр иностранных дел России" around "России"), every
    # pair and type decoded: the person's triples to the two nested mentions compete
    mentions = [numpy.asarray([[0, 4, 0], [3, 4, 1], [4, 6, 2]], dtype="int32")] * len(docs)
    pipe.cfg["relation_threshold"] = 0.0
    pipe.cfg["nested_arguments"] = "all"
    gold_all = pipe.predict_relations(docs, mentions)
    pipe.cfg["nested_arguments"] = "best"
    gold_best = pipe.predict_relations(docs, mentions)
    assert gold_best == [best_of_nested_variants(r, mentions[0]) for r in gold_all]
    assert sum(map(len, gold_best)) < sum(map(len, gold_all))
    pipe.cfg["nested_arguments"] = "all"
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m", config={"components": {"nerel_joint": {"nested_arguments": "best"}}})
    assert loaded.get_pipe("nerel_joint").cfg["nested_arguments"] == "best"
    assert spacy.load(tmp_path / "m").get_pipe("nerel_joint").cfg["nested_arguments"] == "all"
    with pytest.raises(ValueError, match=r"nested_arguments must be one of \('all', 'best'\), not 'one'"):
        v3_nlp(nested_arguments="one")
