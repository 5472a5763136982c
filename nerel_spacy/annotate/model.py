"""Loading the pipeline to annotate with: a folder or an installed package, plus custom code."""
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import spacy
from catalogue import RegistryError
from spacy.language import Language
from spacy.util import import_file
from thinc.api import ConfigValidationError

from ..load_settings import SettingError, is_missing_factory, load_with_settings


# The --code files load_pipeline imported, by module name (in sys.modules, so the classes
# they define pickle): a worker started by spawn imports them before the pipeline reaches it.
CODE_MODULES: Dict[str, str] = {}
CODE_MODULE = "annotate_code"


class ModelError(ValueError):
    """The pipeline named by ``--model`` can't be loaded."""


class SettingsRefused(ModelError):
    """A ``--set`` names no setting of the pipeline, or gives one a value the pipeline refuses."""


def load_pipeline(model: str, code: Optional[Path] = None, settings: Sequence[str] = ()) -> Language:
    """Load a pipeline folder or installed package, after importing ``code`` (custom components),
    with ``settings`` (``COMPONENT.SETTING=VALUE``, ``load_settings``) changed at load time.

    A missing path or package, a bad config and an unregistered component or function are a
    ``ModelError`` that says what to give, as is a setting the pipeline lacks or refuses;
    anything else a component raises while it loads is a bug and keeps its traceback.
    """
    if code is not None:
        if not Path(code).is_file():
            raise ModelError(f"--code {code}: no such Python file")
        sys.modules[CODE_MODULE] = import_file(CODE_MODULE, code)
        CODE_MODULES[CODE_MODULE] = str(Path(code).resolve())
    try:
        return load_with_settings(model, settings)
    except SettingError as err:
        raise SettingsRefused(str(err)) from err.__cause__
    except (OSError, ConfigValidationError, RegistryError, ValueError) as err:
        if type(err) is ValueError and not is_missing_factory(err):
            raise
        raise ModelError(
            f"can't load pipeline {model!r}: {err}\nGive a pipeline folder (the one holding "
            "config.cfg) or an installed package name; a pipeline with custom components needs "
            "its package installed, or --code FILE that registers them."
        ) from err


DEFAULT_PACKAGE = "ru_nerel_joint"
TRAINED_PIPELINES = "training/*/model-int8"


def find_default_model(root: Path = Path(".")) -> str:
    """The pipeline to use when no ``-m`` is given, or a ``ModelError`` saying how to get one.

    The installed ``ru_nerel_joint`` package wins; else the newest (by mtime) folder matching
    ``training/*/model-int8`` under ``root`` that holds a ``config.cfg``.
    """
    if spacy.util.is_package(DEFAULT_PACKAGE):
        return DEFAULT_PACKAGE
    trained = [path for path in root.glob(TRAINED_PIPELINES) if (path / "config.cfg").is_file()]
    if trained:
        return str(max(trained, key=lambda path: (path.stat().st_mtime, str(path))))
    raise ModelError(
        f"no model given and none found: looked for the installed package {DEFAULT_PACKAGE} and "
        f"for {TRAINED_PIPELINES}/config.cfg under {root.resolve()}. Train one with "
        "`spacy project run all` (see README) or pass -m PATH_OR_PACKAGE."
    )
