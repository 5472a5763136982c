"""``nerel-batch annotate --format spacy|brat|html``: whole docs into folders, resumable.

Pipelines: the rule-based one of ``annotate_helpers`` (ents, nested spans, kb ids, cats),
and ``annotate_formats_test_gold`` below, which puts on each text the gold annotation of
the brat fixture with that text (nested and discontinuous mentions, kb ids, relations),
so brat -> annotate -> brat -> convert can be checked for exact equality.
"""
import copy
import errno
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus
from typer.testing import CliRunner

from nerel_spacy import annotate as lib
from nerel_spacy.annotate import stream as annotate_stream
from nerel_spacy.brat import DOC_ID_KEY, FRAGMENTS_KEY, get_fragments, read_brat_document
from nerel_spacy.cli import app
from nerel_spacy.corpus import read_corpus
from nerel_spacy.formats import read_docbin_output, shard_paths
from nerel_spacy.formats.docbin import shard_ids
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.spans import get_relations
from nerel_spacy.tokenizer import make_blank_nlp

import annotate_helpers
from brat_fixtures import NEREL_ROOT
from conftest import unwrapped
from test_annotate import (  # noqa: F401
    TEXT_A, TEXT_B, TEXT_C, docs, model_dir, read_errors, read_output, run_cli, run_process,
)
from test_render import check_page

THIS_FILE = Path(__file__).resolve()
GOLD_IDS = ["dev/lavrov.txt", "train/ministry.txt", "train/obama.txt"]
DOCS_IDS = ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
# The files each folder format writes for one id (without the id's .txt).
FILES = {"spacy": (), "brat": (".txt", ".ann"), "html": (".html",)}


# ---------------------------------------------------------------------------
# A pipeline that reproduces the gold annotation of the brat fixtures


class GoldCopy:
    """Sets on each doc the gold mentions, ents, kb ids, cats, fragments and relations of
    the brat document under ``gold_dir`` with the same text; ``with_scores`` adds scores as
    a model would (``spans["nerel"].attrs["scores"]``, a relation's ``"score"``)."""

    def __init__(self, gold_dir: str, with_scores: bool):
        reader = make_blank_nlp()
        self.gold = {}
        for path in sorted(Path(gold_dir).rglob("*.txt")):
            doc = read_brat_document(path, nlp=reader)[0]
            self.gold[doc.text] = doc
        self.with_scores = with_scores

    def __call__(self, doc: Doc) -> Doc:
        gold = self.gold[doc.text]

        def same(span):
            copied = doc.char_span(span.start_char, span.end_char, label=span.label_,
                                   kb_id=span.kb_id_, alignment_mode="strict")
            assert copied is not None, f"{span.text!r} is not on token boundaries"
            return copied

        doc.spans[SPANS_KEY] = [same(span) for span in gold.spans[SPANS_KEY]]
        doc.ents = [same(ent) for ent in gold.ents]
        doc.cats = dict(gold.cats)
        doc._.relations = [dict(relation) for relation in get_relations(gold)]
        if FRAGMENTS_KEY in gold.user_data:
            doc.user_data[FRAGMENTS_KEY] = copy.deepcopy(gold.user_data[FRAGMENTS_KEY])
        if self.with_scores:
            n = len(doc.spans[SPANS_KEY])
            doc.spans[SPANS_KEY].attrs["scores"] = numpy.linspace(0.5, 1.0, n, dtype="float32")
            for i, relation in enumerate(doc._.relations):
                relation["score"] = round(0.6 + 0.01 * i, 4)
        return doc


@Language.factory(
    "annotate_formats_test_gold",
    assigns=["doc.ents", "doc.spans", "doc.cats"],
    default_config={"gold_dir": str(NEREL_ROOT), "with_scores": False},
)
def make_gold_copy(nlp: Language, name: str, gold_dir: str, with_scores: bool) -> GoldCopy:
    return GoldCopy(gold_dir, with_scores)


