"""Trim a Hugging Face encoder's vocabulary: its tokenizer and its word-embedding rows.

``trim_encoder`` works on a (tokenizer, transformer) pair and is shared by the two ways
in: ``trim_hf_folder`` (an encoder before training, e.g. ``assets/e5-small``) and
``trim_pipeline`` (a trained spaCy pipeline, whose transformer component holds both
inside its serialized bytes). Only the embedding matrix shrinks; every other weight, and
the output for any text whose pieces are all kept, stay the same.
"""
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .pieces import coverage, encode, number_pieces, pieces_in_texts, pieces_of_words, single_char_pieces
from .tokenizer_json import (
    model_vocabulary,
    remap_tokenizer_config,
    trim_tokenizer_json,
    wordpiece_vocab_txt,
)

# Slow-tokenizer files that describe the untrimmed vocabulary; a trimmed folder drops them
# (SentencePiece models cannot be cut down) or rewrites them (BERT's vocab.txt).
SLOW_VOCAB_FILES = ("sentencepiece.bpe.model", "tokenizer.model", "spiece.model", "vocab.txt")
# config.json ids that point into the vocabulary.
CONFIG_TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id")


class TokenizationChangedError(ValueError):
    """A text whose pieces were all kept tokenizes differently after trimming; nothing is written."""


@dataclass
class PieceChoice:
    """Where the kept pieces come from: what each source adds, in ids of the source tokenizer."""

    texts: Set[int] = field(default_factory=set)
    words: Set[int] = field(default_factory=set)
    numbers: Set[int] = field(default_factory=set)
    single_chars: Set[int] = field(default_factory=set)
    special: Set[int] = field(default_factory=set)

    @property
    def kept(self) -> Set[int]:
        return self.texts | self.words | self.numbers | self.single_chars | self.special

    def counts(self) -> Dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("texts", "words", "numbers", "single_chars", "special")}


