"""Build the installable pipeline package ``ru_nerel_joint`` as a wheel.

    nerel-batch package training/joint_trf/model-int8 packages --name nerel_joint --version 0.1.0

spaCy's ``spacy package`` writes the package folder: the pipeline, ``meta.json``,
``setup.py`` and a README. It also adds to the requirements every package whose
registered functions the config uses (``nerel-spacy``, and ``spacy-transformers`` for a
transformer pipeline), so after ``pip install`` of the wheel, ``spacy.load("ru_nerel_joint")``
works in any script with no import. ``nerel-spacy`` is required explicitly as well, in
case its distribution can't be found from its module name.

The wheel itself is built with ``pip wheel --no-build-isolation``. spaCy's own build step
needs the ``build`` package, which is not installed by default. It then builds in an
isolated environment that fetches setuptools from the package index. Offline that fails,
and spaCy falls back to the deprecated ``setup.py bdist_wheel``. pip needs no network
here, only setuptools>=70.1 (which builds wheels itself) in this environment.

The package is built in a hidden folder and renamed into place once the wheel is built, so
a failed rebuild keeps the earlier package.
"""
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

import srsly
from packaging.version import InvalidVersion, Version
from spacy.cli.package import package as spacy_package

from .output_folders import replace_dir
from .package_meta import PackagingError, with_package_info

DEFAULT_NAME = "nerel_joint"
DEFAULT_VERSION = "0.1.0"
# The first setuptools that builds wheels without the separate 'wheel' package.
MIN_SETUPTOOLS = "70.1"
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class PackageResult:
    """What was built: the package folder, the wheel (None with ``wheel=False``) and its meta."""

    name: str
    version: str
    package_dir: Path
    wheel: Optional[Path]
    meta: Dict[str, Any]

    @property
    def requirements(self) -> List[str]:
        return list(self.meta.get("requirements", []))


def build_package(
    model_dir: Path,
    output_dir: Path,
    *,
    name: str = DEFAULT_NAME,
    version: str = DEFAULT_VERSION,
    description: Optional[str] = None,
    author: Optional[str] = None,
    email: Optional[str] = None,
    url: Optional[str] = None,
    license: Optional[str] = None,
    wheel: bool = True,
    performance: Optional[Mapping[str, Any]] = None,
    report: Callable[[str], None] = lambda message: None,
) -> PackageResult:
    """Package the pipeline in ``model_dir`` as ``{lang}_{name}`` under ``output_dir``.

    Works for any saved pipeline (fp32 or int8). An earlier build of the same name and
    version under ``output_dir`` is replaced once the new one is complete, so the project
    command can be rerun. ``performance`` is a ``nerel-batch evaluate`` SPLIT.json (read);
    its scores become the package's. ``report`` hears what is under way.
    """
    # Absolute: pip builds the wheel from inside the package folder.
    model_dir = Path(model_dir).absolute()
    output_dir = Path(output_dir).absolute()
    meta = read_pipeline_meta(model_dir)
    check_output_dir(model_dir, output_dir)
    name = check_name(name, meta["lang"])
    version = check_version(version)
    meta.update(name=name, version=version)
    if wheel:
        require_wheel_backend()
    meta = with_package_info(
        meta, model_dir, description=description, author=author, email=email, url=url,
        license=license, performance=performance,
    )
    package_name = f"{meta['lang']}_{name}"
    package_dir = output_dir / f"{package_name}-{version}"
    _check_previous_build(package_dir, package_name)
    building = output_dir / f".{package_dir.name}.building"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(building, ignore_errors=True)  # left by a run that was killed
        building.mkdir()
    except OSError as err:
        raise PackagingError(f"can't write the package under {output_dir}: {err}") from None
    try:
        report(f"Packaging {model_dir} (spacy package loads the pipeline to check it)")
        _spacy_package(model_dir, building, meta, shown_output=output_dir)
        built_dir = building / package_dir.name
        final_meta = srsly.read_json(built_dir / "meta.json")
        if wheel:
            report(f"Building the wheel of {package_dir.name}")
        wheel_name = build_wheel(built_dir).name if wheel else None
        replace_dir(built_dir, package_dir)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    wheel_path = package_dir / "dist" / wheel_name if wheel_name else None
    return PackageResult(package_name, version, package_dir, wheel_path, final_meta)


def _spacy_package(model_dir: Path, output_dir: Path, meta: Dict[str, Any], shown_output: Path) -> None:
    """spaCy's package step into ``output_dir``, its exits and load failures as PackagingError."""
    with tempfile.TemporaryDirectory() as tmp:
        meta_path = Path(tmp) / "meta.json"
        srsly.write_json(meta_path, meta)
        try:
            spacy_package(
                model_dir, output_dir, meta_path=meta_path, name=meta["name"], version=meta["version"],
                create_sdist=False, create_wheel=False, require_parent=True, force=True, silent=True,
            )
        except SystemExit as err:  # spaCy's CLI helpers exit instead of raising
            raise PackagingError(
                f"spacy package failed for {model_dir} (exit status {err.code}). Run "
                f"'python -m spacy package {model_dir} {shown_output}' to see its message."
            ) from None
        except (OSError, ValueError, ImportError) as err:
            # Loading the pipeline to read its meta: missing or broken files, an unknown
            # factory or config error (both ValueError), a component package not installed.
            # Anything else is a bug and keeps its traceback.
            raise PackagingError(
                f"spacy package could not package {model_dir}: {err}. The pipeline must load "
                "here: its components' packages installed, its files complete."
            ) from err


