"""Mention replacement: training copies of a document with some mentions' words swapped.

Half of NEREL's dev mentions are word sequences that never occur in train, and the model
finds 73% of those against 93% of consistently annotated ones
(``benchmarks/annotation_consistency.py``). Replacing a mention by another training
mention of the same type (Dai & Adel 2020, "mention replacement") shows the heads more
names in the same contexts.

- ``eligible_mentions``: mentions that can be swapped without breaking the nesting: they
  contain no other mention, cross none, share their extent with none, and the document
  has no discontinuous mention (their fragments are character offsets).
- ``replace_mentions``: a new reference ``Doc`` with the chosen mentions' words replaced;
  every mention keeps its index (so ``doc._.relations`` stays valid), containing mentions
  grow or shrink with their insides, and ``doc.ents`` is the outermost view again.
- ``nerel.mention_replacement.v1``: a spaCy augmenter for ``[corpora.train.augmenter]``.
"""
import random
from collections import defaultdict
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry

from .brat.doc import FRAGMENTS_KEY
from .corpus import read_corpus
from .spans import SPANS_KEY, set_flat_entities

Surfaces = Dict[str, List[Tuple[str, ...]]]


def eligible_mentions(doc: Doc, key: str = SPANS_KEY) -> List[int]:
    """Indices in ``doc.spans[key]`` of the mentions whose words can be replaced."""
    if doc.user_data.get(FRAGMENTS_KEY):
        return []
    spans = [(span.start, span.end) for span in doc.spans.get(key, [])]
    eligible = []
    for i, (start, end) in enumerate(spans):
        clash = False
        for j, (other_start, other_end) in enumerate(spans):
            if i == j:
                continue
            inside = start <= other_start and other_end <= end
            crossing = other_start < end and start < other_end and not (other_start <= start and end <= other_end)
            if inside or crossing:
                clash = True
                break
        if not clash:
            eligible.append(i)
    return eligible


def replace_mentions(doc: Doc, replacements: Dict[int, Sequence[str]], key: str = SPANS_KEY) -> Doc:
    """A copy of ``doc`` in which mention ``i``'s words are ``replacements[i]``.

    The mentions must come from ``eligible_mentions``. Cats, relations and the doc id are
    copied; the mentions keep their order, labels and kb ids.
    """
    spans = list(doc.spans.get(key, []))
    chosen = sorted(((spans[i].start, spans[i].end, tuple(words)) for i, words in replacements.items()))
    words: List[str] = []
    spaces: List[bool] = []
    new_index = {}
    position = 0
    for start, end, new_words in chosen:
        for token in doc[position:start]:
            new_index[token.i] = len(words)
            words.append(token.text)
            spaces.append(bool(token.whitespace_))
        new_index[start] = len(words)
        words.extend(new_words)
        spaces.extend([True] * (len(new_words) - 1) + [bool(doc[end - 1].whitespace_)])
        position = end
        new_index[end] = len(words)
    for token in doc[position:]:
        new_index[token.i] = len(words)
        words.append(token.text)
        spaces.append(bool(token.whitespace_))
    new_index[len(doc)] = len(words)
    new = Doc(doc.vocab, words=words, spaces=spaces)
    new_spans = [Span(new, new_index[s.start], new_index[s.end], label=s.label_, kb_id=s.kb_id_) for s in spans]
    new.spans[key] = new_spans
    set_flat_entities(new, new_spans)
    new.cats = dict(doc.cats)
    for name, value in doc.user_data.items():
        if name != FRAGMENTS_KEY:
            new.user_data[name] = value
    return new


def mention_surfaces(docs: Sequence[Doc], key: str = SPANS_KEY) -> Surfaces:
    """Each type's distinct word sequences, from the eligible mentions of ``docs``."""
    seen: Dict[str, set] = defaultdict(set)
    for doc in docs:
        for i in eligible_mentions(doc, key):
            span = doc.spans[key][i]
            seen[span.label_].add(tuple(token.text for token in span))
    return {label: sorted(words) for label, words in seen.items()}


def augment_example(nlp: Language, example: Example, surfaces: Surfaces, rng: random.Random,
                    rate: float, key: str = SPANS_KEY) -> Example:
    """``example`` with each eligible mention replaced with probability ``rate``."""
    reference = example.reference
    spans = reference.spans.get(key, [])
    replacements = {}
    for i in eligible_mentions(reference, key):
        options = surfaces.get(spans[i].label_)
        if options and rng.random() < rate:
            replacements[i] = options[rng.randrange(len(options))]
    if not replacements:
        return example
    new_reference = replace_mentions(reference, replacements, key)
    predicted = Doc(nlp.vocab, words=[t.text for t in new_reference], spaces=[bool(t.whitespace_) for t in new_reference])
    return Example(predicted, new_reference)


@registry.augmenters("nerel.mention_replacement.v1")
def create_mention_replacement(source: str, level: float = 0.5, rate: float = 0.3,
                               seed: Optional[int] = 0) -> Callable[[Language, Example], Iterator[Example]]:
    """An augmenter for ``[corpora.train.augmenter]``.

    source: a ``.spacy`` file whose mentions are the replacements (the training corpus).
    level: the share of training documents that are replaced by an augmented copy.
    rate: within such a copy, the chance that each eligible mention is swapped.
    """
    if not 0 <= level <= 1 or not 0 <= rate <= 1:
        raise ValueError(f"nerel.mention_replacement.v1: level and rate are shares (0..1), not {level}, {rate}")
    state: Dict[str, object] = {}
    rng = random.Random(seed)

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        if "surfaces" not in state:
            state["surfaces"] = mention_surfaces(read_corpus(source, nlp.vocab))
        if rng.random() >= level:
            yield example
        else:
            yield augment_example(nlp, example, state["surfaces"], rng, rate)

    return augment


__all__ = ["augment_example", "create_mention_replacement", "eligible_mentions", "mention_surfaces",
           "replace_mentions"]
