"""Self-contained HTML views of annotated docs: displaCy entities and spans, relations, cats.

A page needs no network: CSS is inline, charts are HTML/SVG, and displaCy's markup uses
inline styles. Labels, kb ids and texts are escaped here, since they may come from any
model or JSONL file. The pieces (``entities_html``, ``spans_html``, ``relations_html``,
``cats_html``) are reused by the batch report.
"""
import html
import zlib
from typing import Dict, Iterable, Mapping, Optional

from spacy import displacy
from spacy.tokens import Doc, Span

from .schema import SPANS_KEY
from .spans import get_relations

KB_URL_TEMPLATE = "https://www.wikidata.org/wiki/{}"
DEFAULT_TOP_CATS = 12
# displaCy's colours where a NEREL type matches a spaCy one (PERSON, ORG, GPE, LOC, FAC,
# DATE, EVENT, ...), so spaCy users read them at once; types that nest or sit side by side
# often (PERSON, PROFESSION, ORGANIZATION, COUNTRY, CITY) get clearly different hues.
LABEL_COLORS: Dict[str, str] = {
    "PERSON": "#aa9cfc", "PROFESSION": "#8fc1ff", "ORGANIZATION": "#7aecec",
    "COUNTRY": "#feca74", "CITY": "#ffa8a0", "STATE_OR_PROVINCE": "#ffd8a8",
    "DISTRICT": "#f5deb3", "LOCATION": "#ff9561", "FACILITY": "#9cc9cc",
    "DATE": "#bfe1d9", "TIME": "#a0d6b4", "EVENT": "#ffeb80", "WORK_OF_ART": "#f0d0ff",
    "LAW": "#ff8197", "LANGUAGE": "#ffc0cb", "PRODUCT": "#bfeeb7", "MONEY": "#e4e7d2",
    "NUMBER": "#d9e0a8", "ORDINAL": "#eef0c8", "PERCENT": "#cdd6a0", "AGE": "#b8e0a0",
    "NATIONALITY": "#c887fb", "RELIGION": "#e2b6ff", "IDEOLOGY": "#d5a6bd",
    "AWARD": "#f4d03f", "CRIME": "#ff6b6b", "PENALTY": "#e8a0a0", "DISEASE": "#d9b38c",
    "FAMILY": "#c5cae9",
}

PAGE_CSS = """
:root { color-scheme: light; }
body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 16px; margin: 0 auto; max-width: 72rem; padding: 1.5rem 2rem 4rem; color: #1f2328;
  background: #fff; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 0.25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.25rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 0.4rem; }
.meta, .muted { color: #59636e; font-size: 0.9rem; }
.empty { color: #59636e; font-style: italic; }
.panel { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.75rem 1rem; overflow-x: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 0.35rem; margin: 0.5rem 0; padding: 0; list-style: none; }
.legend li { border-radius: 0.35em; padding: 0.1em 0.5em; font-size: 0.8rem; font-weight: bold; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.25rem 0.6rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.tag { border-radius: 0.3em; padding: 0 0.35em; font-size: 0.75rem; font-weight: bold; white-space: nowrap; }
.bars { display: grid; grid-template-columns: minmax(8rem, max-content) minmax(10rem, 1fr) 4rem;
  gap: 0.25rem 0.6rem; align-items: center; font-size: 0.85rem; max-width: 48rem; }
.bar { height: 0.9rem; background: #eaeef2; border-radius: 3px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: #4f7fd1; }
.bar.high > span { background: #2da44e; }
/* displaCy's span labels: keep each on one line so stacked labels don't collide. */
.spans [style*="z-index: 10"] { white-space: nowrap; }
"""


def label_color(label: str) -> str:
    """A light background colour for ``label``: fixed for NEREL's types, stable for others."""
    color = LABEL_COLORS.get(label)
    if color is None:
        hue = zlib.crc32(label.encode("utf-8")) % 360
        color = f"hsl({hue}, 75%, 82%)"
    return color


def _kb_url(kb_id: str) -> str:
    return KB_URL_TEMPLATE.format(kb_id) if kb_id[:1] in ("Q", "P") and kb_id[1:].isdigit() else "#"


def _span_dict(span: Span, char_offsets: bool) -> Dict[str, object]:
    data: Dict[str, object] = {"label": html.escape(span.label_)}
    if char_offsets:
        data.update(start=span.start_char, end=span.end_char)
    else:
        data.update(start_token=span.start, end_token=span.end)
    # Kb ids go in the entity view only: in the stacked span view they make labels collide.
    if span.kb_id_ and char_offsets:
        data.update(kb_id=html.escape(span.kb_id_), kb_url=html.escape(_kb_url(span.kb_id_)))
    return data


def _colors(labels: Iterable[str]) -> Dict[str, str]:
    return {html.escape(label): label_color(label) for label in labels}


def entities_html(doc: Doc) -> str:
    """displaCy ``style="ent"`` markup of ``doc.ents`` (the flat view)."""
    if not doc.ents:
        return '<p class="empty">No entities.</p>'
    parsed = {"text": doc.text, "ents": [_span_dict(ent, True) for ent in doc.ents]}
    options = {"colors": _colors(ent.label_ for ent in doc.ents)}
    return displacy.render(parsed, style="ent", manual=True, options=options, jupyter=False)


def spans_html(doc: Doc, spans_key: str = SPANS_KEY) -> str:
    """displaCy ``style="span"`` markup of ``doc.spans[spans_key]``, nested mentions stacked."""
    if spans_key not in doc.spans or not len(doc.spans[spans_key]):
        return '<p class="empty">No mentions.</p>'
    group = doc.spans[spans_key]
    parsed = {
        "text": doc.text,
        "tokens": [token.text for token in doc],
        "spans": [_span_dict(span, False) for span in group],
    }
    options = {"colors": _colors(span.label_ for span in group), "top_offset_step": 20}
    return displacy.render(parsed, style="span", manual=True, options=options, jupyter=False)


