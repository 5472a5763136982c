"""``nerel-batch export-onnx``: a copy of a trained transformer pipeline that runs without torch."""
from pathlib import Path

import typer
from rich.console import Console
from typing_extensions import Annotated

from ..benchmark import model_size_bytes
from ._app import app
from ._console import error, escape
from ._outputs import check_out_dir, compact_copy_vectors, load_source, staged_output

EXAMPLES = """\
[bold]Examples[/bold]
  nerel-batch export-onnx training/joint_trf_heads_more_more/model-trimmed training/onnx-int8
  nerel-batch export-onnx training/joint_trf/model-best /tmp/onnx-fp32 --fp32
  python -c "import spacy; print(spacy.load('training/onnx-int8')('Путин посетил Казань.').ents)"
Exit status: 0 written, 2 usage error (not a float32 transformer pipeline, OUT_DIR holds
something else).
"""


@app.command("export-onnx", epilog=EXAMPLES)
def export_onnx_command(
    model_dir: Annotated[str, typer.Argument(
        metavar="MODEL_DIR", show_default=False,
        help="Trained float32 pipeline folder (or package name): a transformer component and "
        "nerel_joint, e.g. model-best, or model-trimmed after trim-vocab.",
    )],
    out_dir: Annotated[Path, typer.Argument(
        metavar="OUT_DIR", show_default=False,
        help="Folder for the exported pipeline; load it with spacy.load(OUT_DIR).",
    )],
    fp32: Annotated[bool, typer.Option(
        "--fp32", help="Keep the graph's weights float32 (default: int8 weights per output "
        "channel, by ONNX Runtime's quantize_dynamic: about a quarter of the size).",
    )] = False,
    threads: Annotated[int, typer.Option(
        "--threads", min=0, help="ONNX Runtime's intra-op threads, saved in config.cfg "
        "(\\[components.encoder] threads); 0 = every physical core.",
    )] = 0,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace OUT_DIR even if it is not an earlier export (an earlier "
        "export is replaced anyway, so project reruns work).",
    )] = False,
    dense_vectors: Annotated[bool, typer.Option(
        "--dense-vectors", help="Keep static vectors (navec's, after add-vectors) as the dense float32 "
        "table. By default the export stores them as product-quantized codes, the same rows in a twelfth "
        "of the bytes (see nerel-batch compact-vectors).",
    )] = False,
) -> None:
    """Export a transformer pipeline's encoder to ONNX, for inference without torch.

    The transformer component becomes nerel_onnx_encoder (the encoder as an ONNX graph,
    run by ONNX Runtime, and its tokenizer.json), with the same windows, word-piece
    alignment and pooling; nerel_joint keeps its heads and settings. The result loads with
    spacy.load where spaCy, onnxruntime and tokenizers are installed: torch,
    transformers and spacy-transformers are not needed.
    """
    errors = Console(stderr=True)
    check_out_dir(model_dir, out_dir, overwrite=overwrite, meta_key="onnx", kind="ONNX export", errors=errors)
    try:
        from ..runtime.export import ExportError, export_onnx_pipeline
    except ImportError as err:
        error(errors, f"{err}. Install the exporter: pip install 'nerel-spacy[onnx]'")
        raise typer.Exit(2)
    nlp = load_source(model_dir, errors)
    try:
        with errors.status("exporting the encoder to ONNX" + ("" if fp32 else " and quantizing it to int8")):
            exported, report = export_onnx_pipeline(nlp, int8=not fp32, threads=threads)
    except ExportError as err:
        error(errors, f"{model_dir}: {err}")
        raise typer.Exit(2)
    with staged_output(out_dir) as staging:  # an export cut short keeps the earlier one
        exported.to_disk(staging)
        if not dense_vectors:
            compact_copy_vectors(staging, errors)
    size_before = (model_size_bytes(model_dir) or 0) / 2**20
    size_after = (model_size_bytes(str(out_dir)) or 0) / 2**20
    Console().print(
        f"encoder graph {'int8' if report.int8 else 'fp32'} {report.graph_bytes / 2**20:,.1f} MiB; windows "
        f"{report.window}/{report.stride}, at most {report.max_length} pieces each; size on disk "
        f"{size_before:,.1f} → {size_after:,.1f} MiB; {report.seconds:.1f}s"
    )
    errors.print(f"ONNX pipeline written to {escape(str(out_dir))}")
