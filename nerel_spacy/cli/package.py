"""``nerel-batch package``: a saved pipeline as the installable package ``ru_NAME``, built as a wheel."""
import json
from pathlib import Path
from typing import Any, Dict, Optional

import typer
from rich.console import Console
from typing_extensions import Annotated

from ..package_meta import DEFAULT_AUTHOR, DEFAULT_LICENSE
from ..packaging import DEFAULT_NAME, DEFAULT_VERSION, PackagingError, build_package
from ._app import app
from ._console import escape

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch package training/joint_trf/model-int8 packages

  nerel-batch package training/joint_cnn/model-best packages --no-wheel

  nerel-batch package MODEL_DIR packages --name nerel_cnn --version 0.2.0

  nerel-batch package training/joint_trf/model-int8 packages --performance metrics/joint_trf_int8/dev.json

  pip install packages/ru_nerel_joint-0.1.0/dist/*.whl

Rerunning with the same name and version replaces the earlier build once the new one is
built. Exit status: 0 built, 1 not built (the message says why).
"""


def read_evaluation(path: Path) -> Dict[str, Any]:
    """A ``nerel-batch evaluate`` SPLIT.json, or PackagingError saying why it can't be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PackagingError(f"--performance {path}: cannot read it as JSON: {err}") from None
    if not isinstance(data, dict):
        raise PackagingError(f"--performance {path}: not a nerel-batch evaluate SPLIT.json")
    return data


@app.command("package", epilog=EXAMPLES)
def package_command(
    model_dir: Annotated[Path, typer.Argument(
        metavar="MODEL_DIR", show_default=False,
        help="A saved pipeline folder (fp32 or int8): training/joint_trf/model-int8 or model-best.",
    )],
    output_dir: Annotated[Path, typer.Argument(
        metavar="OUTPUT_DIR", show_default=False,
        help="Where the package folder ru_NAME-VERSION is written (created if missing).",
    )],
    name: Annotated[str, typer.Option(
        "--name", "-n", help="Package name; the language is prefixed: ru_NAME.",
    )] = DEFAULT_NAME,
    version: Annotated[str, typer.Option(
        "--version", "-v", help="Package version (PEP 440).",
    )] = DEFAULT_VERSION,
    description: Annotated[Optional[str], typer.Option(
        help="Default: what the pipeline predicts, from its labels.", show_default=False,
    )] = None,
    author: Annotated[Optional[str], typer.Option(
        help=f"Default: the pipeline's meta, else {DEFAULT_AUTHOR!r}.", show_default=False,
    )] = None,
    email: Annotated[Optional[str], typer.Option(help="Author email.", show_default=False)] = None,
    url: Annotated[Optional[str], typer.Option(help="Author or project website.", show_default=False)] = None,
    license: Annotated[Optional[str], typer.Option(
        help=f"Default: the pipeline's meta, else {DEFAULT_LICENSE}.", show_default=False,
    )] = None,
    wheel: Annotated[bool, typer.Option(
        "--wheel/--no-wheel", help="Build the wheel, or only the package folder.",
    )] = True,
    performance: Annotated[Optional[Path], typer.Option(
        "--performance", metavar="SPLIT.json", show_default=False,
        help="Scores for the package's README and meta.json, from nerel-batch evaluate "
        "(e.g. metrics/joint_trf_int8/dev.json). Without it a float32 pipeline shows its "
        "training scores; an int8 or trimmed copy shows none, as it was not scored.",
    )] = None,
) -> None:
    """Build the installable pipeline package ru_NAME from MODEL_DIR, as a wheel.

    After [bold]pip install OUTPUT_DIR/ru_NAME-VERSION/dist/*.whl[/bold],
    any script can [bold]spacy.load("ru_NAME")[/bold] with no import: the
    wheel requires nerel-spacy (and spacy-transformers for a transformer
    pipeline), which register the components. The wheel is built offline,
    with this environment's setuptools.
    """
    errors = Console(stderr=True)
    try:
        evaluation = read_evaluation(performance) if performance is not None else None
        with errors.status(f"packaging {escape(str(model_dir))}") as status:
            result = build_package(
                model_dir, output_dir, name=name, version=version, description=description,
                author=author, email=email, url=url, license=license, wheel=wheel,
                performance=evaluation, report=lambda message: status.update(escape(message)),
            )
    except PackagingError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Package folder: {result.package_dir}")
    typer.echo(f"Requirements: {', '.join(result.requirements)}")
    if result.wheel is not None:
        size_mb = result.wheel.stat().st_size / 1e6
        typer.echo(f"Wheel: {result.wheel} ({size_mb:.1f} MB)")
        typer.echo(f"Install it with: pip install {result.wheel}")
        typer.echo(f"Then: spacy.load({result.name!r})")