def legend_html(labels: Mapping[str, int]) -> str:
    """The labels present, each in its colour with its count."""
    items = "".join(
        f'<li style="background: {label_color(label)}">{html.escape(label)} {count}</li>'
        for label, count in sorted(labels.items(), key=lambda item: (-item[1], item[0]))
    )
    return f'<ul class="legend">{items}</ul>'


def tag_html(label: str) -> str:
    """A label as a small coloured tag."""
    return f'<span class="tag" style="background: {label_color(label)}">{html.escape(label)}</span>'


def relations_html(doc: Doc, spans_key: str = SPANS_KEY) -> str:
    """``doc._.relations`` as a table: head, relation, tail and score when predicted."""
    relations = get_relations(doc) if doc.has_extension("relations") else []
    if not relations:
        return '<p class="empty">No relations.</p>'
    group = list(doc.spans[spans_key]) if spans_key in doc.spans else []
    has_score = any(relation.get("score") is not None for relation in relations)
    rows = []
    for relation in relations:
        cells = []
        for key in ("head", "tail"):
            index = relation.get(key)
            if isinstance(index, int) and 0 <= index < len(group):
                span = group[index]
                cells.append(f"{html.escape(span.text)} {tag_html(span.label_)}")
            else:
                cells.append(f'<span class="muted">mention {html.escape(str(index))}?</span>')
        score = relation.get("score")
        score_cell = ""
        if has_score:
            score_cell = '<td class="num">' + ("" if score is None else f"{float(score):.2f}") + "</td>"
        rows.append(
            f"<tr><td>{cells[0]}</td><td><b>{html.escape(str(relation.get('label', '')))}</b></td>"
            f"<td>{cells[1]}</td>{score_cell}</tr>"
        )
    head = "<tr><th>head</th><th>relation</th><th>tail</th>"
    head += '<th class="num">score</th></tr>' if has_score else "</tr>"
    return f"<table class=\"relations\">{head}{''.join(rows)}</table>"


def cats_html(cats: Mapping[str, float], top: int = DEFAULT_TOP_CATS, threshold: float = 0.5) -> str:
    """The ``top`` highest ``doc.cats`` scores as horizontal bars, highest first."""
    positive = {label: score for label, score in cats.items() if float(score) > 0}
    if not positive:
        return '<p class="empty">No relation type scored above 0.</p>'
    ranked = sorted(positive.items(), key=lambda item: (-float(item[1]), item[0]))[:top]
    rows = []
    for label, score in ranked:
        score = min(max(float(score), 0.0), 1.0)
        high = " high" if score >= threshold else ""
        rows.append(
            f"<span>{html.escape(label)}</span>"
            f'<div class="bar{high}" title="{score:.3f}"><span style="width: {score * 100:.1f}%"></span></div>'
            f'<span class="num">{score:.3f}</span>'
        )
    more = len(positive) - len(ranked)
    note = f'<p class="muted">{more} lower scores not shown.</p>' if more > 0 else ""
    zeros = len(cats) - len(positive)
    if zeros:
        note += f'<p class="muted">{zeros} more scored 0.</p>'
    return f'<div class="bars">{"".join(rows)}</div>{note}'


def doc_sections_html(doc: Doc, *, level: int = 2, top_cats: int = DEFAULT_TOP_CATS) -> str:
    """The views of one doc (entities, mentions, relations, cats) as HTML sections."""
    h = f"h{level}"
    group = doc.spans[SPANS_KEY] if SPANS_KEY in doc.spans else []
    counts: Dict[str, int] = {}
    for span in group or doc.ents:
        counts[span.label_] = counts.get(span.label_, 0) + 1
    n_relations = len(get_relations(doc)) if doc.has_extension("relations") else 0
    parts = [
        f'<p class="meta">{len(doc.text)} characters · {len(doc.ents)} entities · '
        f"{len(group)} mentions · {n_relations} relations</p>",
        legend_html(counts) if counts else "",
        f"<{h}>Entities</{h}>",
        f'<div class="panel">{entities_html(doc)}</div>',
    ]
    if SPANS_KEY in doc.spans:
        parts += [
            f"<{h}>Mentions, nested included</{h}>",
            f'<div class="panel">{spans_html(doc)}</div>',
        ]
    parts += [f"<{h}>Relations</{h}>", relations_html(doc)]
    parts += [f"<{h}>Relation types in the document</{h}>", cats_html(doc.cats, top_cats)]
    return "\n".join(part for part in parts if part)


def page_html(title: str, body: str, extra_css: str = "") -> str:
    """A complete HTML5 page around ``body``, with the shared inline CSS and UTF-8 declared."""
    return (
        '<!DOCTYPE html>\n<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{PAGE_CSS}{extra_css}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def render_doc_html(doc: Doc, title: Optional[str] = None, *, top_cats: int = DEFAULT_TOP_CATS) -> str:
    """One self-contained page for ``doc``: entities, nested mentions, relations and cats."""
    title = title or "Annotated document"
    body = f"<h1>{html.escape(title)}</h1>\n{doc_sections_html(doc, top_cats=top_cats)}"
    return page_html(title, body)


__all__ = [
    "PAGE_CSS",
    "cats_html",
    "doc_sections_html",
    "entities_html",
    "label_color",
    "legend_html",
    "page_html",
    "relations_html",
    "render_doc_html",
    "spans_html",
    "tag_html",
]
