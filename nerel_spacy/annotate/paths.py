"""Where a run writes: its output, errors file and manifest, by default and by choice,
and the inputs it must not touch (an output named after an input, an input in the output)."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

from ..formats.base import OutputError
from .manifest import manifest_path
from .sources import STDIN

# Where failed inputs go when the records go to stdout and no --errors is given; inside
# the output folder of the formats that write one.
STDOUT_ERRORS = Path("annotate-errors.jsonl")


def errors_path_for(output: Path, format: str = "jsonl") -> Path:
    """The default errors file: ``out.jsonl`` -> ``out.errors.jsonl`` beside it; for a folder
    format (spacy, brat, html) ``OUT/annotate-errors.jsonl`` inside the folder."""
    if format != "jsonl":
        return output / STDOUT_ERRORS.name
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(stem + ".errors.jsonl")


def default_output_path(inputs: Sequence[str], format: str = "jsonl") -> Path:
    """``./NAME.jsonl``, or the folder ``./NAME-FORMAT`` for the other formats, NAME being the
    first input's folder name or file stem (``stdin`` for '-'); ``./NAME-annotated.jsonl``
    where ``./NAME.jsonl`` is itself an input."""
    first = inputs[0]
    if first == STDIN:
        name = "stdin"
    else:
        path = Path(first)
        name = path.name if path.is_dir() else path.stem
        name = name or path.resolve().name or "annotate"
    if format != "jsonl":
        return Path(f"{name}-{format}")
    output = Path(f"{name}.jsonl")
    if input_among_outputs(inputs, [output]) is not None:
        output = Path(f"{name}-annotated.jsonl")
    return output


def input_among_outputs(
    inputs: Sequence[str], own_files: Sequence[Path], folder: Optional[Path] = None
) -> Optional[str]:
    """The first local input that is one of the run's own files (``own_files``: the output,
    its errors file and manifest) or lies in its output ``folder``; ``None`` if none is.

    Such an input would be truncated or overwritten by the run, or read back as input.
    """
    own = {os.path.realpath(path) for path in own_files}
    inside = None if folder is None else os.path.realpath(folder)
    for name in inputs:
        if name == STDIN or "://" in name:
            continue
        real = os.path.realpath(name)
        if real in own or (inside is not None and (real == inside or real.startswith(inside + os.sep))):
            return name
    return None


@dataclass(frozen=True)
class RunPaths:
    """The files a run writes. ``output`` is ``None`` when the records go to stdout."""

    output: Optional[Path]
    errors: Path
    manifest: Optional[Path]
    lazy_errors: bool  # the errors file is made only when an input fails

    @property
    def own_files(self) -> Tuple[Path, ...]:
        return tuple(path for path in (self.output, self.errors, self.manifest) if path is not None)


def run_paths(inputs: Sequence[str], output: Optional[Path], errors: Optional[Path], format: str) -> RunPaths:
    """The run's files for ``-o`` (``None``: stdout) and ``--errors`` (``None``: the default);
    an ``OutputError`` if the errors file is the output, or an input is among them."""
    folder = format != "jsonl"
    lazy_errors = errors is None and (output is None or folder)
    if errors is None:
        errors = STDOUT_ERRORS if output is None else errors_path_for(output, format)
    if output is not None and errors.resolve() == output.resolve():
        raise OutputError("the errors file can't be the output file; give --errors another path")
    paths = RunPaths(output, errors, None if output is None else manifest_path(output, format),
                     lazy_errors=lazy_errors)
    clash = input_among_outputs(inputs, paths.own_files, output if folder else None)
    if clash is not None:
        raise OutputError(
            f"the input {clash} would be written by this run ({output or errors}, its errors file or manifest, "
            "or inside its output folder); give -o (or --errors) a path outside the inputs")
    return paths


__all__ = ["STDOUT_ERRORS", "RunPaths", "default_output_path", "errors_path_for", "input_among_outputs",
           "run_paths"]
