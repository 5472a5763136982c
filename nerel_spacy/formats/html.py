"""``--format html``: one self-contained page per document at ``OUT/<id>.html``."""
from spacy.tokens import Doc

from ..brat_writer import atomic_write_text
from ..render import render_doc_html
from .base import FolderSink


class HtmlSink(FolderSink):
    """Writes ``render_doc_html(doc, title=doc_id)`` for each document, atomically."""

    suffixes = (".html",)

    def write(self, doc_id: str, doc: Doc) -> None:
        (page_path,) = self.paths_for(doc_id)
        atomic_write_text(page_path, render_doc_html(doc, title=doc_id))
        self.written += 1


__all__ = ["HtmlSink"]
