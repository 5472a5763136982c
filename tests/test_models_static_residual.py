"""nerel.WithStaticVectors.v1: an encoder's vectors plus a zero-started projection of static vectors."""
import numpy
import pytest
import spacy
from thinc.api import Model

from nerel_spacy.models.static_residual import STATIC_VECTORS, build_with_static_vectors

WIDTH, DIMS = 4, 3
WORDS = {"москва": [1.0, 0.0, 2.0], "банк": [0.5, -1.0, 0.0]}


def fixed_encoder() -> Model:
    """A tok2vec stand-in: row i of a doc is (i, i+1, i+2, i+3); it records the gradient it gets."""

    def forward(model, docs, is_train):
        outputs = [numpy.arange(len(doc) * WIDTH, dtype="float32").reshape(len(doc), WIDTH) for doc in docs]

        def backprop(d_outputs):
            model.attrs["d_outputs"] = [d.copy() for d in d_outputs]
            return []

        return outputs, backprop

    return Model("fixed_encoder", forward, dims={"nO": WIDTH})


@pytest.fixture
def nlp():
    nlp = spacy.blank("ru")
    for word, vector in WORDS.items():
        nlp.vocab.set_vector(word, numpy.asarray(vector, dtype="float32"))
    return nlp


def wrapped(nlp, scale=1.0):
    docs = [nlp.make_doc("москва и банк"), nlp.make_doc("банк")]
    model = build_with_static_vectors(fixed_encoder(), scale=scale)
    model.initialize(X=docs)
    return model, docs


def test_starts_at_zero_so_the_output_is_the_encoders(nlp):
    model, docs = wrapped(nlp)
    static = model.get_ref(STATIC_VECTORS)
    assert static.get_param("W").shape == (WIDTH, DIMS) and not static.get_param("W").any()
    assert model.get_dim("nO") == WIDTH
    encoder_out, _ = fixed_encoder()(docs, is_train=False)
    for got, expected in zip(model.predict(docs), encoder_out):
        numpy.testing.assert_array_equal(got, expected)


def test_adds_the_scaled_projection_of_known_words_only(nlp):
    model, docs = wrapped(nlp, scale=2.0)
    W = numpy.random.default_rng(0).normal(size=(WIDTH, DIMS)).astype("float32")
    model.get_ref(STATIC_VECTORS).set_param("W", W)
    encoder_out, _ = fixed_encoder()(docs, is_train=False)
    out = model.predict(docs)
    moscow = 2.0 * W @ numpy.asarray(WORDS["москва"], dtype="float32")
    bank = 2.0 * W @ numpy.asarray(WORDS["банк"], dtype="float32")
    numpy.testing.assert_allclose(out[0][0], encoder_out[0][0] + moscow, rtol=1e-6)
    numpy.testing.assert_array_equal(out[0][1], encoder_out[0][1])  # "и" has no vector
    numpy.testing.assert_allclose(out[0][2], encoder_out[0][2] + bank, rtol=1e-6)
    numpy.testing.assert_allclose(out[1][0], encoder_out[1][0] + bank, rtol=1e-6)


def test_gradients_reach_the_projection_scaled_and_the_encoder_unchanged(nlp):
    model, docs = wrapped(nlp, scale=3.0)
    rng = numpy.random.default_rng(1)
    d_outputs = [rng.normal(size=(len(doc), WIDTH)).astype("float32") for doc in docs]
    _, backprop = model.begin_update(docs)
    backprop(d_outputs)
    encoder = model.get_ref("tok2vec")
    for got, sent in zip(encoder.attrs["d_outputs"], d_outputs):
        numpy.testing.assert_array_equal(got, sent)
    # loss = Σ d·out, so dL/dW = scale · Σ_tokens d_t ⊗ v_t (words without a vector add nothing)
    vectors = [WORDS["москва"], [0.0] * DIMS, WORDS["банк"], WORDS["банк"]]
    expected = 3.0 * numpy.vstack(d_outputs).T @ numpy.asarray(vectors, dtype="float32")
    numpy.testing.assert_allclose(model.get_ref(STATIC_VECTORS).get_grad("W"), expected, rtol=1e-5, atol=1e-6)


def test_a_pipeline_without_vectors_is_told_what_to_set():
    docs = [spacy.blank("ru").make_doc("москва")]
    model = build_with_static_vectors(fixed_encoder())
    with pytest.raises(ValueError, match=r"no static vectors.*\[initialize\] vectors"):
        model.initialize(X=docs)


def test_empty_docs_pass_through(nlp):
    model, _ = wrapped(nlp)
    out, backprop = model.begin_update([nlp.make_doc("")])
    assert out[0].shape == (0, WIDTH)
    backprop([numpy.zeros((0, WIDTH), dtype="float32")])
