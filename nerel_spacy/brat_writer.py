"""Write spaCy ``Doc`` objects as brat standoff files (``.txt`` + ``.ann``).

The inverse of ``brat.py``: reading what this module writes gives back the same
mentions (``doc.spans["nerel"]``, or ``doc.ents`` when the group is missing), labels,
discontinuous fragments, relations (``doc._.relations``) and kb ids (``span.kb_id_``).

* ``T`` lines carry the exact character offsets of the ``Doc`` text, which is written
  as is (UTF-8, no BOM, no newline translation), so offsets stay valid.
* ``R`` lines name Arg1 (the head) and Arg2 (the tail) of each relation.
* ``N`` lines link a mention to Wikidata (``Wikidata:Q42``) or to ``DB:ID`` when the kb id
  carries its own prefix, as the reader stores non-Wikidata links.
* Predicted scores (``spans["nerel"].attrs["scores"]``, a relation's ``"score"``) become
  brat ``AnnotatorNotes``, which brat shows beside the annotation and the reader skips.
"""
import os
import re
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, Span

from .brat import FRAGMENTS_KEY, get_fragments
from .schema import SPANS_KEY
from .spans import get_relations

PathLike = Union[str, Path]

_WIKIDATA_ID_RE = re.compile(r"[QP]\d+")
_PREFIXED_ID_RE = re.compile(r"[^\s:]+:\S+")
_LABEL_RE = re.compile(r"\S+")


class BratWriteError(ValueError):
    """A ``Doc`` holds something a brat file cannot express; names the mention and the fix."""


def mentions_of(doc: Doc) -> List[Span]:
    """The mentions to write: ``doc.spans["nerel"]`` (nested included), else ``doc.ents``."""
    if SPANS_KEY in doc.spans:
        return list(doc.spans[SPANS_KEY])
    return list(doc.ents)


def _one_line(text: str) -> str:
    # brat writes line breaks and tabs inside a mention as spaces; the reader accepts that.
    return re.sub(r"[\t\r\n\v\f\x1c-\x1e\x85\u2028\u2029]", " ", text)


def _check_label(label: str, what: str) -> str:
    if not _LABEL_RE.fullmatch(label or ""):
        raise BratWriteError(
            f"{what} has label {label!r}; a brat label must be one word without spaces "
            "(rename it, e.g. with underscores)"
        )
    return label


def kb_id_to_link(kb_id: str, what: str = "mention") -> Tuple[str, str]:
    """``(db, id)`` of an ``N`` line for ``kb_id``: ``Q42`` -> Wikidata, ``DB:ID`` kept as is."""
    if _WIKIDATA_ID_RE.fullmatch(kb_id):
        return "Wikidata", kb_id
    if _PREFIXED_ID_RE.fullmatch(kb_id):
        db, db_id = kb_id.split(":", 1)
        return db, db_id
    raise BratWriteError(
        f"{what} has kb id {kb_id!r}, which a brat N line cannot hold so that it reads back "
        "the same; give Wikidata ids as Q123, other ids as DB:ID without spaces"
    )


def _fragments_for(doc: Doc, mentions: Sequence[Span]) -> Dict[int, List[Tuple[int, int]]]:
    """Fragments of discontinuous mentions by index, checked against the mention's hull."""
    if FRAGMENTS_KEY not in doc.user_data or SPANS_KEY not in doc.spans:
        return {}
    fragments = {}
    for index, frags in get_fragments(doc).items():
        if not 0 <= index < len(mentions):
            continue
        frags = sorted(frags)
        span = mentions[index]
        if frags and frags[0][0] == span.start_char and frags[-1][1] == span.end_char:
            fragments[index] = frags
    return fragments


def _scores(doc: Doc, n_mentions: int) -> Optional[Sequence[float]]:
    if SPANS_KEY not in doc.spans:
        return None
    scores = doc.spans[SPANS_KEY].attrs.get("scores")
    if scores is None or len(scores) != n_mentions:
        return None
    return scores


