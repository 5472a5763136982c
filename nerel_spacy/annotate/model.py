"""Loading the pipeline to annotate with: a folder or an installed package, plus custom code."""
from pathlib import Path
from typing import Optional

import spacy
from spacy.language import Language
from spacy.util import import_file


class ModelError(ValueError):
    """The pipeline named by ``--model`` can't be loaded."""


def load_pipeline(model: str, code: Optional[Path] = None) -> Language:
    """Load a pipeline folder or installed package, after importing ``code`` (custom components)."""
    if code is not None:
        if not Path(code).is_file():
            raise ModelError(f"--code {code}: no such Python file")
        import_file("annotate_code", code)
    try:
        return spacy.load(model)
    except Exception as err:  # any failure to load is the same usage problem for the user
        raise ModelError(
            f"can't load pipeline {model!r}: {err}\nGive a pipeline folder (the one holding "
            "config.cfg) or an installed package name; a pipeline with custom components needs "
            "its package installed, or --code FILE that registers them."
        ) from err
