"""Trimming a real (tiny) encoder: same tokens and same vectors wherever no piece is missing."""
import json
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY_DOCS
from nerel_spacy.trim.encoder import (
    check_identical_tokenization,
    choose_pieces,
    trim_encoder,
    trim_hf_folder,
    trim_tokenizer,
)

TEXTS = [text for text, _, _ in TINY_DOCS]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


@lru_cache(maxsize=1)
def unigram_tokenizer():
    """An XLM-R-style SentencePiece Unigram tokenizer (like multilingual-e5's) trained on the fixtures."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=SPECIALS, unk_token="<unk>")
    tokenizer.train_from_iterator(TEXTS * 5 + ["Нью-Йорк Вашингтон Путин Россия 2020 года"], trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tokenizer.token_to_id("<s>")), ("</s>", tokenizer.token_to_id("</s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
    )


def tiny_bert(vocab_size: int, pad_token_id: int = 1):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256, pad_token_id=pad_token_id)
    return BertModel(config).eval()


def hidden_states(tokenizer, model, text):
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).last_hidden_state


@pytest.fixture
def unigram_folder(tmp_path) -> Path:
    tokenizer = unigram_tokenizer()
    folder = tmp_path / "unigram_bert"
    tokenizer.save_pretrained(folder)
    tiny_bert(len(tokenizer)).save_pretrained(folder)
    return folder


def test_trimmed_encoder_gives_the_same_vectors_on_the_texts_it_was_chosen_from(unigram_folder, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    chosen, other = TEXTS[:2], TEXTS[2:]
    report = trim_hf_folder(str(unigram_folder), tmp_path / "trimmed", chosen, words=["вашингтон"],
                            numbers=False, single_chars=False, held_out_texts=other)
    source_tokenizer, source_model = AutoTokenizer.from_pretrained(unigram_folder), AutoModel.from_pretrained(unigram_folder)
    tokenizer, model = AutoTokenizer.from_pretrained(tmp_path / "trimmed"), AutoModel.from_pretrained(tmp_path / "trimmed")
    assert report.rows_after < report.rows_before == len(source_tokenizer)
    assert len(tokenizer) == report.rows_after == model.config.vocab_size
    assert report.identity == {"texts": 2, "covered": 2, "mismatched": 0}
    assert report.held_out["texts"] == len(other) and report.held_out["missing_pieces"] > 0
    for text in chosen + ["Вашингтон"]:
        assert tokenizer.tokenize(text) == source_tokenizer.tokenize(text)
        torch.testing.assert_close(hidden_states(tokenizer, model, text), hidden_states(source_tokenizer, source_model, text))
    assert tokenizer.pad_token_id == model.config.pad_token_id == source_tokenizer.pad_token_id
    assert tokenizer.convert_ids_to_tokens(tokenizer.mask_token_id) == "<mask>"


def test_text_with_missing_pieces_still_tokenizes_into_smaller_ones(unigram_folder, tmp_path):
    from transformers import AutoTokenizer

    trim_hf_folder(str(unigram_folder), tmp_path / "trimmed", TEXTS[:1], numbers=False, single_chars=True)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "trimmed")
    for text in TEXTS[1:]:
        pieces = tokenizer.tokenize(text)
        assert "".join(pieces).replace("▁", " ").strip() == " ".join(text.split())
        assert tokenizer.unk_token not in pieces


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keep=st.lists(st.booleans(), min_size=400, max_size=400))
def test_any_subset_keeps_the_tokenization_of_every_fully_covered_text(keep):
    source = unigram_tokenizer()
    kept = {i for i, flag in enumerate(keep[: len(source)]) if flag} | set(source.all_special_ids)
    for text in TEXTS:  # make some texts fully covered
        if keep[hash(text) % len(keep)]:
            kept |= set(source(text, add_special_tokens=False)["input_ids"])
    trimmed, old_to_new, _ = trim_tokenizer(source, kept)
    check = check_identical_tokenization(source, trimmed, old_to_new, TEXTS + ["Москва и Нью-Йорк"])
    assert check.mismatched == []


def test_wordpiece_bert_is_trimmed_with_its_vocab_txt(tiny_bert_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    report = trim_hf_folder(str(tiny_bert_dir), tmp_path / "trimmed", TEXTS[:2], numbers=True, single_chars=True)
    tokenizer, model = AutoTokenizer.from_pretrained(tmp_path / "trimmed"), AutoModel.from_pretrained(tmp_path / "trimmed")
    source_tokenizer, source_model = AutoTokenizer.from_pretrained(tiny_bert_dir), AutoModel.from_pretrained(tiny_bert_dir)
    assert report.identity["mismatched"] == 0 and report.rows_after < report.rows_before
    vocab_txt = (tmp_path / "trimmed" / "vocab.txt").read_text(encoding="utf8").splitlines()
    assert vocab_txt == tokenizer.convert_ids_to_tokens(list(range(len(vocab_txt))))
    for text in TEXTS[:2]:
        assert tokenizer.tokenize(text) == source_tokenizer.tokenize(text)
        torch.testing.assert_close(hidden_states(tokenizer, model.eval(), text),
                                   hidden_states(source_tokenizer, source_model.eval(), text))


def test_a_mismatch_stops_the_trim_before_anything_changes(monkeypatch):
    import nerel_spacy.trim.encoder as encoder

    tokenizer = unigram_tokenizer()
    model = tiny_bert(len(tokenizer))
    choice = choose_pieces(tokenizer, TEXTS, numbers=False, single_chars=False)

    def broken(source, trimmed, old_to_new, texts):
        return encoder.IdentityCheck(texts=len(texts), covered=len(texts), mismatched=[0])

    monkeypatch.setattr(encoder, "check_identical_tokenization", broken)
    with pytest.raises(ValueError, match="tokenize differently"):
        trim_encoder(tokenizer, model, choice, TEXTS)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)


def test_choice_sources_are_reported_separately():
    tokenizer = unigram_tokenizer()
    choice = choose_pieces(tokenizer, TEXTS[:1], words=["путин"], numbers=True, single_chars=True)
    counts = choice.counts()
    assert counts["special"] == len(SPECIALS)
    assert counts["texts"] > 0 and counts["words"] > 0 and counts["single_chars"] > 0
    assert choice.kept == choice.texts | choice.words | choice.numbers | choice.single_chars | choice.special
    assert json.dumps(counts)
