"""What every output format shares: the ``DocSink`` interface and document ids as file paths.

A sink receives one whole input document at a time (``write``), makes it durable so that
an interrupted run loses nothing it reported as written, and tells a resumed run which
ids it already holds (``done_ids``).

Ids become paths below the output folder: ``sub/dir/file.txt`` gives ``sub/dir/file.ann``.
Characters a path cannot carry safely (``%``, ``\\``, control characters) are written as
``%XX``, and an id that would leave the folder (``../x``, ``/abs``, ``a//b``) becomes a
single escaped file name, so every id has its own path and the path gives the id back.
"""
import os
import re
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, Protocol, Set, Tuple, Union, runtime_checkable
from urllib.parse import unquote

from spacy.tokens import Doc


class OutputError(ValueError):
    """The output can't be used as asked (exists without --resume, or is corrupt).

    Defined here, below ``nerel_spacy.annotate``, which re-exports it for every writer.
    """


PathLike = Union[str, Path]
# brat pairs X.txt with X.ann, so a ".txt" id keeps its stem and gets the format's suffix.
TEXT_SUFFIX = ".txt"
_UNSAFE_CHAR = re.compile(r"[%\\\x00-\x1f\x7f]")
_UNSAFE_FLAT = re.compile(r"[%/\\\x00-\x1f\x7f]")


@runtime_checkable
class DocSink(Protocol):
    """Where ``nerel-batch annotate`` puts annotated documents, one format per class."""

    def done_ids(self) -> Set[str]:
        """Ids already complete in the output, so that ``--resume`` skips them."""

    def write(self, doc_id: str, doc: Doc) -> None:
        """Add one whole input document; it is on disk whole or not at all."""

    def flush(self) -> None:
        """Make every document written so far durable."""

    def close(self) -> None:
        """Flush and release the output."""


def _escape(text: str, unsafe: "re.Pattern[str]") -> str:
    return unsafe.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), text)


def id_to_relpath(doc_id: str) -> str:
    """The path (``/``-separated, relative, no suffix) that stands for ``doc_id``.

    A trailing ``.txt`` is dropped, so ``a.txt`` and ``a`` share a path; ``PathRegistry``
    catches two such ids in one run.
    """
    if not doc_id:
        raise ValueError("a document id must not be empty")
    stem = doc_id[: -len(TEXT_SUFFIX)] if doc_id.endswith(TEXT_SUFFIX) and doc_id != TEXT_SUFFIX else doc_id
    parts = stem.split("/")
    if all(part not in ("", ".", "..") for part in parts):
        return "/".join(_escape(part, _UNSAFE_CHAR) for part in parts)
    flat = _escape(stem, _UNSAFE_FLAT)
    if flat.strip(".") == "":
        flat = flat.replace(".", "%2E")
    return flat


def relpath_to_ids(relpath: str) -> Tuple[str, str]:
    """The two ids that ``relpath`` (from ``id_to_relpath``) may stand for: with and without ``.txt``."""
    stem = unquote(relpath)
    return stem + TEXT_SUFFIX, stem


def output_file(root: Path, doc_id: str, suffix: str) -> Path:
    """``root / id_to_relpath(doc_id) + suffix``, e.g. ``out/sub/file.ann``."""
    return root.joinpath(*PurePosixPath(id_to_relpath(doc_id) + suffix).parts)


def iter_output_files(root: Path, suffix: str) -> Iterator[Tuple[Path, str]]:
    """``(path, relpath)`` of each file under ``root`` ending in ``suffix``.

    Names starting with a dot count (the input ``.hidden.txt`` is written as ``.hidden.ann``);
    temporary files end in ``.tmp``, the manifest in ``.json`` and the errors file in
    ``.jsonl``, so they never end in an output suffix.
    """
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*" + suffix)):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        yield path, rel[: -len(suffix)]