def build_gold_pipeline(path: Path, with_scores: bool = False) -> Path:
    nlp = make_blank_nlp()  # the brat reader's tokenizer, so every gold span is on token boundaries
    nlp.meta["name"] = "gold_copy"
    nlp.add_pipe("annotate_formats_test_gold", config={"with_scores": with_scores})
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def gold_docs() -> Dict[str, Doc]:
    nlp = make_blank_nlp()
    return {doc_id: read_brat_document(NEREL_ROOT / doc_id, nlp=nlp)[0] for doc_id in GOLD_IDS}


@pytest.fixture(scope="module")
def gold_model(tmp_path_factory) -> Path:
    return build_gold_pipeline(tmp_path_factory.mktemp("gold") / "gold", with_scores=True)


def signature(doc: Doc):
    """Everything brat can carry: text, every mention with label and kb id, ents, fragments, relations."""
    return (
        doc.text,
        [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans[SPANS_KEY]],
        [(e.start_char, e.end_char, e.label_) for e in doc.ents],
        get_fragments(doc),
        [(r["head"], r["tail"], r["label"]) for r in get_relations(doc)],
    )


def flat(stderr: str) -> str:
    """A message as one line, without the frame rich draws around usage errors."""
    return " ".join(stderr.replace("│", " ").split())


def read_spacy_output(out: Path) -> Dict[str, Doc]:
    docs_by_id = {}
    for doc in read_docbin_output(out, make_blank_nlp().vocab):
        doc_id = doc.user_data[DOC_ID_KEY]
        assert doc_id not in docs_by_id, f"{doc_id} written twice"
        docs_by_id[doc_id] = doc
    return docs_by_id


# ---------------------------------------------------------------------------
# --format spacy


def test_spacy_format_gives_back_whole_docs(gold_model, gold_docs, tmp_path):
    out = tmp_path / "out"
    result = run_cli(NEREL_ROOT, "-m", gold_model, "--format", "spacy", "-o", out)
    assert result.exit_code == 0, result.stderr
    # No errors file when none failed; the manifest says how the output was made (for --resume).
    assert sorted(path.name for path in out.iterdir()) == ["annotate-run.json", "part-000000.spacy"]
    back = read_spacy_output(out)
    assert sorted(back) == GOLD_IDS
    for doc_id, doc in back.items():
        gold = gold_docs[doc_id]
        assert signature(doc) == signature(gold)
        assert doc.cats == gold.cats
        scores = doc.spans[SPANS_KEY].attrs["scores"]
        assert list(scores) == pytest.approx(list(numpy.linspace(0.5, 1.0, len(gold.spans[SPANS_KEY]))))
        assert [r["score"] for r in doc._.relations] == [round(0.6 + 0.01 * i, 4) for i in range(len(doc._.relations))]
    # spaCy's own corpus reader takes the folder as it is.
    assert len(list(Corpus(out)(make_blank_nlp()))) == 3


def test_spacy_format_with_the_rule_pipeline(model_dir, docs, tmp_path):
    out = tmp_path / "out"
    assert run_cli(docs, "-m", model_dir, "--format", "spacy", "-o", out, "--quiet").exit_code == 0
    back = read_spacy_output(out)
    assert sorted(back) == DOCS_IDS
    a, b = back["a.txt"], back["sub/b.txt"]
    assert a.text == TEXT_A and b.text == TEXT_B
    assert [(e.text, e.label_) for e in a.ents] == [("Иван Петров", "PERSON"), ("Москве", "CITY")]
    assert sorted((s.text, s.label_, s.kb_id_) for s in b.spans[SPANS_KEY]) == [
        ("Банк России", "ORGANIZATION", ""), ("Москва", "CITY", "Q649"),
        ("Москве", "CITY", "Q649"), ("России", "COUNTRY", ""),
    ]
    # doc.cats keeps every score; the thresholds only choose what a JSONL record lists.
    assert a.cats == {"WORKS_AS": 0.9, "LOCATED_IN": 0.7, "POINT_IN_TIME": 0.45}
    assert b._.relations is None


