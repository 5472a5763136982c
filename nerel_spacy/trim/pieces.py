"""Which word pieces a trimmed vocabulary keeps, and what it gives up on other text.

A multilingual encoder's vocabulary is mostly pieces that Russian text never produces:
multilingual-e5-small has 250,002 pieces, and the NEREL training texts, navec's 250k
Russian words in three casings, every digit/punctuation piece and every one-character
piece together use about a fifth of them. The sources here each return piece ids of the
*source* tokenizer; ``coverage`` measures how many pieces of other text fall outside a
chosen set (the out-of-vocabulary rate) and how many documents keep their tokenization.
"""
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

# ``on_progress(done, total)`` after each batch, for a progress bar.
ProgressCallback = Optional[Callable[[int, int], None]]

# SentencePiece's word-start mark and WordPiece's continuation prefix: not part of the text.
METASPACE = "\u2581"
CONTINUATION = "##"
# A piece made of digits, punctuation and symbols only (numbers, dates, times, "%", "-2").
NUMBER_PIECE = re.compile(r"[\d\W_]+")


def piece_body(piece: str) -> str:
    """The characters a piece stands for, without ``▁`` or a leading ``##``."""
    if piece.startswith(CONTINUATION) and len(piece) > len(CONTINUATION):
        piece = piece[len(CONTINUATION):]
    return piece.replace(METASPACE, "")


def encode(tokenizer, texts: Sequence[str]) -> List[List[int]]:
    """Piece ids of each text, without special tokens and without the 512-piece limit."""
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]


def encode_in_batches(tokenizer, texts: Sequence[str], batch_size: int,
                      on_progress: ProgressCallback = None) -> Iterator[List[int]]:
    """``encode`` a batch at a time, reporting ``on_progress(done, total)`` after each."""
    for start in range(0, len(texts), batch_size):
        yield from encode(tokenizer, texts[start:start + batch_size])
        if on_progress:
            on_progress(min(start + batch_size, len(texts)), len(texts))


def pieces_in_texts(tokenizer, texts: Sequence[str], batch_size: int = 64,
                    on_progress: ProgressCallback = None) -> Counter:
    """How often the tokenizer produces each piece id on the texts."""
    counts: Counter = Counter()
    for ids in encode_in_batches(tokenizer, texts, batch_size, on_progress):
        counts.update(ids)
    return counts


def word_forms(word: str) -> Tuple[str, str, str]:
    """A lowercase word as written in running text: as is, Capitalised and UPPER."""
    return word, word[:1].upper() + word[1:], word.upper()


def pieces_of_words(tokenizer, words: Iterable[str], batch_size: int = 4096,
                    on_progress: ProgressCallback = None) -> Set[int]:
    """Piece ids of each word in its three ``word_forms``, each read as a word of its own."""
    forms = sorted({form for word in words if word for form in word_forms(word)})
    kept: Set[int] = set()
    for ids in encode_in_batches(tokenizer, forms, batch_size, on_progress):
        kept.update(ids)
    return kept


def number_pieces(vocab: Dict[str, int]) -> Set[int]:
    """Every piece of digits and punctuation only: numbers split unpredictably."""
    return {i for piece, i in vocab.items() if piece_body(piece) and NUMBER_PIECE.fullmatch(piece_body(piece))}


def single_char_pieces(vocab: Dict[str, int]) -> Set[int]:
    """Every piece that stands for one character, so no character the source knew becomes unknown."""
    return {i for piece, i in vocab.items() if len(piece_body(piece)) == 1}


@dataclass
class Coverage:
    """What a kept set gives up on some texts, piece by piece and document by document.

    A document whose pieces are all kept is tokenized identically by the trimmed
    tokenizer (``encoder.check_identical_tokenization`` verifies it).
    """

    texts: int = 0
    pieces: int = 0
    missing_pieces: int = 0
    covered_texts: int = 0
    most_missing: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def oov_rate(self) -> float:
        return self.missing_pieces / self.pieces if self.pieces else 0.0

    def to_dict(self) -> Dict[str, object]:
        return {
            "texts": self.texts, "pieces": self.pieces, "missing_pieces": self.missing_pieces,
            "oov_rate": round(self.oov_rate, 6), "covered_texts": self.covered_texts,
            "most_missing": [list(item) for item in self.most_missing],
        }


def coverage(tokenizer, texts: Sequence[str], kept: Set[int], show: int = 20) -> Coverage:
    """The out-of-vocabulary rate of ``kept`` on ``texts`` (use texts that did not choose it)."""
    result = Coverage()
    missing: Counter = Counter()
    for ids in encode(tokenizer, list(texts)):
        result.texts += 1
        result.pieces += len(ids)
        lost = [i for i in ids if i not in kept]
        result.missing_pieces += len(lost)
        result.covered_texts += not lost
        missing.update(lost)
    result.most_missing = [(tokenizer.convert_ids_to_tokens(i), n) for i, n in missing.most_common(show)]
    return result


__all__ = [
    "Coverage",
    "coverage",
    "encode",
    "encode_in_batches",
    "number_pieces",
    "piece_body",
    "pieces_in_texts",
    "pieces_of_words",
    "single_char_pieces",
    "word_forms",
]
