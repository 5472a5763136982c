"""The student's encoder: the teacher's transformer with only some of its layers.

``choose_layers`` spreads the kept layers over the teacher's depth, keeping the first
(which reads the embeddings) and the last (which the heads read), as DistilBERT and
TinyBERT's uniform mapping do; ``keep_layers`` cuts a Hugging Face encoder down to them,
in place; ``shrink_pipeline`` does it to every transformer of a float32 spaCy pipeline.
The embeddings and the heads stay the teacher's, so the student starts close to it.
"""
from typing import List, Optional, Sequence, Tuple

from spacy.language import Language


def choose_layers(n_teacher: int, n_student: int) -> List[int]:
    """``n_student`` layer indices out of ``n_teacher``, first and last included, evenly spread."""
    if not 1 <= n_student <= n_teacher:
        raise ValueError(f"a student needs between 1 and {n_teacher} layers (the teacher's), not {n_student}.")
    if n_student == 1:
        return [n_teacher - 1]
    return [round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)]


def encoder_layers(transformer):
    """The ``ModuleList`` of a BERT-like encoder's layers (BERT, XLM-R, e5, RuBERT)."""
    encoder = getattr(transformer, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if layers is None:
        raise ValueError(
            f"{type(transformer).__name__} has no encoder.layer list; distillation supports BERT-like "
            "encoders (BERT, XLM-RoBERTa, multilingual-e5, RuBERT)."
        )
    return layers


def keep_layers(transformer, indices: Sequence[int]) -> None:
    """Keep only the layers at ``indices`` (in that order); the config's layer count follows."""
    import torch

    layers = encoder_layers(transformer)
    if any(not 0 <= i < len(layers) for i in indices) or len(set(indices)) != len(indices):
        raise ValueError(f"layers {list(indices)} are not distinct layers of a {len(layers)}-layer encoder.")
    transformer.encoder.layer = torch.nn.ModuleList([layers[i] for i in indices])
    transformer.config.num_hidden_layers = len(indices)


def set_attention_dropout(transformer, probability: float) -> None:
    """Set the attention-probability dropout of a BERT-like encoder (its config follows, so a
    saved and reloaded student keeps it). With dropout, torch's fused attention falls back to a
    slower kernel: on a 2-layer student's training step 30 ms against 4-5 ms without."""
    if not 0.0 <= probability < 1.0:
        raise ValueError(f"attention dropout must be in [0, 1), not {probability}.")
    transformer.config.attention_probs_dropout_prob = float(probability)
    for module in transformer.modules():
        if type(module).__name__.endswith("SelfAttention"):
            module.dropout.p = float(probability)
            if hasattr(module, "dropout_prob"):  # the SDPA variants read this, not module.dropout
                module.dropout_prob = float(probability)


def plan_layers(nlp: Language, n_layers: int) -> List[Tuple[str, List[int], int]]:
    """``[(component, kept layers, teacher layers)]`` for each transformer of a float32 pipeline,
    changing nothing: a ValueError says why the pipeline cannot be cut to ``n_layers``."""
    from ..quantize.pipeline import float32_transformer_shims

    shims = float32_transformer_shims(
        nlp, "this pipeline has no transformer to distill (a CNN pipeline is already small).",
        "this pipeline is int8: distill from its float32 model-best (or trimmed copy).")
    plan = []
    for name, shim in shims:
        n_teacher = len(encoder_layers(shim._hfmodel.transformer))
        plan.append((name, choose_layers(n_teacher, n_layers), n_teacher))
    return plan


def shrink_pipeline(
    nlp: Language, n_layers: int, attention_dropout: Optional[float] = None,
) -> List[Tuple[str, List[int], int]]:
    """Cut every transformer of a float32 pipeline to ``n_layers``; ``[(component, kept, of)]``.
    ``attention_dropout`` replaces the teacher's attention dropout where it is given."""
    from ..quantize.pipeline import find_transformer_shims

    plan = plan_layers(nlp, n_layers)
    shims = dict(find_transformer_shims(nlp))
    for name, kept, _ in plan:
        keep_layers(shims[name]._hfmodel.transformer, kept)
        if attention_dropout is not None:
            set_attention_dropout(shims[name]._hfmodel.transformer, attention_dropout)
    nlp.meta["distilled"] = {name: {"layers": kept, "of": of} for name, kept, of in plan}
    return plan


__all__ = ["choose_layers", "encoder_layers", "keep_layers", "plan_layers", "set_attention_dropout", "shrink_pipeline"]
