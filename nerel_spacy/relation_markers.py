"""Relations with the subject marked in the encoder's input: the data side, no torch.

Every relation head of the joint model reads one shared encoder pass over a window, so the
encoder never knows which pair it is asked about; such heads have landed at 0.61–0.63
in-sentence gold-mention F on NEREL (docs/results.md). Here the encoder reads a sentence
once per *subject* mention, set off by typed markers (Zhou & Chen 2021, "typed entity
marker (punct)"):

    @ * person * Сергей Лавров @ прилетел в Москву .

Every other mention of that sentence is a candidate object, read from its first and last
word pieces. One pass scores all pairs of its subject, so a sentence with n mentions costs
n passes, not n·(n−1).

- ``subject_passes``: the passes a doc needs, with their 0/1 targets;
- ``mark_subject``: the words of one pass, and where each sentence token went;
- ``word_pieces``: the first and last piece of each word, from a fast tokenizer's
  ``word_ids``;
- ``pass_pieces``: the subject's markers and each object's pieces, in one tokenized pass;
- ``pass_triples``: the triples of one pass over a threshold.
"""
from collections import defaultdict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy

SUBJECT_OPEN, TYPE_EDGE = "@", "*"


class SubjectPass(NamedTuple):
    """One encoder pass: a sentence of one doc, with one of its mentions as the subject."""

    doc: int  # index of the doc in its split
    sentence: Tuple[int, int]  # token range of the sentence
    subject: int  # mention row
    objects: Tuple[int, ...]  # the other mention rows of the sentence
    targets: numpy.ndarray  # (len(objects), n_labels) float32: 1 where (subject, object, label) is gold


class MarkedWords(NamedTuple):
    """The words of one pass and where things went among them."""

    words: List[str]
    subject_open: int  # word index of the opening "@"
    subject_close: int  # word index of the closing "@"
    token_word: List[int]  # per sentence token: its word index, -1 if left out


def sentence_ranges(sentence: Sequence[int]) -> Dict[int, Tuple[int, int]]:
    """Token range of each sentence id, from a per-token sentence id list (``sentence_ids``)."""
    ranges: Dict[int, List[int]] = {}
    for token, sent in enumerate(sentence):
        ranges.setdefault(sent, [token, token + 1])[1] = token + 1
    return {sent: (lo, hi) for sent, (lo, hi) in ranges.items()}


def subject_passes(
    doc: int,
    sentence: Sequence[int],
    mentions: numpy.ndarray,
    triples: Sequence[Tuple[int, int, int]],
    n_labels: int,
) -> List[SubjectPass]:
    """One pass per mention that shares its sentence with at least one other mention.

    ``mentions`` is ``(n, 3)``: start, end (tokens), type index; ``triples`` are
    ``(head row, tail row, label index)``. A mention that spans two sentences is in none.
    """
    by_sentence: Dict[int, List[int]] = defaultdict(list)
    for row, (start, end, _) in enumerate(mentions):
        if end > start and sentence[start] == sentence[end - 1]:
            by_sentence[sentence[start]].append(row)
    gold: Dict[Tuple[int, int], List[int]] = defaultdict(list)
    for head, tail, label in triples:
        gold[head, tail].append(label)
    ranges = sentence_ranges(sentence)
    passes = []
    for sent, rows in sorted(by_sentence.items()):
        if len(rows) < 2:
            continue
        for subject in rows:
            objects = tuple(row for row in rows if row != subject)
            targets = numpy.zeros((len(objects), n_labels), dtype="float32")
            for i, row in enumerate(objects):
                targets[i, gold.get((subject, row), [])] = 1.0
            passes.append(SubjectPass(doc, ranges[sent], subject, objects, targets))
    return passes


def type_words(label: str) -> List[str]:
    """An entity type as the marker's words: ``STATE_OR_PROVINCE`` -> state or province."""
    return label.lower().replace("_", " ").split()


