"""Inputs: folders, files and stdin lines found lazily, and their bytes decoded to text.

Nothing is read while discovering, so counting a run's inputs is cheap. Every bad input
becomes an ``InputError`` that is recorded and counted, and the run goes on. Character
offsets index the text as decoded: a byte order mark is dropped and line endings are
kept as they are (read files with ``newline=""`` to match them). A file that starts with
a UTF-16 or UTF-32 byte order mark (Windows' "Unicode" text) is decoded as it says.
"""
import codecs
import itertools
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

STDIN = "-"
DEFAULT_GLOB = "*.txt"

# Bytes sniffed for NUL to tell binary files from text.
BINARY_SNIFF_BYTES = 8192

# Byte order marks that name a file's encoding, UTF-32's first: its little-endian mark
# begins with UTF-16's.
UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Reasons an input is not annotated (the ``reason`` field of the errors JSONL).
MISSING = "missing"
BROKEN_SYMLINK = "broken-symlink"
UNREADABLE = "unreadable"
BINARY = "binary"
NOT_UTF8 = "not-utf8"
EMPTY = "empty"
TOO_LONG = "too-long"
DUPLICATE_ID = "duplicate-id"
BAD_JSONL = "bad-jsonl"


class InputError(Exception):
    """An input that could not be annotated, with a machine-readable reason and the fix."""

    def __init__(self, id: str, reason: str, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.id = id
        self.reason = reason
        self.message = message
        self.path = path

    def to_record(self) -> Dict[str, Any]:
        record: Dict[str, Any] = {"id": self.id, "reason": self.reason, "message": self.message}
        if self.path is not None:
            record["path"] = self.path
        return record


@dataclass(frozen=True)
class Source:
    """One input document: a file still to be read, or a stdin line already decoded."""

    id: str
    path: Optional[Path] = None
    text: Optional[str] = None
    encoding: Optional[str] = None
    line: Optional[int] = None  # a stdin text's 1-based line number

    @property
    def where(self) -> str:
        """How messages name it: its path, else its stdin line (and id, if the line gave one)."""
        if self.path is not None:
            return str(self.path)
        if self.line is None:
            return self.id
        here = f"stdin line {self.line}"
        return here if self.id == f"stdin:{self.line}" else f"{here} (id {self.id!r})"


def iter_sources(
    inputs: Iterable[str],
    glob: str = DEFAULT_GLOB,
    *,
    stdin: Optional[BinaryIO] = None,
    encoding: Optional[str] = None,
    exclude: Sequence[str] = (),
) -> Iterator[Union[Source, InputError]]:
    """Lazily yield a ``Source`` per document named by ``inputs``, or an ``InputError``.

    A folder yields its files matching ``glob`` recursively in sorted order, with ids
    relative to the folder; a file yields itself with its name as id; ``-`` yields the
    lines of ``stdin``. Nothing is read from files here, so counting is cheap.

    ``glob`` is matched against the path relative to the folder from the right, as
    ``PurePath.match`` does, so ``*.txt`` matches at any depth (``**/`` in front is
    accepted and changes nothing). Symlinked folders are followed, each folder read once
    (a link back up the tree or a second link to one folder is not entered). A folder walk never
    yields the paths in ``exclude`` (the run's own output files) nor enters a folder among them.
    """
    excluded = frozenset(os.path.realpath(path) for path in exclude)
    for name in inputs:
        if name == STDIN:
            if stdin is None:
                raise ValueError("'-' names stdin, but no stdin stream was given")
            yield from iter_stdin(stdin, encoding=encoding)
            continue
        path = Path(name)
        if path.is_dir():
            yield from _iter_folder(path, glob, excluded)
        elif path.is_symlink() and not path.exists():
            yield _broken_symlink(path, id=name)
        elif not path.exists():
            yield InputError(
                name, MISSING, f"{name}: no such file or folder; check the path", path=name
            )
        else:
            yield Source(id=path.name, path=path)


def _iter_folder(
    root: Path, glob: str, excluded: FrozenSet[str] = frozenset()
) -> Iterator[Union[Source, InputError]]:
    while glob.startswith("**/"):
        glob = glob[3:]
    walk_errors: List[OSError] = []
    visited: Set[Optional[Tuple[int, int]]] = {_folder_key(root)}
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_errors.append, followlinks=True):
        if excluded:
            real = os.path.realpath(dirpath)
            dirnames[:] = [name for name in dirnames if os.path.join(real, name) not in excluded]
            filenames = [name for name in filenames if os.path.join(real, name) not in excluded]
        kept = []
        # the folders themselves before links to them, so a folder keeps its own ids
        for name in sorted(dirnames, key=lambda name: (os.path.islink(os.path.join(dirpath, name)), name)):
            key = _folder_key(Path(dirpath, name))
            if key is None or key not in visited:  # None: os.walk reports it
                visited.add(key)
                kept.append(name)
        dirnames[:] = sorted(kept)
        while walk_errors:
            err = walk_errors.pop(0)
            yield _unreadable(root, Path(err.filename or dirpath), err)
        for filename in sorted(filenames):
            path = Path(dirpath, filename)
            rel = PurePosixPath(path.relative_to(root).as_posix())
            if not rel.match(glob):
                continue
            if path.is_symlink() and not path.exists():
                yield _broken_symlink(path, id=str(rel))
            else:
                yield Source(id=str(rel), path=path)
    while walk_errors:
        err = walk_errors.pop(0)
        yield _unreadable(root, Path(err.filename or root), err)


