"""``nerel-batch``: thin Typer commands over the library functions.

Each command lives in its own module and registers itself on ``app`` when imported.
"""
import importlib

from ..torch_stack import TORCH_STACK_MODULES
from ._app import app, reflow_command_help

# One module per command; a module missing from a partial install is skipped, not fatal.
_COMMAND_MODULES = (
    "convert", "stats", "evaluate", "tune", "annotate", "quantize", "benchmark", "package",
    "vectors", "windows", "report", "trim", "distill", "export_onnx", "train", "retrain_relations",
    "static_vectors", "rounds", "progress", "compact_vectors",
)
# What a runtime-only install lacks (docs/quantization.md, "Without torch"), TORCH_STACK_MODULES: the
# commands that need it answer with how to get it instead of breaking every other command.
COMMAND_NAMES = {"convert": "convert", "stats": "stats", "evaluate": "evaluate", "tune": "tune-thresholds",
                 "annotate": "annotate", "quantize": "quantize", "benchmark": "benchmark", "package": "package",
                 "vectors": "prepare-vectors", "windows": "set-windows", "report": "report", "trim": "trim-vocab",
                 "distill": "distill", "export_onnx": "export-onnx", "train": "train",
                 "retrain_relations": "retrain-relations",
                 "static_vectors": "add-vectors", "rounds": "train-rounds", "progress": "progress",
                 "compact_vectors": "compact-vectors"}


def _needs(command: str, missing: str) -> None:
    """Register ``command`` as one that says what this install lacks and exits with 2."""

    @app.command(command, help=f"Unavailable here: needs {missing}, which this install lacks.",
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def unavailable() -> None:
        import typer

        typer.echo(f"nerel-batch {command} needs {missing}, which is not installed here (a runtime-only "
                   "install). Install the CPU torch, then nerel-spacy's torch extra: pip install torch==2.13.0 "
                   "--index-url https://download.pytorch.org/whl/cpu, then pip install -e '.[transformers]' "
                   "in the checkout (or the nerel_spacy wheel with [transformers])",
                   err=True)
        raise typer.Exit(2)


for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.{_name}":  # pragma: no cover - only while a command is being written
            continue
        if (err.name or "").split(".")[0] not in TORCH_STACK_MODULES:
            raise
        _needs(COMMAND_NAMES[_name], err.name.split(".")[0])
from . import data  # noqa: E402,F401  (fetch-data; kept off the tuple above so merges touch one line each)

reflow_command_help(app)


def main() -> None:
    """Entry point of the ``nerel-batch`` console script."""
    app()


__all__ = ["app", "main"]
