"""``nerel-batch quantize``: an int8 copy of a trained transformer pipeline for CPU."""
import re
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from typing_extensions import Annotated

from ..benchmark import model_size_bytes
from ..torch_stack import missing_torch_stack_module
from ._app import app
from ._console import error, escape
from ._outputs import check_out_dir, compact_copy_vectors, load_source, staged_output

if TYPE_CHECKING:
    from ..quantize import QuantizationReport

# nerel_spacy.quantize imports spacy-transformers (3-4 s on 2 cores), so the command loads
# it when it runs and every other command starts without it. Where the torch stack is
# missing, cli/__init__ registers a command that says what to install instead of this one.
_MISSING = missing_torch_stack_module()
if _MISSING:
    raise ModuleNotFoundError(f"No module named {_MISSING!r}", name=_MISSING)
# nerel_spacy.quantize.DEFAULT_FLOAT_LAYERS (tests/test_quantize.py checks they agree).
DEFAULT_FLOAT_LAYERS = "auto"

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch quantize training/joint_trf/model-best training/joint_trf/model-int8

  nerel-batch quantize training/joint_trf/model-best /tmp/int8 --backend int8 --overwrite

  python -c "import spacy; print(spacy.load('training/joint_trf/model-int8')('Путин посетил Казань.').ents)"

Exit status: 0 written, 2 usage error (nothing to quantize, already int8, MODEL_DIR does
not load, OUT_DIR holds something else, holds MODEL_DIR or lies inside it).
"""


class Backend(str, Enum):
    auto = "auto"
    int8 = "int8"
    bf16 = "bf16"


def check_float_layers(value: str) -> str:
    """--float-layers: "auto" or a regular expression that compiles (checked before the model loads)."""
    if value != "auto":
        try:
            re.compile(value)
        except re.error as err:
            raise typer.BadParameter(f"{value!r} is not a regular expression: {err}")
    return value


def size_change(size_before: float, size_after: float) -> str:
    """``before → after MiB (share)``; no share where the source's size is unknown."""
    share = f" ({size_after / size_before:.0%})" if size_before > 0 else ""
    return f"{size_before:,.1f} → {size_after:,.1f} MiB{share}"


def report_table(report: "QuantizationReport", size_before: float, size_after: float) -> Table:
    """What was quantized in each encoder (one column each), size on disk and time."""
    table = Table(title="int8 pipeline", title_justify="left")
    table.add_column("", style="bold")
    for encoder in report.encoders:
        table.add_column(encoder.component, justify="right")
    rows = {
        "architecture": [e.architecture for e in report.encoders],
        "Linear layers int8": [str(e.linear_layers) for e in report.encoders],
        "embedding rows int8": [f"{e.embedding_rows:,}" for e in report.encoders],
        "int8 weights": [f"{e.int8_params:,}" for e in report.encoders],
        "float weights": [f"{e.float_params:,}" for e in report.encoders],
        "encoder MiB fp32 → int8": [
            f"{e.fp32_bytes / 2**20:,.1f} → {e.stored_bytes / 2**20:,.1f}" for e in report.encoders
        ],
    }
    for label, values in rows.items():
        table.add_row(label, *values)
    compute = report.compute
    if compute == "auto":
        compute += f" (here: {report.resolved_compute})"
    table.caption = (
        f"size on disk {size_change(size_before, size_after)}; "
        f"compute {compute}; {report.seconds:.1f}s"
    )
    table.caption_justify = "left"
    return table


@app.command("quantize", epilog=EXAMPLES)
def quantize_command(
    model_dir: Annotated[str, typer.Argument(
        metavar="MODEL_DIR", show_default=False,
        help="Trained float32 pipeline folder (or package name) with a transformer encoder.",
    )],
    out_dir: Annotated[Path, typer.Argument(
        metavar="OUT_DIR", show_default=False,
        help="Folder for the int8 pipeline; load it with spacy.load(OUT_DIR).",
    )],
    backend: Annotated[Backend, typer.Option(
        "--backend", "-b", case_sensitive=False,
        help="How the int8 weights are multiplied at run time (saved in config.cfg as "
        "compute, changeable there later): int8 = dynamic int8 kernels, any x86 CPU; bf16 = "
        "weights expanded to bfloat16, fastest and most accurate on CPUs with AMX or "
        "AVX512-BF16, slow elsewhere; auto = bf16 where the loading CPU has them, else int8.",
    )] = Backend.auto,
    float_layers: Annotated[str, typer.Option(
        "--float-layers", metavar="REGEX", callback=check_float_layers,
        help="With int8 compute, Linear layers whose name matches run in float32 from their "
        "int8 weights. auto: none where the CPU has VNNI, else the feed-forward "
        "down-projections (7-bit activations lose F1 there); '': none.",
    )] = DEFAULT_FLOAT_LAYERS,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace OUT_DIR even if it is not an earlier int8 pipeline "
        "(an earlier int8 pipeline is replaced anyway, so project reruns work).",
    )] = False,
    dense_vectors: Annotated[bool, typer.Option(
        "--dense-vectors", help="Keep static vectors (navec's, after add-vectors) as the dense float32 "
        "table. By default the copy stores them as product-quantized codes, the same rows in a twelfth "
        "of the bytes (see nerel-batch compact-vectors).",
    )] = False,
) -> None:
    """Make an int8 copy of a transformer pipeline for CPU inference.

    Every Linear layer of the transformer encoder is stored as int8 with one scale per
    output channel, and the word embeddings as int8 with one scale per row: the
    pipeline shrinks to about a quarter. The heads of nerel_joint stay float32 (tiny).
    The copy loads with plain spacy.load, without pickle and without quantizing again.
    """
    from ..quantize import AlreadyQuantizedError, NothingToQuantizeError, quantize_pipeline

    errors = Console(stderr=True)
    check_out_dir(model_dir, out_dir, overwrite=overwrite, meta_key="quantization", kind="int8 copy", errors=errors)
    start = time.perf_counter()
    size_before = (model_size_bytes(model_dir) or 0) / 2**20
    with errors.status(f"loading {escape(model_dir)}") as status:
        nlp = load_source(model_dir, errors)
        status.update("quantizing the transformer encoder(s) to int8")
        try:
            int8_nlp, report = quantize_pipeline(nlp, compute=backend.value, float_layers=float_layers)
        except (NothingToQuantizeError, AlreadyQuantizedError) as err:
            error(errors, f"{model_dir}: {err}")
            raise typer.Exit(2)
        del nlp
        status.update(f"writing {escape(str(out_dir))}")
        with staged_output(out_dir) as staging:
            int8_nlp.to_disk(staging)
            if not dense_vectors:
                status.update("storing the static vectors as product-quantized codes")
                compact_copy_vectors(staging, errors)
    report.seconds = time.perf_counter() - start
    size_after = (model_size_bytes(str(out_dir)) or 0) / 2**20
    Console().print(report_table(report, size_before, size_after))
    errors.print(f"int8 pipeline written to {escape(str(out_dir))}")
