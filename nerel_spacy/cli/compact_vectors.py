"""``nerel-batch compact-vectors``: a copy of a pipeline with its static vectors as product-quantized codes."""
import json
import shutil
from pathlib import Path

import typer
from rich.console import Console

from ..pq_vectors import NotProductQuantized
from ..vector_compaction import NothingToCompact, check_compactable, compact_vectors_in_folder
from ._app import app
from ._console import error, escape
from ._outputs import check_out_dir, staged_output

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch compact-vectors training/joint_cnn_fast/model-best training/joint_cnn_fast/model-compact

  nerel-batch annotate ./docs -m training/joint_cnn_fast/model-compact -o out.jsonl

Exit status: 0 written; 2 nothing to compact (no static vectors, or compact already), a table
that is not product-quantized, or an OUT_DIR that holds something else, is MODEL_DIR or lies
inside it.
"""


@app.command("compact-vectors", epilog=EXAMPLES)
def compact_vectors_command(
    model_dir: Path = typer.Argument(..., help="Pipeline folder whose vocab holds a dense static vectors table "
                                     "(navec's, from prepare-vectors): the CNN's model-best, or a transformer's "
                                     "after add-vectors."),
    out_dir: Path = typer.Argument(..., help="Folder for the compact copy (replaced whole only when the copy is "
                                   "complete)."),
    keep_strings: bool = typer.Option(False, "--keep-strings", help="Keep the vector words in vocab/strings.json "
                                      "(44 MB for navec). Lookups use the words' hashes, so nothing the "
                                      "pipeline predicts needs them; keep them to read a key back as its word."),
    overwrite: bool = typer.Option(False, help="Replace OUT_DIR even if it is not an earlier compact copy."),
) -> None:
    """Copy a pipeline with its static word vectors stored as product-quantized codes.

    navec's vectors are product-quantized (100 one-byte codes a word); prepare-vectors unpacks
    them into a dense float32 table, which a trained pipeline then carries: 300 MB, plus 44 MB of
    the words' strings. The copy keeps the codes instead (34 MB for navec's 250k words) and
    rebuilds each row as it is needed, bit for bit: every key's row is checked against the dense
    one before the copy is written, so the copy predicts exactly what MODEL_DIR does. It loads
    with plain [bold]spacy.load[/bold] (config.cfg names [bold]nerel.PQVectors.v1[/bold]) wherever
    nerel-spacy is installed. quantize and export-onnx compact their copies by default.
    """
    console = Console(stderr=True)
    if not (model_dir / "config.cfg").is_file():
        error(console, f"MODEL_DIR {model_dir}: not a pipeline folder (no config.cfg).")
        raise typer.Exit(2)
    try:
        check_compactable(model_dir)
    except NothingToCompact as err:
        error(console, f"{err}: nothing to compact, and nothing was written.")
        raise typer.Exit(2)
    check_out_dir(str(model_dir), out_dir, overwrite=overwrite, meta_key="compact_vectors",
                  kind="compact copy", errors=console)
    try:
        with staged_output(out_dir) as staging:
            shutil.rmtree(staging)
            shutil.copytree(model_dir, staging)
            with console.status("Compacting the vectors and checking every row…"):
                report = compact_vectors_in_folder(staging, keep_strings=keep_strings)
            _mark_meta(staging, model_dir)
    except NotProductQuantized as err:
        error(console, f"{model_dir}: {err}. Nothing was written; such a table can only be made smaller by "
              "keeping fewer words (nerel-batch prepare-vectors --max-words) and training again.")
        raise typer.Exit(2)
    mb = 1024 * 1024
    before = (report["vectors_bytes"]["dense"] + report["strings_bytes"]["before"]) / mb
    after = (report["vectors_bytes"]["compact"] + report["strings_bytes"]["after"]) / mb
    console.print(
        f"Wrote {escape(str(out_dir))}: {report['rows']:,} vectors of {report['width']} dimensions under "
        f"{report['keys']:,} keys, as {report['blocks']} codes a row; vectors and strings {before:,.0f} MB → "
        f"{after:,.0f} MB; every row identical.")


def _mark_meta(folder: Path, source: Path) -> None:
    """meta.json's ``compact_vectors``: where the copy came from (how check_out_dir knows an earlier copy)."""
    path = folder / "meta.json"
    meta = json.loads(path.read_text(encoding="utf8")) if path.is_file() else {}
    meta["compact_vectors"] = {"source": str(source)}
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf8")
