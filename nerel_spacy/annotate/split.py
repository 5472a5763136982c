"""Cutting long texts into bounded parts at paragraph, sentence, line or word boundaries."""
import re
from typing import List, Tuple

_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SENTENCE = re.compile(r"[.!?…][\"'»”)\]]*\s+")
_LINE = re.compile(r"\n\s*")
_SPACE = re.compile(r"\s+")


def split_text(text: str, max_chars: int) -> List[Tuple[int, int]]:
    """Cut ``text`` into ``(start, end)`` ranges of at most ``max_chars`` that cover it all.

    Each cut is the last paragraph break in the second half of the window, else the last
    sentence end, line break or space there, else a hard cut at ``max_chars``. Whitespace
    at a cut stays with the part before it, so parts join back into ``text`` exactly.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    ranges = []
    start = 0
    while len(text) - start > max_chars:
        window_start = start + max_chars // 2
        window = text[window_start : start + max_chars]
        cut = start + max_chars
        for boundary in (_PARAGRAPH, _SENTENCE, _LINE, _SPACE):
            last = None
            for last in boundary.finditer(window):
                pass
            if last is not None:
                cut = window_start + last.end()
                break
        ranges.append((start, cut))
        start = cut
    ranges.append((start, len(text)))
    return ranges
