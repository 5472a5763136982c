"""spaCy's Russian tokenizer with a few extra splits so NEREL's entity offsets fall on tokens.

NEREL marks entities inside strings that spaCy keeps whole: the year in ``ЧМ-2018`` or
``COVID-19``, each score in ``2:1``, ranges such as ``1999—2001``, ``2011г`` without its
period, Wikipedia markup (``мини|Дональд``, ``''Amazon''``). Each such entity otherwise
needs ``alignment_mode="expand"``, which moves its boundary. The extra rules below only
split *more*: a token boundary spaCy makes is never removed.

Measured on NEREL v1.1 train+dev (50,457 entities, 840 documents):

============================  ==========  ================
tokenizer                     misaligned  tokens
============================  ==========  ================
``spacy.blank("ru")``         467         231,204
``nerel.RussianTokenizer.v1`` 33          234,511 (+1.4%)
============================  ==========  ================

The remaining 33 start or end inside a word or a glued string (``музе|я``,
``213.|2``, ``Барселона»/«ПСЖ``), which no general rule should split.
"""
import re
from typing import Callable, Dict, List

import spacy
from spacy.attrs import ORTH
from spacy.lang.char_classes import ALPHA, ALPHA_UPPER
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
from spacy.vocab import Vocab

# Infixes split inside a token; the lookarounds keep the split to the case named.
EXTRA_INFIXES: List[str] = [
    # A hyphen before a number: ЧМ-2018, COVID-19, «Россия-96», надеждах»-2009.
    r"(?<=[^\s\d])-(?=[0-9])",
    # A hyphen after a number before a word: 104-м, 200-местной.
    rf"(?<=[0-9])-(?=[{ALPHA}])",
    # Between digits: scores 2:1, ranges 1999—2001 and 17–28, 19/38, 2×2.
    r"(?<=[0-9])[:/×–—](?=[0-9])",
    # A period between a word and a number: ст.424, ч.3.
    rf"(?<=[{ALPHA}])\.(?=[0-9])",
    # Wikipedia markup glued to words: мини|слева|Имя, [[ссылка]], __NOTOC__.
    r"\|",
    r"\[",
    r"\]",
    r"_+",
    # Brackets glued to words: Eswatini)Официальный, (2012)|…
    rf"(?<=[{ALPHA}0-9])\)(?=[{ALPHA}])",
    rf"(?<=[{ALPHA}])\((?=[{ALPHA}0-9])",
]

# A final period after a capital: BSkyB., Кигели V., братьев Х.
EXTRA_SUFFIXES: List[str] = [rf"(?<=[{ALPHA_UPPER}])\.", "/", "'"]
EXTRA_PREFIXES: List[str] = ["/", "'"]

# Exceptions that glue a quote pair (brat mentions often keep one of the two).
_DROPPED_EXCEPTIONS = {"''"}
# Emoticons made of digits and punctuation (":1", ":0", "8)") swallow scores and numbers.
_DIGIT_EMOTICON = re.compile(r"^(?=.*[0-9])(?=.*[^\w\s]).+$")


def _keep_exception(text: str) -> bool:
    """Keep a tokenizer exception unless it glues a period to a one-word abbreviation.

    ``г.``, ``руб.``, ``см.`` stay one token in spaCy; NEREL's mentions end before the
    period (``2011г``, ``750 млн руб``), so the period becomes its own token here.
    Multi-period exceptions such as ``т.е.`` are kept. Emoticons with digits (``:1``)
    are dropped because they split scores such as ``2:1`` wrongly.
    """
    if text in _DROPPED_EXCEPTIONS or _DIGIT_EMOTICON.match(text):
        return False
    if text.endswith(".") and text.count(".") == 1 and " " not in text:
        return not text[:-1].isalpha()
    return True


def russian_tokenizer_rules(nlp: Language) -> Dict[str, object]:
    """The keyword arguments of ``Tokenizer`` for ``nlp``: spaCy's Russian ones plus ours."""
    defaults = nlp.Defaults
    prefixes = list(EXTRA_PREFIXES) + list(defaults.prefixes or [])
    suffixes = list(EXTRA_SUFFIXES) + list(defaults.suffixes or [])
    infixes = list(defaults.infixes or []) + list(EXTRA_INFIXES)
    rules = {
        text: attrs
        for text, attrs in (defaults.tokenizer_exceptions or {}).items()
        if _keep_exception(text)
    }
    settings = {
        "prefix_search": compile_prefix_regex(prefixes).search,
        "suffix_search": compile_suffix_regex(suffixes).search,
        "infix_finditer": compile_infix_regex(infixes).finditer,
        "token_match": defaults.token_match,
        "url_match": defaults.url_match,
    }
    return {"rules": without_redundant_identity_rules(rules, settings), **settings}


def without_redundant_identity_rules(rules: Dict[str, list], settings: Dict[str, object]) -> Dict[str, list]:
    """``rules`` less each one that only says "``text`` is one token" when the affix rules
    already make ``text`` that one token.

    Such a rule changes no token, but costs speed: spaCy's tokenizer stops caching a
    text's chunks once any special case has matched in it (``has_special`` is set per
    call), and ``—`` alone, an identity rule, matches in 56 of NEREL dev's 94 texts. Without
    the 19 redundant ones the tokenizer reads dev 2.2 times as fast, with the same tokens,
    spaces and norms on all 840 train and dev texts (``tests/test_tokenizer.py``).
    Identity rules that the affixes would split (``):``, emoticons) are kept.
    """
    identity = [text for text, attrs in rules.items() if attrs == [{ORTH: text}]]
    kept = {text: attrs for text, attrs in rules.items() if text not in identity}
    candidates = list(identity)
    while True:  # a rule put back may change how another candidate splits: repeat until none does
        tokenizer = Tokenizer(Vocab(), rules=kept, **settings)
        needed = [text for text in candidates if [token.text for token in tokenizer(text)] != [text]]
        if not needed:
            return {text: attrs for text, attrs in rules.items() if text in kept}  # in their order
        for text in needed:
            kept[text] = rules[text]
            candidates.remove(text)


@spacy.registry.tokenizers("nerel.RussianTokenizer.v1")
def create_russian_tokenizer() -> Callable[[Language], Tokenizer]:
    """Registered tokenizer: spaCy's Russian rules plus splits that fit NEREL's offsets."""

    def russian_tokenizer_factory(nlp: Language) -> Tokenizer:
        return Tokenizer(nlp.vocab, **russian_tokenizer_rules(nlp))

    return russian_tokenizer_factory


def make_blank_nlp() -> Language:
    """A blank Russian pipeline with the NEREL tokenizer, for reading brat files."""
    return spacy.blank(
        "ru", config={"nlp": {"tokenizer": {"@tokenizers": "nerel.RussianTokenizer.v1"}}}
    )


__all__ = ["EXTRA_INFIXES", "EXTRA_PREFIXES", "EXTRA_SUFFIXES", "create_russian_tokenizer",
           "make_blank_nlp", "russian_tokenizer_rules"]