# ---------------------------------------------------------------------------
# --format brat: brat -> annotate -> brat -> convert


@pytest.mark.slow
def test_brat_round_trip_through_annotate_and_convert(gold_model, gold_docs, tmp_path):
    out = tmp_path / "brat"
    # A process of its own, so the pipeline's component can only come from --code.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(THIS_FILE.parent), env.get("PYTHONPATH", "")])
    annotated = subprocess.run(
        [sys.executable, "-m", "nerel_spacy", "annotate", str(NEREL_ROOT), "-m", str(gold_model),
         "--format", "brat", "-o", str(out), "--code", str(THIS_FILE), "--quiet"],
        capture_output=True, env=env, timeout=300,
    )
    assert annotated.returncode == 0, annotated.stderr.decode()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "annotate-run.json", "annotation.conf", "dev", "dev/lavrov.ann", "dev/lavrov.txt", "train", "train/ministry.ann",
        "train/ministry.txt", "train/obama.ann", "train/obama.txt",
    ]
    for doc_id in GOLD_IDS:
        assert (out / doc_id).read_bytes() == (NEREL_ROOT / doc_id).read_bytes()
    ann = (out / "train/obama.ann").read_text(encoding="utf-8")
    assert "AnnotatorNotes" in ann, "scores become notes beside the annotations"

    converted = CliRunner().invoke(app, ["convert", str(out), str(tmp_path / "corpus")])
    assert converted.exit_code == 0, converted.output
    back = {}
    for split in ("train", "dev"):
        for doc in read_corpus(tmp_path / "corpus" / f"{split}.spacy"):
            back[f"{split}/{Path(doc.user_data[DOC_ID_KEY]).stem}.txt"] = doc
    assert sorted(back) == GOLD_IDS
    for doc_id, gold in gold_docs.items():
        assert signature(back[doc_id]) == signature(gold), doc_id
        assert back[doc_id].cats == gold.cats
    # The fixtures hold what makes this hard; none of it was lost on the way.
    assert any(len(get_fragments(doc)) for doc in back.values()), "discontinuous mentions"
    # 8 R lines, of which obama's R4 repeats R1 once its duplicate mention T12 is merged.
    assert sum(len(doc._.relations) for doc in back.values()) == 7
    assert {s.kb_id_ for doc in back.values() for s in doc.spans[SPANS_KEY]} >= {"Q159", "Q76", "Q649"}


def test_a_doc_brat_cannot_hold_is_an_error_and_the_run_goes_on(docs, tmp_path):
    nlp = spacy.blank("ru")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "TWO WORDS", "pattern": "Москве"}])
    nlp.to_disk(tmp_path / "spaced")
    out = tmp_path / "out"
    result = run_cli(docs, "-m", tmp_path / "spaced", "--format", "brat", "-o", out)
    assert result.exit_code == 1
    assert read_errors(out / "annotate-errors.jsonl") == {"a.txt": "unwritable", "sub/b.txt": "unwritable"}
    message = json.loads((out / "annotate-errors.jsonl").read_text(encoding="utf-8").splitlines()[0])["message"]
    assert "'TWO WORDS'" in message and "without spaces" in message
    assert (out / "sub" / "deeper" / "c.ann").is_file() and not (out / "a.txt").exists()
    assert "failed: unwritable" in result.stderr


