"""Where a command that writes a pipeline copy may write it (shared by quantize and export-onnx)."""
from pathlib import Path

import srsly
import typer
from rich.console import Console

from ._console import error


def meta_names(path: Path, key: str) -> bool:
    """Whether ``path`` holds a pipeline whose meta.json has ``key``: an earlier output of the
    command that records it there, safe to replace on a rerun."""
    try:
        return key in srsly.read_json(path / "meta.json")
    except (OSError, ValueError):
        return False


def check_out_dir(model_dir: str, out_dir: Path, *, overwrite: bool, meta_key: str, kind: str, errors: Console) -> None:
    """Exit with status 2 when OUT_DIR is MODEL_DIR, or holds something other than an earlier ``kind``."""
    if Path(model_dir).exists() and Path(model_dir).resolve() == out_dir.resolve():
        error(errors, f"OUT_DIR is MODEL_DIR; write the {kind} elsewhere.")
        raise typer.Exit(2)
    if out_dir.exists() and any(out_dir.iterdir()) and not (overwrite or meta_names(out_dir, meta_key)):
        error(errors, f"{out_dir} exists and is not an earlier {kind}; pass --overwrite to replace it.")
        raise typer.Exit(2)


def load_source(model_dir: str, errors: Console):
    """``spacy.load(model_dir)``, or exit with status 2 saying why it cannot be loaded."""
    import spacy

    try:
        return spacy.load(model_dir)
    except OSError as err:
        error(errors, f"cannot load {model_dir}: {err}")
        raise typer.Exit(2)
