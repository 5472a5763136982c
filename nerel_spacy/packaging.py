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
"""
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import srsly
from packaging.version import InvalidVersion, Version
from spacy import util
from spacy.cli.package import package as spacy_package

DEFAULT_NAME = "nerel_joint"
DEFAULT_VERSION = "0.1.0"
DEFAULT_AUTHOR = "nerel-spacy contributors"
# The first setuptools that builds wheels without the separate 'wheel' package.
MIN_SETUPTOOLS = "70.1"
# The package code is spaCy's template and the weights are ours: MIT, like nerel-spacy.
# NEREL's repository states no licence of its own; its texts come from Russian Wikinews
# (CC BY 2.5). The package notes say so, so that a publisher can decide.
DEFAULT_LICENSE = "MIT"
NEREL_SOURCE = {
    "name": "NEREL v1.1",
    "url": "https://github.com/nerel-ds/NEREL",
    "author": "Loukachevitch et al., Language Resources and Evaluation (2023)",
}
NOTES = (
    "Trained on NEREL v1.1 (Russian Wikinews news texts, whose licence is CC BY 2.5; the "
    "NEREL repository states no licence of its own). `doc.ents` holds flat predicted "
    "entities, mirrored in `doc.spans[\"nerel\"]`; `doc.cats` holds one score per relation "
    "type, to compare with `nlp.get_pipe(\"nerel_joint\").cats_thresholds`. Entities set by "
    "earlier components are kept unless `overwrite_ents` is true. Built with nerel-spacy."
)
# Components and registered functions that run the encoder in torch.
TORCH_FACTORIES = ("transformer",)
TORCH_FUNCTION_PREFIXES = (
    "spacy-transformers.", "nerel.TransformerModel", "nerel.Tok2VecTransformer",
    "nerel.Int8TransformerModel", "nerel.Int8Tok2VecTransformer",
)
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_]*[A-Za-z0-9])?$")


class PackagingError(ValueError):
    """The pipeline can't be packaged; the message names the path and the fix."""


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
) -> PackageResult:
    """Package the pipeline in ``model_dir`` as ``{lang}_{name}`` under ``output_dir``.

    Works for any saved pipeline (fp32 or int8). An earlier build of the same name and
    version under ``output_dir`` is replaced, so the project command can be rerun.
    """
    # Absolute: pip builds the wheel from inside the package folder.
    model_dir = Path(model_dir).absolute()
    output_dir = Path(output_dir).absolute()
    meta = read_pipeline_meta(model_dir)
    name = check_name(name, meta["lang"])
    version = check_version(version)
    meta.update(name=name, version=version)
    if wheel:
        require_wheel_backend()
    meta = with_package_info(
        meta, model_dir, description=description, author=author, email=email, url=url,
        license=license,
    )
    package_name = f"{meta['lang']}_{name}"
    package_dir = output_dir / f"{package_name}-{version}"
    output_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous_build(package_dir, package_name)
    with tempfile.TemporaryDirectory() as tmp:
        meta_path = Path(tmp) / "meta.json"
        srsly.write_json(meta_path, meta)
        try:
            spacy_package(
                model_dir,
                output_dir,
                meta_path=meta_path,
                name=name,
                version=version,
                create_sdist=False,
                create_wheel=False,
                require_parent=True,
                force=True,
                silent=True,
            )
        except SystemExit as err:  # spaCy's CLI helpers exit instead of raising
            raise PackagingError(
                f"spacy package failed for {model_dir} (exit status {err.code}). Run "
                f"'python -m spacy package {model_dir} {output_dir}' to see its message."
            ) from None
        except (OSError, ValueError, ImportError) as err:
            # Loading the pipeline to read its meta: missing or broken files, an unknown
            # factory or config error (both ValueError), a component package not installed.
            # Anything else is a bug and keeps its traceback.
            raise PackagingError(
                f"spacy package could not package {model_dir}: {err}. The pipeline must load "
                "here: its components' packages installed, its files complete."
            ) from err
    final_meta = srsly.read_json(package_dir / "meta.json")
    wheel_path = build_wheel(package_dir) if wheel else None
    return PackageResult(package_name, version, package_dir, wheel_path, final_meta)


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
    """``version`` if pip accepts it as a version (PEP 440), else a clear error."""
    try:
        Version(version)
    except InvalidVersion:
        raise PackagingError(f"--version {version!r} is not a PEP 440 version such as 0.1.0.") from None
    return version


