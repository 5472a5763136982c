"""``nerel_spacy.packaging``: the ``ru_nerel_joint`` wheel, installed into a fresh venv.

A CNN ``nerel_joint`` is trained for 30 steps on the three conftest docs, packaged and
installed offline into a throwaway venv. Separate processes of that venv then load it by
name, use it inside other pipelines and run ``nerel-batch annotate -m ru_nerel_joint``, as
a user would.
"""
import json
import os
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import spacy
from packaging.requirements import Requirement
from typer.testing import CliRunner

from nerel_spacy import package_meta, packaging
from nerel_spacy.cli import app
from nerel_spacy.packaging import PackagingError, build_package, check_name, check_version

from conftest import TINY_DOCS
from package_helpers import clean_env, make_venv, pip_install, run_json, train_tiny_pipeline

PACKAGE = "ru_nerel_joint"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return train_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def built(tiny_model, tmp_path_factory) -> packaging.PackageResult:
    """Built with relative paths, as the project command runs it."""
    workdir = tmp_path_factory.mktemp("project")
    shutil.copytree(tiny_model, workdir / "model")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        result = build_package(Path("model"), Path("packages"), name="nerel_joint", version="0.1.0")
    finally:
        os.chdir(cwd)
    assert result.wheel.is_absolute() and result.wheel.parent == workdir / "packages" / f"{PACKAGE}-0.1.0" / "dist"
    return result


@pytest.fixture(scope="module")
def venv_python(built, tmp_path_factory) -> Path:
    python = make_venv(tmp_path_factory.mktemp("venv") / "env")
    pip_install(python, built.wheel)
    return python


@pytest.mark.slow
def test_wheel_requires_what_loading_needs(built):
    assert built.name == PACKAGE
    assert built.package_dir.name == f"{PACKAGE}-0.1.0"
    assert built.wheel.name == f"{PACKAGE}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(built.wheel) as wheel:
        wheel_meta = wheel.read(f"{PACKAGE}-0.1.0.dist-info/METADATA").decode("utf8")
        entry_points = wheel.read(f"{PACKAGE}-0.1.0.dist-info/entry_points.txt").decode("utf8")
        names = wheel.namelist()
    assert f"{PACKAGE} = {PACKAGE}" in entry_points  # what spacy.util.is_package finds
    assert f"{PACKAGE}/{PACKAGE}-0.1.0/nerel_joint/model" in names
    requirements = [
        Requirement(line.split(":", 1)[1].strip())
        for line in wheel_meta.splitlines() if line.startswith("Requires-Dist:")
    ]
    # The CNN pipeline's functions come from spaCy and nerel-spacy only, without its torch extra.
    assert sorted(r.name for r in requirements) == ["nerel-spacy", "spacy"]
    assert all(not r.extras for r in requirements)
    for requirement in requirements:  # ... and this environment meets them
        assert requirement.specifier.contains(metadata.version(requirement.name), prereleases=True)
    meta = built.meta
    assert meta["sources"][0]["name"] == "NEREL v1.1"
    assert meta["license"] and meta["author"]
    assert "7 NEREL types" in meta["description"] and "relation types (3," in meta["description"]


@pytest.mark.slow
def test_load_by_name_in_a_fresh_venv(venv_python, tmp_path):
    code = f"""
import json, sys
import spacy

nlp = spacy.load("{PACKAGE}")
import {PACKAGE}
docs = list(nlp.pipe({[text for text, _, _ in TINY_DOCS]!r}))
print(json.dumps({{
    "module": {PACKAGE}.__file__,
    "prefix": sys.prefix,
    "is_package": spacy.util.is_package("{PACKAGE}"),
    "meta": [nlp.meta["lang"], nlp.meta["name"], nlp.meta["version"]],
    "pipe_names": nlp.pipe_names,
    "thresholds": nlp.get_pipe("nerel_joint").cats_thresholds,
    "ents": [[[e.start, e.end, e.label_] for e in doc.ents] for doc in docs],
    "spans": [[[s.start, s.end, s.label_] for s in doc.spans["nerel"]] for doc in docs],
    "cats": [{{k: round(v) for k, v in doc.cats.items()}} for doc in docs],
}}))
"""
    out = run_json(venv_python, code, tmp_path)
    assert out["is_package"]
    assert Path(out["module"]).is_relative_to(out["prefix"])  # the wheel's copy, not a checkout
    assert out["meta"] == ["ru", "nerel_joint", "0.1.0"]
    assert out["pipe_names"] == ["nerel_joint"]
    assert out["thresholds"] == {"WORKS_AS": 0.5, "LOCATED_IN": 0.5, "POINT_IN_TIME": 0.5}
    for i, (_, ents, cats) in enumerate(TINY_DOCS):
        assert out["ents"][i] == [list(ent) for ent in ents]
        assert out["spans"][i] == out["ents"][i]
        assert out["cats"][i] == cats


