"""The torch stack's one list against pyproject.toml's `transformers` extra, and its detection."""
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from nerel_spacy.torch_stack import (
    TORCH_STACK_DISTRIBUTIONS,
    TORCH_STACK_MODULES,
    canonical_distribution_name,
    is_torch_stack_distribution,
    missing_torch_stack_module,
)

from conftest import pyproject


def test_the_list_is_what_the_transformers_extra_installs():
    extras = pyproject()["optional-dependencies"]
    installed = {canonical_distribution_name(Requirement(r).name) for r in extras["transformers"]}
    assert installed == set(TORCH_STACK_DISTRIBUTIONS)


def test_the_core_install_leaves_out_the_torch_stack():
    """pip install nerel-spacy, or a package built from an ONNX export, brings no torch;
    the transformers extra does, with torch pinned (an unpinned one pulls CUDA)."""
    project = pyproject()
    core = {canonical_distribution_name(Requirement(r).name) for r in project["dependencies"]}
    assert not core & set(TORCH_STACK_DISTRIBUTIONS)
    extras = project["optional-dependencies"]
    torch_pin = next(Requirement(r) for r in extras["transformers"] if Requirement(r).name == "torch")
    assert str(torch_pin.specifier) == "==2.13.0"
    assert {Requirement(r).name for r in extras["onnxruntime"]} == {"onnxruntime", "tokenizers"}


def test_the_module_names_are_the_import_names():
    assert TORCH_STACK_MODULES == ("spacy_transformers", "transformers", "torch", "safetensors")


def test_distribution_names_match_in_any_spelling():
    for spelling in ("spacy-transformers", "Spacy_Transformers", "spacy.transformers", "torch", "SafeTensors"):
        assert is_torch_stack_distribution(spelling)
    for other in ("spacy", "nerel-spacy", "onnxruntime", "tokenizers", "torchvision"):
        assert not is_torch_stack_distribution(other)


def test_nothing_is_missing_here_and_a_blocked_module_is(monkeypatch):
    assert missing_torch_stack_module() is None
    monkeypatch.setitem(sys.modules, "transformers", None)  # how `import transformers` is blocked
    assert missing_torch_stack_module() == "transformers"


@pytest.mark.slow
def test_the_cli_starts_without_the_torch_stack_beyond_what_spacy_imports():
    """Only `quantize` needs spacy-transformers (3-4 s to import): it loads it when it runs."""
    script = ("import sys; from nerel_spacy.cli import app; "
              "print(sorted(m for m in ('spacy_transformers', 'transformers') if m in sys.modules))")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip() == "[]"
