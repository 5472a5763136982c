"""What made an output, kept beside it, so that ``--resume`` continues it only the same way.

An output resumed with another model, other ``--set`` settings or another threshold would
hold records of two kinds with nothing to tell them apart. ``annotate`` writes a small
JSON manifest next to its output (``out.run.json`` beside ``out.jsonl``; ``OUT/annotate-run.json``
inside a folder output) and, on ``--resume``, compares it with the run about to start: a
difference is an ``OutputError`` that names it, before anything is read or written.

Only what changes the records counts: the pipeline (its path or package name, name and
version, and its files: each one's path, size and modification time, so a model rebuilt in
the same folder is told apart), the settings, the cats threshold, ``--all-cats``, the
long-text policy and length, and the fallback encoding. Batch sizes, processes, threads, the
engine and the inputs (a resumed run may add inputs) may differ.
"""
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..brat_writer import atomic_write_text
from ..formats.base import OutputError
from ..load_settings import parse_setting
from .stream import AnnotateOptions

MANIFEST_NAME = "annotate-run.json"
MANIFEST_SCHEMA = 1
_FIELD_NAMES = {
    "model": "the pipeline (-m)",
    "name": "the pipeline's name",
    "version": "the pipeline's version",
    "files": "the pipeline's files",
    "settings": "the settings (--set)",
    "threshold": "--threshold",
    "all_cats": "--all-cats",
    "max_chars": "--max-chars",
    "long_texts": "--long-texts",
    "encoding": "--encoding",
}


@dataclass(frozen=True)
class RunManifest:
    """The pipeline and the options that shape an output's records."""

    model: str
    name: str
    version: str
    settings: Dict[str, Any] = field(default_factory=dict)
    threshold: Optional[float] = None
    all_cats: bool = False
    max_chars: Optional[int] = None
    long_texts: str = "split"
    encoding: Optional[str] = None
    files: Optional[str] = None  # pipeline_fingerprint of the model; None where it can't be read

    @classmethod
    def for_run(
        cls, model: str, info: Dict[str, str], settings: Sequence[str], options: AnnotateOptions
    ) -> "RunManifest":
        """The manifest of a run of ``model`` (as given to ``-m``), whose meta gave ``info``.

        The settings are kept parsed, so ``span_threshold=0.40`` and ``span_threshold=0.4``
        are one setting; of a setting given twice the last counts, as when loading.
        """
        parsed = dict(parse_setting(text) for text in settings)
        return cls(
            model=model_key(model), name=info["name"], version=info["version"],
            settings={".".join(keys): value for keys, value in sorted(parsed.items())},
            threshold=options.threshold, all_cats=options.all_cats, max_chars=options.max_chars,
            long_texts=options.long_texts, encoding=options.encoding, files=pipeline_fingerprint(model),
        )

    def to_json(self) -> Dict[str, Any]:
        return {"schema": MANIFEST_SCHEMA, **asdict(self)}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "RunManifest":
        known = {name: data[name] for name in _FIELD_NAMES if name in data}
        return cls(**known)

    def differences(self, earlier: "RunManifest") -> List[str]:
        """What this run does differently from ``earlier``, one phrase per field."""
        found = []
        for name, label in _FIELD_NAMES.items():
            before, now = getattr(earlier, name), getattr(self, name)
            if name == "files":
                if before is not None and now is not None and before != now:
                    found.append(f"{label}: changed since (rebuilt or replaced in the same place; if it is "
                                 "a copy of the very same pipeline, delete the manifest to resume without this check)")
            elif before != now:
                found.append(f"{label}: {_show(before)} then, {_show(now)} now")
        return found


def model_key(model: str) -> str:
    """A pipeline folder as an absolute path, so ``./m`` and ``m`` match; a package name as given."""
    path = Path(model)
    return str(path.resolve()) if path.exists() else model


def pipeline_fingerprint(model: str) -> Optional[str]:
    """A digest of every file of the pipeline ``model`` names (a folder, or an installed
    package's folder): relative path, size and modification time, read with ``stat`` alone.
    None where neither is found here (a package only the Ray workers have, say)."""
    folder = Path(model)
    if not folder.is_dir():
        try:
            from spacy.util import get_package_path, is_package

            folder = get_package_path(model) if is_package(model) else None
        except Exception:  # an odd name or a broken install: nothing to fingerprint
            folder = None
        if folder is None or not folder.is_dir():
            return None
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            path = Path(root, name)
            info = path.stat()
            digest.update(f"{path.relative_to(folder).as_posix()}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def manifest_path(output: Path, format: str = "jsonl") -> Path:
    """``out.jsonl`` -> ``out.run.json`` beside it; a folder output: ``OUT/annotate-run.json``."""
    if format != "jsonl":
        return output / MANIFEST_NAME
    return output.with_name(output.stem + ".run.json")


def read_manifest(path: Path) -> Optional[RunManifest]:
    """The manifest at ``path``; None when there is none (an output from before manifests)."""
    if not path.is_file():
        return None
    try:
        return RunManifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, AttributeError) as err:
        raise OutputError(
            f"{path} can't be read ({err}); it records how the output was made. Delete it to "
            "resume without that check, or start again with --overwrite"
        ) from None


def check_resumable(path: Path, manifest: RunManifest) -> bool:
    """Raise ``OutputError`` when the output's manifest at ``path`` differs from ``manifest``.

    True when the output has this very manifest (so it needs no writing); False when it has
    none, being from before manifests or not begun.
    """
    earlier = read_manifest(path)
    if earlier is None:
        return False
    differences = manifest.differences(earlier)
    if differences:
        raise OutputError(
            f"the output was begun another way ({path}): " + "; ".join(differences)
            + ". Resume with the options it was begun with, give another -o, or start again "
            "with --overwrite"
        )
    return earlier == manifest  # an older manifest without the files' digest is rewritten with it


def write_manifest(path: Path, manifest: RunManifest) -> None:
    """Write ``manifest`` to ``path`` whole (a temporary file renamed over it)."""
    atomic_write_text(path, json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n")


def settings_text(settings: Dict[str, Any]) -> str:
    """Parsed settings as typed after ``--set``: ``a.b=0.4 c.d="best"``."""
    return " ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in settings.items())


def _show(value: Any) -> str:
    """A field's value as the user would type it: ``none``, ``'path'``, ``0.4``, ``a.b=0.4 c.d="x"``."""
    if value is None or value == {}:
        return "none"
    if isinstance(value, dict):
        return settings_text(value)
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


__all__ = [
    "MANIFEST_NAME",
    "RunManifest",
    "check_resumable",
    "manifest_path",
    "model_key",
    "pipeline_fingerprint",
    "read_manifest",
    "settings_text",
    "write_manifest",
]
