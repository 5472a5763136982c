"""Candidate pairs, distance buckets, targets and decoding of the relation head."""
import numpy
from hypothesis import given, settings, strategies as st

from nerel_spacy.relation_decoding import (
    DecodedRelation,
    best_of_nested_variants,
    one_inside_the_other,
    CROSSING,
    HEAD_CONTAINS_TAIL,
    N_DISTANCE_BUCKETS,
    N_GAP_BUCKETS,
    TAIL_CONTAINS_HEAD,
    between_ranges,
    decode_relations,
    distance_buckets,
    enumerate_pairs,
    gap_bucket,
    mention_array,
    pair_gaps,
    relation_targets,
)

MENTIONS = mention_array([(0, 4, 0), (3, 4, 1), (4, 6, 2), (8, 9, 0), (2, 5, 1)])


def test_gaps_are_zero_for_nested_and_crossing_and_count_tokens_between():
    gaps = pair_gaps(MENTIONS[:, 0], MENTIONS[:, 1])
    assert gaps[0, 1] == 0 and gaps[0, 4] == 0  # nested, crossing
    assert gaps[0, 2] == 0  # adjacent
    assert gaps[2, 3] == gaps[3, 2] == 2


def test_pairs_are_ordered_distinct_and_within_the_distance():
    heads, tails = enumerate_pairs(MENTIONS, 1)
    pairs = list(zip(heads.tolist(), tails.tolist()))
    assert pairs == sorted(pairs) and all(h != t for h, t in pairs)
    assert (2, 3) not in pairs and (0, 3) not in pairs
    assert (0, 1) in pairs and (1, 0) in pairs
    assert len(enumerate_pairs(MENTIONS, 100)[0]) == 5 * 4
    assert len(enumerate_pairs(MENTIONS[:1], 100)[0]) == 0


def test_distance_buckets_tell_nesting_crossing_and_direction():
    heads = numpy.asarray([0, 1, 0, 2, 3, 0])
    tails = numpy.asarray([1, 0, 4, 3, 2, 2])
    buckets = distance_buckets(MENTIONS, heads, tails).tolist()
    assert buckets == [HEAD_CONTAINS_TAIL, TAIL_CONTAINS_HEAD, CROSSING, 3 + 2, 3 + N_GAP_BUCKETS + 2, 3]
    assert gap_bucket(numpy.asarray([0, 4, 5, 7, 8, 15, 16, 63, 64, 10**6])).tolist() == [
        0, 4, 5, 5, 6, 6, 7, 8, 9, 9
    ]
    assert max(buckets) < N_DISTANCE_BUCKETS


def test_between_ranges_are_the_tokens_strictly_between():
    starts, ends = between_ranges(MENTIONS, numpy.asarray([2, 3, 0]), numpy.asarray([3, 2, 1]))
    assert list(zip(starts.tolist(), ends.tolist())) == [(6, 8), (6, 8), (4, 4)]


def test_targets_mark_gold_pairs_and_count_the_unreachable():
    heads, tails = enumerate_pairs(MENTIONS, 1)
    targets, missed = relation_targets(heads, tails, [(0, 1, 2), (0, 1, 0), (2, 3, 1)], n_labels=3)
    row = list(zip(heads.tolist(), tails.tolist())).index((0, 1))
    assert targets[row].tolist() == [1.0, 0.0, 1.0] and targets.sum() == 2 and missed == 1


def test_decoding_keeps_every_label_above_the_threshold():
    probs = numpy.asarray([[0.9, 0.1, 0.6], [0.2, 0.5, 0.0]])
    found = decode_relations(probs, numpy.asarray([1, 0]), numpy.asarray([0, 2]), threshold=0.5)
    assert [(r.head, r.tail, r.label) for r in found] == [(0, 2, 1), (1, 0, 0), (1, 0, 2)]
    assert decode_relations(numpy.zeros((0, 3)), numpy.zeros(0), numpy.zeros(0)) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6), st.integers(0, 3)), max_size=12),
    st.integers(0, 12),
    st.sampled_from([1, 3, 256]),
)
def test_pairs_match_a_brute_force_enumeration(spans, max_distance, block):
    """In any order of the mentions, and whatever the block of heads taken at a time."""
    mentions = mention_array([(s, s + w, label) for s, w, label in spans])
    heads, tails = enumerate_pairs(mentions, max_distance, block=block)
    expected = []
    for i, (s1, e1, _) in enumerate(mentions.tolist()):
        for j, (s2, e2, _) in enumerate(mentions.tolist()):
            gap = max(0, max(s1, s2) - min(e1, e2))
            if i != j and gap <= max_distance:
                expected.append((i, j))
    assert list(zip(heads.tolist(), tails.tolist())) == expected
    buckets = distance_buckets(mentions, heads, tails)
    assert ((0 <= buckets) & (buckets < N_DISTANCE_BUCKETS)).all()
    starts, ends = between_ranges(mentions, heads, tails)
    assert (starts <= ends).all()


def test_pairs_of_a_long_text_take_memory_for_the_near_pairs_only():
    """20,000 mentions: the (m, m) gap matrix alone would be 3.2 GB; blocks keep it small."""
    import tracemalloc

    starts = numpy.arange(20_000) * 5
    mentions = mention_array([(s, s + 2, 0) for s in starts.tolist()])
    tracemalloc.start()
    heads, tails = enumerate_pairs(mentions, 16)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100 * 2**20
    gaps = numpy.maximum(numpy.abs(starts[heads] - starts[tails]) - 2, 0)
    # gap 5d - 2 <= 16 for d <= 3 mentions either side; fewer at both ends
    assert len(heads) == 20_000 * 6 - 2 * (1 + 2 + 3) and (gaps <= 16).all()


def test_of_a_nest_of_alternative_arguments_the_best_scored_triple_stays():
    # 0 a person; 1 "пресс-секретарю" inside 2 "пресс-секретарю экс-президента США"; 3 a city
    mentions = numpy.asarray([[0, 2, 0], [3, 4, 1], [3, 7, 1], [9, 10, 2]])
    assert one_inside_the_other(mentions, 1, 2) and one_inside_the_other(mentions, 2, 1)
    assert not one_inside_the_other(mentions, 0, 1)
    relations = [
        DecodedRelation(0, 1, 0, 0.6),  # the inner post, outscored by the outer one: dropped
        DecodedRelation(0, 2, 0, 0.8),
        DecodedRelation(0, 3, 1, 0.5),  # no rival
        DecodedRelation(1, 3, 1, 0.4),  # the same tail from the inner post, outscored: dropped
        DecodedRelation(2, 3, 1, 0.7),
        DecodedRelation(0, 1, 2, 0.5),  # a tie keeps both
        DecodedRelation(0, 2, 2, 0.5),
        DecodedRelation(0, 1, 3, 0.9),  # another type does not compete
    ]
    kept = best_of_nested_variants(relations, mentions)
    assert kept == [relations[i] for i in (1, 2, 4, 5, 6, 7)]
    assert best_of_nested_variants([], mentions) == []
    # arguments that are not nested do not compete, however they score
    apart = numpy.asarray([[0, 2, 0], [3, 4, 1], [5, 7, 1]])
    both = [DecodedRelation(0, 1, 0, 0.9), DecodedRelation(0, 2, 0, 0.3)]
    assert best_of_nested_variants(both, apart) == both
