"""Render the results tables of docs/results.md from the JSON in benchmarks/results/.

docs/results.md is not edited by hand for numbers: this prints markdown (or rewrites
docs/results.md between its RESULTS markers with --write), so the tables always match
the JSON.

    python benchmarks/report.py --main trf_e5_small_w256 --write
"""
import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RESULTS_DOC = REPO / "docs" / "results.md"
START, END = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def pct(value) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}"


def runs_table(runs: dict) -> str:
    lines = [
        "| run | config diff | steps | wall (min) | NER seqeval F1 | nested F1 | cats micro P | R | F | cats macro F | σ_ner / (σ_spans /) σ_cats |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        dev = run["dev"]
        sigma = "–"
        curve = run.get("curve") or []
        if curve and "SIGMA_NER" in curve[-1]:
            middle = f"{curve[-1]['SIGMA_SPANS']:.2f} / " if "SIGMA_SPANS" in curve[-1] else ""
            sigma = f"{curve[-1]['SIGMA_NER']:.2f} / {middle}{curve[-1]['SIGMA_CATS']:.2f}"
        pairs = zip(run["overrides"][::2], run["overrides"][1::2])
        diff = " ".join(f"{k} {v}" for k, v in pairs if k != "--training.eval_frequency") or "–"
        seconds = run.get("training_seconds") or run["wall_seconds"]  # all parts of a resumed run
        lines.append(
            f"| `{name}` | `{diff}` | {run['steps']} | {f'{seconds / 60:.0f}' if seconds else '–'} | "
            f"{pct(dev['seqeval_f'])} | {pct(dev.get('spans_nerel_f'))} | {pct(dev['cats_micro_p'])} | "
            f"{pct(dev['cats_micro_r'])} | "
            f"{pct(dev['cats_micro_f'])} | {pct(dev['cats_macro_f'])} | {sigma} |"
        )
    return "\n".join(lines)


def nested_table(runs: dict) -> str:
    """Nested-mention scores of every run with a span head."""
    lines = [
        "| run | nested P | R | F | outermost P | R | F | inner P | R | F |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        dev = run["dev"]
        if dev.get("spans_nerel_f") is None:
            continue
        cells = [pct(dev.get(f"spans_nerel{part}_{m}")) for part in ("", "_outer", "_inner") for m in "prf"]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def decoding_table(record: dict) -> str:
    """A nested_decoding_*.json sweep: ents source and span threshold at load time."""
    lines = [
        "| doc.ents from | span threshold | nested P | R | F | outermost F | inner F | flat ents F | cats micro F |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in record["sweep"]:
        lines.append(
            f"| {row['ents_source']} | {row['span_threshold']} | {pct(row['spans_nerel_p'])} | "
            f"{pct(row['spans_nerel_r'])} | {pct(row['spans_nerel_f'])} | {pct(row['spans_nerel_outer_f'])} | "
            f"{pct(row['spans_nerel_inner_f'])} | {pct(row['ents_f'])} | {pct(row['cats_micro_f'])} |"
        )
    cost = record.get("cost")
    if cost:
        lines.append(
            f"\nPrediction on dev ({cost['docs']} docs, {record['machine'].get('cpu', '?')}, "
            f"{record['machine'].get('threads', '?')} threads): {cost['docs_per_second']} docs/s; the span head "
            f"and its decoding take {100 * cost['span_share']:.1f}% of the time "
            f"({cost['span_head_seconds']} s + {cost['span_decoding_seconds']} s of {cost['seconds']} s)."
        )
    return "\n".join(lines)


def per_type_table(dev: dict) -> str:
    rows = sorted(dev["ents_per_type"].items(), key=lambda kv: -kv[1]["f"])
    lines = ["| type | P | R | F |", "|---|---|---|---|"]
    lines += [f"| {t} | {pct(s['p'])} | {pct(s['r'])} | {pct(s['f'])} |" for t, s in rows]
    return "\n".join(lines)


def cats_extremes_table(dev: dict, support: dict, n: int = 6) -> str:
    ordered = sorted(support.items(), key=lambda kv: -kv[1])
    chosen = ordered[:n] + [kv for kv in ordered[-n:] if kv not in ordered[:n]]
    lines = ["| relation type | dev docs with it | P | R | F |", "|---|---|---|---|---|"]
    for label, count in chosen:
        s = dev["cats_f_per_type"].get(label, {"p": 0, "r": 0, "f": 0})
        lines.append(f"| {label} | {count} | {pct(s['p'])} | {pct(s['r'])} | {pct(s['f'])} |")
    return "\n".join(lines)


def dev_support() -> dict:
    import spacy

    from nerel_spacy.corpus import read_corpus

    docs = read_corpus(REPO / "corpus" / "dev.spacy", spacy.blank("ru").vocab)
    counts = {}
    for doc in docs:
        for label, value in doc.cats.items():
            counts[label] = counts.get(label, 0) + int(value)
    return counts


def thresholds_table(record: dict) -> str:
    """Untuned against tuned relation-type thresholds: in-sample and cross-fitted on dev."""
    rows = [
        "| thresholds | labels with their own | scored on | micro P | micro R | micro F | macro F |",
        "|---|---|---|---|---|---|---|",
    ]
    untuned = record["untuned_0.5"]
    rows.append(f"| 0.5 for every label (shipped) | 0 | dev | {pct(untuned['cats_micro_p'])} | "
                f"{pct(untuned['cats_micro_r'])} | {pct(untuned['cats_micro_f'])} | {pct(untuned['cats_macro_f'])} |")
    for row in record["rows"]:
        setting = ("one global threshold" if row["labels_with_own_threshold"] == 0
                   else f"per label with ≥ {row['min_positives']} positive docs")
        for name, key in (("dev, tuned on it (optimistic)", "tuned_on_dev_in_sample"),
                          (f"dev, {record['folds']}-fold cross-fitted × {record['repeats']}", "cross_fitted_mean")):
            m = row[key]
            rows.append(f"| {setting} | {row['labels_with_own_threshold']} | {name} | {pct(m['cats_micro_p'])} | "
                        f"{pct(m['cats_micro_r'])} | {pct(m['cats_micro_f'])} | {pct(m['cats_macro_f'])} |")
    return ("### Relation-type thresholds (dev, `" + record["model"] + "`)\n\n" + "\n".join(rows) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--main", required=True, help="The run whose per-type tables are shown")
    parser.add_argument("--write", action="store_true", help="Rewrite docs/results.md between the RESULTS markers")
    args = parser.parse_args()
    runs = {p.stem: load(p) for p in sorted((RESULTS / "runs").glob("*.json"))}
    main_dev = runs[args.main]["dev"]
    natasha = load(RESULTS / "natasha_baseline.json")
    quant = load(RESULTS / "quantization.json")
    sections = ["### Every recorded run (dev)", runs_table(runs)]
    sections += ["### Nested mentions (dev, exact start, end and type over every mention)", nested_table(runs)]
    for path in sorted(RESULTS.glob("nested_decoding_*.json")):
        name = path.stem[len("nested_decoding_"):]
        sections += [f"### Decoding `{name}` at load time (dev)", decoding_table(load(path))]
    sections += ["### Entity types (dev, `" + args.main + "`)", per_type_table(main_dev)]
    sections += [
        "### Relation types: the most common and the rarest (dev, `" + args.main + "`)",
        cats_extremes_table(main_dev, dev_support()),
    ]
    if natasha:
        ours = main_dev["natasha_mapping"]
        sections += [
            "### PER/LOC/ORG against natasha (dev, exact character spans, all gold spans of the mapped types)",
            "| system | P | R | F | docs/s |\n|---|---|---|---|---|\n"
            f"| natasha NewsNERTagger | {pct(natasha['scores']['p'])} | {pct(natasha['scores']['r'])} | "
            f"{pct(natasha['scores']['f'])} | {natasha['docs_per_second']:.1f} |\n"
            f"| `{args.main}` | {pct(ours['p'])} | {pct(ours['r'])} | {pct(ours['f'])} | "
            f"{main_dev['speed']['docs_per_second']:.1f} (fp32) |",
        ]
        int8 = load(RESULTS / f"{args.main}_int8_dev.json")
        if int8:
            m = int8["natasha_mapping"]
            sections[-1] += (
                f"\n| `{args.main}` int8 | {pct(m['p'])} | {pct(m['r'])} | {pct(m['f'])} | "
                f"{int8['speed']['docs_per_second']:.1f} |"
            )
    text = "\n\n".join(sections) + "\n"
    if quant:
        rows = ["| model | docs/s | ms/doc p50 | p95 | peak RSS MB | size MB | NER seqeval F1 | cats micro F1 |",
                "|---|---|---|---|---|---|---|---|"]
        for name, m in quant["models"].items():
            rows.append(
                f"| {name} | {m['docs_per_second']:.1f} | {m['ms_per_doc_p50']:.0f} | {m['ms_per_doc_p95']:.0f} | "
                f"{m['peak_rss_mb']:.0f} | {m['size_mb']:.0f} | {m['scores']['seqeval_f']:.4f} | "
                f"{m['scores']['cats_micro_f']:.4f} |"
            )
        text += ("\n### fp32 against int8 (dev, all 94 docs, " + str(quant["settings"]["threads"])
                 + " threads, " + quant["machine"]["date"][:10] + ")\n\n" + "\n".join(rows) + "\n")
    for windows_path in sorted(RESULTS.glob("inference_windows_*.json")):
        windows = load(windows_path)
        rows = ["| window / stride (spaCy tokens) | NER seqeval F1 | cats micro F1 | cats micro P | docs/s |",
                "|---|---|---|---|---|"]
        for row in windows["rows"]:
            rows.append(
                f"| {row['window']} / {row['stride']} | {pct(row['seqeval_f'])} | {pct(row['cats_micro_f'])} | "
                f"{pct(row['cats_micro_p'])} | {row['docs_per_second']:.1f} |"
            )
        run = windows_path.stem[len("inference_windows_"):]
        text += (f"\n### Reading `{run}` with other windows (dev, fp32, `{windows['model']}`)\n\n"
                 + "\n".join(rows) + "\n")
    thresholds = load(RESULTS / "thresholds.json")
    if thresholds:
        text += "\n" + thresholds_table(thresholds)
    if args.write:
        doc = RESULTS_DOC.read_text(encoding="utf-8")
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        RESULTS_DOC.write_text(head + START + "\n" + text + END + tail, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
