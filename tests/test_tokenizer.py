"""The NEREL tokenizer: finer splits where NEREL needs them, nothing lost, serializable."""

import pytest
import spacy
from spacy.attrs import NORM, ORTH

from nerel_spacy.tokenizer import (
    create_russian_tokenizer, make_blank_nlp, russian_tokenizer_rules, without_redundant_identity_rules,
)

from conftest import NEREL_DIR, needs_nerel


TEXTS = [
    "Сборная Японии сыграла на ЧМ-2018 со счётом 2:1, а в 1999—2001 гг. тренер жил в Осаке.",
    "Согласно ст.424 УК РФ, в 2011г. он получил 750 млн руб. от компании BSkyB.",
    "мини|слева|Дональд Синден в фильме ''Group DF'' и вакцина от COVID-19.",
    "Правоохранительные органы Киргизии (Kingdom of Eswatini)Официальный сайт: http://www.mk.ru/a/b",
    "Король Руанды Кигели V. родился 29 июня 1936 года; т.е. ему было 80 лет.",
    "Матч 17–28 мая 2017 года, дом 19/38, канал «2×2», 104-м номере, «Россия-96».",
]


@pytest.fixture(scope="module")
def nlp():
    return make_blank_nlp()


@pytest.fixture(scope="module")
def plain():
    return spacy.blank("ru")


def test_registered_under_versioned_name():
    factory = spacy.registry.tokenizers.get("nerel.RussianTokenizer.v1")
    assert factory is create_russian_tokenizer


def test_make_blank_nlp_uses_it(nlp):
    assert nlp.lang == "ru"
    assert nlp.config["nlp"]["tokenizer"]["@tokenizers"] == "nerel.RussianTokenizer.v1"
    assert nlp.pipe_names == []


@pytest.mark.parametrize(
    "text,mention",
    [
        ("Он болел COVID-19 весной.", "19"),
        ("Сборная на ЧМ-2018 проиграла.", "2018"),
        ("Сборная на ЧМ-2018 проиграла.", "ЧМ"),
        ("Счёт 2:1 в пользу гостей.", "1"),
        ("Он правил в 1999—2001 годах.", "2001"),
        ("Это было 5 августа 2011г. утром.", "5 августа 2011г"),
        ("Взнос 750 млн руб. внесён.", "750 млн руб"),
        ("Глава медиахолдинга BSkyB.", "BSkyB"),
        ("Король Харальд V. прибыл.", "Харальд V"),
        ("мини|слева|Дональд Синден", "Дональд Синден"),
        ("в отеле ''City Center'' в центре", "'City Center'"),
        ("по ст.424 УК", "424"),
        ("дом 19/38 на Онежской", "19"),
        ("заявление в 104-м номере", "104"),
        ("Kingdom of Eswatini)Официальный", "Kingdom of Eswatini"),
    ],
)
def test_nerel_mentions_align(nlp, plain, text, mention):
    start = text.index(mention)
    end = start + len(mention)
    assert nlp.make_doc(text).char_span(start, end) is not None
    assert plain.make_doc(text).char_span(start, end) is None, "no longer a regression case"


def test_only_adds_boundaries(nlp, plain):
    """Every token boundary of spaCy's Russian tokenizer is kept; text is never changed."""
    for text in TEXTS:
        ours = nlp.make_doc(text)
        assert ours.text == text
        ours_bounds = {t.idx for t in ours} | {t.idx + len(t) for t in ours}
        theirs = plain.make_doc(text)
        theirs_bounds = {t.idx for t in theirs} | {t.idx + len(t) for t in theirs}
        assert theirs_bounds <= ours_bounds, text


NEWS = (
    "Президент России Владимир Путин провёл встречу с губернаторами в Москве. "
    "По словам пресс-секретаря Кремля, стороны обсудили бюджет на 2019 год, "
    "в том числе расходы на здравоохранение (около 1,3 трлн рублей). "
    "Встреча продлилась два часа, сообщает ТАСС."
)


