"""Output formats of ``nerel-batch annotate``: one module per format, one small interface.

Every format is a ``DocSink`` (``done_ids``, ``write``, ``flush``, ``close``) made by
``open_sink``. ``jsonl`` stays in ``nerel_spacy.annotate``: its records are built from
the parts of a text directly, while these formats receive whole docs (``join_parts``).

| format | output | done when |
| --- | --- | --- |
| ``spacy`` | folder of ``part-NNNNNN.spacy`` DocBin shards | the id is in a shard |
| ``brat`` | ``OUT/<id>.txt`` + ``OUT/<id>.ann`` | both files exist |
| ``html`` | ``OUT/<id>.html`` | the page exists |
"""
from typing import Any

from .base import DocSink, FolderSink, id_to_relpath, output_file, prepare_folder, relpath_to_ids
from .brat import BratSink, annotation_conf_for
from .docbin import DocBinSink, read_docbin_output, shard_paths
from .html import HtmlSink
from .join import join_parts

SINKS = {"spacy": DocBinSink, "brat": BratSink, "html": HtmlSink}
DOC_FORMATS = tuple(SINKS)


def open_sink(
    format: str, path: Any, *, resume: bool = False, overwrite: bool = False, **options: Any
) -> DocSink:
    """The sink writing ``format`` to the folder ``path``; ``options`` go to its class."""
    try:
        sink_class = SINKS[format]
    except KeyError:
        raise ValueError(
            f"unknown output format {format!r}; choose one of jsonl, {', '.join(DOC_FORMATS)}"
        ) from None
    return sink_class(path, resume=resume, overwrite=overwrite, **options)


__all__ = [
    "BratSink",
    "DOC_FORMATS",
    "DocBinSink",
    "DocSink",
    "FolderSink",
    "HtmlSink",
    "SINKS",
    "annotation_conf_for",
    "id_to_relpath",
    "join_parts",
    "open_sink",
    "output_file",
    "prepare_folder",
    "read_docbin_output",
    "relpath_to_ids",
    "shard_paths",
]
