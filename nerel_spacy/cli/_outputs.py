"""The CLI side of ``nerel_spacy.output_folders``: exit with status 2 and a message when a
command's OUT_DIR cannot take its output, or its source does not load."""
from pathlib import Path

import typer
from rich.console import Console

from ..output_folders import (  # noqa: F401  (the commands import them from here too)
    carry_over,
    input_clash,
    meta_names,
    output_clash,
    pipeline_write_clash,
    staged_output,
    staged_update,
    staging_dir,
)
from ._console import error


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


def compact_copy_vectors(folder: Path, errors: Console) -> None:
    """Store the static vectors of the copy just written to ``folder`` as product-quantized codes
    (``vector_compaction``), saying so; a copy without a dense table is left as it is, and one whose
    table is not product-quantized keeps it dense, with a note. The copy predicts the same either way."""
    from ..pq_vectors import NotProductQuantized
    from ..vector_compaction import NothingToCompact, compact_vectors_in_folder

    try:
        report = compact_vectors_in_folder(folder)
    except NothingToCompact:
        return
    except NotProductQuantized as err:
        errors.print(f"note: the static vectors stay dense: {err}")
        return
    before = report["vectors_bytes"]["dense"] + report["strings_bytes"]["before"]
    saved = before - report["vectors_bytes"]["compact"] - report["strings_bytes"]["after"]
    errors.print(f"static vectors: {report['rows']:,} rows kept as {report['blocks']} codes each, identical rows, "
                 f"{saved / 2**20:,.0f} MiB smaller (--dense-vectors keeps the dense table)")


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


__all__ = ["carry_over", "check_out_dir", "compact_copy_vectors", "input_clash", "load_source", "meta_names", "output_clash",
           "pipeline_write_clash", "staged_output", "staged_update", "staging_dir"]
