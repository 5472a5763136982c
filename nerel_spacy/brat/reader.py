"""brat files and folders: find the ``.txt`` + ``.ann`` pairs, read them, build the docs."""
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from ..schema import Schema
from .ann import parse_ann
from .doc import annotations_to_doc
from .report import BratFormatError, PathLike, ReadReport

DOC_ID_KEY = "nerel_doc_id"


def read_text(path: PathLike) -> str:
    """Read a ``.txt`` exactly as written: UTF-8, no newline translation, BOM kept."""
    with open(path, encoding="utf-8", newline="") as file_:
        return file_.read()


def read_ann(path: PathLike) -> str:
    """Read an ``.ann`` file as UTF-8; ``parse_ann`` strips a BOM and ``\\r`` line ends."""
    with open(path, encoding="utf-8", newline="") as file_:
        return file_.read()


def read_brat_document(
    txt_path: PathLike,
    ann_path: Optional[PathLike] = None,
    nlp: Optional[Language] = None,
    schema: Optional[Schema] = None,
    *,
    strict: bool = False,
) -> Tuple[Doc, ReadReport]:
    """Read one brat document into a ``Doc`` and the report of what was kept and dropped.

    ``ann_path`` defaults to the ``.txt`` path with suffix ``.ann``; a missing ``.ann``
    raises ``BratFormatError`` (a text without annotation is not training data).
    """
    txt_path = Path(txt_path)
    ann_path = Path(ann_path) if ann_path is not None else txt_path.with_suffix(".ann")
    if nlp is None:
        from ..tokenizer import make_blank_nlp

        nlp = make_blank_nlp()
    schema = schema if schema is not None else Schema()
    if not txt_path.exists():
        raise BratFormatError(txt_path, None, "text file not found", "check the path")
    if not ann_path.exists():
        raise _missing_ann_error(txt_path, ann_path)
    raw_text = _read_utf8(read_text, txt_path)
    ann_text = _read_utf8(read_ann, ann_path)
    ann, warnings = parse_ann(ann_text, ann_path, strict=strict)
    doc, report = annotations_to_doc(
        raw_text, ann, nlp, schema, txt_path=txt_path, strict=strict, warnings=warnings
    )
    doc.user_data[DOC_ID_KEY] = txt_path.stem
    return doc, report


def _read_utf8(read: Callable[[PathLike], str], path: Path) -> str:
    """``read(path)``; a file that is not UTF-8 raises ``BratFormatError`` naming that file."""
    try:
        return read(path)
    except UnicodeDecodeError as err:
        raise BratFormatError(
            path, None, f"not valid UTF-8 ({err.reason} at byte {err.start})",
            f"re-save the {path.suffix or 'file'} as UTF-8",
        ) from None


def find_documents(folder: PathLike) -> List[Path]:
    """The ``.txt`` files of a brat folder, sorted by name (not recursive)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BratFormatError(folder, None, "folder not found", "pass a folder of .txt/.ann files")
    return sorted(path for path in folder.glob("*.txt") if path.is_file())


def check_pairs(folder: PathLike) -> List[Path]:
    """The ``.txt`` files of ``folder``; raises on the first unpaired file by name.

    A ``.txt`` without its ``.ann`` and an ``.ann`` without its ``.txt`` are both errors:
    either one means a document would be left out without a word.
    """
    paths = find_documents(folder)
    texts = set(paths)
    unpaired = [
        (txt_path.name, _missing_ann_error(txt_path, txt_path.with_suffix(".ann")))
        for txt_path in paths
        if not txt_path.with_suffix(".ann").exists()
    ]
    unpaired += [
        (ann_path.name, _missing_txt_error(ann_path, ann_path.with_suffix(".txt")))
        for ann_path in Path(folder).glob("*.ann")
        if ann_path.is_file() and ann_path.with_suffix(".txt") not in texts
    ]
    if unpaired:
        raise min(unpaired, key=lambda item: item[0])[1]
    return paths


def _missing_ann_error(txt_path: Path, ann_path: Path) -> BratFormatError:
    return BratFormatError(
        txt_path,
        None,
        f"no annotation file {ann_path.name} next to it",
        "add the .ann (an empty one if the text has no entities) or remove the .txt",
    )


def _missing_txt_error(ann_path: Path, txt_path: Path) -> BratFormatError:
    return BratFormatError(
        ann_path,
        None,
        f"no text file {txt_path.name} next to it",
        "add the .txt it annotates or remove the .ann",
    )


def read_brat_folder(
    folder: PathLike,
    nlp: Optional[Language] = None,
    schema: Optional[Schema] = None,
    *,
    strict: bool = False,
    on_document: Optional[Callable[[Path], None]] = None,
) -> Iterator[Tuple[Doc, ReadReport]]:
    """Yield ``(doc, report)`` for each ``.txt`` + ``.ann`` pair of a brat folder, by name.

    Unpaired files (a ``.txt`` without ``.ann`` or the reverse) are checked before
    anything is read, so a bad folder fails fast instead of after converting half of it.
    """
    paths = check_pairs(folder)
    if nlp is None:
        from ..tokenizer import make_blank_nlp

        nlp = make_blank_nlp()
    for txt_path in paths:
        if on_document is not None:
            on_document(txt_path)
        yield read_brat_document(txt_path, None, nlp, schema, strict=strict)
