"""The README's "Use it from Python" examples run, against a tiny trained pipeline.

Every ```python block between the USE-FROM-PYTHON markers runs in order in one namespace,
like a session. ``spacy.load("ru_nerel_joint")`` is pointed at a CNN ``nerel_joint``
trained on the conftest docs (``test_package.py`` checks the installed wheel itself). Each
block's asserts must hold, and what it prints must equal the output shown in its comments.
"""
import contextlib
import io
import re
from pathlib import Path
from typing import List

import pytest
import spacy

from conftest import REPO_ROOT
from package_helpers import train_tiny_pipeline

SECTION = re.compile(r"<!-- USE-FROM-PYTHON:START -->\n(.*?)<!-- USE-FROM-PYTHON:END -->", re.S)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

# What each python block prints with the tiny pipeline, one list of lines per block.
EXPECTED_OUTPUT = [
    [
        "[('Барак Обама', 'PERSON', 0, 11), ('Москву', 'CITY', 22, 28), ('в январе', 'DATE', 29, 37)]",
        "[('Министр', 'PROFESSION', 0, 7), ('Сергей Лавров', 'PERSON', 8, 21), ('Китай', 'COUNTRY', 30, 35)]",
    ],
    ["['WORKS_AS']"],
    ["[('Обама', 'POLITICIAN'), ('Москву', 'CITY'), ('в январе', 'DATE')]"],
    ["[('Барак Обама', 'PERSON'), ('Москву', 'CITY'), ('в январе', 'DATE')]"],
    [
        "[('Барак Обама', 'PERSON'), ('Москву', 'CITY'), ('в январе', 'DATE')]",
        "[('Министр', 'PROFESSION'), ('Сергей Лавров', 'PERSON'), ('Китай', 'COUNTRY')]",
    ],
]


def readme_blocks(language: str) -> List[str]:
    """The fenced blocks of ``language`` in the README's "Use it from Python" section."""
    match = SECTION.search((REPO_ROOT / "README.md").read_text(encoding="utf8"))
    assert match, "README.md lost its USE-FROM-PYTHON markers"
    return [body for lang, body in FENCE.findall(match.group(1)) if lang == language]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return train_tiny_pipeline(tmp_path_factory.mktemp("readme") / "model")


def test_section_shows_how_to_build_and_install():
    (commands,) = readme_blocks("bash")
    assert "python -m nerel_spacy.packaging training/joint_trf/model-int8 packages" in commands
    assert "pip install packages/ru_nerel_joint-0.1.0/dist/ru_nerel_joint-0.1.0-py3-none-any.whl" in commands
    assert len(readme_blocks("python")) == len(EXPECTED_OUTPUT)


@pytest.mark.slow
def test_python_examples_run_and_print_what_they_show(tiny_model, monkeypatch):
    real_load = spacy.load

    def load(name, *args, **kwargs):
        return real_load(tiny_model if name == "ru_nerel_joint" else name, *args, **kwargs)

    monkeypatch.setattr(spacy, "load", load)
    namespace = {"__name__": "readme_examples"}
    blocks = readme_blocks("python")
    for i, (block, expected) in enumerate(zip(blocks, EXPECTED_OUTPUT), start=1):
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(block, f"README.md, python block {i}", "exec"), namespace)
        assert stdout.getvalue().splitlines() == expected, f"python block {i}"
        shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
        assert shown == expected, f"python block {i}: the output in its comments is not what it prints"
