"""What a package says about its pipeline: meta.json's description, sources, notes,
requirements and scores.

An int8 or trimmed copy (``nerel-batch quantize``, ``trim-vocab``) inherits its float32
source's training scores; spaCy's package README would show them as the copy's accuracy,
so they are set aside as ``source_performance``, and ``package --performance`` gives the
package the scores ``nerel-batch evaluate`` measured on the copy itself.
"""
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import srsly
from spacy import util

DEFAULT_AUTHOR = "nerel-spacy contributors"
# The package code is spaCy's template and the weights are ours: MIT, like nerel-spacy.
# NEREL's repository states no licence of its own; its texts come from Russian Wikinews
# (CC BY 2.5). The package notes say so, so that a publisher can decide.
DEFAULT_LICENSE = "MIT"
NEREL_SOURCE = {
    "name": "NEREL v1.1",
    "url": "https://github.com/nerel-ds/NEREL",
    "author": "Loukachevitch et al., Language Resources and Evaluation (2023)",
}
NOTES = (
    "Trained on NEREL v1.1 (Russian Wikinews news texts, whose licence is CC BY 2.5; the "
    "NEREL repository states no licence of its own). `doc.ents` holds flat predicted "
    "entities, mirrored in `doc.spans[\"nerel\"]`; `doc.cats` holds one score per relation "
    "type, to compare with `nlp.get_pipe(\"nerel_joint\").cats_thresholds`. Entities set by "
    "earlier components are kept unless `overwrite_ents` is true. Built with nerel-spacy."
)
# Components and registered functions that run the encoder in torch.
TORCH_FACTORIES = ("transformer",)
TORCH_FUNCTION_PREFIXES = (
    "spacy-transformers.", "nerel.TransformerModel", "nerel.Tok2VecTransformer",
    "nerel.Int8TransformerModel", "nerel.Int8Tok2VecTransformer",
)
SOURCE_PERFORMANCE_NOTE = (
    "source_performance: the scores that the float32 pipeline this copy was made from (by "
    "nerel-batch trim-vocab or quantize) reached in training. This copy was not scored: "
    "nerel-batch evaluate scores it, and nerel-batch package --performance SPLIT.json puts "
    "those scores in its package."
)
TOKEN_SCORES = ("token_p", "token_r", "token_f")
# meta.json keys of a copy made from another pipeline (nerel-batch quantize, trim-vocab).
COPY_META_KEYS = ("quantization", "trimmed_vocabulary")


class PackagingError(ValueError):
    """The pipeline can't be packaged; the message names the path and the fix."""


