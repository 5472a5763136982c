"""One self-contained HTML page summarising a ``nerel-batch annotate`` run.

``render_report`` turns a ``run_summary.RunSummary`` into a page: totals, entity and
relation type charts (inline SVG), the most frequent entities of each type, input
errors by reason, and a few documents rendered with displaCy. ``write_report`` reads a
run and writes the page.
"""
import html
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from spacy.language import Language

from .render import doc_sections_html, label_color, page_html
from .run_summary import (  # noqa: F401  (re-exported: the report's public names)
    DEFAULT_SAMPLES,
    DEFAULT_TOP,
    BoundedCounter,
    Malformed,
    PathLike,
    RunSummary,
    iter_jsonl,
    record_to_doc,
    summarize_run,
)

if TYPE_CHECKING:
    from .annotate.manifest import RunManifest

REPORT_CSS = """
.totals td:first-child { color: #59636e; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.75rem 1.25rem; }
.grid table { width: 100%; }
.doc { border-top: 2px solid #d0d7de; margin-top: 2rem; }
svg.chart text { font: 12px -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; fill: #1f2328; }
"""


def bar_chart_svg(
    items: Sequence[Tuple[str, int]], *, title: str, colored: bool = False, width: int = 720,
) -> str:
    """A horizontal bar chart as inline SVG: one row per ``(label, count)``, as given."""
    if not items:
        return '<p class="empty">Nothing to chart.</p>'
    row, bar_height = 22, 16
    label_width = min(300, 14 + 8.5 * max(len(label) for label, _ in items))
    count_width = 12 + 8 * len(f"{max(count for _, count in items):,}")
    plot = max(80, width - label_width - count_width)
    top = max(count for _, count in items) or 1
    height = row * len(items) + 4
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>"
    ]
    for i, (label, count) in enumerate(items):
        y = i * row + 2
        bar = max(1.0, plot * count / top)
        fill = label_color(label) if colored else "#4f7fd1"
        parts.append(
            f'<text x="{label_width - 8:.1f}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{bar:.1f}" height="{bar_height}" rx="2" fill="{fill}"/>'
            f'<text x="{label_width + bar + 6:.1f}" y="{y + 13}">{count:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _totals_html(summary: RunSummary) -> str:
    rows = [
        ("documents annotated", f"{summary.documents:,}"),
        ("inputs that failed", f"{summary.failed:,}" if summary.errors_found else "no errors file"),
        ("characters", f"{summary.chars:,}"),
        ("mentions" + (" (nested included)" if summary.has_spans else " (flat entities)"),
         f"{summary.mentions:,}"),
    ]
    if summary.has_spans:
        rows.append(("flat entities (doc.ents)", f"{summary.ents:,}"))
    if summary.has_relations:
        rows.append(("relations", f"{summary.relations:,}"))
    rows += [
        ("long texts split into parts", f"{summary.split:,}"),
        ("texts decoded with --encoding", f"{summary.fallback_decoded:,}"),
        ("malformed JSONL lines", f"{summary.n_malformed:,}"),
    ]
    if summary.docs_per_second is not None:
        rows.append(("docs/s (from the records' times)", f"{summary.docs_per_second:,.1f}"))
    for model, count in summary.models.most_common():
        rows.append((f"model {html.escape(model)}", f"{count:,} documents"))
    rows += _manifest_rows(summary.manifest)
    body = "".join(f'<tr><td>{name}</td><td class="num">{value}</td></tr>' for name, value in rows)
    return f'<table class="totals">{body}</table>'


def _manifest_rows(manifest: Optional["RunManifest"]) -> List[Tuple[str, str]]:
    """The pipeline and the options the run was made with (``out.run.json``), escaped."""
    if manifest is None:
        return []
    rows = [("pipeline", html.escape(manifest.model))]
    if manifest.settings:
        from .annotate.manifest import settings_text

        rows.append(("settings (--set)", html.escape(settings_text(manifest.settings))))
    if manifest.threshold is not None:
        rows.append(("cats threshold (--threshold)", f"{manifest.threshold:g}"))
    if manifest.all_cats:
        rows.append(("every cats score (--all-cats)", "yes"))
    return rows


def _top_entities_html(summary: RunSummary, top: int) -> str:
    if not summary.top_entities:
        return '<p class="empty">No entities.</p>'
    tables = []
    for label, _ in summary.entity_types.most_common():
        counter = summary.top_entities.get(label)
        if counter is None:
            continue
        rows = "".join(
            f'<tr><td>{html.escape(text)}</td><td class="num">{"" if counter.exact else "≥"}{count:,}</td></tr>'
            for text, count in counter.most_common(top)
        )
        tables.append(
            f'<div><h3><span class="tag" style="background: {label_color(label)}">'
            f"{html.escape(label)}</span></h3><table>{rows}</table></div>"
        )
    return f'<div class="grid">{"".join(tables)}</div>'


def _errors_html(summary: RunSummary) -> str:
    if not summary.errors_found:
        return f'<p class="empty">No errors file at {html.escape(str(summary.errors_path))}.</p>'
    if not summary.errors:
        return '<p class="empty">Every input was annotated.</p>'
    rows = "".join(
        f'<tr><td>{html.escape(reason)}</td><td class="num">{count:,}</td>'
        f"<td>{html.escape(summary.error_examples.get(reason, ''))}</td></tr>"
        for reason, count in summary.errors.most_common()
    )
    return (
        bar_chart_svg(summary.errors.most_common(), title="Input errors by reason")
        + f"<table><tr><th>reason</th><th class=\"num\">inputs</th><th>first example</th></tr>{rows}</table>"
    )


def render_report(
    summary: RunSummary, *, title: Optional[str] = None, top: int = DEFAULT_TOP,
    nlp: Optional[Language] = None,
) -> str:
    """The report page for ``summary``: self-contained HTML, nothing fetched at view time."""
    if nlp is None:
        from .tokenizer import make_blank_nlp

        nlp = make_blank_nlp()
    title = title or f"Batch report: {Path(summary.output).name}"
    what = "mentions, nested included" if summary.has_spans else "flat entities"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{html.escape(summary.output)}</p>',
        "<h2>Totals</h2>", _totals_html(summary),
        f"<h2>Entity types <span class=\"muted\">({what})</span></h2>",
        bar_chart_svg(summary.entity_types.most_common(), title="Entity types", colored=True),
    ]
    if summary.has_relations:
        parts += ["<h2>Relation types <span class=\"muted\">(relations)</span></h2>",
                  bar_chart_svg(summary.relation_types.most_common(), title="Relation types")]
    if summary.relation_docs:
        parts += ["<h2>Relation types <span class=\"muted\">(documents whose cats pass the "
                  "threshold)</span></h2>",
                  bar_chart_svg(summary.relation_docs.most_common(), title="Documents per relation type")]
    parts += [f"<h2>Most frequent entities of each type (top {top})</h2>",
              _top_entities_html(summary, top)]
    parts += ["<h2>Input errors by reason</h2>", _errors_html(summary)]
    if summary.n_malformed:
        items = "".join(f"<li>{html.escape(str(item))}</li>" for item in summary.malformed)
        more = summary.n_malformed - len(summary.malformed)
        parts += ["<h2>Malformed lines</h2>", f"<ul>{items}</ul>"]
        if more:
            parts.append(f'<p class="muted">and {more:,} more.</p>')
    parts.append("<h2>Sample documents</h2>")
    if not summary.samples:
        parts.append(
            '<p class="empty">No document to show: the records carry no text; give the input '
            "folder with --texts to show some.</p>"
        )
    for record, text in summary.samples:
        doc = record_to_doc(record, text, nlp)
        parts.append(
            f'<section class="doc"><h3>{html.escape(str(record["id"]))}</h3>'
            f"{doc_sections_html(doc, level=4)}</section>"
        )
    if summary.sample_notes:
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in summary.sample_notes)
        parts.append(f'<p class="muted">Passed over:</p><ul class="muted">{notes}</ul>')
    return page_html(title, "\n".join(parts), extra_css=REPORT_CSS)


def write_report(
    output: PathLike,
    report_path: PathLike,
    *,
    errors: Optional[PathLike] = None,
    texts: Optional[PathLike] = None,
    samples: int = DEFAULT_SAMPLES,
    top: int = DEFAULT_TOP,
    title: Optional[str] = None,
) -> RunSummary:
    """Summarise the run in ``output`` and write the report page to ``report_path`` atomically."""
    from .brat_writer import atomic_write_text

    summary = summarize_run(output, errors, texts=texts, samples=samples)
    atomic_write_text(report_path, render_report(summary, title=title, top=top))
    return summary


__all__ = [
    "BoundedCounter",
    "Malformed",
    "RunSummary",
    "bar_chart_svg",
    "iter_jsonl",
    "record_to_doc",
    "render_report",
    "summarize_run",
    "write_report",
]
