"""What reading brat found: the error raised, the warnings kept, and the counts.

Bad input never ends in a traceback: each problem becomes a ``BratWarning`` (file,
1-based line, message, hint) collected in a ``ReadReport``. With ``strict=True`` the
first one raises ``BratFormatError`` instead.
"""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

PathLike = Union[str, Path]


class BratFormatError(ValueError):
    """A brat file cannot be read (or, in strict mode, breaks a rule); names file and line."""

    def __init__(self, path: PathLike, line: Optional[int], message: str, hint: str = ""):
        self.path = str(path)
        self.line = line
        self.message = message
        self.hint = hint
        where = f"{self.path}:{line}" if line else self.path
        text = f"{where}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


@dataclass(frozen=True)
class BratWarning:
    """One problem found in the input, kept so that it can be counted and reported."""

    kind: str
    path: str
    line: Optional[int]
    message: str
    hint: str = ""

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass
class ReadReport:
    """Counts over one or many documents; ``merge`` adds another report into this one.

    Every ``T`` line is either kept (``entities_kept``, a span in ``doc.spans``) or
    dropped with a reason (``entities_dropped``); ``unaccounted_entities`` checks it.
    """

    documents: int = 0
    tokens: int = 0
    entity_lines: int = 0
    entities_kept: int = 0
    entities_flat: int = 0
    entities_nested: int = 0
    entities_discontinuous: int = 0
    entities_misaligned: int = 0
    entities_dropped: Counter = field(default_factory=Counter)
    relation_lines: int = 0
    relations_kept: int = 0
    relations_dropped: Counter = field(default_factory=Counter)
    link_lines: int = 0
    links_kept: int = 0
    links_nil: int = 0
    links_dropped: Counter = field(default_factory=Counter)
    ignored_lines: Counter = field(default_factory=Counter)
    warnings: List[BratWarning] = field(default_factory=list)

    def merge(self, other: "ReadReport") -> "ReadReport":
        """Add ``other``'s counts and warnings into this report and return it."""
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            elif isinstance(mine, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)
        return self

    @property
    def unaccounted_entities(self) -> int:
        """T lines neither kept nor dropped with a reason: always 0 unless there is a bug."""
        return self.entity_lines - self.entities_kept - sum(self.entities_dropped.values())

    def warning_counts(self) -> Dict[str, int]:
        """Number of warnings of each kind, most frequent first."""
        return dict(Counter(w.kind for w in self.warnings).most_common())

    def first_warnings(self) -> Dict[str, BratWarning]:
        """The first warning of each kind, as an example to show the user."""
        first: Dict[str, BratWarning] = {}
        for warning in self.warnings:
            first.setdefault(warning.kind, warning)
        return first

    def to_dict(self) -> dict:
        """A JSON-safe summary (warnings as counts) for logs and metrics files."""
        data = {}
        for name, value in vars(self).items():
            if name == "warnings":
                data["warnings"] = self.warning_counts()
            elif isinstance(value, Counter):
                data[name] = dict(value)
            else:
                data[name] = value
        return data


class Collector:
    """Collects warnings for one file; raises on the first one when strict."""

    def __init__(self, path: PathLike, strict: bool):
        self.path = str(path)
        self.strict = strict
        self.warnings: List[BratWarning] = []

    def warn(
        self, kind: str, line: Optional[int], message: str, hint: str = "",
        path: Optional[PathLike] = None,
    ) -> None:
        path = str(path) if path is not None else self.path
        if self.strict:
            raise BratFormatError(path, line, message, hint)
        self.warnings.append(BratWarning(kind, path, line, message, hint))


def shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters with an ellipsis, for quoting input in messages."""
    return text if len(text) <= width else text[: width - 1] + "…"
