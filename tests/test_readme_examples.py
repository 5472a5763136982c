"""The README and docs/ against the code: their commands exist and their Python runs.

- Structure: every ``nerel-batch COMMAND`` they (and project.yml's scripts) mention is a
  command, every flag given to it is one of its options, every ``spacy project run NAME``
  is a command or workflow of project.yml, every ``--vars.NAME`` is a project var, every
  config they train is in configs/ with the sections its overrides name, and every
  ``python -m nerel_spacy...`` module exists.
- Python: the ```python blocks between the USE-FROM-PYTHON markers (README.md, then
  docs/python.md) run in order against a tiny CNN ``nerel_joint`` standing in for
  ``ru_nerel_joint`` (``test_package.py`` checks the installed wheel itself). Their
  asserts must hold and what they print must equal the output shown in their comments.
"""
import contextlib
import importlib.util
import io
import re
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import spacy
import srsly
import typer
from spacy.util import load_config

from nerel_spacy.cli import app

from conftest import REPO_ROOT
from package_helpers import train_tiny_pipeline

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PROJECT = srsly.read_yaml(REPO_ROOT / "project.yml")

SECTION = re.compile(r"<!-- USE-FROM-PYTHON:START -->\n(.*?)<!-- USE-FROM-PYTHON:END -->", re.S)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# A command runs to the end of its line, code span, table cell, pipe, redirection or comment.
SEGMENT_END = r"(?=`|\||>|#|;|&&|$)"
NERELBATCH = re.compile(r"nerel-batch ([a-z][a-z-]*)(.*?)" + SEGMENT_END, re.M)
SPACY_TRAIN = re.compile(r"(?:spacy|nerel-batch) train (configs/[\w$.{}]+\.cfg)(.*?)" + SEGMENT_END, re.M)
PROJECT_RUN = re.compile(r"(?:spacy project run|weasel run) ([a-z][\w-]*)")
PROJECT_VAR = re.compile(r"--vars\.([a-z_]+)")
PYTHON_MODULE = re.compile(r"python -m (nerel_spacy[\w.]*)")
FLAG = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")
OVERRIDE = re.compile(r"(?<![\w-])--([a-z_]+(?:\.[\w@]+)+)")

# What each python block prints with the tiny pipeline, one list of lines per block.
EXPECTED_OUTPUT = {
    "README.md": [
        [
            "[('Барак Обама', 'PERSON', 0, 11), ('Москву', 'CITY', 22, 28), ('в январе', 'DATE', 29, 37)]",
            "[('Министр', 'PROFESSION', 0, 7), ('Сергей Лавров', 'PERSON', 8, 21), ('Китай', 'COUNTRY', 30, 35)]",
        ],
    ],
    "docs/python.md": [
        ["['WORKS_AS']"],
        ["[('Обама', 'POLITICIAN'), ('Москву', 'CITY'), ('в январе', 'DATE')]"],
        ["[('Барак Обама', 'PERSON'), ('Москву', 'CITY'), ('в январе', 'DATE')]"],
        [
            "[('Барак Обама', 'PERSON'), ('Москву', 'CITY'), ('в январе', 'DATE')]",
            "[('Министр', 'PROFESSION'), ('Сергей Лавров', 'PERSON'), ('Китай', 'COUNTRY')]",
        ],
        ["Сергей Лавров WORKS_AS Министр иностранных дел России"],
        ["(31, 44, 'PER') WORKS_AS (0, 30, 'PROFESSION')"],
    ],
}
# Blocks (document, number from 1) whose "ru_nerel_joint" is a tiny pipeline with a relation
# head, trained on the nested conftest docs, instead of the tiny CNN.
RELATION_BLOCKS = {("docs/python.md", 5), ("docs/python.md", 6)}


def texts() -> Iterator[Tuple[str, str]]:
    """(name, text) of every document and of project.yml's scripts, line continuations joined."""
    for path in DOCUMENTS:
        yield path.relative_to(REPO_ROOT).as_posix(), path.read_text(encoding="utf8").replace("\\\n", " ")
    scripts = [line for command in PROJECT["commands"] for line in command["script"]]
    yield "project.yml", "\n".join(scripts) + "\n" + PROJECT["description"]


