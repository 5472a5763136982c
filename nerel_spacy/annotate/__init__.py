"""Batch annotation: stream texts through any spaCy pipeline into resumable JSONL or docs.

The package follows the data: ``sources`` finds and decodes inputs, ``split`` cuts long
texts, ``stream`` runs them through the pipeline (in worker processes: ``workers``) and
yields one event per input (``records`` builds them), and ``output`` writes the events,
resumably: as JSONL, or through ``sink`` to the formats that write whole docs (spacy,
brat, html). ``model`` loads the pipeline. An engine yields events; a writer consumes them.
"""
from .manifest import RunManifest, check_resumable, manifest_path, write_manifest
from .model import DEFAULT_PACKAGE, TRAINED_PIPELINES, ModelError, SettingsRefused, find_default_model, load_pipeline
from .output import (
    OUTPUT_FATAL_ERRNOS,
    EventWriter,
    JsonlWriter,
    OutputError,
    RunStats,
    prepare_output,
    read_done_ids,
    write_events,
)
from .paths import STDOUT_ERRORS, RunPaths, default_output_path, errors_path_for, input_among_outputs, run_paths
from .records import (
    DEFAULT_THRESHOLD,
    Annotated,
    Event,
    Resumed,
    Thresholds,
    build_record,
    model_info,
    resolve_thresholds,
    span_record,
)
from .sources import (
    DEFAULT_GLOB,
    STDIN,
    InputError,
    Source,
    decode_bytes,
    iter_sources,
    iter_stdin,
    load_text,
    measure_sources,
    source_size,
)
from .sink import UNWRITABLE, DocSinkWriter, open_doc_output
from .split import split_text
from .stream import (
    DEFAULT_MAX_BATCH_CHARS,
    DEFAULT_MAX_CHARS,
    LONG_TEXT_POLICIES,
    PIPELINE_ERROR,
    WORKER_DIED,
    AnnotateOptions,
    annotate_sources,
)
from .workers import PipelineNotPicklable, WorkersKeepDying

__all__ = [
    "DEFAULT_GLOB",
    "DEFAULT_MAX_BATCH_CHARS",
    "DEFAULT_MAX_CHARS",
    "DEFAULT_PACKAGE",
    "DEFAULT_THRESHOLD",
    "LONG_TEXT_POLICIES",
    "PIPELINE_ERROR",
    "STDIN",
    "STDOUT_ERRORS",
    "TRAINED_PIPELINES",
    "UNWRITABLE",
    "WORKER_DIED",
    "WorkersKeepDying",
    "PipelineNotPicklable",
    "AnnotateOptions",
    "Annotated",
    "DocSinkWriter",
    "Event",
    "EventWriter",
    "InputError",
    "JsonlWriter",
    "ModelError",
    "OUTPUT_FATAL_ERRNOS",
    "SettingsRefused",
    "OutputError",
    "Resumed",
    "RunManifest",
    "RunPaths",
    "RunStats",
    "Source",
    "Thresholds",
    "annotate_sources",
    "build_record",
    "check_resumable",
    "decode_bytes",
    "default_output_path",
    "errors_path_for",
    "input_among_outputs",
    "find_default_model",
    "iter_sources",
    "iter_stdin",
    "load_pipeline",
    "load_text",
    "manifest_path",
    "measure_sources",
    "model_info",
    "open_doc_output",
    "prepare_output",
    "read_done_ids",
    "run_paths",
    "resolve_thresholds",
    "source_size",
    "span_record",
    "split_text",
    "write_events",
    "write_manifest",
]
