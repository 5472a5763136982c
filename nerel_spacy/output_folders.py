"""Output folders that never lose what they replace, nor the inputs they are made from.

A command writes its new folder into a hidden sibling (``staged_output``) and renames it
into place only once it is complete, so a run that fails or is cut short leaves the earlier
output (or nothing), never half a pipeline. An output may neither hold its source nor lie
inside it (``output_clash``, ``input_clash``, ``pipeline_write_clash``): replacing it would
delete the source, or copy the source into itself. Used by quantize, trim-vocab,
export-onnx, package, distill, retrain-relations, tune-thresholds, set-windows and
add-vectors; the CLI's exits are in ``nerel_spacy.cli._outputs``.
"""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional, Tuple, Union

import srsly


def meta_names(path: Path, key: str) -> bool:
    """Whether ``path`` holds a pipeline whose meta.json has ``key``: an earlier output of the
    command that records it there, safe to replace on a rerun."""
    try:
        return key in srsly.read_json(path / "meta.json")
    except (OSError, ValueError):
        return False


def output_clash(source: str, out_dir: Path, source_name: str = "MODEL_DIR", out_name: str = "OUT_DIR",
                 suffix: str = "copy") -> Optional[str]:
    """Why ``out_dir`` can't take a copy of ``source``, or None: it is a file, it is the source,
    holds it or lies inside it. ``source`` that is no local path (a package or hub name) clashes
    with nothing. ``suffix`` names the folder suggested instead (SOURCE-suffix)."""
    if out_dir.exists() and not out_dir.is_dir():
        return f"{out_name} {out_dir} is a file; give a folder for the copy."
    if not Path(source).exists():
        return None
    source_path, out_path = Path(source).resolve(), out_dir.resolve()
    if source_path == out_path:
        return f"{out_name} is {source_name}; write the copy elsewhere."
    if source_path.is_relative_to(out_path):
        return (f"{out_name} {out_dir} holds {source_name} {source}: replacing it would delete the source. "
                f"Write the copy elsewhere, e.g. {Path(source).with_name(f'{Path(source).name}-{suffix}')}.")
    if out_path.is_relative_to(source_path):
        return (f"{out_name} {out_dir} is inside {source_name} {source}: the copy would land in its own "
                "source. Write it next to the source instead.")
    return None


def staging_dir(out_dir: Path) -> Path:
    """The hidden sibling a copy of ``out_dir`` is written into first."""
    return out_dir.with_name(f".{out_dir.name}.partial")


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty sibling folder to write into; on success it replaces ``out_dir``.

    On an exception the folder is removed and ``out_dir`` is left as it was. A stale
    folder from a run that was killed is removed first."""
    out_dir = Path(out_dir).resolve()  # a name to put siblings next to, even for "."
    staging = staging_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_dir(staging, out_dir)


def input_clash(out_dir: Path, inputs: Iterable[Tuple[Optional[Union[str, Path]], str]],
                out_name: str = "OUTPUT") -> Optional[str]:
    """Why ``out_dir`` can't be replaced, or None: it is a file, or it is or holds one of
    ``inputs`` (``(path, name)`` pairs naming each input as the command's help does; a path
    that is None or does not exist clashes with nothing): replacing it would delete that
    input. An OUTPUT inside an input folder (a corpus folder, say) is fine; ``output_clash``
    also refuses one inside the pipeline it copies."""
    if out_dir.exists() and not out_dir.is_dir():
        return f"{out_name} {out_dir} is a file; give a folder."
    out_path = out_dir.resolve()
    for path, name in inputs:
        if path is None or not Path(path).exists():
            continue
        in_path = Path(path).resolve()
        if in_path == out_path:
            return f"{out_name} {out_dir} is {name} {path}: give another {out_name} folder."
        if in_path.is_relative_to(out_path):
            return (f"{out_name} {out_dir} holds {name} {path}: replacing it would delete that input. "
                    f"Give another {out_name} folder.")
    return None


def pipeline_write_clash(model: Union[str, Path], out_dir: Path, *, in_place: bool,
                         inputs: Iterable[Tuple[Optional[Union[str, Path]], str]] = (),
                         model_name: str = "MODEL", out_name: str = "OUTPUT") -> Optional[str]:
    """``input_clash`` for a command that writes a changed copy of the pipeline ``model``;
    with ``in_place`` OUTPUT may be MODEL itself (the command replaces it safely), but
    still neither hold it nor lie inside it."""
    same = Path(model).exists() and out_dir.resolve() == Path(model).resolve() and out_dir.is_dir()
    if same and not in_place:
        return (f"{out_name} {out_dir} is {model_name}: write the copy elsewhere, e.g. "
                f"{Path(model).with_name(Path(model).name + '-copy')}.")
    clash = None if same else output_clash(str(model), out_dir, model_name, out_name)
    return clash or input_clash(out_dir, inputs, out_name)


def link_or_copy(source: str, target: str) -> None:
    """A hard link ``target`` to ``source``, or a copy where the file system has none."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target, follow_symlinks=False)


def carry_over(old: Path, new: Path) -> None:
    """Put into ``new`` every entry of ``old`` that ``new`` lacks (hard links where the file
    system allows, else copies): what a write straight into ``old`` would have left there."""
    if not old.is_dir():
        return
    for entry in old.iterdir():
        target = new / entry.name
        if target.exists() or target.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=link_or_copy)
        else:
            link_or_copy(str(entry), str(target))


@contextmanager
def staged_update(out_dir: Path) -> Iterator[Path]:
    """``staged_output`` for a pipeline that used to be saved straight into ``out_dir``
    (``nlp.to_disk``), e.g. in place: the files of an earlier ``out_dir`` that the new write
    does not make (a report beside the pipeline, say) are carried over before the swap, so
    it deletes nothing that writing into the folder would have kept."""
    with staged_output(out_dir) as staging:
        yield staging
        carry_over(Path(out_dir), staging)


def replace_dir(new: Path, target: Path) -> None:
    """Rename the finished folder ``new`` to ``target``; an earlier ``target`` is moved aside
    and deleted once the new one is in place (also used by quantize and trim-vocab)."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old.exists() and not target.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["carry_over", "input_clash", "link_or_copy", "meta_names", "output_clash", "pipeline_write_clash",
           "replace_dir", "staged_output", "staged_update", "staging_dir"]
