"""Give a trained pipeline's encoder static word vectors, without changing what it predicts.

``add_static_vectors`` loads a vectors table (``nerel-batch prepare-vectors``) into a
pipeline's vocab and wraps the joint component's encoder in ``nerel.WithStaticVectors.v1``,
whose projection starts at zero: the copy predicts exactly what the original does, and
continued training (``spacy project run train-more`` from it) learns how much of the
vectors to use. The change lives in the pipeline's config, so ``spacy.load`` rebuilds it.
"""
from pathlib import Path
from typing import Union

import spacy
from spacy.language import Language
from spacy.training.initialize import load_vectors_into_model
from spacy.vectors import Vectors
from thinc.api import Model

from .models.static_residual import STATIC_VECTORS, WRAPPED, build_with_static_vectors, init_static_vectors
from .output_folders import pipeline_write_clash, staged_update
from .vector_compaction import refuse_compact_vectors

ARCHITECTURE = "nerel.WithStaticVectors.v1"
SAMPLE_TEXT = "Москва"


def add_static_vectors(
    nlp: Language, vectors: Union[str, Path], *, component: str = "nerel_joint",
    scale: float = 1.0, dropout: float = 0.0,
) -> Language:
    """Wrap ``component``'s encoder in ``nerel.WithStaticVectors.v1`` over ``vectors``, in place."""
    refuse_compact_vectors(vectors, "VECTORS")
    if component not in nlp.pipe_names:
        raise ValueError(f"the pipeline has no '{component}' component (it has {', '.join(nlp.pipe_names)})")
    model = nlp.get_pipe(component).model
    if not model.has_ref(WRAPPED):
        raise ValueError(f"'{component}' has no encoder to wrap (no '{WRAPPED}' layer)")
    encoder = model.get_ref(WRAPPED)
    model_config = nlp.get_pipe_config(component)["model"]
    if model_config[WRAPPED].get("@architectures") == ARCHITECTURE:
        raise ValueError(f"'{component}' already reads static vectors ({ARCHITECTURE})")
    load_vectors_into_model(nlp, vectors)
    wrapped = build_with_static_vectors(encoder, scale=scale, dropout=dropout)
    init_static_vectors(wrapped, [nlp.make_doc(SAMPLE_TEXT)])
    model.layers[model.layers.index(encoder)] = wrapped
    model.set_ref(WRAPPED, wrapped)
    model_config[WRAPPED] = {"@architectures": ARCHITECTURE, "tok2vec": model_config[WRAPPED],
                             "scale": float(scale), "dropout": float(dropout)}
    return nlp


def save_with_static_vectors(
    model: Union[str, Path], vectors: Union[str, Path], output: Union[str, Path], **options
) -> Language:
    """Write a copy of ``model`` to ``output`` whose encoder also reads ``vectors``.

    ``output`` must be a folder other than ``model`` and ``vectors``, neither holding them nor
    inside them (else a ValueError). The copy is written beside ``output`` and swapped in once
    complete, so a failed write leaves what was there."""

    clash = pipeline_write_clash(model, Path(output), in_place=False, inputs=[(vectors, "VECTORS")])
    if clash:
        raise ValueError(clash)
    nlp = add_static_vectors(spacy.load(model), vectors, **options)
    with staged_update(Path(output)) as staging:
        nlp.to_disk(staging)
    return nlp


def remove_static_vectors(nlp: Language, component: str = "nerel_joint") -> Language:
    """Undo ``add_static_vectors``, in place: ``component``'s encoder no longer reads static
    vectors and the vocab drops its table. The pipeline then predicts what it predicts with
    the projection at zero (``zero_static_vectors``); train it on to recover what the vectors
    gave. ``distill --static-vectors drop`` starts a student so: navec's table is most of a
    small student's size."""
    static_projection(nlp, component)  # refuses a component that reads none
    model = nlp.get_pipe(component).model
    wrapped = model.get_ref(WRAPPED)
    encoder = wrapped.get_ref(WRAPPED)
    model.layers[model.layers.index(wrapped)] = encoder
    model.set_ref(WRAPPED, encoder)
    model_config = nlp.get_pipe_config(component)["model"]
    model_config[WRAPPED] = model_config[WRAPPED][WRAPPED]
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings)
    return nlp


def static_projection(nlp: Language, component: str = "nerel_joint") -> Model:
    """The ``StaticVectors`` layer (its ``W`` is the projection) of a pipeline made by ``add_static_vectors``."""
    model = nlp.get_pipe(component).model
    encoder = model.get_ref(WRAPPED) if model.has_ref(WRAPPED) else None
    if encoder is None or not encoder.has_ref(STATIC_VECTORS):
        raise ValueError(f"'{component}' reads no static vectors ({ARCHITECTURE})")
    return encoder.get_ref(STATIC_VECTORS)


def zero_static_vectors(nlp: Language, component: str = "nerel_joint") -> Language:
    """Set the static vectors' projection of ``component`` to zero, in place: the knock-out
    that shows what a trained pipeline takes from its vectors (its encoder alone remains)."""
    static = static_projection(nlp, component)
    static.set_param("W", static.ops.alloc2f(*static.get_param("W").shape))
    return nlp
