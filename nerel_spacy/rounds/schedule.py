"""A schedule of continued-training rounds, read from a ``.cfg`` file, and each round's fingerprint.

A schedule lists rounds in the order they run, one ``[rounds.NAME]`` section each (an empty
``[rounds]`` section before them, as thinc's configs have, may be left out)::

    [rounds.round6]
    steps = 1000
    learn_rate = 0.00005

    [rounds.round8_navec]
    steps = 1000
    learn_rate = 0.000025
    add_vectors = true
    vectors_scale = 32

``add_vectors`` gives the encoder static vectors before that round (``nerel-batch
add-vectors``); every later round reads them too. ``window`` and ``stride`` override the
windows the command was given, for one round.

A round's fingerprint is a hash of everything its result depends on: the previous round's
fingerprint (the first round's stands for the starting model, the corpus and the command's
settings) and the round's own settings. Training is deterministic, so two rounds with one
fingerprint train the same weights, and a finished round whose fingerprint still matches
need not train again.
"""
import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from thinc.api import Config

SECTION = "rounds"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HEADER = re.compile(rf"^[ \t]*\[{SECTION}\][ \t]*$", re.MULTILINE)
ROUND_HEADER = re.compile(rf"^[ \t]*\[{SECTION}\.", re.MULTILINE)


class ScheduleError(ValueError):
    """The schedule file cannot be used: which file, which round, what to change."""


@dataclass(frozen=True)
class Round:
    """One round: ``steps`` updates at ``learn_rate``, continuing the previous round's model-last."""

    name: str
    steps: int
    learn_rate: float
    window: Optional[int] = None
    stride: Optional[int] = None
    add_vectors: bool = False
    vectors_scale: float = 32.0

    def settings(self) -> Dict[str, Any]:
        return asdict(self)


REQUIRED = ("steps", "learn_rate")
OPTIONAL = tuple(field.name for field in fields(Round) if field.name not in ("name",) + REQUIRED)


def read_schedule(path: Union[str, Path]) -> List[Round]:
    """The rounds of the schedule at ``path``, in file order; ``ScheduleError`` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ScheduleError(f"{path}: no such schedule file (see configs/rounds_headline.cfg for the format)")
    try:
        text = path.read_text(encoding="utf8")
        if not HEADER.search(text) and ROUND_HEADER.search(text):
            text = f"[{SECTION}]\n" + text  # thinc wants the parent section; the format does not need it
        config = Config().from_str(text, interpolate=False)
    except Exception as err:  # thinc raises its own ConfigValidationError and configparser's errors
        raise ScheduleError(f"{path}: not a readable .cfg file: {err}") from None
    return parse_rounds(config, str(path))


def parse_rounds(config: Dict[str, Any], where: str = "the schedule") -> List[Round]:
    """Check and convert a parsed schedule: every problem is named with its round and setting."""
    sections = config.get(SECTION)
    if not isinstance(sections, dict) or not sections:
        raise ScheduleError(f"{where}: no [{SECTION}.NAME] sections; a schedule needs at least one round")
    rounds = [_parse_round(name, settings, where) for name, settings in sections.items()]
    added = [r.name for r in rounds if r.add_vectors]
    if len(added) > 1:
        raise ScheduleError(f"{where}: add_vectors is set in {', '.join(added)}; vectors can be added once, "
                            "and every later round reads them")
    return rounds


def _parse_round(name: str, settings: Any, where: str) -> Round:
    label = f"{where}, [{SECTION}.{name}]"
    if not NAME.match(name):
        raise ScheduleError(f"{label}: a round's name names its folder; use letters, digits, '_', '.' or '-'")
    if not isinstance(settings, dict):
        raise ScheduleError(f"{label}: expected a section of settings, got {settings!r}")
    unknown = sorted(set(settings) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ScheduleError(f"{label}: unknown setting {', '.join(unknown)}; "
                            f"known: {', '.join(REQUIRED + OPTIONAL)}")
    missing = [key for key in REQUIRED if key not in settings]
    if missing:
        raise ScheduleError(f"{label}: missing {', '.join(missing)}")
    values = dict(settings)
    _check(isinstance(values["steps"], int) and not isinstance(values["steps"], bool) and values["steps"] > 0,
           label, "steps", "a positive whole number", values["steps"])
    _check(_is_number(values["learn_rate"]) and values["learn_rate"] >= 0, label, "learn_rate",
           "a number ≥ 0", values["learn_rate"])
    for key in ("window", "stride"):
        if values.get(key) is not None:
            _check(isinstance(values[key], int) and not isinstance(values[key], bool) and values[key] > 0,
                   label, key, "a positive whole number of tokens", values[key])
    if "add_vectors" in values:
        _check(isinstance(values["add_vectors"], bool), label, "add_vectors", "true or false", values["add_vectors"])
    if "vectors_scale" in values:
        _check(_is_number(values["vectors_scale"]) and values["vectors_scale"] > 0, label, "vectors_scale",
               "a number > 0", values["vectors_scale"])
        values["vectors_scale"] = float(values["vectors_scale"])
    values["learn_rate"] = float(values["learn_rate"])
    return Round(name=name, **values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, label: str, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise ScheduleError(f"{label}: {key} must be {expected}, got {value!r}")


def folder_checksum(path: Union[str, Path]) -> str:
    """A hash of a file's contents, or of a folder's relative file names and contents (sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files: Iterable[Path] = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:  # a file's own name does not count: a copy elsewhere is the same data
            digest.update(str(file.relative_to(path)).encode("utf8") + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def fingerprint(previous: str, round_: Round, extra: Optional[Dict[str, Any]] = None) -> str:
    """The hash of what ``round_`` trains from: the previous fingerprint, its settings and ``extra``."""
    text = json.dumps({"previous": previous, "round": round_.settings(), "extra": extra or {}}, sort_keys=True)
    return hashlib.sha256(text.encode("utf8")).hexdigest()
