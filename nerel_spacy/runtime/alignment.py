"""Windows, word-piece alignment and pooling, as spacy-transformers computes them, in numpy.

The ONNX encoder must give the heads the same token vectors as the pipeline it was
exported from, where spacy-transformers cuts each doc into strided windows of spaCy
tokens (``strided_spans.v1``), aligns each window's word pieces to tokens by character
offsets (``get_alignment_via_offset_mapping``), keeps at most ``max_length`` pieces per
window (``truncate_oversize_splits``) and averages, per token, every piece aligned to it
in every window (``reduce_mean.v1`` after ``trfs2arrays``). These functions are those
steps without torch; ``tests/test_runtime_alignment.py`` checks them against
spacy-transformers itself.
"""
from typing import List, Sequence, Tuple

import numpy
from spacy.tokens import Doc

Window = Tuple[int, int]  # [start, end) in tokens


def strided_windows(n_tokens: int, window: int, stride: int) -> List[Window]:
    """The token windows of ``spacy-transformers.strided_spans.v1`` for a doc of ``n_tokens``."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be positive, not {window} and {stride}")
    windows: List[Window] = []
    start = 0
    for _ in range(n_tokens // stride):
        windows.append((start, min(start + window, n_tokens)))
        if start + window >= n_tokens:
            break
        start += stride
    else:
        if start < n_tokens:
            windows.append((start, n_tokens))
    return windows


def window_text(doc: Doc, window: Window) -> str:
    """``doc[start:end].text``: the window's characters, without the last token's whitespace."""
    start, end = window
    return doc[start:end].text


def char_to_token(doc: Doc, window: Window) -> numpy.ndarray:
    """For each character of the window's text (and one past it), the token index in the
    window it belongs to, or -1.

    As spacy-transformers does, a token also claims the character after it (its space)
    unless the next token starts there.
    """
    start, end = window
    first = doc[start].idx
    starts = numpy.asarray([token.idx - first for token in doc[start:end]], dtype="int64")
    lengths = numpy.asarray([len(token) for token in doc[start:end]], dtype="int64")
    n_chars = int(starts[-1] + lengths[-1]) + 1 if len(starts) else 1
    table = numpy.full(n_chars, -1, dtype="int64")
    ids = numpy.arange(len(starts))
    trailing = starts + lengths
    inside = trailing < n_chars
    table[trailing[inside]] = ids[inside]
    own = numpy.repeat(starts, lengths) + _ranges(lengths)
    table[own] = numpy.repeat(ids, lengths)
    return table


def piece_token_pairs(table: numpy.ndarray, offsets: numpy.ndarray, max_length: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """``(piece, token)`` index pairs: every piece before ``max_length`` against every token
    one of its characters belongs to, each pair once, sorted by token then piece."""
    offsets = numpy.asarray(offsets, dtype="int64").reshape((-1, 2))[:max_length]
    lengths = numpy.maximum(offsets[:, 1] - offsets[:, 0], 0)
    pieces = numpy.repeat(numpy.arange(len(offsets)), lengths)
    chars = numpy.repeat(offsets[:, 0], lengths) + _ranges(lengths)
    valid = (chars >= 0) & (chars < len(table))
    pieces, tokens = pieces[valid], table[chars[valid]]
    keep = tokens >= 0
    pairs = numpy.unique(numpy.stack([tokens[keep], pieces[keep]], axis=1), axis=0)
    return pairs[:, 1], pairs[:, 0]


def pool_token_vectors(
    n_tokens: int, width: int, rows: Sequence[numpy.ndarray], tokens: Sequence[numpy.ndarray]
) -> numpy.ndarray:
    """Per token, the mean of the hidden-state rows aligned to it (zeros where none are).

    ``rows[k]`` are the aligned rows gathered from window ``k``'s output and ``tokens[k]``
    their doc-level token indices.
    """
    output = numpy.zeros((n_tokens, width), dtype="float32")
    if not rows:
        return output
    all_rows = numpy.concatenate(rows, axis=0)
    all_tokens = numpy.concatenate(tokens)
    if not len(all_tokens):
        return output
    order = numpy.argsort(all_tokens, kind="stable")
    all_rows, all_tokens = all_rows[order], all_tokens[order]
    present, first, counts = numpy.unique(all_tokens, return_index=True, return_counts=True)
    sums = numpy.add.reduceat(all_rows, first, axis=0)
    output[present] = sums / counts[:, None].astype("float32")
    return output


def _ranges(lengths: numpy.ndarray) -> numpy.ndarray:
    """``concatenate([arange(n) for n in lengths])`` without a Python loop."""
    lengths = numpy.asarray(lengths, dtype="int64")
    total = int(lengths.sum())
    if total == 0:
        return numpy.zeros(0, dtype="int64")
    ends = numpy.cumsum(lengths)
    return numpy.arange(total) - numpy.repeat(ends - lengths, lengths)
