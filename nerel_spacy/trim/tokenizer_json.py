"""A Hugging Face ``tokenizer.json`` cut down to some of its pieces, every id renumbered.

Pieces keep their order, so new ids are old ids with the gaps closed: the special tokens
at the front (``<s> <pad> </s> <unk>``, or BERT's ``[PAD]``) keep theirs. Why the
tokenization does not change wherever no piece is missing:

- **Unigram** (SentencePiece: XLM-R, multilingual-e5) picks the best-scoring segmentation
  among those the vocabulary allows. Removing pieces removes candidates only, so a best
  segmentation made of kept pieces stays the best.
- **WordPiece** (BERT, RuBERT) takes the longest known prefix at each step. A kept piece
  is still the longest: any longer prefix was not in the old vocabulary either.

BPE merges would need rewriting, so BPE tokenizers are refused.
"""
import copy
from typing import Any, Dict, List, Sequence, Tuple

SUPPORTED_MODELS = ("Unigram", "WordPiece")


class UnsupportedTokenizerError(ValueError):
    """A tokenizer whose pieces cannot be removed without changing how it splits text."""


def vocabulary_size(data: Dict[str, Any]) -> int:
    """How many ids the tokenizer can produce: its model's pieces and any added tokens beyond."""
    model = data["model"]
    size = len(model["vocab"])
    return max([size] + [token["id"] + 1 for token in data.get("added_tokens", [])])


def model_vocabulary(data: Dict[str, Any]) -> Dict[str, int]:
    """``{piece: id}`` of the tokenizer model (added tokens not included)."""
    model = data["model"]
    if model.get("type") == "Unigram":
        return {piece: i for i, (piece, _score) in enumerate(model["vocab"])}
    if model.get("type") == "WordPiece":
        return dict(model["vocab"])
    raise UnsupportedTokenizerError(
        f"cannot trim a {model.get('type')!r} tokenizer: only {', '.join(SUPPORTED_MODELS)} "
        "models keep their tokenization when pieces are removed (BPE merges would change)."
    )


def trim_tokenizer_json(data: Dict[str, Any], kept_ids: Sequence[int]) -> Tuple[Dict[str, Any], Dict[int, int]]:
    """A copy of ``tokenizer.json`` holding only ``kept_ids``, and ``{old id: new id}``.

    ``kept_ids`` must include every added (special) token and the unknown piece.
    """
    model_vocabulary(data)  # refuses unsupported models
    size = vocabulary_size(data)
    kept = sorted(set(int(i) for i in kept_ids))
    if kept and (kept[0] < 0 or kept[-1] >= size):
        raise ValueError(f"piece ids must lie in [0, {size}); got {kept[0]}..{kept[-1]}")
    old_to_new = {old: new for new, old in enumerate(kept)}
    trimmed = copy.deepcopy(data)
    missing = [token["content"] for token in data.get("added_tokens", []) if token["id"] not in old_to_new]
    if missing:
        raise ValueError(f"the special tokens {missing} must be kept")
    for token in trimmed.get("added_tokens", []):
        token["id"] = old_to_new[token["id"]]
    model = trimmed["model"]
    if model["type"] == "Unigram":
        model["vocab"] = [model["vocab"][old] for old in kept if old < len(data["model"]["vocab"])]
        if model.get("unk_id") is not None:
            if model["unk_id"] not in old_to_new:
                raise ValueError("the unknown piece must be kept")
            model["unk_id"] = old_to_new[model["unk_id"]]
    else:
        unk = model.get("unk_token")
        if unk is not None and model["vocab"].get(unk) not in old_to_new:
            raise ValueError(f"the unknown piece {unk!r} must be kept")
        model["vocab"] = {piece: old_to_new[i] for piece, i in model["vocab"].items() if i in old_to_new}
    if trimmed.get("post_processor"):
        trimmed["post_processor"] = _remap_post_processor(trimmed["post_processor"], old_to_new)
    return trimmed, old_to_new


def _remap_post_processor(processor: Dict[str, Any], old_to_new: Dict[int, int]) -> Dict[str, Any]:
    """Special-token ids in Template/Bert/Roberta processors (and Sequences of them)."""
    kind = processor.get("type")
    if kind == "Sequence":
        processor["processors"] = [_remap_post_processor(p, old_to_new) for p in processor["processors"]]
    elif kind == "TemplateProcessing":
        for special in processor.get("special_tokens", {}).values():
            special["ids"] = [old_to_new[i] for i in special["ids"]]
    elif kind in ("BertProcessing", "RobertaProcessing"):
        for key in ("sep", "cls"):
            token, old = processor[key]
            processor[key] = [token, old_to_new[old]]
    return processor


def remap_tokenizer_config(config: Dict[str, Any], old_to_new: Dict[int, int]) -> Dict[str, Any]:
    """``tokenizer_config.json`` with its ``added_tokens_decoder`` keyed by the new ids."""
    config = copy.deepcopy(config)
    decoder = config.get("added_tokens_decoder")
    if decoder:
        config["added_tokens_decoder"] = {str(old_to_new[int(i)]): token for i, token in decoder.items()}
    return config


def wordpiece_vocab_txt(data: Dict[str, Any]) -> str:
    """BERT's ``vocab.txt`` (one piece per line, in id order) for a WordPiece ``tokenizer.json``."""
    vocab = data["model"]["vocab"]
    ordered: List[str] = [""] * len(vocab)
    for piece, i in vocab.items():
        ordered[i] = piece
    return "".join(piece + "\n" for piece in ordered)


__all__ = [
    "SUPPORTED_MODELS",
    "UnsupportedTokenizerError",
    "model_vocabulary",
    "remap_tokenizer_config",
    "trim_tokenizer_json",
    "vocabulary_size",
    "wordpiece_vocab_txt",
]