def test_two_ids_for_one_file_are_an_error(model_dir, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (tmp_path / "y" / "a").write_text(TEXT_B, encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli(tmp_path / "x" / "a.txt", tmp_path / "y" / "a", "-m", model_dir, "--format", "html", "-o", out)
    assert result.exit_code == 1
    assert read_errors(out / "annotate-errors.jsonl") == {"a": "duplicate-id"}
    assert "Иван Петров" in (out / "a.html").read_text(encoding="utf-8")



def test_a_doc_that_cannot_be_written_is_an_error_and_resume_goes_past_it(model_dir, tmp_path):
    """A write the file system refuses fails that document alone, on the first run and on --resume:
    an id whose folder is a file ("a.txt/b" after "a"), an empty id, while a 246-byte name
    (legal; its temporary file was too long) and a name with a leading dot are written."""
    long_id = "д" * 121 + ".txt"
    lines = [{"id": "a", "text": TEXT_A}, {"id": "a.txt/b", "text": TEXT_B}, {"id": "", "text": TEXT_C},
             {"id": long_id, "text": TEXT_A}, {"id": ".hidden.txt", "text": TEXT_B}, {"id": "z", "text": TEXT_C}]
    stdin = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    out = tmp_path / "out"
    first = run_cli("-", "-m", model_dir, "--format", "brat", "-o", out, input=stdin)
    assert first.exit_code == 1, first.stderr
    assert read_errors(out / "annotate-errors.jsonl") == {"a.txt/b": "unwritable", "": "unwritable"}
    errors_lines = (out / "annotate-errors.jsonl").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line)["message"] for line in errors_lines]
    assert "a.txt/b: annotated but not written" in messages[0]
    assert "File exists" in messages[0] or "Not a directory" in messages[0]  # "a.txt" is a file
    assert "must not be empty" in messages[1]
    for name in ["a", "д" * 121, ".hidden", "z"]:
        assert (out / f"{name}.txt").is_file() and (out / f"{name}.ann").is_file(), name
    assert not list(out.rglob("*.tmp"))

    corrected = "T1\tPERSON 0 11\tИван Петров\n"  # hand-corrected, after the first run
    for name in ["a", ".hidden", "д" * 121]:
        (out / f"{name}.ann").write_text(corrected, encoding="utf-8")
    resumed = run_cli("-", "-m", model_dir, "--format", "brat", "-o", out, "--resume", input=stdin)
    assert resumed.exit_code == 1, resumed.stderr
    assert read_errors(out / "annotate-errors.jsonl") == {"a.txt/b": "unwritable", "": "unwritable"}
    assert re.search(r"--resume\) │ 4 │", " ".join(resumed.stderr.split())), resumed.stderr
    for name in ["a", ".hidden", "д" * 121]:
        assert (out / f"{name}.ann").read_text(encoding="utf-8") == corrected, name


def test_doc_sink_writer_turns_os_and_value_errors_into_input_errors(tmp_path):
    class Refusing:
        def __init__(self, err):
            self.err = err

        def write(self, doc_id, doc):
            raise self.err

    doc = spacy.blank("ru")("Москва")
    event = lib.Annotated(record={"id": "x"}, doc=doc)
    for err, reason, text in [
        (OSError(errno.ENAMETOOLONG, "File name too long"), "unwritable", "File name too long"),
        (ValueError("a document id must not be empty"), "unwritable", "must not be empty"),
        (lib.OutputError("same file"), "duplicate-id", "same file"),
    ]:
        writer = lib.DocSinkWriter(Refusing(err), tmp_path)
        with pytest.raises(lib.InputError) as caught:
            writer.write_annotated(event)
        assert (caught.value.id, caught.value.reason) == ("x", reason) and text in caught.value.message
        assert writer.lines == 0
    # a full or read-only file system would refuse every document: it stops the run instead
    for code in (errno.ENOSPC, errno.EROFS):
        with pytest.raises(OSError) as caught:
            lib.DocSinkWriter(Refusing(OSError(code, os.strerror(code))), tmp_path).write_annotated(event)
        assert caught.value.errno == code


