"""``distill.teacher_pass``: the folder a teacher pass is kept in, shard by shard, and its refusals."""
import os

import pytest
import spacy
from spacy.tokens import DocBin

from nerel_spacy.distill.teacher_pass import TeacherPass, TeacherPassMismatch, made_from
from quantize_helpers import save_gold_corpus

TEXTS = ["Путин посетил Москву.", "Лавров прилетел в Пекин."]


@pytest.fixture
def inputs(tmp_path):
    """A TEACHER folder (any files: only their content counts) and a gold corpus."""
    (tmp_path / "teacher" / "nerel_joint").mkdir(parents=True)
    (tmp_path / "teacher" / "config.cfg").write_text("[nlp]\n")
    (tmp_path / "teacher" / "nerel_joint" / "model").write_bytes(b"weights")
    save_gold_corpus(tmp_path / "train.spacy")
    return tmp_path


def _made_from(root, texts=TEXTS, teacher="teacher", **settings):
    settings = {"token_vectors": False, "batch_size": 2, **settings}
    return made_from(root / teacher, root / "train.spacy", texts, **settings)


def _shard(*texts):
    nlp = spacy.blank("ru")
    return DocBin(store_user_data=True, docs=[nlp(text) for text in texts])


@pytest.mark.parametrize("change, named", [
    (lambda root: (root / "teacher" / "nerel_joint" / "model").write_bytes(b"retrained"), "TEACHER"),
    (lambda root: save_gold_corpus(root / "train.spacy", copies=2), "--train"),
    (lambda root: None, None),  # the same inputs: continued
])
def test_a_kept_pass_is_continued_only_with_the_inputs_it_was_begun_with(inputs, change, named):
    shards = TeacherPass(inputs / "student-teacher-pass")
    assert shards.open(_made_from(inputs)) is False
    shards.add_shard(_shard("Путин.", "Лавров."))
    change(inputs)
    if named is None:
        assert TeacherPass(shards.folder).open(_made_from(inputs)) is True
        return
    with pytest.raises(TeacherPassMismatch) as refused:
        TeacherPass(shards.folder).open(_made_from(inputs))
    message = str(refused.value)
    assert named in message and "--fresh" in message and str(shards.folder) in message
    assert len(shards.shards()) == 1  # refused, not discarded
    again = TeacherPass(shards.folder)
    assert again.open(_made_from(inputs), fresh=True) is False and again.shards() == []


@pytest.mark.parametrize("settings, named", [
    ({"texts": TEXTS[:1]}, "--texts: other texts (2 then, 1 now)"),
    ({"texts": [TEXTS[1], TEXTS[0]]}, "--texts"),
    ({"token_vectors": True}, "--token-vector-weight: token vectors not stored then, stored now"),
    ({"batch_size": 4}, "--batch-size: 2 then, 4 now"),
    ({"shard_docs": 128}, "another version of nerel-spacy"),
])
def test_each_other_input_is_named(inputs, settings, named):
    shards = TeacherPass(inputs / "pass")
    shards.open(_made_from(inputs))
    with pytest.raises(TeacherPassMismatch, match=named.replace("(", r"\(").replace(")", r"\)")):
        shards.check(_made_from(inputs, **settings))


def test_a_teacher_moved_elsewhere_with_the_same_files_continues(inputs):
    shards = TeacherPass(inputs / "pass")
    shards.open(_made_from(inputs))
    shards.add_shard(_shard("Путин."))
    (inputs / "teacher").rename(inputs / "moved")
    assert TeacherPass(shards.folder).open(_made_from(inputs, teacher="moved")) is True


def test_a_shard_holds_whole_batches(inputs):
    """A resumed pass starts at a batch boundary, so it batches its docs as an uninterrupted one."""
    assert _made_from(inputs, batch_size=5, shard_docs=64)["shard_docs"] == 65
    assert _made_from(inputs, batch_size=8, shard_docs=64)["shard_docs"] == 64


def test_a_shard_cut_short_is_never_taken_for_a_whole_one(inputs, monkeypatch):
    shards = TeacherPass(inputs / "pass")
    shards.open(_made_from(inputs))
    shards.add_shard(_shard("Путин.", "Лавров."))

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)  # stopped after the bytes were written, before the rename
    with pytest.raises(KeyboardInterrupt):
        shards.add_shard(_shard("Газпром.", "Китай."))
    monkeypatch.undo()
    assert [p.name for p in shards.shards()] == ["00000.spacy"]
    # what SIGKILL leaves mid-write (no clean-up runs), and a shard after a gap: both dropped on reopening
    parts = shards.folder / "parts"
    (parts / ".00001.spacy.k1ll3d00.tmp").write_bytes(b"half a shard")
    (parts / "00002.spacy").write_bytes(_shard("Не по порядку.").to_bytes())
    reopened = TeacherPass(shards.folder)
    assert reopened.open(_made_from(inputs)) is True
    assert sorted(p.name for p in parts.iterdir()) == ["00000.spacy"]
    reopened.add_shard(_shard("Газпром."))
    docs = list(DocBin().from_disk(reopened.join()).get_docs(spacy.blank("ru").vocab))
    assert [doc.text for doc in docs] == ["Путин.", "Лавров.", "Газпром."]


def test_join_keeps_the_docs_in_order_and_remove_only_what_the_pass_wrote(inputs):
    shards = TeacherPass(inputs / "pass")
    shards.open(_made_from(inputs))
    first, second = _shard("Путин.", "Лавров."), _shard("Газпром.")
    first_docs = list(first.get_docs(spacy.blank("ru").vocab))
    first_docs[0].user_data["teacher"] = {"cats": 0.5}
    shards.add_shard(DocBin(store_user_data=True, docs=first_docs))
    shards.add_shard(second)
    assert not shards.finished
    corpus = shards.join()
    assert shards.finished and not (shards.folder / "parts").exists()
    docs = list(DocBin().from_disk(corpus).get_docs(spacy.blank("ru").vocab))
    assert [doc.text for doc in docs] == ["Путин.", "Лавров.", "Газпром."]
    assert docs[0].user_data["teacher"] == {"cats": 0.5}
    (shards.folder / "parts").mkdir()  # as if killed between the join and the shards' removal
    second.to_disk(shards.folder / "parts" / "00000.spacy")
    assert TeacherPass(shards.folder).open(_made_from(inputs)) is True  # finished: continued by skipping it
    assert not (shards.folder / "parts").exists()
    (shards.folder / "notes.txt").write_text("mine")
    (shards.folder / ".train.spacy.k1ll3d00.tmp").write_bytes(b"half a corpus")
    shards.remove()
    assert sorted(p.name for p in shards.folder.iterdir()) == ["notes.txt"]
    (shards.folder / "notes.txt").unlink()
    shards.remove()
    assert not shards.folder.exists()


def test_an_unreadable_manifest_is_refused(inputs):
    (inputs / "pass").mkdir()
    (inputs / "pass" / "manifest.json").write_text("[1, 2")
    with pytest.raises(TeacherPassMismatch, match="manifest.json can't be read.*--fresh"):
        TeacherPass(inputs / "pass").open(_made_from(inputs))
    assert TeacherPass(inputs / "pass").open(_made_from(inputs), fresh=True) is False
