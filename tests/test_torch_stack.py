"""The torch stack's one list against pyproject.toml's `transformers` extra."""
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from nerel_spacy.torch_stack import (
    TORCH_STACK_DISTRIBUTIONS, TORCH_STACK_MODULES, canonical_distribution_name, is_torch_stack_distribution,
)

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_list_is_what_the_transformers_extra_installs():
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    installed = {canonical_distribution_name(Requirement(r).name) for r in extras["transformers"]}
    assert installed == set(TORCH_STACK_DISTRIBUTIONS)


def test_the_module_names_are_the_import_names():
    assert TORCH_STACK_MODULES == ("spacy_transformers", "transformers", "torch", "safetensors")


def test_distribution_names_match_in_any_spelling():
    for spelling in ("spacy-transformers", "Spacy_Transformers", "spacy.transformers", "torch", "SafeTensors"):
        assert is_torch_stack_distribution(spelling)
    for other in ("spacy", "nerel-spacy", "onnxruntime", "tokenizers", "torchvision"):
        assert not is_torch_stack_distribution(other)