def doc_to_ann(doc: Doc) -> str:
    """The text of a brat ``.ann`` file for ``doc`` (the ``.txt`` is ``doc.text``).

    Entity ids are ``T1..Tn`` in the order of the mentions, so ``T{i+1}`` is mention ``i``.
    Raises ``BratWriteError`` for a label with spaces, a relation naming a mention that
    does not exist, or a kb id that cannot be written as ``DB:ID``.
    """
    mentions = mentions_of(doc)
    fragments = _fragments_for(doc, mentions)
    scores = _scores(doc, len(mentions))
    lines: List[str] = []
    notes: List[Tuple[str, str]] = []
    links: List[Tuple[int, str, str, str]] = []
    for index, span in enumerate(mentions):
        what = f"mention {index} {span.text!r} ({span.start_char}-{span.end_char})"
        label = _check_label(span.label_, what)
        frags = fragments.get(index, [(span.start_char, span.end_char)])
        offsets = ";".join(f"{start} {end}" for start, end in frags)
        mention = " ".join(doc.text[start:end] for start, end in frags)
        lines.append(f"T{index + 1}\t{label} {offsets}\t{_one_line(mention)}")
        if span.kb_id_:
            db, db_id = kb_id_to_link(span.kb_id_, what)
            links.append((index, db, db_id, _one_line(span.text)))
        if scores is not None:
            notes.append((f"T{index + 1}", f"score={float(scores[index]):.4f}"))
    for number, relation in enumerate(get_relations(doc), start=1):
        head, tail = relation["head"], relation["tail"]
        for arg in (head, tail):
            if not isinstance(arg, int) or not 0 <= arg < len(mentions):
                raise BratWriteError(
                    f"relation {number - 1} {relation!r} names mention {arg!r}, but the doc has "
                    f"{len(mentions)} mentions; head and tail index doc.spans[{SPANS_KEY!r}]"
                )
        label = _check_label(str(relation["label"]), f"relation {number - 1}")
        lines.append(f"R{number}\t{label} Arg1:T{head + 1} Arg2:T{tail + 1}")
        if relation.get("score") is not None:
            notes.append((f"R{number}", f"score={float(relation['score']):.4f}"))
    for number, (index, db, db_id, text) in enumerate(links, start=1):
        lines.append(f"N{number}\tReference T{index + 1} {db}:{db_id}\t{text}")
    for number, (target, note) in enumerate(notes, start=1):
        lines.append(f"#{number}\tAnnotatorNotes {target}\t{note}")
    return "".join(line + "\n" for line in lines)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 (no newline translation) to a temporary file, then rename it.

    A reader, or a run resumed after a crash, sees the old file or the new one, never half.
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``
    and fsync the folder, so the new name outlives a power cut too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and all of Windows) refuse fsync on a folder
    finally:
        os.close(fd)


# Bytes of the target's name a temporary name keeps: with "." before, "." + 8 random
# characters + ".tmp" after, it stays far below the 255 bytes a file name may have.
_TEMPORARY_NAME_BYTES = 64


def _temporary_prefix(name: str) -> str:
    """``.NAME.`` for the temporary file beside ``NAME``, the name cut to fit any file system.

    A dot-file ending in ``.tmp`` (which no output suffix matches, so resuming never counts
    it as done); short names stay whole, so ``.part-000001.spacy.*.tmp`` is still the
    temporary of a DocBin shard.
    """
    while len(os.fsencode(name)) > _TEMPORARY_NAME_BYTES:
        name = name[:-1]
    return f".{name}."


def _new_file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_brat_document(doc: Doc, txt_path: PathLike, ann_path: Optional[PathLike] = None) -> None:
    """Write ``doc`` as ``txt_path`` and ``ann_path`` (default: same name, ``.ann``), each atomically.

    The ``.ann`` is built before anything is written, so a ``BratWriteError`` leaves no
    file behind; the ``.txt`` is written first, so a pair with its ``.ann`` is complete.
    """
    txt_path = Path(txt_path)
    ann_path = Path(ann_path) if ann_path is not None else txt_path.with_suffix(".ann")
    ann = doc_to_ann(doc)
    atomic_write_text(txt_path, doc.text)
    atomic_write_text(ann_path, ann)


__all__ = [
    "BratWriteError",
    "atomic_write_bytes",
    "atomic_write_text",
    "doc_to_ann",
    "fsync_folder",
    "kb_id_to_link",
    "mentions_of",
    "write_brat_document",
]