def _folder_key(path: Path) -> Optional[Tuple[int, int]]:
    """A folder's identity whatever links lead to it: its device and inode; ``None`` when it
    can't be read."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _broken_symlink(path: Path, id: str) -> InputError:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return InputError(
        id,
        BROKEN_SYMLINK,
        f"{path}: broken symlink (its target {target} does not exist or loops); "
        "fix or remove the link",
        path=str(path),
    )


def _unreadable(root: Path, path: Path, err: OSError) -> InputError:
    try:
        id = path.relative_to(root).as_posix()
    except ValueError:
        id = str(path)
    return InputError(
        id, UNREADABLE, f"{path}: can't be read ({err.strerror}); check its permissions",
        path=str(path),
    )


def iter_stdin(stream: BinaryIO, encoding: Optional[str] = None) -> Iterator[Union[Source, InputError]]:
    """Yield a ``Source`` per non-blank line: JSONL (an object with "text") or plain text.

    Each line is detected on its own. Ids are the JSONL ``id`` field, else ``stdin:N``
    with N the 1-based line number. Blank lines separate texts and are not inputs. A line
    that starts with ``{`` but is no JSON (a truncated JSONL line) is an error, not a text,
    so its id is not lost. Stdin that starts with a UTF-16 or UTF-32 byte order mark
    (PowerShell's pipes) is decoded as the mark says.
    """
    for number, raw in enumerate(stream, 1):
        if number == 1:
            for bom, name in UNICODE_BOMS:
                if raw.startswith(bom):
                    yield from _unicode_stdin(itertools.chain([raw[len(bom):]], stream), name)
                    return
        line_id = f"stdin:{number}"
        raw = raw.rstrip(b"\r\n")
        if b"\x00" in raw:
            yield InputError(line_id, BINARY, f"stdin line {number}: NUL bytes (UTF-16 without a byte "
                             "order mark?); send UTF-8")
            continue
        try:
            line, used = decode_bytes(raw, encoding)
        except InputError as err:
            yield InputError(line_id, err.reason, f"stdin line {number}: {err.message}")
            continue
        yield from _stdin_line(number, line, used)


def _unicode_stdin(chunks: Iterable[bytes], name: str) -> Iterator[Union[Source, InputError]]:
    """The lines of a UTF-16 or UTF-32 stdin (its byte order mark already dropped)."""
    decoder = codecs.getincrementaldecoder(name)()
    pending, number = "", 0
    try:
        for chunk in itertools.chain(chunks, [b""]):
            pending += decoder.decode(chunk, final=not chunk)
            *lines, pending = pending.split("\n")
            for line in lines + ([pending] if not chunk and pending else []):
                number += 1
                yield from _stdin_line(number, line.rstrip("\r"), name)
    except UnicodeDecodeError as err:
        yield InputError(f"stdin:{number + 1}", NOT_UTF8, f"stdin line {number + 1}: starts as {name} but "
                         f"is not ({err.reason}); convert it to UTF-8")


def _stdin_line(number: int, line: str, used: Optional[str]) -> Iterator[Union[Source, InputError]]:
    """The source (or error) of stdin line ``number``: JSONL, plain text, or nothing if blank."""
    line_id = f"stdin:{number}"
    if not line.strip():
        return
    if not line.lstrip().startswith("{"):
        yield Source(id=line_id, text=line, encoding=used, line=number)
        return
    try:
        obj = json.loads(line)
    except ValueError as err:
        yield InputError(line_id, BAD_JSONL, f"stdin line {number}: starts with '{{' but is not JSON ({err}); "
                         "fix the line, or give plain text that does not start with '{'")
        return
    text = obj.get("text") if isinstance(obj, dict) else None
    if not isinstance(text, str):
        yield InputError(line_id, BAD_JSONL, f"stdin line {number}: a JSON object without a string \"text\" "
                         'field; give each line as {"id": ..., "text": "..."}')
        return
    doc_id = obj.get("id")
    yield Source(id=line_id if doc_id is None else str(doc_id), text=text, encoding=used, line=number)


def measure_sources(
    inputs: Sequence[str], glob: str = DEFAULT_GLOB, exclude: Sequence[str] = ()
) -> Optional[Tuple[int, int]]:
    """How many inputs ``inputs`` name and their bytes, from paths alone; ``None`` with stdin among them."""
    if STDIN in inputs:
        return None
    count = size = 0
    for source in iter_sources(inputs, glob, exclude=exclude):
        count += 1
        size += source_size(source)
    return count, size


def source_size(source: Union[Source, InputError]) -> int:
    """The bytes an input stands for in progress: its file's size (0 when that can't be
    read or is not a regular file), or a stdin text's UTF-8 length."""
    if isinstance(source, Source) and source.path is None:
        return len((source.text or "").encode("utf-8"))
    path = source.path
    if path is None:
        return 0
    try:
        info = os.stat(path)
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def decode_bytes(data: bytes, encoding: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """Decode UTF-8 (a BOM is dropped), else ``encoding``; returns the text and the fallback used."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        where = f"byte 0x{data[err.start]:02x} at offset {err.start}"
        if encoding is None:
            raise InputError("", NOT_UTF8, f"not UTF-8 ({where}); try --encoding cp1251") from None
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as err:
        raise InputError(
            "", NOT_UTF8,
            f"neither UTF-8 ({where}) nor {encoding} (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); convert it to UTF-8 or try another --encoding",
        ) from None
    except LookupError:
        raise ValueError(f"unknown --encoding {encoding!r}; try cp1251 or koi8_r") from None


def load_text(source: Source, encoding: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """The text of ``source`` and the fallback encoding used, or an ``InputError`` saying why not."""
    if source.path is None:
        text, used = source.text or "", source.encoding
    else:
        text, used = _read_file(source, encoding)
    if not text.strip():
        raise InputError(source.id, EMPTY, f"{source.where}: empty or only whitespace; nothing to annotate",
                         path=path_str(source))
    return text, used


def _read_file(source: Source, encoding: Optional[str]) -> Tuple[str, Optional[str]]:
    path = source.path
    assert path is not None
    try:
        # Checked before opening: opening a FIFO for reading blocks until someone writes to it.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(source.id, UNREADABLE,
                             f"{path}: not a regular file (a FIFO or device); leave it out",
                             path=str(path))
        with open(path, "rb") as file:
            data = file.read()
    except OSError as err:
        raise InputError(
            source.id, UNREADABLE, f"{path}: can't be read ({err.strerror}); check its permissions",
            path=str(path),
        ) from None
    return decode_file_bytes(source.id, str(path), data, encoding)


def decode_file_bytes(id: str, where: str, data: bytes, encoding: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """A file's bytes as text, or an ``InputError`` (binary, not UTF-8) naming ``where``.

    Shared by local files and files on a pyarrow filesystem (``s3://``), so both are
    judged by the same rules. A UTF-16 or UTF-32 byte order mark decides the encoding,
    which is returned as the one used.
    """
    for bom, name in UNICODE_BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(name), name
            except UnicodeDecodeError as err:
                offset = len(bom) + err.start
                raise InputError(
                    id, NOT_UTF8,
                    f"{where}: starts with a {name} byte order mark, but byte 0x{data[offset]:02x} at offset "
                    f"{offset} is not {name}; convert it to UTF-8",
                    path=where,
                ) from None
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise InputError(
            id, BINARY,
            f"{where}: binary (NUL bytes in the first {BINARY_SNIFF_BYTES // 1024} KiB); "
            "if it is UTF-16 text without a byte order mark, convert it to UTF-8",
            path=where,
        )
    try:
        return decode_bytes(data, encoding)
    except InputError as err:
        raise InputError(id, err.reason, f"{where}: {err.message}", path=where) from None


def path_str(source: Source) -> Optional[str]:
    """The path of a file source as the errors JSONL gives it; ``None`` for stdin."""
    return None if source.path is None else str(source.path)
