"""``--format spacy``: a folder of ``DocBin`` shards, written whole, for spaCy to read back.

Why a folder of shards and not one ``.spacy`` file: a ``DocBin`` is one compressed
blob, so appending to it means rewriting it, and a crash while rewriting loses it all.
Shards are written atomically (temporary file, then rename) every ``docs_per_shard``
documents and when the run ends or is interrupted, so a resumed run finds whole shards
only and redoes at most one shard's worth of documents after a hard crash.

Reading it back:

* ``read_docbin_output(OUT, nlp.vocab)`` yields every doc, shard after shard;
* spaCy's own corpus reader takes the folder as it is (``[corpora.train] path = OUT``,
  or ``spacy.training.Corpus(OUT)``), since it collects every ``.spacy`` file below a path;
* ``DocBin().from_disk(OUT / "part-000000.spacy")`` reads one shard.

Every doc comes back with ``ents``, ``spans`` (with ``attrs``), ``cats``, ``_.relations``
and its id in ``doc.user_data["nerel_doc_id"]``.
"""
import re
import zlib
from pathlib import Path
from typing import Iterator, List, Set

import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..brat import DOC_ID_KEY
from ..brat_writer import atomic_write_bytes
from .base import ClosingSink, OutputError, PathLike, prepare_folder

DEFAULT_DOCS_PER_SHARD = 1000
SHARD_SUFFIX = ".spacy"
_SHARD_RE = re.compile(r"^part-(\d{6,})\.spacy$")


def shard_paths(folder: PathLike) -> List[Path]:
    """The finished shards of an output folder, in the order they were written."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    shards = [path for path in folder.iterdir() if _SHARD_RE.match(path.name) and path.is_file()]
    return sorted(shards, key=lambda path: int(_SHARD_RE.match(path.name).group(1)))


def shard_ids(path: PathLike) -> List[str]:
    """The doc ids stored in one shard, read from its user data without building the docs."""
    doc_bin = DocBin(store_user_data=True).from_disk(path)
    ids = []
    for data in doc_bin.user_data:
        user_data = srsly.msgpack_loads(data, use_list=False) if data else {}
        doc_id = user_data.get(DOC_ID_KEY)
        if doc_id is not None:
            ids.append(str(doc_id))
    return ids


def read_docbin_output(path: PathLike, vocab: Vocab) -> Iterator[Doc]:
    """Every doc of a ``--format spacy`` output folder (or of a single ``.spacy`` file)."""
    path = Path(path)
    if path.is_file():
        shards = [path]
    elif path.is_dir():
        shards = shard_paths(path)
    else:
        raise FileNotFoundError(f"{path}: no such .spacy file or output folder; check the path")
    for shard in shards:
        yield from DocBin(store_user_data=True).from_disk(shard).get_docs(vocab)


class DocBinSink(ClosingSink):
    """Collects docs into a ``DocBin`` and writes it as the next shard when full or closed."""

    def __init__(
        self, path: PathLike, *, resume: bool = False, overwrite: bool = False,
        docs_per_shard: int = DEFAULT_DOCS_PER_SHARD,
    ):
        if docs_per_shard < 1:
            raise ValueError(f"docs_per_shard must be at least 1, not {docs_per_shard}")
        self.path = prepare_folder(path, resume=resume, overwrite=overwrite)
        if overwrite:
            for shard in shard_paths(self.path):
                shard.unlink()
        for stale in self.path.glob(".part-*.tmp"):
            stale.unlink()  # a shard being written when the last run died
        self.docs_per_shard = docs_per_shard
        existing = shard_paths(self.path)
        self._next = int(_SHARD_RE.match(existing[-1].name).group(1)) + 1 if existing else 0
        self._doc_bin = self._new_doc_bin()
        self.written = 0

    @staticmethod
    def _new_doc_bin() -> DocBin:
        return DocBin(store_user_data=True)

    def done_ids(self) -> Set[str]:
        done: Set[str] = set()
        for shard in shard_paths(self.path):
            try:
                done.update(shard_ids(shard))
            except (ValueError, TypeError, KeyError, zlib.error) as err:
                raise OutputError(
                    f"{shard}: not a readable DocBin ({err}); delete that shard to resume, "
                    "or start again with --overwrite"
                ) from None
        return done

    def write(self, doc_id: str, doc: Doc) -> None:
        doc.user_data[DOC_ID_KEY] = doc_id
        self._doc_bin.add(doc)
        self.written += 1
        if len(self._doc_bin) >= self.docs_per_shard:
            self.flush()

    def flush(self) -> None:
        """Write the docs collected so far as a shard (nothing when there are none)."""
        if len(self._doc_bin) == 0:
            return
        path = self.path / f"part-{self._next:06d}{SHARD_SUFFIX}"
        atomic_write_bytes(path, self._doc_bin.to_bytes())
        self._next += 1
        self._doc_bin = self._new_doc_bin()



__all__ = ["DocBinSink", "read_docbin_output", "shard_ids", "shard_paths"]