@pytest.mark.slow
def test_sourced_after_a_sentencizer_and_an_entity_ruler(venv_python, tmp_path):
    """Earlier entities are kept and only non-overlapping predictions added, unless overwrite_ents."""
    text = f"{TINY_DOCS[0][0]} {TINY_DOCS[2][0]}"  # two sentences
    code = f"""
import json
import spacy

def ents(doc):
    return [[e.start, e.end, e.label_] for e in doc.ents]

trained = spacy.load("{PACKAGE}")
alone = ents(trained({text!r}))
nlp = spacy.blank("ru")
nlp.add_pipe("sentencizer")
ruler = nlp.add_pipe("entity_ruler")
ruler.add_patterns([
    {{"label": "VIP", "pattern": "Обама"}},          # inside the predicted PERSON "Барак Обама"
    {{"label": "COMPANY", "pattern": "Газпром"}},    # exactly the predicted ORGANIZATION
    {{"label": "VERB", "pattern": "приехал"}},       # where nothing is predicted
])
nlp.add_pipe("nerel_joint", source=trained)
doc = nlp({text!r})
respected = ents(doc)
sentences = [[s.start, s.end] for s in doc.sents]
nlp.get_pipe("nerel_joint").cfg["overwrite_ents"] = True
print(json.dumps({{
    "pipe_names": nlp.pipe_names, "alone": alone, "respected": respected,
    "sentences": sentences, "overwritten": ents(nlp({text!r})),
}}))
"""
    out = run_json(venv_python, code, tmp_path)
    assert out["pipe_names"] == ["sentencizer", "entity_ruler", "nerel_joint"]
    alone = [tuple(e) for e in out["alone"]]
    # The package alone predicts both sentences' gold entities (tokens offset by 8 in the second).
    assert alone == TINY_DOCS[0][1] + [(s + 8, e + 8, label) for s, e, label in TINY_DOCS[2][1]]
    ruled = [(1, 2, "VIP"), (2, 3, "VERB"), (9, 10, "COMPANY")]
    taken = {t for s, e, _ in ruled for t in range(s, e)}
    kept = [p for p in alone if not taken.intersection(range(p[0], p[1]))]
    assert [tuple(e) for e in out["respected"]] == sorted(ruled + kept)
    assert out["sentences"] == [[0, 8], [8, 18]]
    assert [tuple(e) for e in out["overwritten"]] == alone


@pytest.mark.slow
def test_overwrite_ents_given_at_load_time(tmp_path):
    path = train_tiny_pipeline(tmp_path / "model", n_steps=1)
    nlp = spacy.load(path, config={"components": {"nerel_joint": {"overwrite_ents": True}}})
    assert nlp.get_pipe("nerel_joint").cfg["overwrite_ents"] is True


@pytest.mark.slow
def test_transformer_pipeline_requires_spacy_transformers(tiny_bert_dir, tmp_path):
    from pipeline_helpers import trf_nlp
    from conftest import make_examples

    nlp = trf_nlp(tiny_bert_dir)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "model")
    result = build_package(tmp_path / "model", tmp_path / "packages", wheel=False)
    assert result.wheel is None
    requirements = {Requirement(r).name: Requirement(r) for r in result.requirements}
    assert sorted(requirements) == ["nerel-spacy", "spacy", "spacy-transformers"]
    # nerel-spacy's own install has no torch: the package asks for the extra that has it.
    assert requirements["nerel-spacy"].extras == {"transformers"}
    assert (result.package_dir / PACKAGE / f"{PACKAGE}-0.1.0" / "transformer" / "model").is_file()