def with_package_info(
    meta: Dict[str, Any],
    model_dir: Path,
    *,
    description: Optional[str] = None,
    author: Optional[str] = None,
    email: Optional[str] = None,
    url: Optional[str] = None,
    license: Optional[str] = None,
    performance: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """``meta`` with description, author, licence, sources, notes, scores and the nerel-spacy
    requirement.

    Given values win; then what the pipeline's meta.json already says; then our defaults.
    An int8 or trimmed copy's float32 training scores are set aside (``source_performance``);
    ``performance`` (a ``nerel-batch evaluate`` SPLIT.json) gives the package its own.
    """
    meta = dict(meta)
    if any(key in meta for key in COPY_META_KEYS):
        set_aside_performance(meta)  # quantized or trimmed before nerel-spacy did this itself
        meta["performance"] = {}  # else spaCy brings back the one in the pipeline's meta.json
    if performance is not None:
        meta["performance"], meta["performance_source"] = scores_from_evaluation(performance)
    meta["description"] = description or meta.get("description") or describe_pipeline(model_dir)
    meta["author"] = author or meta.get("author") or DEFAULT_AUTHOR
    meta["email"] = email if email is not None else meta.get("email", "")
    meta["url"] = url or meta.get("url") or ""
    meta["license"] = license or meta.get("license") or DEFAULT_LICENSE
    sources = [_as_source(source) for source in meta.get("sources") or []]
    if not any(source.get("name") == NEREL_SOURCE["name"] for source in sources):
        sources.append(dict(NEREL_SOURCE))
    meta["sources"] = sources
    meta.setdefault("notes", NOTES)
    requirements = list(meta.get("requirements") or [])
    if not any(util.split_requirement(req)[0] == "nerel-spacy" for req in requirements):
        extras = ["transformers"] if runs_on_torch(model_dir) else []
        requirements.append(nerel_spacy_requirement(extras))
    meta["requirements"] = requirements
    return meta


def set_aside_performance(meta: Dict[str, Any]) -> Dict[str, Any]:
    """Move a copy's inherited training scores from ``performance`` (which spaCy's package
    README shows as the pipeline's accuracy) to ``source_performance``, with a note."""
    inherited = meta.pop("performance", None)
    if inherited:
        meta["source_performance"] = inherited
        meta["source_performance_note"] = SOURCE_PERFORMANCE_NOTE
    return meta


def scores_from_evaluation(evaluation: Mapping[str, Any]) -> Tuple[Dict[str, float], Dict[str, Any]]:
    """The scalar scores of a ``nerel-batch evaluate`` SPLIT.json, and where they came from."""
    scores = {key: value for key, value in evaluation.items()  # token_p/r/f: the tokenizer's, always 1
              if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in TOKEN_SCORES}
    run = evaluation.get("meta")
    if not scores or not isinstance(run, dict) or "corpus" not in run:
        raise PackagingError(
            "--performance takes a SPLIT.json that nerel-batch evaluate wrote (e.g. "
            "metrics/joint_trf_int8/dev.json): scores and a \"meta\" block naming the corpus."
        )
    return scores, {key: run[key] for key in ("model", "corpus", "date", "settings") if key in run}


def nerel_spacy_requirement(extras: Sequence[str] = ()) -> str:
    """``nerel-spacy`` (with ``extras``) pinned to the installed minor version, as spaCy pins its plugins."""
    try:
        version = metadata.version("nerel-spacy")
    except metadata.PackageNotFoundError:
        from . import __version__ as version
    extras_part = f"[{','.join(extras)}]" if extras else ""
    return f"nerel-spacy{extras_part}{util.get_minor_version_range(version)}"


def runs_on_torch(model_dir: Path) -> bool:
    """Whether the pipeline's components need the torch stack (nerel-spacy's transformers extra).

    A transformer encoder run by spacy-transformers (float or nerel-batch quantize's int8)
    does; the CNN pipelines and ONNX exports (nerel-batch export-onnx) do not, so their
    packages install without torch.
    """
    config = util.load_config(model_dir / "config.cfg", interpolate=False)
    for component in config.get("components", {}).values():
        if component.get("factory") in TORCH_FACTORIES:
            return True
        for _path, value in util.walk_dict(component):
            if isinstance(value, str) and value.startswith(TORCH_FUNCTION_PREFIXES):
                return True
    return False


def describe_pipeline(model_dir: Path) -> str:
    """One line on what the pipeline predicts, counted from its nerel_joint labels."""
    entity_labels, cats_labels = _joint_labels(model_dir)
    if not entity_labels and not cats_labels:
        return "A spaCy pipeline trained with nerel-spacy on NEREL v1.1."
    return (
        f"Russian named entities ({len(entity_labels)} NEREL types, in doc.ents and "
        f"doc.spans[\"nerel\"]) and relation types ({len(cats_labels)}, one score each in "
        "doc.cats) from one joint model, trained on NEREL v1.1 with nerel-spacy."
    )


def _joint_labels(model_dir: Path) -> Tuple[List[str], List[str]]:
    config = util.load_config(model_dir / "config.cfg", interpolate=False)
    for component_name, component in config.get("components", {}).items():
        cfg_path = model_dir / component_name / "cfg"
        if component.get("factory") == "nerel_joint" and cfg_path.is_file():
            cfg = srsly.read_json(cfg_path)
            return list(cfg.get("entity_labels", [])), list(cfg.get("cats_labels", []))
    return [], []


def _as_source(source: Any) -> Dict[str, str]:
    # spaCy's meta schema takes a list of strings or a list of dicts, not a mix.
    if isinstance(source, dict):
        return {key: str(value) for key, value in source.items()}
    return {"name": str(source)}