def test_a_full_disk_stops_the_run_with_what_to_do(model_dir, docs, tmp_path, monkeypatch):
    from nerel_spacy.formats.brat import BratSink

    written = []

    def write_two_then_fill_the_disk(self, doc_id, doc):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(doc_id)
        return original(self, doc_id, doc)

    original = BratSink.write
    monkeypatch.setattr(BratSink, "write", write_two_then_fill_the_disk)
    out = tmp_path / "out"
    result = run_cli(docs, "-m", model_dir, "--format", "brat", "-o", out)
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert f"Error: can't write {out} (No space left on device)" in message and "with --resume" in message
    assert sorted(p.name for p in out.rglob("*.ann")) == ["a.ann", "b.ann"]
    monkeypatch.setattr(BratSink, "write", original)
    resumed = run_cli(docs, "-m", model_dir, "--format", "brat", "-o", out, "--resume")
    assert resumed.exit_code == 0 and sorted(p.name for p in out.rglob("*.ann")) == ["a.ann", "b.ann", "c.ann"]

# ---------------------------------------------------------------------------
# --format html


def test_html_format_one_valid_page_per_input(model_dir, docs, tmp_path):
    out = tmp_path / "html"
    assert run_cli(docs, "-m", model_dir, "--format", "html", "-o", out, "--quiet").exit_code == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")) == [
        "a.html", "sub/b.html", "sub/deeper/c.html",
    ]
    for name, labels in [("a.html", {"PERSON", "CITY"}), ("sub/b.html", {"ORGANIZATION", "COUNTRY", "CITY"})]:
        checker = check_page((out / name).read_text(encoding="utf-8"))
        text = " ".join(checker.text)
        assert all(label in text for label in labels), (name, labels)
    check_page((out / "sub/deeper/c.html").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# Resume, refusal and overwrite, for every folder format


def remove_one(fmt: str, out: Path, doc_id: str) -> None:
    """Take ``doc_id`` out of an output folder, as a crash or a user would."""
    if fmt == "spacy":
        (shard,) = shard_paths(out)
        vocab = make_blank_nlp().vocab
        kept = [d for d in DocBin(store_user_data=True).from_disk(shard).get_docs(vocab)
                if d.user_data[DOC_ID_KEY] != doc_id]
        DocBin(store_user_data=True, docs=kept).to_disk(shard)
    elif fmt == "brat":
        (out / doc_id).with_suffix(".ann").unlink()  # a pair without its .ann is not done
    else:
        (out / doc_id).with_suffix(".html").unlink()


def snapshot(out: Path) -> Dict[str, Tuple[int, bytes]]:
    return {p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in out.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["spacy", "brat", "html"])
def test_resume_redoes_only_what_is_missing(fmt, model_dir, docs, tmp_path):
    out = tmp_path / "out"
    assert run_cli(docs, "-m", model_dir, "--format", fmt, "-o", out).exit_code == 0
    first = snapshot(out)

    refused = run_cli(docs, "-m", model_dir, "--format", fmt, "-o", out)
    assert refused.exit_code == 2
    message = flat(refused.stderr)
    assert "already exists and is not empty; add --resume to continue it, or --overwrite" in message
    assert snapshot(out) == first

    remove_one(fmt, out, "sub/b.txt")
    before = snapshot(out)
    assert "annotate-run.json" in before
    other_threshold = run_cli(docs, "-m", model_dir, "--format", fmt, "-o", out, "--resume", "--threshold", "0.2")
    assert other_threshold.exit_code == 2 and "--threshold: none then, 0.2 now" in flat(other_threshold.stderr)
    assert snapshot(out) == before
    resumed = run_cli(docs, "-m", model_dir, "--format", fmt, "-o", out, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    stderr = " ".join(resumed.stderr.split())
    assert re.search(r"docs annotated │ 1 │", stderr) and re.search(r"--resume\) │ 2 │", stderr)
    after = snapshot(out)
    changed = sorted(name for name in after if before.get(name) != after[name])
    if fmt == "spacy":
        assert changed == ["part-000001.spacy"] and shard_ids(out / "part-000001.spacy") == ["sub/b.txt"]
        assert sorted(read_spacy_output(out)) == DOCS_IDS
    else:
        assert changed == sorted(f"sub/b{suffix}" for suffix in FILES[fmt])
        assert after == {**first, **{name: after[name] for name in changed}}

    overwritten = run_cli(docs, "-m", model_dir, "--format", fmt, "-o", out, "--overwrite")
    assert overwritten.exit_code == 0
    if fmt == "spacy":
        assert [p.name for p in shard_paths(out)] == ["part-000000.spacy"]
        assert sorted(read_spacy_output(out)) == DOCS_IDS
    else:
        assert all(snapshot(out)[name][0] != after[name][0] for name in after if name != "annotation.conf")
    both = run_cli(docs, "-m", model_dir, "--format", fmt, "-o", out, "--resume", "--overwrite")
    assert both.exit_code == 2 and "contradict each other" in unwrapped(both.stderr), both.stderr


@pytest.mark.slow
def test_errors_go_into_the_folder_and_the_default_folder_is_named(model_dir, docs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (docs / "empty.txt").write_bytes(b"")
    (tmp_path / "docs-html").mkdir()
    (tmp_path / "docs-html" / "annotate-errors.jsonl").write_text("stale\n", encoding="utf-8")
    result = run_cli("docs", "-m", model_dir, "--format", "html", "--resume")
    assert result.exit_code == 1
    assert "html documents go to docs-html (no -o given)" in " ".join(result.stderr.split())
    assert read_errors(tmp_path / "docs-html" / "annotate-errors.jsonl") == {"empty.txt": "empty"}
    (docs / "empty.txt").write_text("Москва", encoding="utf-8")
    again = run_cli("docs", "-m", model_dir, "--format", "html", "--resume")
    assert again.exit_code == 0
    assert not (tmp_path / "docs-html" / "annotate-errors.jsonl").exists(), "the stale list is gone"
    assert (tmp_path / "docs-html" / "empty.html").is_file()
    to_stdout = run_cli("docs", "-m", model_dir, "--format", "brat", "-o", "-")
    assert to_stdout.exit_code == 2 and "--format brat writes a folder, not stdout" in flat(to_stdout.stderr)
    assert lib.default_output_path(["docs"], "spacy") == Path("docs-spacy")
    assert lib.errors_path_for(Path("out"), "brat") == Path("out/annotate-errors.jsonl")
    as_file = run_cli("docs", "-m", model_dir, "--format", "spacy", "-o", docs / "a.txt")
    assert as_file.exit_code == 2 and "is a file; this format writes a folder" in flat(as_file.stderr)
    on_ray = run_cli("docs", "-m", model_dir, "--format", "spacy", "--engine", "ray")
    assert on_ray.exit_code == 2 and "only --engine local hands over" in flat(on_ray.stderr)


@pytest.mark.slow
def test_ctrl_c_leaves_whole_shards_and_resume_finishes(tmp_path):
    """The pipeline sends itself a real SIGINT at the sixth text, while the shard is in memory."""
    root = tmp_path / "docs"
    root.mkdir()
    ids = [f"{i}.txt" for i in range(8)]
    for i, doc_id in enumerate(ids):
        (root / doc_id).write_text("Москва СТОП" if i == 5 else f"Москва {i}.", encoding="utf-8")
    out = tmp_path / "out"
    stopping = annotate_helpers.build_pipeline(tmp_path / "stopping", interrupt_marker="СТОП")
    interrupted = run_process(root, "-m", stopping, "--format", "spacy", "-o", out, "--batch-size", "2",
                              interrupt=True)
    assert interrupted.returncode == 130 and "--resume" in interrupted.stderr.decode(), interrupted.stderr
    # The docs annotated before the Ctrl-C were in memory: closing the sink wrote them.
    done = shard_ids(out / "part-000000.spacy")
    assert done == ids[: len(done)] and 0 < len(done) < 8
    assert not list(out.glob(".*.tmp"))
    resumed = run_cli(root, "-m", stopping, "-o", out, "--resume", "--format", "spacy")
    assert resumed.exit_code == 0, resumed.stderr
    assert sorted(read_spacy_output(out)) == ids


# ---------------------------------------------------------------------------
# Long texts: one document, whatever the parts


def long_text() -> str:
    paragraphs = [
        f"Абзац {i}. Иван Петров работает в Москве.\r\nБанк России тоже в Москве! Конец {i}."
        for i in range(30)
    ]
    return "\r\n\r\n".join(paragraphs)


def expected_mentions(text: str) -> List[Tuple[int, int, str]]:
    """Where the rule pipeline must find its mentions in ``text``, by character offsets."""
    found = []
    for pattern, label in [("Иван Петров", "PERSON"), ("Москве", "CITY"), ("Москва", "CITY"),
                           ("Банк России", "ORGANIZATION"), ("России", "COUNTRY")]:
        found += [(m.start(), m.end(), label) for m in re.finditer(pattern, text)]
    return sorted(found)


def mentions(doc: Doc) -> List[Tuple[int, int, str]]:
    return sorted((s.start_char, s.end_char, s.label_) for s in doc.spans[SPANS_KEY])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["spacy", "brat"])
def test_a_split_text_comes_out_as_one_document(fmt, model_dir, tmp_path):
    text = long_text()
    path = tmp_path / "long.txt"
    path.write_bytes(text.encode("utf-8"))
    out = tmp_path / "out"
    result = run_cli(path, "-m", model_dir, "--format", fmt, "-o", out, "--max-chars", "300")
    assert result.exit_code == 0, result.stderr
    assert "long texts split" in result.stderr
    if fmt == "spacy":
        (doc,) = read_spacy_output(out).values()
        assert doc.cats == {"WORKS_AS": 0.9, "LOCATED_IN": 0.7, "POINT_IN_TIME": 0.45}
    else:
        assert (out / "long.txt").read_bytes() == text.encode("utf-8"), "offsets keep \\r\\n"
        doc = read_brat_document(out / "long.txt", nlp=spacy.blank("ru"))[0]
    assert doc.text == text
    assert mentions(doc) == expected_mentions(text)
    assert len(expected_mentions(text)) == 30 * 5
    assert {s.kb_id_ for s in doc.spans[SPANS_KEY] if s.text.startswith("Москв")} == {"Q649"}
    assert [(e.start_char, e.end_char) for e in doc.ents] == [
        (m[0], m[1]) for m in expected_mentions(text) if m[2] != "COUNTRY"
    ]
    # The JSONL record of the same run agrees, mention for mention.
    run_cli(path, "-m", model_dir, "-o", tmp_path / "out.jsonl", "--max-chars", "300")
    (record,) = read_output(tmp_path / "out.jsonl")
    assert sorted((s["start"], s["end"], s["label"]) for s in record["spans"]) == mentions(doc)


def test_memory_zones_end_between_texts(model_dir, tmp_path, monkeypatch):
    """A zone frees its docs, so a text's parts must all be made in one zone to be joined."""
    monkeypatch.setattr(annotate_stream, "MEMORY_ZONE_DOCS", 2)
    texts = {"long.txt": long_text(), "a.txt": TEXT_A, "long2.txt": long_text()[:900], "b.txt": TEXT_B}
    for name, text in texts.items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
    nlp = spacy.load(model_dir)
    zones = []
    original_zone = nlp.memory_zone

    def counting_zone(*args, **kwargs):
        zones.append(len(zones))
        return original_zone(*args, **kwargs)

    monkeypatch.setattr(nlp, "memory_zone", counting_zone)
    sources = lib.iter_sources([str(tmp_path / name) for name in texts])
    options = lib.AnnotateOptions(max_chars=300)
    seen = []
    for event in lib.annotate_sources(nlp, sources, options, with_docs=True):
        assert isinstance(event, lib.Annotated), event
        doc = event.doc
        assert doc.text == texts[event.record["id"]]
        assert mentions(doc) == expected_mentions(doc.text)
        seen.append((event.record["id"], len(event.record.get("parts", [None]))))
    assert [doc_id for doc_id, _ in seen] == list(texts)
    assert seen[0][1] > 2 and seen[2][1] > 2
    assert len(zones) == 3  # long.txt; a.txt + long2.txt (to its end); b.txt


def test_whole_texts_ends_a_zone_only_at_a_text_end():
    def parts(doc_id: str, n: int):
        ranges = tuple((i, i + 1) for i in range(n))
        return [(doc_id, annotate_stream._Context(doc_id, n, ranges, i, None, 1)) for i in range(n)]

    stream = iter(parts("a", 3) + parts("b", 1) + parts("c", 2) + parts("d", 1))
    zones = []
    for first in stream:
        zones.append([text for text, _ in annotate_stream._whole_texts(first, stream, 2)])
    assert zones == [["a", "a", "a"], ["b", "c", "c"], ["d"]]


# ---------------------------------------------------------------------------
# A trained nerel_joint: scores on nested mentions survive the split and the DocBin


@pytest.mark.slow
def test_trained_nested_pipeline_to_spacy_keeps_scores(tmp_path):
    from conftest import NESTED_DOCS, make_nested_examples
    from pipeline_helpers import cnn_nlp, train

    spacy.util.fix_random_seed(0)
    nlp = cnn_nlp()
    train(nlp, make_nested_examples(nlp), 80)
    nlp.to_disk(tmp_path / "nested")
    text = "\n\n".join(text for text, _, _ in NESTED_DOCS)
    (tmp_path / "nested.txt").write_text(text, encoding="utf-8")
    args = [tmp_path / "nested.txt", "-m", tmp_path / "nested", "--max-chars", "80", "--all-cats"]
    assert run_cli(*args, "--format", "spacy", "-o", tmp_path / "out").exit_code == 0
    assert run_cli(*args, "-o", tmp_path / "out.jsonl").exit_code == 0
    (doc,) = read_spacy_output(tmp_path / "out").values()
    (record,) = read_output(tmp_path / "out.jsonl")
    assert len(record["parts"]) == 3 and doc.text == text
    group = doc.spans[SPANS_KEY]
    assert any(a.start < b.start < b.end <= a.end for a in group for b in group if a is not b), "nested"
    assert len(group.attrs["scores"]) == len(group) > 0
    assert [(s.start_char, s.end_char, s.label_, round(float(score), 6))
            for s, score in zip(group, group.attrs["scores"])] == [
        (s["start"], s["end"], s["label"], s["score"]) for s in record["spans"]
    ]
    assert doc.cats == pytest.approx(record["cats"], abs=1e-6)


# ---------------------------------------------------------------------------
# In a real browser


try:
    from test_browser import CHROMEDRIVER, CHROMIUM, browser, open_page  # noqa: F401 (fixture)
except pytest.skip.Exception:  # selenium is not installed
    CHROMIUM = CHROMEDRIVER = None


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium or selenium not found (Debian: apt-get install chromium "
    "chromium-driver; pip install -e .[browser])",
)
def test_annotate_html_page_in_chromium(browser, model_dir, docs, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    out = tmp_path / "html"
    assert run_cli(docs, "-m", model_dir, "--format", "html", "-o", out, "--quiet").exit_code == 0
    open_page(browser, out / "sub" / "b.html", tmp_path / "b.png")
    marks = browser.find_elements(By.CSS_SELECTOR, "div.entities mark.entity")
    assert len(marks) == 3  # Банк России, Москве, Москва: the flat view
    spans = browser.find_element(By.CSS_SELECTOR, "div.spans").text
    for label in ("ORGANIZATION", "COUNTRY", "CITY"):
        assert label in spans  # COUNTRY nested inside ORGANIZATION
    assert "Банк России" in browser.find_element(By.TAG_NAME, "body").text
