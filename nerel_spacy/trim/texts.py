"""The texts and words a trimmed vocabulary is chosen from, read from the places users keep them."""
from pathlib import Path
from typing import Iterable, List, Sequence, Union

NAVEC = "navec"
NO_WORDS = "none"


class TextSourceError(ValueError):
    """A --texts or --words argument that names nothing readable."""


def read_texts(path: Union[str, Path]) -> List[str]:
    """Texts from a folder (every ``*.txt`` below it: brat folders, plain text), a ``.txt``
    file (one text) or a spaCy ``.spacy`` corpus (each doc's text)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise TextSourceError(f"{path}: no .txt files below this folder. Point --texts at a brat or text folder.")
        return [_read_utf8(file) for file in files]
    if path.suffix == ".spacy" and path.is_file():
        import spacy
        from spacy.tokens import DocBin

        return [doc.text for doc in DocBin().from_disk(path).get_docs(spacy.blank("xx").vocab)]
    if path.is_file():
        return [_read_utf8(path)]
    raise TextSourceError(_missing(path))


def _missing(path: Path) -> str:
    return f"{path}: no such file or folder. Pass a folder of .txt files, a .txt file or a .spacy corpus."


def check_sources(paths: Sequence[Union[str, Path]], words: str = NO_WORDS) -> None:
    """Raise ``TextSourceError`` for a text path or --words that names nothing, without reading
    anything (so a typo is reported before a model loads)."""
    for path in map(Path, paths):
        if not path.exists():
            raise TextSourceError(_missing(path))
    if words not in (NAVEC, NO_WORDS) and not Path(words).is_file():
        raise TextSourceError(_bad_words(words))


def _bad_words(source: str) -> str:
    return f"--words {source}: not 'navec', 'none' or a file of one word per line."


def _read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf8")
    except UnicodeDecodeError as err:
        raise TextSourceError(
            f"{path}: not UTF-8 (byte {err.start}: {err.reason}). Re-encode it, e.g. "
            f"`iconv -f cp1251 -t utf-8`, or move it out of the folder."
        ) from None


def read_all_texts(paths: Sequence[Union[str, Path]]) -> List[str]:
    """``read_texts`` of each path, in order."""
    return [text for path in paths for text in read_texts(path)]


def read_words(source: str) -> List[str]:
    """Words to keep: ``navec`` (natasha's 250k news words), ``none``, or a file of one word a line."""
    if source == NO_WORDS:
        return []
    if source == NAVEC:
        from ..vectors import load_navec

        return [word for word in load_navec().vocab.words if not word.startswith("<")]
    path = Path(source)
    if not path.is_file():
        raise TextSourceError(_bad_words(source))
    return [line.strip() for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def count_characters(texts: Iterable[str]) -> int:
    return sum(len(text) for text in texts)


__all__ = ["NAVEC", "NO_WORDS", "TextSourceError", "check_sources", "count_characters", "read_all_texts", "read_texts",
           "read_words"]
