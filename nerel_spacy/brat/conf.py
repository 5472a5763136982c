"""A corpus's own ``annotation.conf``: its entity and relation types, else NEREL v1.1's."""
from pathlib import Path
from typing import Optional, Union

from ..schema import Schema, parse_annotation_conf
from .report import BratFormatError


def load_schema(path: Optional[Union[str, Path]] = None) -> Schema:
    """The schema from ``path`` (an ``annotation.conf`` or a folder holding one), else NEREL v1.1's.

    A file that is not UTF-8 or has no entity types raises ``BratFormatError`` naming it.
    """
    if path is None:
        return Schema()
    path = Path(path)
    if path.is_dir():
        path = path / "annotation.conf"
    if not path.exists():
        return Schema()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise BratFormatError(
            path, None, f"not valid UTF-8 ({err.reason} at byte {err.start})",
            "re-save annotation.conf as UTF-8",
        ) from None
    try:
        return parse_annotation_conf(text)
    except ValueError:
        raise BratFormatError(
            path, None, "no [entities] section with types in it",
            "list the entity types under an [entities] line, one per line, or remove "
            "annotation.conf to use NEREL v1.1's types",
        ) from None


__all__ = ["load_schema"]
