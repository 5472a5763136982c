"""The relation head's structural pair features: hand-counted values, gradients, and v4."""
import numpy
import pytest

from nerel_spacy.models.pair_structure import (
    N_DEPTH, N_RIVALS, build_pair_structure, containers, pair_structure,
)
from nerel_spacy.models.relations import build_relation_scorer_v4
from nerel_spacy.relation_decoding import enumerate_pairs


PER, PROFESSION, ORG = 0, 1, 2
# "министр Лавров и глава МИД Китая Ван И": two posts, two people, an organisation nested in a post.
SENTENCE = numpy.asarray([
    [0, 1, PROFESSION],  # министр
    [1, 2, PER],  # Лавров
    [3, 6, PROFESSION],  # глава МИД Китая
    [4, 6, ORG],  # МИД Китая
    [5, 6, ORG],  # Китая (inside both)
    [6, 8, PER],  # Ван И
], dtype="int32")


def features_of(mentions, pairs):
    heads, tails = (numpy.asarray(x) for x in zip(*pairs))
    return pair_structure(mentions, heads, tails)


def test_mentions_between_and_rivals_of_each_arguments_type_are_counted():
    # Лавров → Ван И: between them "глава МИД Китая" and the two ORGs inside it: 3 mentions,
    # no other PER, so neither argument has a rival.
    found = features_of(SENTENCE, [(1, 5), (0, 5), (0, 2)])
    between, head_rivals, tail_rivals, _ = found[0]
    assert between == 3 and head_rivals == PER * N_RIVALS and tail_rivals == PER * N_RIVALS
    # министр → Ван И: Лавров (a PER, the tail's rival) and the three mentions of the post.
    between, head_rivals, tail_rivals, _ = found[1]
    assert between == 3  # 4 mentions: the "3-4" bucket
    assert head_rivals == PROFESSION * N_RIVALS + 1 and tail_rivals == PER * N_RIVALS + 1
    # министр → глава МИД Китая: only Лавров between, a rival of neither.
    assert found[2].tolist()[:3] == [1, PROFESSION * N_RIVALS, PROFESSION * N_RIVALS]


def test_nested_and_touching_pairs_have_nothing_between_and_depth_counts_containers():
    assert containers(SENTENCE).tolist() == [0, 0, 0, 1, 2, 0]
    nested, touching = features_of(SENTENCE, [(2, 4), (0, 1)])
    assert nested[0] == 0 and touching[0] == 0
    assert nested[3] == 0 * N_DEPTH + 2  # the post is at depth 0, "Китая" inside two mentions
    assert touching[3] == 0


def test_blocks_give_the_same_features():
    heads, tails = enumerate_pairs(SENTENCE, 10)
    numpy.testing.assert_array_equal(pair_structure(SENTENCE, heads, tails, block=3),
                                     pair_structure(SENTENCE, heads, tails))


@pytest.fixture
def structure():
    model = build_pair_structure(max_distance=10, width=5, n_entity_types=3)
    docs = [numpy.zeros((8, 3), dtype="float32"), numpy.zeros((2, 3), dtype="float32")]
    mentions = [SENTENCE, SENTENCE[:1]]
    model.initialize(X=(docs, mentions))
    return model, docs, mentions


def test_a_pair_row_is_the_sum_of_its_four_table_rows(structure):
    model, docs, mentions = structure
    outputs = model.predict((docs, mentions))
    heads, tails = enumerate_pairs(SENTENCE, 10)
    assert outputs[0].shape == (len(heads), 5) and outputs[1].shape == (0, 5)
    index = pair_structure(SENTENCE, heads, tails)
    tables = [model.get_param(name) for name in ("between", "head_rivals", "tail_rivals", "depth")]
    expected = sum(table[index[:, k]] for k, table in enumerate(tables))
    numpy.testing.assert_allclose(outputs[0], expected, rtol=1e-6)


def test_gradients_reach_the_tables_and_not_the_tokens(structure):
    model, docs, mentions = structure
    rng = numpy.random.default_rng(0)
    outputs, backprop = model.begin_update((docs, mentions))
    targets = [rng.normal(size=o.shape).astype("float32") for o in outputs]
    d_docs, _ = backprop(targets)
    assert all(not d.any() and d.shape == x.shape for d, x in zip(d_docs, docs))
    # Each output row is a sum of table rows, so a table row's gradient is the sum of the
    # output gradients of the pairs that index it (exact; no finite differences needed).
    heads, tails = enumerate_pairs(SENTENCE, 10)
    index = pair_structure(SENTENCE, heads, tails)
    for k, name in enumerate(("between", "head_rivals", "tail_rivals", "depth")):
        expected = numpy.zeros_like(model.get_param(name))
        numpy.add.at(expected, index[:, k], targets[0])
        numpy.testing.assert_allclose(model.get_grad(name), expected, rtol=1e-5, atol=1e-6)


def test_a_type_beyond_the_tables_is_a_clear_error(structure):
    model, docs, mentions = structure
    unknown = SENTENCE.copy()
    unknown[1, 2] = 7
    with pytest.raises(ValueError, match="initialized with every label"):
        model.predict((docs, [unknown, SENTENCE[:1]]))


def test_v4_adds_the_structure_columns_and_trains_them():
    model = build_relation_scorer_v4(max_distance=10, hidden_width=4, dropout=0.0, nO=2, n_entity_types=3,
                                     context_width=3, structure_width=5)
    docs = [numpy.random.default_rng(1).normal(size=(8, 3)).astype("float32")]
    model.initialize(X=(docs, [SENTENCE]))
    output_layer = model.get_ref("relation_output")
    assert output_layer.get_dim("nI") == 4 * 3 + 5
    output_layer.set_param("W", numpy.ones(output_layer.get_param("W").shape, dtype="float32"))
    outputs, backprop = model.begin_update((docs, [SENTENCE]))
    assert outputs[0].shape == (len(enumerate_pairs(SENTENCE, 10)[0]), 2)
    backprop([numpy.ones_like(outputs[0])])
    structure = model.layers[0].layers[2]
    assert structure.get_grad("head_rivals").any()
    with pytest.raises(ValueError, match="width"):
        build_relation_scorer_v4(structure_width=0)


def test_v4_takes_the_entity_types_the_joint_model_sets_on_its_representation():
    model = build_relation_scorer_v4(max_distance=10, hidden_width=4, nO=2, context_width=3, structure_width=5)
    model.get_ref("relation_representation").set_dim("nT", 3, force=True)  # as nerel.JointTagCat.v3 does
    model.initialize(X=([numpy.zeros((8, 3), dtype="float32")], [SENTENCE]))
    structure = model.layers[0].layers[2]
    assert structure.get_param("head_rivals").shape == (3 * N_RIVALS, 5)
    copy = build_relation_scorer_v4(max_distance=10, hidden_width=4, nO=2, context_width=3, structure_width=5)
    copy.from_bytes(model.to_bytes())  # serializable: no reference outside its own tree
    numpy.testing.assert_array_equal(copy.layers[0].layers[2].get_param("head_rivals"),
                                     structure.get_param("head_rivals"))
