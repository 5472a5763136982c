"""Read brat standoff files (``.txt`` + ``.ann``) into spaCy ``Doc`` objects.

Pure reading and alignment: no training code. The result follows the data contract
(see ``CONVENTIONS.md``): every entity in ``doc.spans["nerel"]``, the flat view in
``doc.ents``, relation types in ``doc.cats``, relation triples in ``doc._.relations``.

One module per step: ``ann`` parses the ``.ann`` lines into records, ``doc`` builds
the ``Doc`` from a text and its records (``links`` resolves the Wikidata ids),
``reader`` finds and reads the files, ``conf`` reads a corpus's ``annotation.conf``,
and ``report`` holds the error, the warnings and the counts.

Bad input never ends in a traceback: each problem becomes a ``BratWarning`` (file,
1-based line, message, hint) collected in a ``ReadReport``. With ``strict=True`` the
first one raises ``BratFormatError`` instead.

Choices worth knowing:

* Offsets count characters of the ``.txt`` as written (brat reads it without newline
  translation), so ``\\r\\n`` counts two characters and the ``Doc`` keeps the ``\\r``.
* A UTF-8 BOM never reaches ``doc.text``. Whether the offsets count it is decided per
  document by which reading makes more mention texts match (brat itself counts it).
* A discontinuous entity becomes its hull span (first fragment start to last fragment
  end) in ``doc.spans["nerel"]``; its fragments are kept in
  ``doc.user_data["nerel_fragments"]`` and it never enters ``doc.ents``.
"""
from .ann import BOM, BratAnnotations, BratEntity, BratLink, BratRelation, parse_ann
from .conf import load_schema
from .doc import FRAGMENTS_KEY, annotations_to_doc, get_fragments
from .links import NIL_LINK_IDS
from .reader import (
    DOC_ID_KEY,
    check_pairs,
    find_documents,
    read_ann,
    read_brat_document,
    read_brat_folder,
    read_text,
)
from .report import BratFormatError, BratWarning, ReadReport

__all__ = [
    "load_schema",
    "BOM",
    "DOC_ID_KEY",
    "FRAGMENTS_KEY",
    "NIL_LINK_IDS",
    "BratAnnotations",
    "BratEntity",
    "BratFormatError",
    "BratLink",
    "BratRelation",
    "BratWarning",
    "ReadReport",
    "annotations_to_doc",
    "check_pairs",
    "find_documents",
    "get_fragments",
    "parse_ann",
    "read_ann",
    "read_brat_document",
    "read_brat_folder",
    "read_text",
]
