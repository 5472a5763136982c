"""What is checked before a resumable run touches its output folder.

- ``check_output_folder``: OUTPUT is a folder, or can be made one (no file in its place);
- ``check_inputs_outside``: no path the config reads (``paths.*``, a component's ``source``,
  ``initialize.vectors``, a corpus) lies inside OUTPUT, where starting afresh removes
  model-best and model-last and every evaluation rewrites them;
- ``missing_inputs``: the corpora, sourced pipelines and vectors that are not where the config
  says, named with the setting that points there;
- ``read_progress`` and ``check_checkpoint``: OUTPUT/checkpoint is whole and readable before it
  is used. A damaged one is refused with ``damaged``; it is never silently trained over. What
  makes progress.json readable is ``progress_file``'s, which train-rounds and progress share.

The checkpoint's format is ``loop._save_checkpoint``'s: nothing here adds to it, and a
checkpoint of any earlier version of this package passes these checks.
"""
from pathlib import Path
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Tuple

from .checkpoint_files import checkpoint_files_problem
from .progress_file import READABLE, read_progress_file
from .state import ResumeError


def check_output_folder(output: Path) -> None:
    """Refuse an OUTPUT that is a file, or lies under one."""
    output = Path(output)
    for path in (output, *output.parents):
        if path.exists():
            if not path.is_dir():
                where = "is a file" if path == output else f"lies under {path}, a file"
                raise ResumeError(f"--output {output} {where}, not a folder: choose a folder for model-best, "
                                  "model-last and the checkpoint")
            return


def input_paths(config: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    """(setting, value) for each non-empty string setting that names something the run reads:
    every ``paths.*``, ``components.*.source``, ``initialize.vectors`` and ``init_tok2vec``,
    and every setting called ``path`` (the corpora's, a labels file's)."""
    config = interpolated(config)
    for key, value in _flatten(config):
        parts = key.split(".")
        if not isinstance(value, str) or not value or "${" in value:
            continue
        if (parts[0] == "paths" or parts[-1] == "path"
                or (parts[0] == "components" and len(parts) == 3 and parts[2] == "source")
                or key in ("initialize.vectors", "initialize.init_tok2vec")):
            yield key, value


def check_inputs_outside(config: Dict[str, Any], output: Path) -> None:
    """Refuse to train into an OUTPUT that holds (or is) a path the run reads from.

    Starting afresh removes OUTPUT/model-best and model-last, and every evaluation rewrites
    them: a sourced OUTPUT/model-best would be lost at step 0, and a rerun would continue from
    the run's own output. A sibling such as train-rounds' OUTPUT/ROUND_source is outside
    OUTPUT/ROUND and allowed.
    """
    output = Path(output).resolve()
    inside = []
    for key, value in input_paths(config):
        path = Path(value)
        if not path.exists():  # a package or model name, or missing (``missing_inputs``)
            continue
        resolved = path.resolve()
        if resolved == output or output in resolved.parents:
            inside.append(f"{key} = {value}")
    if inside:
        raise ResumeError(
            f"the config reads from inside the output folder {output}, which training overwrites "
            f"(model-best, model-last, checkpoint): {'; '.join(inside)}. Copy or move it out of the "
            "output folder, or train into another --output."
        )


def missing_inputs(config: Dict[str, Any]) -> List[str]:
    """The training and dev corpora, sourced pipelines and vectors that do not exist, each as
    ``setting = value (--paths.X)``, with the ``[paths]`` setting that points there if any."""
    from spacy.util import is_package

    config = interpolated(config)
    aliases: Dict[str, str] = {}
    for key, value in _flatten({"paths": config.get("paths", {})}):
        if isinstance(value, str):
            aliases.setdefault(value, f"--{key}")
    training = config.get("training", {})
    wanted: List[Tuple[str, Any, bool]] = []  # setting, value, may it be a package name
    for corpus in (training.get("train_corpus"), training.get("dev_corpus")):
        if isinstance(corpus, str):
            section = _section(config, corpus)
            if isinstance(section, dict) and "path" in section:
                wanted.append((f"{corpus}.path", section["path"], False))
    for name, component in (config.get("components") or {}).items():
        if isinstance(component, dict) and "source" in component:
            wanted.append((f"components.{name}.source", component["source"], True))
    for key in ("vectors", "init_tok2vec"):
        wanted.append((f"initialize.{key}", (config.get("initialize") or {}).get(key), key == "vectors"))
    missing = []
    for key, value, may_be_package in wanted:
        if not isinstance(value, str) or not value or "${" in value or Path(value).exists():
            continue
        if may_be_package and is_package(value):
            continue
        alias = f" ({aliases[value]})" if value in aliases else ""
        missing.append(f"{key} = {value}{alias}")
    return missing


def damaged(folder: Path, what: str) -> NoReturn:
    raise ResumeError(
        f"checkpoint {folder} is damaged ({what}), so the run cannot resume from it. Pass --fresh to "
        f"start over (the checkpoint is then removed), or delete {folder} yourself and run again."
    )


def read_progress(folder: Path) -> Dict[str, Any]:
    """OUTPUT/checkpoint/progress.json, or ``damaged`` when the checkpoint lacks it, it cannot be
    read, or a field the loop reads is missing or of another type (``progress_file.progress_problem``)."""
    found = read_progress_file(Path(folder))
    if found.state != READABLE:
        damaged(found.folder, found.problem or "not a folder")
    return found.progress


def check_checkpoint(folder: Path, progress: Dict[str, Any]) -> None:
    """``damaged`` unless every file a resume reads besides ``progress`` (``read_progress``'s) is
    there and opens: the weights (model/), the optimizer's tables and counts, the random states
    (``checkpoint_files.checkpoint_files_problem``, which ``nerel-batch progress`` applies too)."""
    problem = checkpoint_files_problem(folder)
    if problem is not None:
        damaged(Path(folder), problem)


def interpolated(config: Dict[str, Any]) -> Dict[str, Any]:
    """``config`` with its ``${...}`` references filled in, or as it is where one is broken."""
    interpolate = getattr(config, "interpolate", None)
    if interpolate is None:
        return config
    try:
        return interpolate()
    except Exception:  # a broken reference: spaCy's own validation says which, later
        return config


def _section(config: Dict[str, Any], dotted: str) -> Optional[Any]:
    section: Any = config
    for part in dotted.split("."):
        if not isinstance(section, dict) or part not in section:
            return None
        section = section[part]
    return section


def _flatten(section: Dict[str, Any], prefix: str = "") -> Iterator[Tuple[str, Any]]:
    for key, value in section.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
