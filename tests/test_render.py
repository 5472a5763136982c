"""HTML views of docs: valid, self-contained pages with every label, relation and cat score."""
import re
from html.parser import HTMLParser

import pytest
from spacy.tokens import Span

from nerel_spacy.brat import read_brat_document
from nerel_spacy.render import cats_html, label_color, relations_html, render_doc_html
from nerel_spacy.schema import ENTITY_TYPES, SPANS_KEY
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import TRAIN

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source"}


class TagChecker(HTMLParser):
    """Checks that every opened element is closed in order; collects text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_page(page: str) -> TagChecker:
    """A well-formed, self-contained HTML5 page declaring UTF-8."""
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    # Nothing is fetched at view time: no scripts, stylesheets, images or fonts from outside.
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(|\bsrc=", page)
    return checker


@pytest.fixture(scope="module")
def obama():
    return read_brat_document(TRAIN / "obama.txt", nlp=make_blank_nlp())[0]


def test_gold_page_shows_entities_nested_mentions_relations_and_cats(obama):
    page = render_doc_html(obama, title="obama.txt")
    checker = check_page(page)
    text = " ".join(checker.text)
    assert "<title>obama.txt</title>" in page
    for label in {span.label_ for span in obama.spans[SPANS_KEY]}:
        assert label in text
    # The nested COUNTRY inside PROFESSION appears only in the span view, not in doc.ents.
    assert "COUNTRY" not in {ent.label_ for ent in obama.ents}
    assert "Mentions, nested included" in text
    for relation in ("WORKS_AS", "WORKPLACE", "DATE_OF_CREATION"):
        assert relation in text
    assert 'href="https://www.wikidata.org/wiki/Q76"' in page
    assert "Барак Обама" in text and "мэр и вице-мэр Москвы" in text
    assert "46 more scored 0." in text  # 49 gold cats: the 3 present are shown


def predicted_doc():
    nlp = make_blank_nlp()
    doc = nlp.make_doc("Компания <Рога & копыта> наняла Ивана.")
    org = doc.char_span(9, 24, label="ORGANIZATION", alignment_mode="expand")
    person = doc.char_span(32, 37, label="PERSON")
    odd = Span(doc, org.start, org.end, label="<b>BAD</b>")
    doc.spans[SPANS_KEY] = [org, person, odd]
    doc.ents = [org, person]
    doc._.relations = [
        {"head": 0, "tail": 1, "label": "WORKPLACE", "score": 0.83},
        {"head": 1, "tail": 9, "label": "KNOWS"},
    ]
    doc.cats = {"WORKPLACE": 0.83, "KNOWS": 0.12, "SPOUSE": 0.6}
    return doc


def test_predicted_page_escapes_everything_and_scores_relations():
    page = render_doc_html(predicted_doc(), title="a <title> & more")
    check_page(page)
    assert "<title>a &lt;title&gt; &amp; more</title>" in page
    assert "&lt;Рога &amp; копыта&gt;" in page and "<Рога" not in page
    assert "&lt;b&gt;BAD&lt;/b&gt;" in page and "<b>BAD" not in page
    assert '<td class="num">0.83</td>' in page
    assert "mention 9?" in page  # a relation naming a missing mention is shown, not fatal


def test_relations_table_without_scores_has_no_score_column():
    doc = predicted_doc()
    doc._.relations = [{"head": 0, "tail": 1, "label": "WORKPLACE"}]
    table = relations_html(doc)
    assert "score" not in table and "WORKPLACE" in table


def test_cats_bars_are_sorted_highest_first_and_capped():
    markup = cats_html({"A": 0.2, "B": 0.9, "C": 0.55, "D": 1.7, "E": 0.0}, top=3)
    labels = re.findall(r"<span>(\w)</span>", markup)
    assert labels == ["D", "B", "C"]
    assert 'style="width: 100.0%"' in markup  # a score over 1 does not overflow its bar
    assert "1 lower scores not shown" in markup and "1 more scored 0." in markup
    assert markup.count('class="bar high"') == 3


def test_empty_doc_and_doc_without_span_group():
    doc = make_blank_nlp().make_doc("Ничего интересного.")
    page = render_doc_html(doc)
    check_page(page)
    assert "No entities." in page and "No relations." in page
    assert "No relation type scored above 0." in page
    assert "Mentions, nested included" not in page


def test_label_colors_are_stable_and_distinct_for_nerel_types():
    colors = [label_color(label) for label in ENTITY_TYPES]
    assert len(set(colors)) == len(ENTITY_TYPES) and all(c.startswith("#") for c in colors)
    assert label_color("PERSON") == label_color("PERSON")
    assert label_color("SOMETHING_NEW").startswith("hsl(")