def with_package_info(
    meta: Dict[str, Any],
    model_dir: Path,
    *,
    description: Optional[str] = None,
    author: Optional[str] = None,
    email: Optional[str] = None,
    url: Optional[str] = None,
    license: Optional[str] = None,
) -> Dict[str, Any]:
    """``meta`` with description, author, licence, sources, notes and the nerel-spacy requirement.

    Given values win; then what the pipeline's meta.json already says; then our defaults.
    """
    meta = dict(meta)
    meta["description"] = description or meta.get("description") or describe_pipeline(model_dir)
    meta["author"] = author or meta.get("author") or DEFAULT_AUTHOR
    meta["email"] = email if email is not None else meta.get("email", "")
    meta["url"] = url or meta.get("url") or ""
    meta["license"] = license or meta.get("license") or DEFAULT_LICENSE
    sources = [_as_source(source) for source in meta.get("sources") or []]
    if not any(source.get("name") == NEREL_SOURCE["name"] for source in sources):
        sources.append(dict(NEREL_SOURCE))
    meta["sources"] = sources
    meta.setdefault("notes", NOTES)
    requirements = list(meta.get("requirements") or [])
    if not any(util.split_requirement(req)[0] == "nerel-spacy" for req in requirements):
        extras = ["transformers"] if runs_on_torch(model_dir) else []
        requirements.append(nerel_spacy_requirement(extras))
    meta["requirements"] = requirements
    return meta


def nerel_spacy_requirement(extras: Sequence[str] = ()) -> str:
    """``nerel-spacy`` (with ``extras``) pinned to the installed minor version, as spaCy pins its plugins."""
    try:
        version = metadata.version("nerel-spacy")
    except metadata.PackageNotFoundError:
        from . import __version__ as version
    extras_part = f"[{','.join(extras)}]" if extras else ""
    return f"nerel-spacy{extras_part}{util.get_minor_version_range(version)}"


def runs_on_torch(model_dir: Path) -> bool:
    """Whether the pipeline's components need the torch stack (nerel-spacy's transformers extra).

    A transformer encoder run by spacy-transformers (float or nerel-batch quantize's int8)
    does; the CNN pipelines and ONNX exports (nerel-batch export-onnx) do not, so their
    packages install without torch.
    """
    config = util.load_config(model_dir / "config.cfg", interpolate=False)
    for component in config.get("components", {}).values():
        if component.get("factory") in TORCH_FACTORIES:
            return True
        for _path, value in util.walk_dict(component):
            if isinstance(value, str) and value.startswith(TORCH_FUNCTION_PREFIXES):
                return True
    return False


def describe_pipeline(model_dir: Path) -> str:
    """One line on what the pipeline predicts, counted from its nerel_joint labels."""
    entity_labels, cats_labels = _joint_labels(model_dir)
    if not entity_labels and not cats_labels:
        return "A spaCy pipeline trained with nerel-spacy on NEREL v1.1."
    return (
        f"Russian named entities ({len(entity_labels)} NEREL types, in doc.ents and "
        f"doc.spans[\"nerel\"]) and relation types ({len(cats_labels)}, one score each in "
        "doc.cats) from one joint model, trained on NEREL v1.1 with nerel-spacy."
    )


def _joint_labels(model_dir: Path) -> Tuple[List[str], List[str]]:
    config = util.load_config(model_dir / "config.cfg", interpolate=False)
    for component_name, component in config.get("components", {}).items():
        cfg_path = model_dir / component_name / "cfg"
        if component.get("factory") == "nerel_joint" and cfg_path.is_file():
            cfg = srsly.read_json(cfg_path)
            return list(cfg.get("entity_labels", [])), list(cfg.get("cats_labels", []))
    return [], []


def _as_source(source: Any) -> Dict[str, str]:
    # spaCy's meta schema takes a list of strings or a list of dicts, not a mix.
    if isinstance(source, dict):
        return {key: str(value) for key, value in source.items()}
    return {"name": str(source)}


def _remove_previous_build(package_dir: Path, package_name: str) -> None:
    """Remove an earlier build (its build/ and dist/ would leak stale files into the wheel)."""
    if not package_dir.exists():
        return
    # spaCy's layout: ru_nerel_joint-0.1.0/{setup.py, ru_nerel_joint/}; a failed build may lack setup.py.
    if not (package_dir / "setup.py").is_file() and not (package_dir / package_name).is_dir():
        raise PackagingError(
            f"{package_dir} exists and is not a package built by spacy package; "
            "move it away or choose another output folder."
        )
    shutil.rmtree(package_dir)


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
            f"building the wheel in {package_dir} failed (pip wheel exit status "
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
