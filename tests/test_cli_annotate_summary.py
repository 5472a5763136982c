"""``nerel_spacy.cli._annotate_summary``: the summary table at 80 columns, and its rates."""
import io
from pathlib import Path

from rich.console import Console

from nerel_spacy import annotate as lib
from nerel_spacy.cli._annotate_summary import significant, summary_table


def test_summary_is_readable_at_80_columns():
    stats = lib.RunStats(annotated=12_345, resumed=7, chars=98_765_432, split=3, fallback_decoded=2,
                         started=0.0, finished=4_321.0)
    stats.failed.update({"broken-symlink": 2, "duplicate-id": 1, "not-utf8": 4})
    deep = "/very/long/path/to/a/project/folder/that/goes/on/and/on"
    table = summary_table(
        stats, f"{deep}/training/joint_trf/model-int8 (ru_nerel_joint 0.1.0)",
        Path(deep, "annotations.jsonl"), Path(deep, "annotations.errors.jsonl"),
    )
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(table)
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    labels = ["docs annotated", "skipped (already in output, --resume)", "failed: broken-symlink",
              "failed: duplicate-id", "failed: not-utf8", "long texts split into parts",
              "decoded from another encoding", "characters", "wall time", "docs/s", "chars/s",
              "model", "output", "failures listed in"]
    for label in labels:
        assert any(line.startswith(f"│ {label} ") for line in lines), label
    values = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in lines if line.count("│") == 3}
    assert values["docs/s"] == "2.86" and values["chars/s"] == "22,857" and values["wall time"] == "4,321 s"
    assert "".join(line.split("│")[2].strip() for line in lines if "│" in line).count("annotations.jsonl") == 1


def test_rates_keep_three_significant_digits():
    assert [significant(x) for x in (0.0123456, 0.5, 4.5678, 78.91, 1234.5, 0.0)] == [
        "0.0123", "0.500", "4.57", "78.9", "1,234", "0"]
