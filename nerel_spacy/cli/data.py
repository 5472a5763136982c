"""``nerel-batch fetch-data``: make sure the project has NEREL before anything else runs.

The first step of ``spacy project run all``. A NEREL folder that is there is reported and
kept. A missing one that is the destination of an asset in ``./project.yml`` is fetched
with ``python -m weasel assets``. Anything else stops with one message that says how to
point the project at a local copy (``--vars.nerel_dir``), so a fresh offline clone never
ends on weasel's bare "Missing dependency".
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import srsly
import typer
from rich.console import Console
from typing_extensions import Annotated

from ._app import app
from ._console import escape

SPLITS = ("train", "dev", "test")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
OFFLINE_HINT = (
    "Point the project at a local NEREL copy (a folder with train/ and dev/ of brat "
    ".txt + .ann files): spacy project run all . --vars.nerel_dir PATH. "
    'See "Offline recipe" in README.md.'
)


class FetchError(Exception):
    """The asset fetch failed or timed out; the message is its last line of output."""


def nerel_splits(nerel_dir: Path) -> Dict[str, int]:
    """Documents (``.ann`` files beside a ``.txt``) in each split folder of ``nerel_dir``."""
    counts = {}
    for split in SPLITS:
        folder = nerel_dir / split
        if folder.is_dir():
            docs = sum(1 for ann in folder.rglob("*.ann") if ann.with_suffix(".txt").exists())
            if docs:
                counts[split] = docs
    return counts


def project_asset(nerel_dir: Path, project_dir: Path) -> Optional[dict]:
    """The asset of ``project_dir/project.yml`` whose ``dest`` is ``nerel_dir``, if any."""
    project_file = project_dir / "project.yml"
    if not project_file.exists():
        return None
    target = (project_dir / nerel_dir).resolve()
    for asset in srsly.read_yaml(project_file).get("assets") or []:
        if "dest" in asset and (project_dir / asset["dest"]).resolve() == target:
            return asset
    return None


def fetch_assets(project_dir: Path, dest: Path, timeout: float) -> None:
    """Run ``python -m weasel assets`` in ``project_dir``; raise FetchError when it fails.

    Git never prompts for credentials here (``GIT_TERMINAL_PROMPT=0``), so a wrong or
    unreachable repository fails instead of waiting for input.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "weasel", "assets", str(project_dir)],
            capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise FetchError(f"no answer within {timeout:.0f} s") from None
    if result.returncode != 0 or not dest.exists():
        # weasel ends a failed clone with a traceback whose last line is git's own error.
        lines = [ANSI.sub("", line).strip() for line in (result.stderr or result.stdout).splitlines()]
        lines = [line for line in lines if line]
        raise FetchError(lines[-1] if lines else f"exit status {result.returncode}")


@app.command("fetch-data")
def fetch_data_command(
    nerel_dir: Annotated[Path, typer.Argument(
        metavar="NEREL_DIR", show_default=False,
        help="A NEREL root with train/ or dev/ (usually both, and test/ if your copy has it): folders of brat .txt + .ann files.",
    )],
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=1,
        help="Give up fetching the project asset after this long.",
    )] = 600.0,
) -> None:
    """Check that NEREL_DIR holds NEREL; fetch it when it is the project's missing asset.

    A NEREL_DIR with a train/ or dev/ folder of .txt + .ann files is kept as it is. A
    missing NEREL_DIR that is an asset's dest in ./project.yml (assets/nerel) is fetched
    with python -m weasel assets. Exit status: 0 NEREL is there, 1 it is not (the
    message says how to point the project at a local copy).
    """
    console, errors = Console(), Console(stderr=True)
    splits = nerel_splits(nerel_dir)
    if not splits and not nerel_dir.exists():
        asset = project_asset(nerel_dir, Path.cwd())
        if asset is not None:
            source = (asset.get("git") or {}).get("repo") or asset.get("url") or "its source"
            console.print(f"Fetching NEREL from {escape(str(source))} into {escape(str(nerel_dir))} …", highlight=False)
            try:
                fetch_assets(Path.cwd(), nerel_dir, timeout)
            except FetchError as err:
                errors.print(
                    f"[red]✘ No NEREL corpus at {escape(str(nerel_dir))}, and fetching it from {escape(str(source))} "
                    f"failed ({escape(str(err))}).[/red] {OFFLINE_HINT}",
                    highlight=False, soft_wrap=True,
                )
                raise typer.Exit(1)
            splits = nerel_splits(nerel_dir)
    if not splits:
        problem = "does not exist" if not nerel_dir.exists() else "has no train/ or dev/ folder of .txt + .ann files"
        errors.print(f"[red]✘ {escape(str(nerel_dir))} {escape(problem)}.[/red] {OFFLINE_HINT}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    found = ", ".join(f"{split} {count:,} documents" for split, count in splits.items())
    console.print(f"[green]✔ NEREL at {escape(str(nerel_dir))}: {found}[/green]", highlight=False)
