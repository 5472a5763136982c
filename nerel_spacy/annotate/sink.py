"""Output in the formats that write whole docs (spacy, brat, html), beside the JSONL writer.

``annotate_sources(..., with_docs=True)`` hands every ``Annotated`` event its whole ``Doc``
(the parts of a split text joined); ``DocSinkWriter`` gives it to the format's ``DocSink``
(``nerel_spacy.formats``) inside ``write_events``, so resume, errors and exit status work
as for JSONL. A document the format can't hold, or the file system won't take, is listed
in the errors JSONL and the run goes on.
"""
from pathlib import Path
from typing import Set, Tuple

from ..brat_writer import BratWriteError
from ..formats import DOC_FORMATS, DocSink, annotation_conf_for, open_sink
from .output import OUTPUT_FATAL_ERRNOS, OutputError, _sigint_deferred
from .records import Annotated
from .sources import DUPLICATE_ID, InputError

# Reason in the errors JSONL: annotated, but not written: the format can't express it (e.g.
# a brat label with a space, a kb id an N line can't hold), the id can't name a file (empty),
# or the file system refused the write (the OS message says why).
UNWRITABLE = "unwritable"


class DocSinkWriter:
    """Writes the ``Doc`` of each ``Annotated`` event to a ``DocSink``; ``write_events`` drives it.

    Each document is written whole or not at all: a Ctrl-C waits until the sink has written
    it (brat's ``.txt`` and ``.ann``), and ``close`` writes what a sink still buffers (the
    last DocBin shard).
    """

    def __init__(self, sink: DocSink, path: Path):
        self.sink = sink
        self.path = path
        self.lines = 0
        self._closed = False

    def write_annotated(self, event: Annotated) -> None:
        doc_id = event.record["id"]
        if event.doc is None:
            raise ValueError(
                f"the record of {doc_id!r} came without its Doc; a format that writes docs "
                "needs annotate_sources(..., with_docs=True)"
            )
        try:
            with _sigint_deferred():
                self.sink.write(doc_id, event.doc)
        except OutputError as err:  # two ids that name one file
            raise InputError(doc_id, DUPLICATE_ID, f"{doc_id}: not written: {err}") from None
        except (BratWriteError, OSError, ValueError) as err:
            # What brat can't express, an id no file can be named after (empty), or a write
            # the file system refuses for this document (a folder where a file is, a name too
            # long): it fails, listed in the errors file; the run goes on. A full or read-only
            # file system stops the run (OUTPUT_FATAL_ERRNOS).
            if isinstance(err, OSError) and err.errno in OUTPUT_FATAL_ERRNOS:
                raise
            raise InputError(doc_id, UNWRITABLE, f"{doc_id}: annotated but not written: {err}") from None
        self.lines += 1

    def sync(self) -> None:
        """Nothing to force: folder formats write each doc atomically as it comes, ``spacy``
        a shard every ``docs_per_shard`` docs and the rest on ``close``."""

    def close(self) -> None:
        """Close the sink (writing what it buffers); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        with _sigint_deferred():
            self.sink.close()


def open_doc_output(
    format: str, path: Path, *, resume: bool = False, overwrite: bool = False
) -> Tuple[DocSinkWriter, Set[str]]:
    """The writer of ``format`` into the folder ``path``, and the ids to skip (with ``resume``).

    Like ``prepare_output``: an existing non-empty folder needs ``resume`` or ``overwrite``
    (an ``OutputError`` otherwise). brat gets an ``annotation.conf`` of NEREL's labels,
    unless the folder has one, so brat can show and edit them.
    """
    if format not in DOC_FORMATS:
        raise ValueError(f"unknown doc format {format!r}; choose one of {', '.join(DOC_FORMATS)}")
    options = {"annotation_conf": annotation_conf_for()} if format == "brat" else {}
    sink = open_sink(format, path, resume=resume, overwrite=overwrite, **options)
    done = sink.done_ids() if resume else set()
    return DocSinkWriter(sink, Path(path)), done


__all__ = ["UNWRITABLE", "DocSinkWriter", "open_doc_output"]
