"""Inputs on a pyarrow filesystem (``s3://``, ``gs://``, ``hdfs://``, ``file://``): found and read
by the rules of local folders.

A folder URI yields its files matching the glob recursively in sorted order, with ids
relative to it; a file URI yields itself with its name as id; a URI that names nothing is
``missing``. Bytes are judged by ``sources.decode_file_bytes``, as local files are.
"""
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Dict, Iterator, Optional, Tuple, Union
from urllib.parse import urlparse

from ..sources import MISSING, UNREADABLE, InputError, decode_file_bytes

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(name: str) -> bool:
    """Whether an input names a filesystem URI (``scheme://…``) rather than a local path."""
    return bool(_SCHEME.match(name))


@dataclass(frozen=True)
class RemoteFile:
    """A file on a pyarrow filesystem: ``root`` is the URI given (it builds the filesystem,
    credentials and options included), ``fs_path`` the file's path inside that filesystem."""

    id: str
    root: str
    fs_path: str
    size: int

    @property
    def path(self) -> str:
        """The file as the errors JSONL names it: ``scheme://fs_path``."""
        return display_uri(self.root, self.fs_path)

    @property
    def where(self) -> str:
        """How messages name it, as ``Source.where``: its URI."""
        return self.path


def display_uri(root: str, fs_path: str) -> str:
    """``scheme://fs_path``: ``s3://bucket/key``, ``file:///abs/path``."""
    return f"{urlparse(root).scheme}://{fs_path}"


def filesystem(root: str) -> Tuple["FileSystem", str]:
    """The filesystem ``root`` names and the path inside it (``pyarrow.fs.FileSystem.from_uri``)."""
    from pyarrow.fs import FileSystem

    return FileSystem.from_uri(root)


def iter_uri_sources(uri: str, glob: str) -> Iterator[Union[RemoteFile, InputError]]:
    """The files ``uri`` names, as ``iter_sources`` yields a local folder's or file's."""
    from pyarrow.fs import FileSelector, FileType

    try:
        fs, base = filesystem(uri)
        info = fs.get_file_info(base)
        if info.type == FileType.NotFound:
            yield InputError(uri, MISSING, f"{uri}: no such file or folder; check the path", path=uri)
            return
        if info.type != FileType.Directory:
            yield RemoteFile(PurePosixPath(base).name, uri, base, max(info.size or 0, 0))
            return
        infos = fs.get_file_info(FileSelector(base, recursive=True))
    except (OSError, ValueError) as err:
        yield InputError(uri, UNREADABLE, f"{uri}: can't be listed ({err}); check the URI and "
                         "the credentials of its filesystem", path=uri)
        return
    while glob.startswith("**/"):
        glob = glob[3:]
    prefix = base.rstrip("/") + "/"
    files = sorted((i for i in infos if i.type == FileType.File), key=lambda i: i.path)
    for file in files:
        rel = file.path[len(prefix):] if file.path.startswith(prefix) else PurePosixPath(file.path).name
        if PurePosixPath(rel).match(glob):
            yield RemoteFile(rel, uri, file.path, max(file.size or 0, 0))


def read_remote_text(
    file: RemoteFile, encoding: Optional[str], filesystems: Dict[str, "FileSystem"]
) -> Tuple[str, Optional[str]]:
    """The text of ``file`` and the fallback encoding used, or an ``InputError``.

    ``filesystems`` caches one filesystem per root URI, so a worker connects once.
    """
    try:
        fs = filesystems.get(file.root)
        if fs is None:
            fs = filesystems[file.root] = filesystem(file.root)[0]
        with fs.open_input_stream(file.fs_path) as stream:
            data = stream.read()
    except (OSError, ValueError) as err:
        raise InputError(file.id, UNREADABLE, f"{file.path}: can't be read ({err}); check its "
                         "permissions and the credentials of its filesystem", path=file.path) from None
    return decode_file_bytes(file.id, file.path, data, encoding)