def tokenizer_json(tokenizer) -> dict:
    """A fast tokenizer's ``tokenizer.json`` as a dict."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{type(tokenizer).__name__} is a slow tokenizer; trimming needs a fast one "
            "(tokenizer.json). Load the encoder with use_fast=True."
        )
    return json.loads(tokenizer.backend_tokenizer.to_str())


def choose_pieces(
    tokenizer,
    texts: Sequence[str] = (),
    words: Iterable[str] = (),
    numbers: bool = True,
    single_chars: bool = True,
    on_progress: Optional[Callable[[str, int, int], None]] = None,
) -> PieceChoice:
    """The pieces of the texts and words, plus number pieces, one-character pieces and specials.

    ``on_progress(stage, done, total)`` reports the two slow stages, "texts" and "words".
    """
    vocab = model_vocabulary(tokenizer_json(tokenizer))

    def stage(name: str):
        return (lambda done, total: on_progress(name, done, total)) if on_progress else None

    return PieceChoice(
        texts=set(pieces_in_texts(tokenizer, list(texts), on_progress=stage("texts"))),
        words=pieces_of_words(tokenizer, words, on_progress=stage("words")),
        numbers=number_pieces(vocab) if numbers else set(),
        single_chars=single_char_pieces(vocab) if single_chars else set(),
        special=set(tokenizer.all_special_ids),
    )


def trim_tokenizer(tokenizer, kept: Iterable[int]):
    """A new fast tokenizer with only ``kept`` pieces, ``{old id: new id}``, and its slow vocab file.

    The third value is BERT's ``vocab.txt`` bytes for a WordPiece tokenizer (which
    spacy-transformers stores beside the tokenizer), else ``None``.
    """
    from transformers import AutoTokenizer

    data, old_to_new = trim_tokenizer_json(tokenizer_json(tokenizer), kept)
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory() as target:
        tokenizer.save_pretrained(source)
        for path in Path(source).iterdir():
            if path.name in SLOW_VOCAB_FILES or path.name == "tokenizer.json":
                continue
            if path.name == "tokenizer_config.json":
                config = remap_tokenizer_config(json.loads(path.read_text(encoding="utf8")), old_to_new)
                (Path(target) / path.name).write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf8")
            else:
                (Path(target) / path.name).write_bytes(path.read_bytes())
        (Path(target) / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf8")
        vocab_file = None
        if data["model"]["type"] == "WordPiece":
            vocab_file = wordpiece_vocab_txt(data).encode("utf8")
            (Path(target) / "vocab.txt").write_bytes(vocab_file)
        trimmed = AutoTokenizer.from_pretrained(target, use_fast=True)
    return trimmed, old_to_new, vocab_file


def trim_embeddings(transformer, kept: Sequence[int], old_to_new: Dict[int, int]) -> None:
    """Keep the word-embedding rows of ``kept`` (in order), in place; ids in the config follow."""
    import torch

    embeddings = transformer.get_input_embeddings()
    rows = torch.as_tensor(sorted(kept), dtype=torch.long)
    if int(rows.max()) >= embeddings.weight.shape[0]:
        raise ValueError(
            f"the tokenizer has ids up to {int(rows.max())} but the embedding matrix only "
            f"{embeddings.weight.shape[0]} rows: tokenizer and model do not match."
        )
    config = transformer.config
    pad = getattr(config, "pad_token_id", None)
    trimmed = torch.nn.Embedding(
        len(rows), embeddings.weight.shape[1],
        padding_idx=old_to_new.get(pad) if pad is not None else None,
    )
    with torch.no_grad():
        trimmed.weight.copy_(embeddings.weight[rows])
    trimmed.weight.requires_grad_(embeddings.weight.requires_grad)
    transformer.set_input_embeddings(trimmed)
    config.vocab_size = len(rows)
    for name in CONFIG_TOKEN_IDS:
        old = getattr(config, name, None)
        if isinstance(old, int) and old in old_to_new:
            setattr(config, name, old_to_new[old])


@dataclass
class IdentityCheck:
    """Trimmed against source tokenization on texts: how many texts were fully covered and
    how many of those came out different (which must be none)."""

    texts: int = 0
    covered: int = 0
    mismatched: List[int] = field(default_factory=list)


def check_identical_tokenization(source, trimmed, old_to_new: Dict[int, int], texts: Sequence[str]) -> IdentityCheck:
    """Whether every text whose pieces are all kept is split the same way, piece for piece."""
    check = IdentityCheck(texts=len(texts))
    for index, (old, new) in enumerate(zip(encode(source, texts), encode(trimmed, texts))):
        if all(i in old_to_new for i in old):
            check.covered += 1
            if [old_to_new[i] for i in old] != list(new):
                check.mismatched.append(index)
    return check


@dataclass
class TrimReport:
    """What a trim kept, what it saved, and how it was checked."""

    rows_before: int
    rows_after: int
    embedding_mb_before: float
    embedding_mb_after: float
    parameters_before: int
    parameters_after: int
    sources: Dict[str, int]
    identity: Dict[str, object]
    held_out: Optional[Dict[str, object]] = None
    seconds: float = 0.0

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


def _megabytes(parameters: int) -> float:
    return round(parameters * 4 / 1e6, 1)


def trim_encoder(
    tokenizer,
    transformer,
    choice: PieceChoice,
    check_texts: Sequence[str] = (),
    held_out_texts: Sequence[str] = (),
):
    """Trim a (tokenizer, transformer) pair to ``choice.kept``; the transformer changes in place.

    Returns the new tokenizer, its slow vocab file bytes (or ``None``) and a ``TrimReport``.
    Raises ``ValueError`` when a fully covered text of ``check_texts`` tokenizes differently.
    """
    start = time.perf_counter()
    kept = sorted(choice.kept)
    rows_before = int(transformer.get_input_embeddings().weight.shape[0])
    parameters_before = sum(p.numel() for p in transformer.parameters())
    size = len(tokenizer)  # its model's pieces and any added tokens beyond
    trimmed_tokenizer, old_to_new, vocab_file = trim_tokenizer(tokenizer, kept)
    identity = check_identical_tokenization(tokenizer, trimmed_tokenizer, old_to_new, list(check_texts))
    if identity.mismatched:
        raise TokenizationChangedError(
            f"{len(identity.mismatched)} of {identity.covered} fully covered texts tokenize "
            f"differently after trimming (first: text #{identity.mismatched[0]}); nothing was written."
        )
    held_out = coverage(tokenizer, list(held_out_texts), set(kept)).to_dict() if held_out_texts else None
    trim_embeddings(transformer, kept, old_to_new)
    report = TrimReport(
        rows_before=rows_before,
        rows_after=len(kept),
        embedding_mb_before=_megabytes(rows_before * transformer.config.hidden_size),
        embedding_mb_after=_megabytes(len(kept) * transformer.config.hidden_size),
        parameters_before=parameters_before,
        parameters_after=sum(p.numel() for p in transformer.parameters()),
        sources={"source_vocabulary": size, **choice.counts()},
        identity={"texts": identity.texts, "covered": identity.covered, "mismatched": len(identity.mismatched)},
        held_out=held_out,
    )
    report.seconds = round(time.perf_counter() - start, 2)
    return trimmed_tokenizer, vocab_file, report


def load_hf_encoder(source: str):
    """``(fast tokenizer, model)`` of a Hugging Face encoder folder or hub name."""
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source), use_fast=True), AutoModel.from_pretrained(str(source))


def trim_hf_folder(source: str, output: Path, texts: Sequence[str], words: Iterable[str] = (),
                   numbers: bool = True, single_chars: bool = True,
                   held_out_texts: Sequence[str] = (), on_progress=None, encoder=None) -> TrimReport:
    """A Hugging Face encoder folder (or hub name) written to ``output`` with a trimmed vocabulary;
    ``encoder``: its ``load_hf_encoder`` result where the caller has loaded it already."""
    tokenizer, transformer = encoder or load_hf_encoder(source)
    choice = choose_pieces(tokenizer, texts, words, numbers, single_chars, on_progress)
    trimmed, _vocab_file, report = trim_encoder(tokenizer, transformer, choice, texts, held_out_texts)
    output.mkdir(parents=True, exist_ok=True)
    transformer.save_pretrained(str(output))
    trimmed.save_pretrained(str(output))
    return report


def trim_pipeline(nlp, texts: Sequence[str], words: Iterable[str] = (), numbers: bool = True,
                  single_chars: bool = True, held_out_texts: Sequence[str] = (),
                  on_progress=None) -> List[Tuple[str, TrimReport]]:
    """Trim every transformer in a float32 spaCy pipeline, in place; ``[(component, report)]``."""
    from spacy_transformers.data_classes import HFObjects

    from ..quantize.pipeline import float32_transformer_shims

    shims = float32_transformer_shims(
        nlp, "this pipeline has no transformer whose vocabulary could be trimmed (a CNN pipeline?).",
        "this pipeline is int8: trim its float32 model-best, then quantize the trimmed copy.")
    reports = []
    for name, shim in shims:
        hf = shim._hfmodel
        choice = choose_pieces(hf.tokenizer, texts, words, numbers, single_chars, on_progress)
        trimmed, vocab_file, report = trim_encoder(hf.tokenizer, hf.transformer, choice, texts, held_out_texts)
        shim._hfmodel = HFObjects(trimmed, hf.transformer, vocab_file,
                                  hf._init_tokenizer_config, hf._init_transformer_config)
        reports.append((name, report))
    from ..package_meta import set_aside_performance

    set_aside_performance(nlp.meta)  # scores of the untrimmed pipeline, not of this one
    nlp.meta.setdefault("trimmed_vocabulary", {})
    for name, report in reports:
        nlp.meta["trimmed_vocabulary"][name] = {"rows_before": report.rows_before, "rows_after": report.rows_after}
    return reports


__all__ = [
    "IdentityCheck",
    "PieceChoice",
    "TokenizationChangedError",
    "TrimReport",
    "check_identical_tokenization",
    "choose_pieces",
    "load_hf_encoder",
    "tokenizer_json",
    "trim_embeddings",
    "trim_encoder",
    "trim_hf_folder",
    "trim_pipeline",
    "trim_tokenizer",
]
