"""Sentence boundaries for the in-sentence relation scores, where a doc has none of its own.

NEREL texts open with a title and often a photo caption, each on its own line and without
a full stop, and their sentences name people by initials ("В. В. Путин") and use
abbreviations ("г.", "т. е."). spaCy's rule-based ``Sentencizer`` splits after every full
stop and never at a line break, so it joined titles to the first sentence and cut mentions
in two. Here a sentence starts where razdel's Russian sentence splitter (natasha's) starts
one, and after every line break.
"""
import bisect
import re
from typing import List

import razdel
from spacy.tokens import Doc

LINE_BREAK = re.compile(r"\n")


def sentence_start_chars(text: str) -> List[int]:
    """Sorted character offsets where sentences start: razdel's, and after each line break."""
    starts = {0, *(sentence.start for sentence in razdel.sentenize(text))}
    starts.update(match.end() for match in LINE_BREAK.finditer(text))
    return sorted(starts)


def sentence_ids(doc: Doc) -> List[int]:
    """The sentence of each token, numbered 0, 1, … in order: the doc's own boundaries
    (a parser, a ``senter`` or gold ones), else :func:`sentence_start_chars`'s.

    A token belongs to the sentence its first character falls in, so whitespace tokens
    ("\\n\\n") stay with the sentence before them.
    """
    if doc.has_annotation("SENT_START"):
        starts = [token.is_sent_start for token in doc]
    else:
        bounds = sentence_start_chars(doc.text)
        found = [bisect.bisect_right(bounds, token.idx) for token in doc]
        starts = [i == 0 or found[i] != found[i - 1] for i in range(len(found))]
    ids, current = [], -1
    for i, start in enumerate(starts):
        current += 1 if start or i == 0 else 0
        ids.append(current)
    return ids


__all__ = ["sentence_ids", "sentence_start_chars"]
