"""Loading the pipeline to annotate with: a folder or an installed package, plus custom code."""
from pathlib import Path
from typing import Optional

import spacy
from catalogue import RegistryError
from spacy.language import Language
from spacy.util import import_file
from thinc.api import ConfigValidationError


class ModelError(ValueError):
    """The pipeline named by ``--model`` can't be loaded."""


def load_pipeline(model: str, code: Optional[Path] = None) -> Language:
    """Load a pipeline folder or installed package, after importing ``code`` (custom components).

    A missing path or package, a bad config and an unregistered component or function are a
    ``ModelError`` that says what to give; anything else a component raises while it loads
    is a bug and keeps its traceback.
    """
    if code is not None:
        if not Path(code).is_file():
            raise ModelError(f"--code {code}: no such Python file")
        import_file("annotate_code", code)
    try:
        return spacy.load(model)
    except (OSError, ConfigValidationError, RegistryError, ValueError) as err:
        if type(err) is ValueError and not _is_missing_factory(err):
            raise
        raise ModelError(
            f"can't load pipeline {model!r}: {err}\nGive a pipeline folder (the one holding "
            "config.cfg) or an installed package name; a pipeline with custom components needs "
            "its package installed, or --code FILE that registers them."
        ) from err


def _is_missing_factory(err: ValueError) -> bool:
    """spaCy's E002 (no factory registered under a component's name) is a plain ValueError."""
    return str(err).startswith("[E002]")
