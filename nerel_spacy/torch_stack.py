"""The torch stack: what pyproject's ``transformers`` extra installs on top of the core.

A runtime-only install (nerel-spacy with its ``onnxruntime`` extra) has none of it. The CLI
names the missing extra when a command needs it, and an ONNX export's package drops these
distributions from its source pipeline's requirements. ``tests/test_torch_stack.py`` checks
the list against pyproject.toml.
"""
import importlib.util
import re
from typing import Optional

# Distribution names, as pyproject's `transformers` extra lists them.
TORCH_STACK_DISTRIBUTIONS = ("spacy-transformers", "transformers", "torch", "safetensors")
# Their top-level import names.
TORCH_STACK_MODULES = tuple(name.replace("-", "_") for name in TORCH_STACK_DISTRIBUTIONS)


def canonical_distribution_name(name: str) -> str:
    """PEP 503's normalized form: ``Spacy_Transformers`` and ``spacy-transformers`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_torch_stack_distribution(name: str) -> bool:
    return canonical_distribution_name(name) in TORCH_STACK_DISTRIBUTIONS


def missing_torch_stack_module() -> Optional[str]:
    """The first torch-stack module this interpreter can't import, without importing any.

    ``None`` when all are there. A module blocked by ``sys.modules[name] = None`` counts as
    missing, as it would for ``import``.
    """
    for name in TORCH_STACK_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None