def read_pipeline_meta(model_dir: Path) -> Dict[str, Any]:
    """The pipeline's meta.json, after checking that ``model_dir`` holds a saved pipeline."""
    hint = (
        "Give the folder of a saved pipeline (the one holding config.cfg and meta.json), e.g. "
        "training/joint_trf/model-best, or make the int8 one with "
        "'spacy project run quantize'."
    )
    if not model_dir.exists():
        raise PackagingError(f"no pipeline at {model_dir}: the folder does not exist. {hint}")
    if not model_dir.is_dir():
        raise PackagingError(f"{model_dir} is a file, not a pipeline folder. {hint}")
    for required in ("config.cfg", "meta.json"):
        if not (model_dir / required).is_file():
            raise PackagingError(f"{model_dir} has no {required}, so it is not a saved pipeline. {hint}")
    try:
        meta = srsly.read_json(model_dir / "meta.json")
    except ValueError as err:
        raise PackagingError(f"{model_dir / 'meta.json'} is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or not meta.get("lang"):
        raise PackagingError(f"{model_dir / 'meta.json'} has no \"lang\"; save the pipeline with nlp.to_disk.")
    return meta


def check_output_dir(model_dir: Path, output_dir: Path) -> None:
    """Refuse an output folder that is a file, or that holds the pipeline or lies inside it
    (spaCy would copy the pipeline into itself until the path grows too long)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise PackagingError(f"{output_dir} is a file; give a folder for the package (created if missing).")
    model, output = model_dir.resolve(), output_dir.resolve()
    if output.is_relative_to(model):
        raise PackagingError(f"the output folder {output_dir} is inside the pipeline {model_dir}, which would "
                             f"be copied into itself. Write the package elsewhere, e.g. {model.parent / 'packages'}.")
    if model.is_relative_to(output):
        raise PackagingError(f"the output folder {output_dir} holds the pipeline {model_dir}. Write the "
                             "package into a folder of its own, e.g. packages.")


def check_name(name: str, lang: str) -> str:
    """The package name without the language prefix (spaCy adds it), or a clear error."""
    if name.startswith(f"{lang}_"):
        name = name[len(lang) + 1:]
    if not name.isidentifier() or not _PACKAGE_NAME.match(name) or "__" in name:
        raise PackagingError(
            f"--name {name!r} can't name a Python package: use ASCII letters, digits and "
            f"single underscores, starting with a letter (e.g. {DEFAULT_NAME!r}, which installs "
            f"as {lang}_{DEFAULT_NAME})."
        )
    return name


def check_version(version: str) -> str:
    """``version`` in its normal PEP 440 form (``v1.0-Beta`` → ``1.0b0``, what pip names the
    wheel), so the folder, meta.json and the wheel agree; a clear error if it is none."""
    try:
        return str(Version(version))
    except InvalidVersion:
        raise PackagingError(f"--version {version!r} is not a PEP 440 version such as 0.1.0.") from None


def _check_previous_build(package_dir: Path, package_name: str) -> None:
    """Refuse to replace a folder that is not an earlier build, before any work is done."""
    if not package_dir.exists():
        return
    # spaCy's layout: ru_nerel_joint-0.1.0/{setup.py, ru_nerel_joint/}.
    if not (package_dir / "setup.py").is_file() and not (package_dir / package_name).is_dir():
        raise PackagingError(
            f"{package_dir} exists and is not a package built by spacy package; "
            "move it away or choose another output folder."
        )


def wheel_backend_problem() -> Optional[str]:
    """Why this environment's setuptools can't build a wheel without the network, or None.

    setuptools has built wheels itself since 70.1; older ones need the ``wheel`` package.
    (A Python 3.11 venv starts with setuptools 65.5 and no ``wheel``; 3.12 has neither.)
    """
    try:
        setuptools_version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return "setuptools is not installed"
    if Version(setuptools_version) >= Version(MIN_SETUPTOOLS):
        return None
    try:
        metadata.version("wheel")
        return None
    except metadata.PackageNotFoundError:
        return f"setuptools {setuptools_version} needs the 'wheel' package, which is not installed"


def require_wheel_backend() -> None:
    """Fail before any copying when the wheel can't be built here."""
    problem = wheel_backend_problem()
    if problem:
        raise PackagingError(
            f"can't build a wheel in this environment: {problem}. Fix: pip install "
            f"'setuptools>={MIN_SETUPTOOLS}' (or pass --no-wheel for the package folder only)."
        )


def build_wheel(package_dir: Path) -> Path:
    """Build the wheel of a package folder into ``package_dir/dist``, offline."""
    require_wheel_backend()
    dist = package_dir / "dist"
    command = [
        sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
        "--no-index", "--quiet", "--wheel-dir", str(dist),
    ]
    result = subprocess.run(command, cwd=package_dir, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise PackagingError(
            f"building the wheel of {package_dir.name} failed (pip wheel exit status "
            f"{result.returncode}):\n{output}"
        )
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise PackagingError(f"expected one wheel in {dist}, found {[w.name for w in wheels]}")
    return wheels[0]


def main(argv: Optional[List[str]] = None) -> None:
    """``python -m nerel_spacy.packaging ARGS``, the older spelling of ``nerel-batch package ARGS``."""
    from .cli import app

    app(args=["package", *(sys.argv[1:] if argv is None else argv)], prog_name="nerel-batch")


if __name__ == "__main__":
    main()
