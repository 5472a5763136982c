"""Where a command that writes a pipeline copy may write it, and how it replaces an earlier one
(shared by quantize, trim-vocab and export-onnx).

A copy is written into a hidden sibling folder and renamed into place only once it is
complete, so a run that fails or is cut short leaves the earlier output (or nothing),
never half a pipeline. OUT_DIR may neither hold the source nor lie inside it: replacing
it would delete the source, or copy the source into itself.
"""
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import srsly
import typer
from rich.console import Console

from ..packaging import replace_dir
from ._console import error


def meta_names(path: Path, key: str) -> bool:
    """Whether ``path`` holds a pipeline whose meta.json has ``key``: an earlier output of the
    command that records it there, safe to replace on a rerun."""
    try:
        return key in srsly.read_json(path / "meta.json")
    except (OSError, ValueError):
        return False


def output_clash(source: str, out_dir: Path, source_name: str = "MODEL_DIR", out_name: str = "OUT_DIR",
                 suffix: str = "copy") -> Optional[str]:
    """Why ``out_dir`` can't take a copy of ``source``, or None: it is a file, it is the source,
    holds it or lies inside it. ``source`` that is no local path (a package or hub name) clashes
    with nothing. ``suffix`` names the folder suggested instead (SOURCE-suffix)."""
    if out_dir.exists() and not out_dir.is_dir():
        return f"{out_name} {out_dir} is a file; give a folder for the copy."
    if not Path(source).exists():
        return None
    source_path, out_path = Path(source).resolve(), out_dir.resolve()
    if source_path == out_path:
        return f"{out_name} is {source_name}; write the copy elsewhere."
    if source_path.is_relative_to(out_path):
        return (f"{out_name} {out_dir} holds {source_name} {source}: replacing it would delete the source. "
                f"Write the copy elsewhere, e.g. {Path(source).with_name(f'{Path(source).name}-{suffix}')}.")
    if out_path.is_relative_to(source_path):
        return (f"{out_name} {out_dir} is inside {source_name} {source}: the copy would land in its own "
                "source. Write it next to the source instead.")
    return None


def check_out_dir(model_dir: str, out_dir: Path, *, overwrite: bool, meta_key: str, kind: str, errors: Console) -> None:
    """Exit with status 2 when OUT_DIR is a file, is MODEL_DIR, holds it or lies in it, or
    holds something other than an earlier ``kind``."""
    clash = output_clash(model_dir, out_dir, suffix=kind.split()[0].lower())
    if clash:
        error(errors, clash.replace("the copy", f"the {kind}"))
        raise typer.Exit(2)
    if out_dir.exists() and any(out_dir.iterdir()) and not (overwrite or meta_names(out_dir, meta_key)):
        error(errors, f"{out_dir} exists and is not an earlier {kind}; pass --overwrite to replace it.")
        raise typer.Exit(2)


def load_source(model_dir: str, errors: Console):
    """``spacy.load(model_dir)``, or exit with status 2 saying why it cannot be loaded."""
    import spacy

    try:
        return spacy.load(model_dir)
    except (OSError, ValueError, ImportError) as err:
        # missing or broken files, an unknown factory or a config error (ValueError), a
        # component's package not installed; anything else is a bug and keeps its traceback
        error(errors, f"cannot load {model_dir}: {err}")
        raise typer.Exit(2)


def staging_dir(out_dir: Path) -> Path:
    """The hidden sibling a copy of ``out_dir`` is written into first."""
    return out_dir.with_name(f".{out_dir.name}.partial")


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty sibling folder to write into; on success it replaces ``out_dir``.

    On an exception the folder is removed and ``out_dir`` is left as it was. A stale
    folder from a run that was killed is removed first."""
    out_dir = Path(out_dir).resolve()  # a name to put siblings next to, even for "."
    staging = staging_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_dir(staging, out_dir)


__all__ = ["check_out_dir", "load_source", "meta_names", "output_clash", "staged_output", "staging_dir"]