def cli_options() -> Dict[str, set]:
    """Every nerel-batch command with the options its --help lists."""
    group = typer.main.get_command(app)
    return {
        name: {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
        for name, command in group.commands.items()
    }


def test_documents_exist_and_the_readme_stays_short():
    names = {path.name for path in DOCUMENTS}
    assert {"data.md", "training.md", "quantization.md", "annotate.md", "python.md", "results.md"} <= names
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf8")
    assert len(readme.splitlines()) <= 250
    for path in DOCUMENTS[1:]:
        assert f"(docs/{path.name})" in readme, f"README.md does not link docs/{path.name}"


def github_anchors(markdown: str) -> set:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped,
    spaces to hyphens, repeats numbered (-1, -2, ...)."""
    anchors, seen = set(), {}
    body = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", body, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_github_anchors():
    assert github_anchors("# Fast CPU baseline: CNN + Russian static vectors\n## `all`, stages 1–2\n## Notes\n## Notes\n") == {
        "fast-cpu-baseline-cnn--russian-static-vectors", "all-stages-12", "notes", "notes-1",
    }


def test_every_link_to_a_document_and_its_section_resolves():
    link = re.compile(r"\]\(([\w./-]*?\.md)?(?:#([^)\s]+))?\)")
    sections = 0
    anchors = {}  # each linked document's heading anchors, computed once
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf8")
        for target, anchor in link.findall(text):
            if not target and not anchor:
                continue
            document = (path.parent / target).resolve() if target else path.resolve()
            assert document.is_file(), f"{path.name} links to {target}, which does not exist"
            if anchor:
                if document not in anchors:
                    anchors[document] = github_anchors(document.read_text(encoding="utf8"))
                assert anchor in anchors[document], (
                    f"{path.name} links to {target}#{anchor}, which is no heading of {document.name}"
                )
                sections += 1
    assert sections > 30


def test_every_nerel_batch_command_and_flag_exists():
    options = cli_options()
    seen = set()
    for name, text in texts():
        for command, rest in NERELBATCH.findall(text):
            assert command in options, f"{name}: nerel-batch {command} is not a command"
            for flag in FLAG.findall(OVERRIDE.sub("", rest)):  # train's config overrides: below
                assert flag in options[command], f"{name}: nerel-batch {command} has no {flag}"
            seen.add(command)
    assert {"fetch-data", "convert", "annotate", "quantize", "benchmark"} <= seen


def test_every_project_command_and_var_exists():
    runnable = {command["name"] for command in PROJECT["commands"]} | set(PROJECT["workflows"])
    commands, variables = set(), set()
    for name, text in texts():
        for command in PROJECT_RUN.findall(text):
            assert command in runnable, f"{name}: spacy project run {command} is not in project.yml"
            commands.add(command)
        for var in PROJECT_VAR.findall(text):
            assert var in PROJECT["vars"], f"{name}: --vars.{var} is not a var of project.yml"
            variables.add(var)
    assert {"all", "cnn", "distill"} <= commands and {"nerel_dir", "encoder", "run"} <= variables


def test_every_trained_config_and_override_exists():
    checked = 0
    for name, text in texts():
        for config_path, rest in SPACY_TRAIN.findall(text):
            for var, value in PROJECT["vars"].items():  # ${vars.config}, ${vars.cnn_config}
                config_path = config_path.replace(f"${{vars.{var}}}", str(value))
            config = load_config(REPO_ROOT / config_path, interpolate=False)
            for override in OVERRIDE.findall(rest):
                *sections, key = override.split(".")
                node = config
                for section in sections:
                    assert section in node, f"{name}: {config_path} has no [{'.'.join(sections)}] for --{override}"
                    node = node[section]
                assert key in node, f"{name}: {config_path} has no {override}"
                checked += 1
    assert checked > 10


def test_every_python_module_exists():
    modules = set()
    for name, text in texts():
        for module in PYTHON_MODULE.findall(text):
            assert importlib.util.find_spec(module.rstrip(".")) is not None, f"{name}: no module {module}"
            modules.add(module.rstrip("."))
    assert "nerel_spacy.packaging" in modules


def test_wheel_path_matches_the_project_package():
    name, version = PROJECT["vars"]["package_name"], PROJECT["vars"]["package_version"]
    wheel = f"packages/ru_{name}-{version}/dist/ru_{name}-{version}-py3-none-any.whl"
    for path in (REPO_ROOT / "README.md", REPO_ROOT / "docs" / "python.md"):
        assert f"pip install {wheel}" in path.read_text(encoding="utf8"), path


def python_blocks(document: str) -> List[str]:
    """The ```python blocks in ``document``'s USE-FROM-PYTHON section."""
    match = SECTION.search((REPO_ROOT / document).read_text(encoding="utf8"))
    assert match, f"{document} lost its USE-FROM-PYTHON markers"
    return [body for lang, body in FENCE.findall(match.group(1)) if lang == "python"]


def test_every_python_block_has_its_expected_output():
    for document, expected in EXPECTED_OUTPUT.items():
        assert len(python_blocks(document)) == len(expected), document


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return train_tiny_pipeline(tmp_path_factory.mktemp("readme") / "model")


@pytest.fixture(scope="module")
def tiny_relation_model(tmp_path_factory) -> Path:
    from pipeline_helpers import v3_trained_on_nested

    nlp, _ = v3_trained_on_nested(120)
    path = tmp_path_factory.mktemp("readme_relations") / "model"
    nlp.to_disk(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("document", list(EXPECTED_OUTPUT))
def test_python_examples_run_and_print_what_they_show(document, tiny_model, tiny_relation_model, monkeypatch):
    real_load = spacy.load
    block_number = [0]

    def load(name, *args, **kwargs):
        package = tiny_relation_model if (document, block_number[0]) in RELATION_BLOCKS else tiny_model
        return real_load(package if name == "ru_nerel_joint" else name, *args, **kwargs)

    monkeypatch.setattr(spacy, "load", load)
    namespace = {"__name__": "readme_examples"}
    for i, (block, expected) in enumerate(zip(python_blocks(document), EXPECTED_OUTPUT[document]), start=1):
        block_number[0] = i
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(block, f"{document}, python block {i}", "exec"), namespace)
        assert stdout.getvalue().splitlines() == expected, f"{document}, python block {i}"
        shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
        assert shown == expected, f"{document}, python block {i}: the output in its comments is not what it prints"
