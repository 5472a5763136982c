"""The windows a transformer pipeline reads documents in, changed without retraining.

spacy-transformers cuts each document into strided windows of spaCy tokens
(``strided_spans.v1``). A pipeline trained on one window can be read, or trained
further, with another: on NEREL, continuing a 128-token model on 256-token windows
raised dev NER (README, Results). The window lives in the pipeline's config, so the
change is made there and saved, and every later ``spacy.load`` sees it.
"""
from pathlib import Path
from typing import Union

import spacy
from spacy.language import Language

from .output_folders import pipeline_write_clash, staged_update

STRIDED_SPANS = "spacy-transformers.strided_spans.v1"


def check_windows(window: int, stride: int) -> None:
    """Strided windows must tile the document: ``0 < stride <= window``."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be positive, got window={window}, stride={stride}")
    if stride > window:
        raise ValueError(
            f"stride {stride} is larger than window {window}: tokens between windows would be skipped"
        )


def load_with_windows(model: Union[str, Path], window: int, stride: int, component: str = "transformer") -> Language:
    """Load ``model`` with its transformer reading ``window``-token windows every ``stride`` tokens."""
    check_windows(window, stride)
    config = spacy.util.load_config(Path(model) / "config.cfg") if Path(model).is_dir() else None
    if config is not None:
        components = config["components"]
        if component not in components or "get_spans" not in components[component].get("model", {}):
            raise ValueError(f"{model} has no '{component}' component with strided windows to change")
    get_spans = {"@span_getters": STRIDED_SPANS, "window": window, "stride": stride}
    return spacy.load(model, config={"components": {component: {"model": {"get_spans": get_spans}}}})


def save_with_windows(
    model: Union[str, Path], output: Union[str, Path], window: int, stride: int, component: str = "transformer"
) -> Language:
    """Write a copy of ``model`` to ``output`` that reads with the given windows; weights are unchanged.

    ``output`` may be ``model`` (changed in place) but neither a file, nor a folder holding
    ``model`` or inside it (a ValueError). The copy is written beside ``output`` and swapped in
    once complete, so a failed write leaves what was there."""

    clash = pipeline_write_clash(model, Path(output), in_place=True)
    if clash:
        raise ValueError(clash)
    nlp = load_with_windows(model, window, stride, component)
    with staged_update(Path(output)) as staging:
        nlp.to_disk(staging)
    return nlp
