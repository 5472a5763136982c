"""``nerel-batch annotate``: run a pipeline over folders, files or stdin into JSONL, DocBin, brat or HTML."""
import contextlib
import dataclasses
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from typing_extensions import Annotated

from .. import annotate as lib
from ..annotate import engines
from ._annotate_summary import DocsColumn, summary_table
from ._app import app

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch annotate ./docs

  nerel-batch annotate ./docs > out.jsonl

  nerel-batch annotate ./docs -m training/model-best -o out.jsonl

  nerel-batch annotate ./docs --glob '*.md' -m ru_nerel_joint -o out.jsonl --resume

  cat texts.jsonl | nerel-batch annotate - -m ./model -o - --threshold 0.3 > out.jsonl

  nerel-batch annotate a.txt b.txt ./more -m ./model -o out.jsonl --encoding cp1251 --n-process 4

  nerel-batch annotate s3://bucket/news -m ru_nerel_joint -o out.jsonl --engine ray --address auto

  nerel-batch annotate ./docs -m ./model --format brat -o ./docs-brat

  nerel-batch annotate ./docs -m ./model --format spacy --resume

  nerel-batch annotate ./docs -m ./model --set nerel_joint.span_threshold=0.4

Exit status: 0 all inputs annotated, 1 some inputs failed (see the errors
JSONL), 2 usage error, 130 interrupted (rerun with --resume).
"""


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    spacy = "spacy"
    brat = "brat"
    html = "html"


class LongTexts(str, Enum):
    split = "split"
    skip = "skip"


class EngineName(str, Enum):
    local = "local"
    ray = "ray"


@app.command("annotate", epilog=EXAMPLES)
def annotate_command(
    ctx: typer.Context,
    inputs: Annotated[List[str], typer.Argument(
        metavar="INPUT", show_default=False,
        help="Folders (searched recursively with --glob), text files, or '-' for stdin: one "
        'text per line, either plain or JSONL {"id": ..., "text": ...}, detected per line.',
    )],
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", show_default=False,
        help="Pipeline folder (holding config.cfg) or installed package name, as spacy.load takes. "
        f"Default: the installed package {lib.DEFAULT_PACKAGE}, else the newest "
        f"./{lib.TRAINED_PIPELINES} folder with a config.cfg.",
    )] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", show_default=False,
        help="Output JSONL file, one record per input; '-' writes to stdout (progress and summary "
        "stay on stderr). Default: stdout when it is not a terminal (a pipe or a redirect), "
        "else ./NAME.jsonl named after the first input (folder name or file stem; stdin for '-'). "
        "With --format spacy, brat or html: an output folder, default ./NAME-FORMAT.",
    )] = None,
    output_format: Annotated[OutputFormat, typer.Option(
        "--format",
        help="jsonl: one record per input. spacy: a folder of DocBin shards (part-NNNNNN.spacy) "
        "holding docs with ents, spans, cats and relations, which spaCy's Corpus reads as it is. "
        "brat: OUT/ID.txt + OUT/ID.ann (every mention, relations, kb ids) to correct in brat, "
        "then nerel-batch convert. html: a page OUT/ID.html per input. A split text is written "
        "as one document.",
    )] = OutputFormat.jsonl,
    glob: Annotated[str, typer.Option(
        help="Which files in a folder to read, matched against paths relative to it from the "
        "right, so '*.txt' matches at any depth and 'news/*.txt' only inside news folders.",
    )] = lib.DEFAULT_GLOB,
    batch_size: Annotated[int, typer.Option(
        min=1, help="At most this many texts (or parts of a long text) per nlp.pipe batch; output "
        "is synced to disk every this many records.",
    )] = 32,
    max_batch_chars: Annotated[Optional[int], typer.Option(
        min=1, show_default=f"{lib.DEFAULT_MAX_BATCH_CHARS}, or --max-chars if larger",
        help="At most this many characters per nlp.pipe batch. It bounds what the model holds at "
        "once, so peak memory follows it, not the number or length of the documents: long texts "
        "are split (--max-chars) and their parts stream through in batches of this size. Lower it "
        "if memory runs out, raise it for speed.",
    )] = None,
    n_process: Annotated[int, typer.Option(
        min=1, help="Worker processes to annotate in. A text whose worker dies (a crash in native code, "
        "the OOM killer) is retried alone in fresh workers, then listed as worker-died; the run goes on. "
        "Workers dying again and again with nothing annotated stop the run (rerun with --resume).",
    )] = 1,
    threads: Annotated[Optional[int], typer.Option(
        min=1, show_default=False,
        help="Threads per process for torch, OpenMP and numpy's BLAS (forked --n-process workers inherit "
        "it); keep --n-process × --threads at most the cores. Default: leave as is.",
    )] = None,
    threshold: Annotated[Optional[float], typer.Option(
        min=0.0, max=1.0, show_default=False,
        help="Report cats scoring at least this, overriding the pipeline's own thresholds "
        "(a component's cats_thresholds, else its cfg threshold, else 0.5).",
    )] = None,
    all_cats: Annotated[bool, typer.Option(
        "--all-cats", help="Report every cats score, whatever the threshold.",
    )] = False,
    max_chars: Annotated[int, typer.Option(
        min=1, help="Texts longer than this are split or skipped (see --long-texts).",
    )] = lib.DEFAULT_MAX_CHARS,
    long_texts: Annotated[LongTexts, typer.Option(
        help="split: cut a long text at paragraph or sentence ends into parts annotated one by one "
        "and merged into one record with offsets into the whole text; skip: record it as failed.",
    )] = LongTexts.split,
    encoding: Annotated[Optional[str], typer.Option(
        show_default=False,
        help="Fallback encoding for inputs that are not UTF-8, e.g. cp1251 (files with a UTF-16 or "
        'UTF-32 byte-order mark need none); such records get an "encoding" field.',
    )] = None,
    errors: Annotated[Optional[Path], typer.Option(
        show_default=False, dir_okay=False,
        help="JSONL of inputs that failed, with the reason; default OUT.errors.jsonl beside a file "
        f"output, {lib.STDOUT_ERRORS} inside the folder of --format spacy/brat/html, and "
        f"./{lib.STDOUT_ERRORS} when records go to stdout (these two written only when an input "
        "fails). Rewritten each run (failed inputs are retried on --resume).",
    )] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Skip inputs whose id is already in OUT and append the rest (after an "
        "interruption or crash). The model, its files unchanged, and the options that shape records must be "
        "those OUT was begun with, as its manifest (OUT.run.json; OUT/annotate-run.json for a folder) records.",
    )] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Start OUT afresh when it exists and is not empty (a folder output: "
        "documents are written again, other files in it stay).",
    )] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar and no summary (errors still go to stderr).",
    )] = False,
    code: Annotated[Optional[Path], typer.Option(
        show_default=False, exists=True, dir_okay=False,
        help="Python file to import first, registering a pipeline's custom components.",
    )] = None,
    settings: Annotated[Optional[List[str]], typer.Option(
        "--set", metavar="COMPONENT.SETTING=VALUE", show_default=False,
        help="Change a component setting of the pipeline for this run, as spacy.load(config=...) "
        "does; repeatable. VALUE is read as JSON, else as text: --set nerel_joint.span_threshold=0.4 "
        "--set nerel_joint.nested_arguments=best. A name the pipeline lacks is an error listing "
        "the ones it has. The settings: docs/training.md.",
    )] = None,
    engine: Annotated[EngineName, typer.Option(
        help="local: nlp.pipe in this process. ray: a pool of Ray actors, each loading the "
        "pipeline once (by path or package name, so the model, --code and local inputs must be "
        "reachable at the same paths on every node); inputs may also be pyarrow filesystem "
        "URIs (s3://, gs://, file://). Same records, errors file and --resume; records come in "
        f"completion order, not input order. Needs {escape(engines.RAY_INSTALL)}; see docs/ray.md.",
    )] = EngineName.local,
    address: Annotated[Optional[str], typer.Option(
        show_default="start a local Ray",
        help="--engine ray: the cluster to run on, 'auto' (the one `ray start` started here) or "
        "ray://HOST:10001.",
    )] = None,
    workers: Annotated[Optional[int], typer.Option(
        min=1, show_default="the cluster's CPUs / --threads-per-worker",
        help="--engine ray: actors, each holding one copy of the pipeline.",
    )] = None,
    threads_per_worker: Annotated[int, typer.Option(
        min=1, help="--engine ray: CPUs (and torch threads) per actor.",
    )] = 1,
) -> None:
    """Annotate texts with any spaCy pipeline: entities, spans, relations and relation-type scores.

    Inputs are read lazily and streamed through nlp.pipe in batches of at most
    --max-batch-chars characters, so the pipeline's memory stays bounded however
    many and however long the texts are (each file is held whole while its parts
    run). On a terminal, a bar shows the input bytes done
    and an ETA. Bad inputs (missing, broken symlinks, unreadable, binary, not
    UTF-8, empty, too long, a text the pipeline raises on or, with --engine ray,
    whose worker dies) are recorded in the errors JSONL and counted; the run
    goes on. Every batch is synced to disk, so an interrupted run is continued
    with --resume. Output is JSONL, or with --format a folder of spaCy DocBin
    shards, brat files or HTML pages (see docs/annotate_formats.md).
    """
    console = Console(stderr=True)
    output_note = ""
    fmt = output_format.value
    folder = output_format is not OutputFormat.jsonl
    if output is None:
        to_file = folder or _stdout_is_terminal()
        output = str(lib.default_output_path(inputs, fmt)) if to_file else lib.STDIN
        output_note = " (no -o given)"
    to_stdout = output == lib.STDIN
    if folder and to_stdout:
        raise typer.BadParameter(f"--format {fmt} writes a folder, not stdout; give -o FOLDER",
                                 param_hint="'--output'")
    if inputs.count(lib.STDIN) > 1:
        raise typer.BadParameter("'-' (stdin) can be given once", param_hint="INPUT")
    if resume and to_stdout:
        raise typer.BadParameter(f"--resume needs an output file, and records go to stdout{output_note}; "
                                 "give -o FILE", param_hint="'--resume'")
    try:
        options = lib.AnnotateOptions(
            glob=glob, batch_size=batch_size, n_process=n_process, threshold=threshold,
            all_cats=all_cats, max_chars=max_chars, long_texts=long_texts.value, encoding=encoding,
            max_batch_chars=max_batch_chars,
        )
    except LookupError:
        raise typer.BadParameter(f"unknown encoding {encoding!r}; try cp1251 or koi8_r",
                                 param_hint="'--encoding'") from None
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    if engine is EngineName.local and (address is not None or workers is not None or threads_per_worker != 1):
        raise typer.BadParameter("--address, --workers and --threads-per-worker need --engine ray",
                                 param_hint="'--engine'")
    if engine is EngineName.ray and folder:
        raise typer.BadParameter(f"--format {fmt} writes whole Docs, which only "
                                 "--engine local hands over; use --format jsonl with --engine ray",
                                 param_hint="'--format'")
    if engine is EngineName.ray and n_process != 1:
        raise typer.BadParameter("--n-process is for --engine local; with --engine ray use --workers",
                                 param_hint="'--n-process'")
    try:
        paths = lib.run_paths(inputs, None if to_stdout else Path(output), errors, fmt)
    except lib.OutputError as err:
        raise typer.BadParameter(str(err), param_hint="'--output'") from None
    out_path, errors_path, manifest_file = paths.output, paths.errors, paths.manifest
    options = dataclasses.replace(options, exclude=tuple(str(path) for path in paths.own_files))
    if threads is not None:
        from ..threads import limit_threads

        limit_threads(threads)
    if model is None:
        try:
            model = lib.find_default_model()
        except lib.ModelError as err:
            console.print(f"Error: {err}", highlight=False, markup=False)
            raise typer.Exit(2) from None
    try:
        runner = engines.make_engine(engine.value, model, code, settings=settings or (), address=address,
                                     workers=workers, threads_per_worker=threads_per_worker)
    except lib.ModelError as err:
        hint = "'--set'" if isinstance(err, lib.SettingsRefused) else "'--model'"
        raise typer.BadParameter(str(err), param_hint=hint) from None
    except engines.EngineError as err:
        console.print(f"Error: {err}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    ctx.call_on_close(runner.close)  # a local Ray stops however the command ends
    doc_writer = None
    info = runner.model_info()
    manifest = lib.RunManifest.for_run(model, info, settings or (), options)
    try:
        kept = resume and manifest_file is not None and lib.check_resumable(manifest_file, manifest)
        if folder:
            doc_writer, done = lib.open_doc_output(fmt, out_path, resume=resume, overwrite=overwrite)
        else:
            done = set() if out_path is None else lib.prepare_output(out_path, resume=resume, overwrite=overwrite)
    except lib.OutputError as err:
        raise typer.BadParameter(str(err), param_hint="'--resume'" if resume else "'--output'") from None
    if manifest_file is not None and not kept:
        lib.write_manifest(manifest_file, manifest)

    show_progress = not quiet and console.is_terminal
    remote = any(engines.is_uri(name) for name in inputs)
    measured = lib.measure_sources(inputs, glob, options.exclude) if show_progress and not remote else None
    total_docs, total_bytes = measured if measured is not None else (None, None)
    stats = lib.RunStats()
    if doc_writer is not None:
        writer: lib.EventWriter = doc_writer
    else:
        writer = lib.JsonlWriter(out_path) if out_path else lib.JsonlWriter(stream=sys.stdout.buffer)
    if paths.lazy_errors:
        errors_path.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
    error_writer = lib.JsonlWriter(errors_path, append=False, lazy=paths.lazy_errors)
    model_label = f"{model} ({info['name']} {info['version']})"
    if settings:
        model_label = f"{model} ({info['name']} {info['version']}; --set {' '.join(settings)})"
    if not quiet:
        where = "stdout" if out_path is None else str(out_path)
        what = f"{fmt} documents" if folder else "records"
        console.print(f"Annotating with {model_label}; {what} go to {where}{output_note}.",
                      highlight=False, markup=False, soft_wrap=True)
    progress = Progress(
        SpinnerColumn(), BarColumn(bar_width=20), DownloadColumn(), TransferSpeedColumn(),
        DocsColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=not show_progress,
    )
    task = progress.add_task("annotate", total=total_bytes, docs=0, total_docs=total_docs)
    stdin = sys.stdin.buffer if lib.STDIN in inputs else None
    events = runner.annotate(inputs, options, done_ids=done, stdin=stdin, with_docs=folder,
                             on_progress=lambda n_bytes: progress.advance(task, n_bytes))
    try:
        with progress, _prints_to_stderr(engine is EngineName.ray):
            lib.write_events(events, writer, error_writer, stats=stats, sync_every=batch_size,
                             on_event=lambda event: progress.update(task, docs=stats.docs_seen))
    except KeyboardInterrupt:
        _finish(console, stats, writer, error_writer, model_label, quiet)
        if out_path is None:
            console.print("[yellow]Interrupted.[/] Output went to stdout, so it can't be resumed.")
        else:
            console.print(
                f"[yellow]Interrupted.[/] {escape(str(out_path))} holds every document written so far "
                f"({stats.annotated} in this run). Run the same command with --resume (without "
                "--overwrite) to continue."
            )
        raise typer.Exit(130)
    except lib.PipelineNotPicklable as err:  # raised before any worker starts
        _finish(console, stats, writer, error_writer, model_label, quiet)
        console.print(f"Error: --n-process {n_process}: {err}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    except lib.WorkersKeepDying as err:
        _finish(console, stats, writer, error_writer, model_label, quiet)
        kept = ("Output went to stdout, so it can't be resumed" if out_path is None else
                f"{out_path} holds every document written so far ({stats.annotated} in this run): run the same "
                "command with --resume (without --overwrite) to continue")
        console.print(f"Error: stopped, {err} Lower --n-process (now {n_process}), --batch-size or "
                      f"--max-batch-chars. {kept}.", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
    except OSError as err:
        if err.errno not in lib.OUTPUT_FATAL_ERRNOS:
            raise
        _finish(console, stats, writer, error_writer, model_label, quiet)
        console.print(f"Error: can't write {out_path or 'stdout'} ({err.strerror}). It holds every document "
                      f"written before ({stats.annotated} in this run); free space or make it writable, then run "
                      "the same command with --resume.", highlight=False, markup=False)
        raise typer.Exit(1)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        console.print("Output pipe closed; stopped.")
        raise typer.Exit(1)
    finally:
        writer.close()  # whatever stopped the run: a sink writes what it buffers
        error_writer.close()
    _finish(console, stats, writer, error_writer, model_label, quiet)
    raise typer.Exit(1 if stats.n_failed else 0)


@contextlib.contextmanager
def _prints_to_stderr(active: bool) -> Iterator[None]:
    """Point ``sys.stdout`` at stderr meanwhile: Ray's driver prints its workers' deaths and
    retries there, which would land among records written to stdout (they keep the real one)."""
    stdout = sys.stdout
    if active:
        sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = stdout


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _finish(
    console: Console,
    stats: lib.RunStats,
    writer: lib.EventWriter,
    error_writer: lib.JsonlWriter,
    model: str,
    quiet: bool,
) -> None:
    writer.close()
    error_writer.close()
    if not quiet:
        console.print(summary_table(stats, model, writer.path, error_writer.path))
