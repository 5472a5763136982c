"""``nerel-batch benchmark``: float32 against int8 — speed, memory, size and F1 — as a table and JSON."""
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from rich.console import Console
from rich.table import Table
from typing_extensions import Annotated

from ..batching import DEFAULT_MAX_BATCH_CHARS
from ..benchmark import DEFAULT_DATA, BenchmarkError, benchmark_models
from ._app import app
from ._console import error, escape

DEFAULT_OUTPUT = Path("metrics/quantization.json")  # not a committed result: pass -o to record one
EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch benchmark --fp32 training/joint_trf/model-best --int8 training/joint_trf/model-int8

  nerel-batch benchmark --fp32 training/joint_trf/model-best --int8 training/joint_trf/model-int8 corpus \\
      --n-docs 50 --rounds 3 --output metrics/trf/quantization.json

Each model runs in its own fresh process, one after the other. On a shared machine
use --rounds 3: the models alternate and each keeps its fastest round.
"""


# (row label, how to read it from one model's results, format): metrics are rows and
# models are columns, so the table stays readable at 80 columns.
ROWS = (
    ("docs/s", lambda r: r["docs_per_second"], "{:.2f}"),
    ("tokens/s", lambda r: r["tokens_per_second"], "{:.0f}"),
    ("ms/doc p50", lambda r: r["ms_per_doc_p50"], "{:.0f}"),
    ("ms/doc p95", lambda r: r["ms_per_doc_p95"], "{:.0f}"),
    ("load s", lambda r: r.get("load_seconds"), "{:.1f}"),
    ("cold start s (imports + load)", lambda r: r.get("cold_start_seconds"), "{:.1f}"),
    ("peak RSS MB", lambda r: r["peak_rss_mb"], "{:.0f}"),
    ("size MB", lambda r: r["size_mb"], "{:.0f}"),
    ("NER seqeval F1", lambda r: r["scores"].get("seqeval_f"), "{:.4f}"),
    ("nested mentions F1", lambda r: r["scores"].get("spans_nerel_f"), "{:.4f}"),
    ("relation types micro F1", lambda r: r["scores"].get("cats_micro_f"), "{:.4f}"),
    ("relations end-to-end F1", lambda r: r["scores"].get("relations_f"), "{:.4f}"),
    ("relations gold-mention in-sent. F1", lambda r: r["scores"].get("relations_gold_insent_f"), "{:.4f}"),
    ("PER/LOC/ORG F1 (natasha's types)", lambda r: r["scores"].get("per_loc_org_f"), "{:.4f}"),
)


def results_table(report: Dict[str, Any]) -> Table:
    """One row per metric (docs/s, tokens/s, ms/doc p50 and p95, peak RSS, size, NER and
    relation-type F1), one column per model; the comparison with the baseline below."""
    machine = report["machine"]
    table = Table(
        title=f"{report['data']} · {report['settings']['n_docs'] or 'all'} docs timed · "
        f"{machine['threads']} threads",
        title_justify="left",
    )
    table.add_column("metric")
    for label in report["models"]:
        table.add_column(label, justify="right")
    for name, read, spec in ROWS:
        table.add_row(name, *(_number(read(result), spec) for result in report["models"].values()))
    lines = []
    for label, comparison in report["comparison"].items():
        lines.append(
            f"{label} vs {report['baseline']}: "
            f"speed-up {_number(comparison['speedup_docs_per_second'], '{:.2f}x')} docs/s, "
            f"{_number(comparison['speedup_ms_per_doc_p50'], '{:.2f}x')} ms/doc p50; "
            f"size {_number(comparison['size_ratio'], '{:.0%}')}, "
            f"peak RSS {_number(comparison['rss_ratio'], '{:.0%}')}; "
            f"ΔNER F1 {_number(comparison['delta_seqeval_f'], '{:+.4f}')}, "
            f"Δcats F1 {_number(comparison['delta_cats_micro_f'], '{:+.4f}')}"
        )
    load = machine.get("load_average")
    lines.append(f"CPU: {machine['cpu']}" + (
        f", load average at start {load[0]:.1f} on {machine['cores']} cores" if load else ""))
    table.caption = "\n".join(lines)
    table.caption_justify = "left"
    return table


def _number(value: Optional[float], spec: str) -> str:
    return "-" if value is None else spec.format(value)


@app.command("benchmark", epilog=EXAMPLES)
def benchmark_command(
    data: Annotated[Path, typer.Argument(
        metavar="DATA",
        help="A .spacy corpus file, or a folder whose dev.spacy is used.",
    )] = DEFAULT_DATA,
    fp32: Annotated[Optional[str], typer.Option(
        "--fp32", metavar="MODEL", show_default=False,
        help="The float32 pipeline (folder or package): the baseline unless --baseline says otherwise.",
    )] = None,
    int8: Annotated[Optional[str], typer.Option(
        "--int8", metavar="MODEL", show_default=False,
        help="The int8 pipeline from `nerel-batch quantize`.",
    )] = None,
    extra: Annotated[Optional[List[str]], typer.Option(
        "--model", metavar="LABEL=MODEL", show_default=False,
        help="Another pipeline to put beside them (repeatable), e.g. --model cnn=training/joint_cnn_rel/model-best "
        "or --model trimmed-int8=training/joint_trf/model-trimmed-int8; --model natasha=natasha puts natasha's "
        "news NER beside them. The first model given is the baseline unless --baseline names another.",
    )] = None,
    pythons: Annotated[Optional[List[str]], typer.Option(
        "--python", metavar="LABEL=PYTHON", show_default=False,
        help="Run LABEL's process with another interpreter (repeatable), e.g. --python "
        "onnx=/opt/runtime/bin/python for an export from `nerel-batch export-onnx` in a virtual "
        "environment without torch, to measure the load time and memory a deployment sees.",
    )] = None,
    baseline: Annotated[Optional[str], typer.Option(
        "--baseline", metavar="LABEL", show_default=False,
        help="The model the others are compared with (fp32, int8 or a --model label); default: the first given.",
    )] = None,
    n_docs: Annotated[int, typer.Option(
        "--n-docs", min=0, help="Documents timed, from the start of DATA (0: all).",
    )] = 30,
    f1_docs: Annotated[int, typer.Option(
        "--f1-docs", min=0, help="Documents scored for NER and cats F1 (0: all of DATA).",
    )] = 0,
    score: Annotated[bool, typer.Option(
        "--f1/--no-f1", help="Score F1 (--no-f1: speed, memory and size only).",
    )] = True,
    threads: Annotated[int, typer.Option(
        "--threads", min=1, help="torch (and OpenMP/MKL) threads in each model's process.",
    )] = 2,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Most docs in one nlp.pipe batch.")] = 16,
    max_batch_chars: Annotated[int, typer.Option(
        "--max-batch-chars", min=1,
        help="Most characters in one nlp.pipe batch: bounds the model's memory, as in annotate.",
    )] = DEFAULT_MAX_BATCH_CHARS,
    rounds: Annotated[int, typer.Option(
        "--rounds", min=1, help="Alternate the models this many times; each keeps its fastest round.",
    )] = 1,
    notes: Annotated[Optional[List[str]], typer.Option(
        "--note", help="A note stored in the JSON (repeatable), e.g. which checkpoint this is.",
    )] = None,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where the JSON results go.",
    )] = DEFAULT_OUTPUT,
) -> None:
    """Compare pipelines side by side (a float32 pipeline, its int8 copy, and any --model):
    docs/s, tokens/s, ms/doc p50/p95, load time, peak RSS, size on disk, NER seqeval F1 and
    relation-type micro F1, each model in its own process.
    """
    errors = Console(stderr=True)
    models = {label: model for label, model in (("fp32", fp32), ("int8", int8)) if model}
    for item in extra or []:
        label, sep, model = item.partition("=")
        if not sep or not label or not model:
            error(errors, f"--model {item!r}: write it as LABEL=MODEL, e.g. cnn=training/joint_cnn_rel/model-best.")
            raise typer.Exit(2)
        if label in models:
            error(errors, f"two models are labelled {label!r}; give each --model its own label.")
            raise typer.Exit(2)
        models[label] = model
    interpreters = {}
    for item in pythons or []:
        label, sep, python = item.partition("=")
        if not sep or label not in models or not Path(python).exists():
            error(errors, f"--python {item!r}: write it as LABEL=PYTHON with the label of a model "
                          f"given ({', '.join(models) or 'none'}) and an existing interpreter.")
            raise typer.Exit(2)
        interpreters[label] = python
    if not models:
        errors.print("[red]error:[/red] give --fp32 MODEL, --int8 MODEL and/or --model LABEL=MODEL to benchmark.",
                     soft_wrap=True)
        raise typer.Exit(2)
    errors.print(f"Benchmarking {escape(', '.join(models))} on {escape(str(data))}, one process per model …")
    try:
        report = benchmark_models(
            models, data, n_docs=n_docs, f1_docs=f1_docs, threads=threads, batch_size=batch_size,
            max_batch_chars=max_batch_chars,
            rounds=rounds, score=score, notes=notes or [], output=output, baseline=baseline,
            pythons=interpreters,
        )
    except (OSError, ValueError, BenchmarkError) as err:
        error(errors, err)
        raise typer.Exit(2)
    Console().print(results_table(report))
    errors.print(f"Results written to {escape(str(output))}")