def mark_subject(
    tokens: Sequence[str], subject: Tuple[int, int], label: str, max_words: int = 160,
) -> MarkedWords:
    """The sentence's tokens with the subject (token range within them) set off by typed
    markers. Whitespace tokens are left out. A sentence longer than ``max_words`` words is
    cut to a window centred on the subject; the tokens outside get word -1.
    """
    opening = [SUBJECT_OPEN, TYPE_EDGE, *type_words(label), TYPE_EDGE]
    kept = [i for i, text in enumerate(tokens) if text.strip()]
    room = max(max_words - len(opening) - 1, subject[1] - subject[0])
    if len(kept) > room:
        inside = [i for i in kept if subject[0] <= i < subject[1]]
        centre = kept.index(inside[0]) if inside else 0
        lo = max(0, min(centre - (room - len(inside)) // 2, len(kept) - room))
        kept = kept[lo: lo + room]
    words: List[str] = []
    token_word = [-1] * len(tokens)
    subject_open = subject_close = -1
    for i in kept:
        if i == subject[0] or (subject_open < 0 and i > subject[0]):
            subject_open = len(words)
            words.extend(opening)
        if subject_close < 0 and i >= subject[1]:
            subject_close = len(words)
            words.append(SUBJECT_OPEN)
        token_word[i] = len(words)
        words.append(tokens[i])
    if subject_open < 0:
        subject_open = len(words)
        words.extend(opening)
    if subject_close < 0:
        subject_close = len(words)
        words.append(SUBJECT_OPEN)
    return MarkedWords(words, subject_open, subject_close, token_word)


def word_pieces(word_ids: Sequence[Optional[int]], n_words: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """First and last piece index of each word (-1 for a word with no pieces, or one cut off)."""
    first = numpy.full((n_words,), -1, dtype="int64")
    last = numpy.full((n_words,), -1, dtype="int64")
    for piece, word in enumerate(word_ids):
        if word is None:
            continue
        if first[word] < 0:
            first[word] = piece
        last[word] = piece
    return first, last


def mention_pieces(marked: MarkedWords, first: numpy.ndarray, last: numpy.ndarray,
                   start: int, end: int) -> Optional[Tuple[int, int]]:
    """The first and last piece of a mention (tokens ``start:end`` of the sentence), or None
    when none of its tokens reached the encoder."""
    words = [marked.token_word[i] for i in range(start, end) if marked.token_word[i] >= 0]
    starts = [first[w] for w in words if first[w] >= 0]
    ends = [last[w] for w in words if last[w] >= 0]
    if not starts:
        return None
    return int(starts[0]), int(ends[-1])


class PassPieces(NamedTuple):
    subject: Tuple[int, int]  # pieces of the opening and the closing marker
    objects: List[int]  # positions in SubjectPass.objects that reached the encoder
    object_pieces: List[Tuple[int, int]]  # their first and last pieces


def pass_pieces(marked: MarkedWords, word_ids: Sequence[Optional[int]], mentions: numpy.ndarray,
                one_pass: SubjectPass) -> Optional[PassPieces]:
    """Where the subject's markers and the objects lie among one pass's pieces; None if a
    marker was cut off."""
    first, last = word_pieces(word_ids, len(marked.words))
    opening, closing = first[marked.subject_open], first[marked.subject_close]
    if opening < 0 or closing < 0:
        return None
    offset = one_pass.sentence[0]
    objects, pieces = [], []
    for position, row in enumerate(one_pass.objects):
        found = mention_pieces(marked, first, last, mentions[row][0] - offset, mentions[row][1] - offset)
        if found is not None:
            objects.append(position)
            pieces.append(found)
    return PassPieces((int(opening), int(closing)), objects, pieces)


def pass_triples(one_pass: SubjectPass, objects: Sequence[int], probabilities: numpy.ndarray,
                 threshold: float) -> List[Tuple[int, int, int, float]]:
    """``(subject row, object row, label index, probability)`` for every probability at or
    over ``threshold``; ``probabilities`` is ``(len(objects), n_labels)``."""
    found = []
    for i, j in zip(*numpy.nonzero(probabilities >= threshold)):
        found.append((one_pass.subject, one_pass.objects[objects[i]], int(j), float(probabilities[i, j])))
    return found
