"""Component settings given on the command line: ``--set nerel_joint.span_threshold=0.4``.

spaCy changes a saved pipeline's settings at load time with
``spacy.load(path, config={"components": {...}})``; these helpers turn ``COMPONENT.SETTING=VALUE``
strings into that dictionary, checked against the pipeline's own ``config.cfg`` first, so that a
typo is an error naming the component or setting and the ones that exist, not a spaCy traceback.

- ``parse_setting``: one ``PATH=VALUE`` string into its key path and value (JSON, else a string,
  as spaCy's own CLI overrides read values);
- ``pipeline_config``: the ``config.cfg`` of a pipeline folder or installed package, without
  loading any weights;
- ``settings_overrides``: the checked ``config`` dictionary for ``spacy.load``;
- ``load_with_settings``: ``spacy.load`` with them, a refused value a ``SettingError`` too.
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import spacy
from catalogue import RegistryError
from spacy.language import Language
from thinc.api import Config, ConfigValidationError


class SettingError(ValueError):
    """A ``--set`` that is malformed or names no setting of the pipeline."""


def parse_setting(text: str) -> Tuple[Tuple[str, ...], Any]:
    """``"nerel_joint.span_threshold=0.4"`` → ``(("nerel_joint", "span_threshold"), 0.4)``.

    The value is read as JSON where it parses (numbers, ``true``/``false``, ``null``, lists,
    quoted strings) and kept as the string otherwise, so ``nested_arguments=best`` needs no quotes.
    """
    path, sep, raw = text.partition("=")
    keys = tuple(path.strip().split("."))
    if not sep or len(keys) < 2 or not all(keys):
        raise SettingError(
            f"--set {text!r}: write COMPONENT.SETTING=VALUE, e.g. nerel_joint.span_threshold=0.4"
        )
    raw = raw.strip()
    try:
        value = json.loads(raw)  # not srsly's ujson, which reads 0.95 as 0.9500000000000001
    except ValueError:
        value = raw
    return keys, value


def pipeline_config(model: str) -> Config:
    """The ``config.cfg`` of a pipeline folder or an installed pipeline package."""
    folder = Path(model)
    if not (folder / "config.cfg").is_file() and spacy.util.is_package(model):
        package = spacy.util.get_package_path(model)
        found = sorted(package.glob("*/config.cfg"))
        folder = found[0].parent if found else package
    return spacy.util.load_config(folder / "config.cfg", interpolate=False)


def settings_overrides(settings: Sequence[str], config: Config) -> Dict[str, Dict[str, Any]]:
    """The ``config`` argument of ``spacy.load`` that applies ``settings`` to ``config``'s components.

    Each path must lead through the component's section of ``config`` to an existing setting
    (a value, not a sub-section such as ``model``); the error names what is there instead.
    """
    components: Dict[str, Any] = {}
    for text in settings:
        keys, value = parse_setting(text)
        section: Mapping[str, Any] = config.get("components", {})
        where: List[str] = []
        for depth, key in enumerate(keys):
            if key not in section:
                kind = "components" if depth == 0 else "settings"
                owner = "the pipeline" if depth == 0 else ".".join(where)
                present = ", ".join(sorted(k for k in section if depth == 0 or _is_setting(k, section[k])))
                raise SettingError(f"--set {text}: {owner} has no {key!r}; its {kind}: {present}")
            where.append(key)
            if depth < len(keys) - 1:
                if not isinstance(section[key], dict):
                    raise SettingError(f"--set {text}: {'.'.join(where)} is a setting, not a section")
                section = section[key]
            elif isinstance(section[key], dict):
                inner = ", ".join(f"{'.'.join(where)}.{k}" for k in sorted(section[key]))
                raise SettingError(f"--set {text}: {'.'.join(where)} is a section; set one of its settings: {inner}")
        target = components
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return {"components": components} if components else {}


def load_with_settings(model: str, settings: Sequence[str] = ()) -> Language:
    """``spacy.load(model)`` with ``settings`` applied; a setting the pipeline lacks, or a value
    its components refuse while they are built, is a ``SettingError`` that names it.

    Errors that have nothing to do with the settings (a missing pipeline, a bad config, an
    unregistered component) are spaCy's own, raised as they are.
    """
    if not settings:
        return spacy.load(model)
    try:
        overrides = settings_overrides(settings, pipeline_config(model))
    except OSError:
        return spacy.load(model)  # no config to check against: spaCy says what is missing
    try:
        return spacy.load(model, config=overrides)
    except ValueError as err:
        if isinstance(err, RegistryError) or is_missing_factory(err):
            raise  # an unregistered function or component: not the settings' doing
        raise SettingError(f"--set {' '.join(settings)}: the pipeline refused it: {_short(err)}") from err


def is_missing_factory(err: ValueError) -> bool:
    """spaCy's E002 (no factory registered under a component's name) is a plain ValueError."""
    return str(err).startswith("[E002]")


def _short(err: ValueError) -> str:
    """A config validation error as its failing settings (not the whole resolved config); else ``err``."""
    if isinstance(err, ConfigValidationError) and err.errors:
        return "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in err.errors)
    return str(err)


def _is_setting(key: str, value: Any) -> bool:
    """A value worth listing as changeable: not a sub-section, a factory or a registered function's name."""
    return not isinstance(value, dict) and key != "factory" and not key.startswith("@")


__all__ = ["SettingError", "is_missing_factory", "load_with_settings", "parse_setting", "pipeline_config", "settings_overrides"]
