"""Trimmed vocabularies: a transformer encoder cut down to the word pieces Russian text uses."""
from .encoder import PieceChoice, TrimReport, choose_pieces, trim_encoder, trim_hf_folder, trim_pipeline
from .pieces import Coverage, coverage
from .tokenizer_json import UnsupportedTokenizerError, trim_tokenizer_json

__all__ = [
    "Coverage",
    "PieceChoice",
    "TrimReport",
    "UnsupportedTokenizerError",
    "choose_pieces",
    "coverage",
    "trim_encoder",
    "trim_hf_folder",
    "trim_pipeline",
    "trim_tokenizer_json",
]
