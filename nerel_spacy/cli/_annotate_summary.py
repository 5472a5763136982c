"""What ``nerel-batch annotate`` shows: its progress column of documents, and the summary table."""
import math
from pathlib import Path
from typing import Optional

from rich.markup import escape
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from .. import annotate as lib


class DocsColumn(ProgressColumn):
    """Inputs done, of how many when known; the bar itself counts input bytes."""

    def render(self, task: Task) -> Text:
        done, total = task.fields["docs"], task.fields["total_docs"]
        shown = f"{done:,} docs" if total is None else f"{done:,}/{total:,} docs"
        return Text(shown, style="progress.download")


def summary_table(stats: lib.RunStats, model: str, output: Optional[Path], errors: Optional[Path]) -> Table:
    """The end-of-run summary: what was annotated, skipped and failed, and how fast."""
    table = Table(title="nerel-batch annotate", show_header=False, title_justify="left")
    table.add_column("what", no_wrap=True)  # labels stay whole; long paths fold instead
    table.add_column("count", justify="right", overflow="fold")
    table.add_row("docs annotated", f"{stats.annotated:,}")
    if stats.resumed:
        table.add_row("skipped (already in output, --resume)", f"{stats.resumed:,}")
    for reason, count in sorted(stats.failed.items()):
        table.add_row(f"[red]failed: {escape(str(reason))}[/]", f"{count:,}")
    if stats.split:
        table.add_row("long texts split into parts", f"{stats.split:,}")
    if stats.fallback_decoded:
        table.add_row("decoded from another encoding", f"{stats.fallback_decoded:,}")
    table.add_row("characters", f"{stats.chars:,}")
    table.add_row("wall time", f"{significant(stats.seconds)} s")
    table.add_row("docs/s", significant(stats.docs_per_second))
    table.add_row("chars/s", significant(stats.chars_per_second))
    table.add_row("model", escape(model))
    table.add_row("output", "stdout" if output is None else escape(str(output)))
    if stats.n_failed:
        table.add_row("failures listed in", "(not written; use --errors)" if errors is None else escape(str(errors)))
    return table


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits without an exponent, so a slow run that did
    work never shows 0.0: 0.0123, 4.56, 78.9, 1,234."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    return f"{value:,.{max(decimals, 0)}f}"


__all__ = ["DocsColumn", "significant", "summary_table"]