def test_missing_pipeline_is_a_clear_error(tmp_path):
    with pytest.raises(PackagingError, match=r"no pipeline at .*model-int8: the folder does not exist"):
        build_package(tmp_path / "model-int8", tmp_path / "packages")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackagingError, match="has no config.cfg, so it is not a saved pipeline"):
        build_package(tmp_path / "empty", tmp_path / "packages")
    result = CliRunner().invoke(app, ["package", str(tmp_path / "model-int8"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "no pipeline at" in result.output and "spacy project run quantize" in result.output
    assert not (tmp_path / "out").exists()


def test_package_command_help_names_every_argument():
    result = CliRunner().invoke(app, ["package", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    for text in ("MODEL_DIR", "OUTPUT_DIR", "--name", "--version", "--description", "--author",
                 "--email", "--url", "--license", "--wheel", "--no-wheel", "ru_NAME", "spacy.load",
                 "pip install"):
        assert text in result.output, text
    assert "package" in CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"}).output


def test_python_m_packaging_still_runs_the_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        packaging.main([str(tmp_path / "missing"), str(tmp_path / "out")])
    assert exit_info.value.code == 1
    assert "no pipeline at" in capsys.readouterr().err


def test_project_package_step_calls_the_command():
    import srsly

    from conftest import REPO_ROOT

    project = srsly.read_yaml(REPO_ROOT / "project.yml")
    (step,) = [command for command in project["commands"] if command["name"] == "package"]
    assert step["script"][0].startswith("nerel-batch package training/${vars.run}/model-int8 packages ")


@pytest.mark.slow
def test_package_command_builds_the_folder(tiny_model, tmp_path):
    result = CliRunner().invoke(
        app, ["package", str(tiny_model), str(tmp_path), "-n", "nerel_cli", "-v", "0.3.0", "--no-wheel",
              "--author", "Someone", "--license", "CC BY 4.0"],
    )
    assert result.exit_code == 0, result.output
    package_dir = tmp_path / "ru_nerel_cli-0.3.0"
    assert f"Package folder: {package_dir}" in result.output and "nerel-spacy" in result.output
    assert "Wheel:" not in result.output and not (package_dir / "dist").exists()
    meta = json.loads((package_dir / "meta.json").read_text(encoding="utf-8"))
    assert (meta["name"], meta["version"], meta["author"], meta["license"]) == (
        "nerel_cli", "0.3.0", "Someone", "CC BY 4.0")


def test_an_old_setuptools_without_wheel_is_a_clear_error(tmp_path, monkeypatch):
    spacy.blank("ru").to_disk(tmp_path / "model")
    installed = {"setuptools": "65.5.0"}  # what a Python 3.11 venv starts with

    def version(name):
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(packaging.metadata, "version", version)
    with pytest.raises(PackagingError, match=r"setuptools 65.5.0 needs the 'wheel' package.*setuptools>=70.1"):
        build_package(tmp_path / "model", tmp_path / "packages")
    assert not (tmp_path / "packages").exists()  # it failed before copying anything
    installed["wheel"] = "0.45.1"
    assert packaging.wheel_backend_problem() is None
    del installed["setuptools"]
    assert packaging.wheel_backend_problem() == "setuptools is not installed"


def test_only_load_failures_become_packaging_errors(tmp_path, monkeypatch):
    """A pipeline that cannot load is a usage problem; a bug elsewhere keeps its traceback."""
    spacy.blank("ru").to_disk(tmp_path / "model")

    def fails_with(error):
        def spacy_package(*args, **kwargs):
            raise error
        return spacy_package

    monkeypatch.setattr(packaging, "spacy_package", fails_with(ValueError("[E002] Can't find factory")))
    with pytest.raises(PackagingError, match="could not package .*E002.*must load here"):
        build_package(tmp_path / "model", tmp_path / "packages", wheel=False)
    monkeypatch.setattr(packaging, "spacy_package", fails_with(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError):
        build_package(tmp_path / "model", tmp_path / "packages", wheel=False)


def test_names_and_versions():
    assert check_name("nerel_joint", "ru") == "nerel_joint"
    assert check_name("ru_nerel_joint", "ru") == "nerel_joint"  # spaCy adds the prefix itself
    for bad in ("nerel-joint", "1nerel", "nerel__joint", "nerel joint", ""):
        with pytest.raises(PackagingError, match="can't name a Python package"):
            check_name(bad, "ru")
    assert check_version("0.1.0rc1") == "0.1.0rc1"
    with pytest.raises(PackagingError, match="PEP 440"):
        check_version("v-one")


@pytest.mark.slow
def test_rebuild_replaces_an_earlier_build_but_nothing_else(tiny_model, tmp_path):
    first = build_package(tiny_model, tmp_path, wheel=False)
    stale = first.package_dir / "build" / "stale.txt"
    stale.parent.mkdir()
    stale.write_text("from an earlier build")
    again = build_package(tiny_model, tmp_path, version="0.1.0", wheel=False)
    assert again.package_dir == first.package_dir and not stale.exists()
    other = tmp_path / f"{PACKAGE}-0.2.0"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(PackagingError, match="is not a package built by spacy package"):
        build_package(tiny_model, tmp_path, version="0.2.0", wheel=False)
    assert (other / "notes.txt").exists()


@pytest.mark.slow
def test_annotate_takes_the_package_name(venv_python, tmp_path):
    text = TINY_DOCS[1][0]
    result = subprocess.run(
        [str(venv_python), "-m", "nerel_spacy", "annotate", "-", "-m", PACKAGE, "-o", "-", "-q"],
        input=text + "\n", capture_output=True, text=True, cwd=tmp_path, env=clean_env(), timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["model"] == {"name": PACKAGE, "version": "0.1.0"}
    assert [(e["text"], e["label"]) for e in record["ents"]] == [
        ("Министр", "PROFESSION"), ("Сергей Лавров", "PERSON"), ("Китай", "COUNTRY")
    ]
    assert set(record["cats"]) == {"WORKS_AS"}


@pytest.mark.slow
def test_which_pipelines_need_the_torch_stack(tmp_path):
    cnn = train_tiny_pipeline(tmp_path / "cnn", n_steps=1)
    assert not package_meta.runs_on_torch(cnn)
    nlp = spacy.load(cnn)
    nlp.add_pipe("transformer", first=True, config={"model": {"name": "unused-here"}})
    nlp.config.to_disk(tmp_path / "config.cfg")
    (tmp_path / "trf").mkdir()
    shutil.copy(tmp_path / "config.cfg", tmp_path / "trf" / "config.cfg")
    assert package_meta.runs_on_torch(tmp_path / "trf")
    assert package_meta.nerel_spacy_requirement(["transformers"]).startswith("nerel-spacy[transformers]>=")
