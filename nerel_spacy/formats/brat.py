"""``--format brat``: ``OUT/<id>.txt`` + ``OUT/<id>.ann`` per document, ready to correct in brat.

``nerel-batch convert OUT`` reads the folder back into a corpus (``read_brat_folder``
only looks at the top level; give it each subfolder when the ids have folders).
"""
from typing import Optional

from spacy.tokens import Doc

from ..brat_writer import write_brat_document
from ..schema import Schema
from .base import FolderSink, PathLike


def annotation_conf_for(schema: Schema = Schema()) -> str:
    """A brat ``annotation.conf`` for ``schema``: any relation may join any two entities.

    Copy NEREL's own ``annotation.conf`` instead where you have it: it also says which
    entity types each relation takes.
    """
    return (
        "[entities]\n" + "".join(f"{label}\n" for label in schema.entity_types)
        + "\n[relations]\n"
        + "".join(f"{label}\tArg1:<ENTITY>, Arg2:<ENTITY>\n" for label in schema.relation_types)
        + "\n[events]\n\n[attributes]\n"
    )


class BratSink(FolderSink):
    """Writes each document as a brat pair; the ``.ann`` is written last, so a pair is complete."""

    suffixes = (".txt", ".ann")

    def __init__(
        self, path: PathLike, *, resume: bool = False, overwrite: bool = False,
        annotation_conf: Optional[str] = None,
    ):
        super().__init__(path, resume=resume, overwrite=overwrite)
        if annotation_conf is not None and not (self.path / "annotation.conf").exists():
            # brat needs it to show and edit the labels; never replace the user's own.
            (self.path / "annotation.conf").write_text(annotation_conf, encoding="utf-8")

    def write(self, doc_id: str, doc: Doc) -> None:
        txt_path, ann_path = self.paths_for(doc_id)
        write_brat_document(doc, txt_path, ann_path)
        self.written += 1


__all__ = ["BratSink", "annotation_conf_for"]
