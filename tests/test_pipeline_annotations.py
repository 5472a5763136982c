"""The decoding helpers of ``nerel_joint.predict``: fast paths give the reference results."""
import numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from thinc.api import NumpyOps

from nerel_spacy.bio import constrained_viterbi, make_bio_labels, transition_constraints
from nerel_spacy.models.loss import softmax
from nerel_spacy.pipeline.annotations import best_tag_paths, bio_constraints, decode_span_logits
from nerel_spacy.span_decoding import decode_spans, enumerate_candidates

OPS = NumpyOps()
LABELS = make_bio_labels(["PERSON", "CITY", "DATE"])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=2**31 - 1),
    st.sampled_from([0.3, 0.5, 0.8]),
    st.booleans(),
)
def test_span_decoding_skips_only_candidates_that_cannot_be_kept(n_tokens, max_width, seed, threshold, crossing):
    rng = numpy.random.default_rng(seed)
    starts, ends = enumerate_candidates(n_tokens, max_width)
    logits = rng.normal(scale=3.0, size=(len(starts), 4)).astype("float32")
    logits[:, 0] += 2.0  # "none" usually wins, as in a trained model
    expected = decode_spans(OPS.to_numpy(softmax(OPS, logits)), starts, ends, threshold, crossing)
    assert decode_span_logits(OPS, logits, n_tokens, max_width, threshold, crossing) == expected


def test_span_decoding_keeps_a_clear_mention():
    logits = numpy.full((3, 3), -5.0, dtype="float32")  # 2 tokens, max width 2: [0,1) [0,2) [1,2)
    logits[:, 0] = 5.0
    logits[1] = [-5.0, 5.0, -5.0]
    (mention,) = decode_span_logits(OPS, logits, 2, 2, 0.5, False)
    assert (mention.start, mention.end, mention.label) == (0, 2, 0)
    assert mention.score > 0.99


def test_tag_paths_of_a_batch_are_the_per_doc_viterbi_paths():
    rng = numpy.random.default_rng(7)
    allowed, start = transition_constraints(LABELS)
    logits = [rng.normal(scale=4.0, size=(n, len(LABELS))).astype("float32") for n in (12, 0, 3, 40, 1)]
    expected = []
    for doc_logits in logits:
        shifted = doc_logits - doc_logits.max(axis=1, keepdims=True) if len(doc_logits) else doc_logits
        log_probs = shifted - numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))
        expected.append(constrained_viterbi(log_probs, allowed, start))
    assert best_tag_paths(logits, allowed, start) == expected


def test_bio_constraints_are_built_once_per_tag_set_and_read_only():
    first = bio_constraints(tuple(LABELS))
    assert bio_constraints(tuple(LABELS)) is first
    for cached, fresh in zip(first, transition_constraints(LABELS)):
        assert numpy.array_equal(cached, fresh) and not cached.flags.writeable
    assert bio_constraints(tuple(LABELS[:3]))[0].shape == (3, 3)
