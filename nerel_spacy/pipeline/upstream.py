"""What the joint component needs from the components before it.

A ``nerel_joint`` whose encoder is a spacy-transformers listener reads the vectors the
``transformer`` component stored on the doc; with no such component before it, the
listener would silently read zeros. ``require_upstream_transformer`` refuses instead,
with the fix (source the transformer too).
"""
from spacy.tokens import Doc
from thinc.api import Model


def require_upstream_transformer(model: Model, doc: Doc, name: str) -> None:
    """Raise a ValueError when ``model`` listens to a transformer that did not run on ``doc``."""
    listens = any(node.name == "transformer-listener" for node in model.walk())
    if listens and Doc.has_extension("trf_data") and doc._.trf_data is None:
        raise ValueError(
            f"{name} listens to a 'transformer' component, but none ran before it. "
            "When sourcing it into another pipeline, source the 'transformer' component "
            "too (see README: Use it from Python)."
        )