def folder_ignores_case(folder: Path) -> bool:
    """Whether names in ``folder`` that differ only in case name one file (macOS, Windows);
    ``False`` where no probe can be written (the writes themselves will say why)."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".case-probe-", suffix=".tmp", dir=folder)
    except OSError:
        return False
    os.close(handle)
    try:
        return os.path.exists(os.path.join(folder, os.path.basename(probe).upper()))
    finally:
        os.unlink(probe)


class PathRegistry:
    """The paths written in this run, so two ids that map to one file are an error, not a loss.

    With ``ignore_case`` (a folder on a case-insensitive file system) ``A.txt`` and ``a.txt``,
    or two Unicode spellings of one name, are one file too.
    """

    def __init__(self, ignore_case: bool = False) -> None:
        self._owner: Dict[str, str] = {}
        self.ignore_case = ignore_case

    def claim(self, doc_id: str) -> str:
        relpath = id_to_relpath(doc_id)
        key = unicodedata.normalize("NFC", relpath).casefold() if self.ignore_case else relpath
        owner = self._owner.setdefault(key, doc_id)
        if owner != doc_id:
            raise OutputError(
                f"ids {owner!r} and {doc_id!r} would be written to the same file {relpath!r}; "
                "give the inputs unique names (a '.txt' suffix does not count"
                + (", nor does case on this file system)" if self.ignore_case else ")")
            )
        return relpath


def prepare_folder(path: PathLike, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Make the output folder ``path``; like ``prepare_output``, a non-empty one needs a flag.

    ``overwrite`` replaces documents as they are written again and does not delete others.
    """
    path = Path(path)
    if resume and overwrite:
        raise OutputError("--resume and --overwrite contradict each other; choose one")
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"{path} is a file; this format writes a folder, so give a folder name such as "
            f"{path.with_suffix('')}"
        )
    if path.is_dir() and any(path.iterdir()) and not (resume or overwrite):
        raise OutputError(
            f"{path} already exists and is not empty; add --resume to continue it, "
            "or --overwrite to write into it again"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


class ClosingSink:
    """``close`` flushes; ``with sink:`` closes it on the way out, whatever stopped the run."""

    def flush(self) -> None:
        """Nothing to do unless the sink buffers documents."""

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> "ClosingSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderSink(ClosingSink):
    """A sink writing one or more files per document under a folder; durable per ``write``."""

    #: Suffixes of the files of one document; done when all exist. The last is written last.
    suffixes: Tuple[str, ...] = ()

    def __init__(self, path: PathLike, *, resume: bool = False, overwrite: bool = False):
        self.path = prepare_folder(path, resume=resume, overwrite=overwrite)
        self._paths = PathRegistry(ignore_case=folder_ignores_case(self.path))
        self.written = 0

    def paths_for(self, doc_id: str) -> Tuple[Path, ...]:
        """The files ``doc_id`` is written to, one per suffix, its old completion marker removed.

        With ``--overwrite``, a crash between a new first file and the new last one must not
        leave a document that counts as done with an old last file beside a new first one.
        """
        self._paths.claim(doc_id)
        paths = tuple(output_file(self.path, doc_id, suffix) for suffix in self.suffixes)
        if len(paths) > 1:
            paths[-1].unlink(missing_ok=True)
        return paths

    def done_ids(self) -> Set[str]:
        """Ids whose files all exist. Each file set stands for its id with and without ``.txt``."""
        done: Set[str] = set()
        last = self.suffixes[-1]
        for path, relpath in iter_output_files(self.path, last):
            stem = path.name[: -len(last)]
            if all(path.with_name(stem + suffix).is_file() for suffix in self.suffixes[:-1]):
                done.update(relpath_to_ids(relpath))
        return done



__all__ = [
    "ClosingSink",
    "DocSink",
    "FolderSink",
    "PathRegistry",
    "folder_ignores_case",
    "id_to_relpath",
    "iter_output_files",
    "output_file",
    "prepare_folder",
    "relpath_to_ids",
]