def test_no_over_splitting(nlp, plain):
    # Ordinary news text tokenizes as before; the NEREL test measures the whole corpus.
    assert len(nlp.make_doc(NEWS)) == len(plain.make_doc(NEWS))
    ours = sum(len(nlp.make_doc(text)) for text in TEXTS)
    theirs = sum(len(plain.make_doc(text)) for text in TEXTS)
    assert theirs < ours < theirs * 1.5  # TEXTS are dense with the cases it splits


def test_keeps_urls_and_multi_period_abbreviations(nlp):
    tokens = [t.text for t in nlp.make_doc("См. http://www.mk.ru/a/b, т.е. и т.д. в 14:00.")]
    assert "http://www.mk.ru/a/b" in tokens
    assert "т.е." in tokens and "т.д." in tokens


def test_round_trip_to_disk(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.config["nlp"]["tokenizer"]["@tokenizers"] == "nerel.RussianTokenizer.v1"
    for text in TEXTS:
        assert [t.text for t in loaded.make_doc(text)] == [t.text for t in nlp.make_doc(text)]


def test_round_trip_bytes(nlp):
    fresh = make_blank_nlp()
    fresh.tokenizer.from_bytes(nlp.tokenizer.to_bytes())
    for text in TEXTS:
        assert [t.text for t in fresh.make_doc(text)] == [t.text for t in nlp.make_doc(text)]


def _tokens(tokenizer, text):
    return [(token.text, token.whitespace_, token.norm_) for token in tokenizer(text)]


def _with_every_exception(nlp):
    """The tokenizer as it was before redundant identity rules were dropped."""
    from spacy.tokenizer import Tokenizer

    from nerel_spacy.tokenizer import _keep_exception

    settings = {key: value for key, value in russian_tokenizer_rules(nlp).items() if key != "rules"}
    rules = {text: attrs for text, attrs in nlp.Defaults.tokenizer_exceptions.items() if _keep_exception(text)}
    return Tokenizer(nlp.vocab, rules=rules, **settings)


def test_drops_only_identity_rules_the_affixes_reproduce(nlp):
    rules = nlp.tokenizer.rules
    assert "—" not in rules and "'" not in rules  # each is one token without its rule
    assert "):" in rules and ":-)" in rules  # the affixes would split these
    assert rules["км"] == [{ORTH: "км", NORM: "километр"}]  # rules that set a norm stay
    full = _with_every_exception(nlp)
    for text in set(full.rules) - set(rules):
        assert full.rules[text] == [{ORTH: text}]
        assert [token.text for token in nlp.tokenizer(text)] == [text]


def test_same_tokens_as_with_every_exception(nlp):
    full = _with_every_exception(nlp)
    texts = TEXTS + ["Он сказал — «да» — и ушёл :-) ):", "Матч (км — 5) ''Forbes'', «—»; т.е. 2—3."]
    for text in texts:
        assert _tokens(nlp.tokenizer, text) == _tokens(full, text)


def test_redundant_rule_removal_is_a_fixpoint():
    kept = without_redundant_identity_rules(
        {"—": [{ORTH: "—"}], "):": [{ORTH: "):"}], "км": [{ORTH: "км", NORM: "километр"}]},
        {key: value for key, value in russian_tokenizer_rules(spacy.blank("ru")).items() if key != "rules"},
    )
    assert list(kept) == ["):", "км"]


@pytest.mark.nerel
@pytest.mark.slow  # 840 texts tokenized twice: seconds, beyond the inner loop's budget
@needs_nerel
def test_same_tokens_on_all_of_nerel(nlp):
    full = _with_every_exception(nlp)
    texts = [path.read_text(encoding="utf-8") for path in sorted(NEREL_DIR.glob("*/*.txt"))]
    assert len(texts) >= 840
    assert all(_tokens(nlp.tokenizer, text) == _tokens(full, text) for text in texts)
