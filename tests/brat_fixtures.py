"""Paths of the hand-written brat fixtures under ``tests/fixtures/brat`` (shared by test modules).

- ``nerel/``: a NEREL-style root with ``train/`` (obama, ministry) and ``dev/`` (lavrov):
  nested, discontinuous (one with out-of-order fragments), links, relations, a duplicate
  entity, an offset inside a token.
- ``problems/``: a flat folder, one kind of damage per document (malformed lines, BOMs,
  CRLF line ends).
- ``missing_ann/``: a ``.txt`` without its ``.ann``, kept apart so the others stay valid.
"""
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "brat"
NEREL_ROOT = FIXTURES / "nerel"
TRAIN = NEREL_ROOT / "train"
DEV = NEREL_ROOT / "dev"
PROBLEMS = FIXTURES / "problems"
MISSING_ANN = FIXTURES / "missing_ann"
