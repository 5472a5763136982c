"""``nerel-batch``: thin Typer commands over the library functions.

Each command lives in its own module and registers itself on ``app`` when imported.
"""
import importlib

from ._app import app

# One module per command; a module missing from a partial install is skipped, not fatal.
_COMMAND_MODULES = (
    "convert", "stats", "evaluate", "tune", "annotate", "quantize", "benchmark", "package",
    "vectors", "windows", "report", "trim", "distill", "export_onnx",
)
for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as err:  # pragma: no cover - only while a command is being written
        if err.name != f"{__name__}.{_name}":
            raise
from . import data  # noqa: E402,F401  (fetch-data; kept off the tuple above so merges touch one line each)


def main() -> None:
    """Entry point of the ``nerel-batch`` console script."""
    app()


__all__ = ["app", "main"]
