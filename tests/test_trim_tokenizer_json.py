"""tokenizer.json trimming: ids renumbered in order, specials and post-processors followed."""
import pytest

from nerel_spacy.trim.tokenizer_json import (
    UnsupportedTokenizerError,
    model_vocabulary,
    remap_tokenizer_config,
    trim_tokenizer_json,
    vocabulary_size,
    wordpiece_vocab_txt,
)


def unigram_json():
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0],
             ["▁", -2.0], ["▁Мо", -3.0], ["сква", -4.0], ["▁Москва", -2.5], ["a", -5.0], ["<mask>", 0.0]]
    return {
        "added_tokens": [{"id": i, "content": c, "special": True} for i, c in
                         [(0, "<s>"), (1, "<pad>"), (2, "</s>"), (3, "<unk>"), (9, "<mask>")]],
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab},
        "post_processor": {"type": "TemplateProcessing", "special_tokens": {
            "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
            "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
    }


def wordpiece_json():
    vocab = {"[PAD]": 0, "а": 1, "б": 2, "[UNK]": 3, "[CLS]": 4, "[SEP]": 5, "##б": 6, "аб": 7}
    return {
        "added_tokens": [{"id": i, "content": c, "special": True} for c, i in vocab.items() if c.startswith("[")],
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "BertProcessing", "sep": ["[SEP]", 5], "cls": ["[CLS]", 4]}]},
    }


def test_unigram_keeps_order_and_renumbers_everything():
    trimmed, old_to_new = trim_tokenizer_json(unigram_json(), [0, 1, 2, 3, 7, 9, 4])
    assert [piece for piece, _ in trimmed["model"]["vocab"]] == ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁Москва", "<mask>"]
    assert old_to_new == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 7: 5, 9: 6}
    assert trimmed["model"]["unk_id"] == 3
    assert [t["id"] for t in trimmed["added_tokens"]] == [0, 1, 2, 3, 6]
    assert trimmed["post_processor"]["special_tokens"]["</s>"]["ids"] == [2]
    assert vocabulary_size(trimmed) == 7


def test_the_source_is_not_changed():
    source = unigram_json()
    trim_tokenizer_json(source, [0, 1, 2, 3, 9])
    assert len(source["model"]["vocab"]) == 10 and source["added_tokens"][-1]["id"] == 9


def test_wordpiece_ids_follow_and_vocab_txt_is_in_id_order():
    trimmed, old_to_new = trim_tokenizer_json(wordpiece_json(), [0, 1, 3, 4, 5, 7])
    assert trimmed["model"]["vocab"] == {"[PAD]": 0, "а": 1, "[UNK]": 2, "[CLS]": 3, "[SEP]": 4, "аб": 5}
    assert trimmed["post_processor"]["processors"][0]["cls"] == ["[CLS]", 3]
    assert trimmed["post_processor"]["processors"][0]["sep"] == ["[SEP]", 4]
    assert wordpiece_vocab_txt(trimmed) == "[PAD]\nа\n[UNK]\n[CLS]\n[SEP]\nаб\n"


def test_special_tokens_must_be_kept():
    with pytest.raises(ValueError, match="<mask>"):
        trim_tokenizer_json(unigram_json(), [0, 1, 2, 3, 4])


def test_ids_outside_the_vocabulary_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        trim_tokenizer_json(unigram_json(), [0, 1, 2, 3, 9, 10])


def test_bpe_is_refused_with_the_reason():
    data = {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": []}
    with pytest.raises(UnsupportedTokenizerError, match="BPE merges"):
        model_vocabulary(data)
    with pytest.raises(UnsupportedTokenizerError):
        trim_tokenizer_json(data, [0])


def test_tokenizer_config_added_tokens_follow_the_new_ids():
    config = {"added_tokens_decoder": {"0": {"content": "<s>"}, "9": {"content": "<mask>"}}, "model_max_length": 512}
    remapped = remap_tokenizer_config(config, {0: 0, 9: 6})
    assert remapped["added_tokens_decoder"] == {"0": {"content": "<s>"}, "6": {"content": "<mask>"}}
    assert remapped["model_max_length"] == 512
