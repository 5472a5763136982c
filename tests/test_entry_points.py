"""Every function nerel_spacy registers with spaCy is also an entry point in pyproject.toml,
so that ``spacy.load`` finds it in a process that has not imported the module (a benchmark
worker, a Ray actor, ``spacy train`` from the command line)."""
import importlib
import pkgutil
from pathlib import Path

import catalogue
import pytest
from spacy.util import registry

import nerel_spacy

from conftest import pyproject

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("factories", "architectures", "scorers", "loggers", "tokenizers", "callbacks", "augmenters")


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(nerel_spacy.__path__, "nerel_spacy."):
        if module.name.endswith("__main__") or ".cli" in module.name or "ray_engine" in module.name:
            continue  # the CLI and the Ray engine register nothing with spaCy
        importlib.import_module(module.name)


@pytest.mark.parametrize("group", GROUPS)
def test_registered_functions_are_entry_points(group):
    _import_every_module()
    namespace = getattr(registry, group).namespace
    registered = {key[-1] for key, func in catalogue._get_all(namespace).items()
                  if getattr(func, "__module__", "").startswith("nerel_spacy")}
    if group == "factories":  # spaCy registers a factory by its name, an entry point names the maker
        registered = {name for name in registered if not name.startswith("nerel_spacy")}
    declared = pyproject()["entry-points"]
    missing = registered - set(declared.get(f"spacy_{group}", {}))
    assert not missing, f"add these to [project.entry-points.spacy_{group}] in pyproject.toml: {sorted(missing)}"


def test_entry_points_name_the_function_registered_under_that_name():
    _import_every_module()
    declared = pyproject()["entry-points"]
    for group in GROUPS:
        namespace = getattr(registry, group).namespace
        in_code = {key[-1]: func for key, func in catalogue._get_all(namespace).items()}
        for name, target in declared.get(f"spacy_{group}", {}).items():
            module, attribute = target.split(":")
            func = getattr(importlib.import_module(module), attribute)
            if group == "factories":
                continue  # spaCy keeps the factory's metadata, not the maker, under its name
            assert in_code.get(name) is func, f"spacy_{group}: {name} = {target} is not what registers {name}"
