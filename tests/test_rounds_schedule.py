"""nerel_spacy.rounds.schedule: the rounds a .cfg file lists, checked, and their fingerprints."""
import re

import pytest

from nerel_spacy.rounds.schedule import Round, ScheduleError, fingerprint, folder_checksum, read_schedule

from conftest import REPO_ROOT


def write(tmp_path, text):
    path = tmp_path / "rounds.cfg"
    path.write_text(text, encoding="utf8")
    return path


def test_the_headline_schedule_is_rounds_5_to_8_with_navec_last():
    rounds = read_schedule(REPO_ROOT / "configs" / "rounds_headline.cfg")
    assert [(r.name, r.steps, r.learn_rate, r.add_vectors) for r in rounds] == [
        ("round5", 1500, 0.0001, False), ("round6", 1000, 0.00005, False), ("round7", 1000, 0.000025, False),
        ("round8_navec", 1000, 0.000025, True)]
    assert rounds[-1].vectors_scale == 32.0 and all(r.window is None and r.stride is None for r in rounds)


def test_rounds_keep_the_files_order_and_take_optional_settings(tmp_path):
    path = write(tmp_path, "[rounds]\n\n[rounds.b]\nsteps = 3\nlearn_rate = 1\n\n"
                 "[rounds.a]\nsteps = 2\nlearn_rate = 0.5\nwindow = 10\nstride = 7\nadd_vectors = true\n"
                 "vectors_scale = 4\n")
    assert read_schedule(path) == [
        Round("b", 3, 1.0), Round("a", 2, 0.5, window=10, stride=7, add_vectors=True, vectors_scale=4.0)]


@pytest.mark.parametrize("text,message", [
    ("[other]\nx = 1\n", "no [rounds.NAME] sections"),
    ("[rounds]\n\n[rounds.a]\nlearn_rate = 1\n", "[rounds.a]: missing steps"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = 1\nsteeps = 3\n", "unknown setting steeps"),
    ("[rounds]\n\n[rounds.a]\nsteps = 0\nlearn_rate = 1\n", "steps must be a positive whole number, got 0"),
    ("[rounds]\n\n[rounds.a]\nsteps = 1.5\nlearn_rate = 1\n", "steps must be a positive whole number, got 1.5"),
    ("[rounds]\n\n[rounds.a]\nsteps = true\nlearn_rate = 1\n", "steps must be a positive whole number, got True"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = -1\n", "learn_rate must be a number ≥ 0, got -1"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = \"fast\"\n", "learn_rate must be a number"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = 1\nwindow = 0\n", "window must be a positive whole number"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = 1\nadd_vectors = 1\n", "add_vectors must be true or false"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = 1\nvectors_scale = 0\n", "vectors_scale must be a number > 0"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = 1\nadd_vectors = true\n\n"
     "[rounds.b]\nsteps = 2\nlearn_rate = 1\nadd_vectors = true\n", "add_vectors is set in a, b"),
    ("[rounds]\n\n[rounds.a]\nsteps = 2\nlearn_rate = 1\n\n[rounds.a]\nsteps = 3\nlearn_rate = 1\n",
     "not a readable .cfg file"),
])
def test_a_bad_schedule_names_its_file_round_and_setting(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ScheduleError) as err:
        read_schedule(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_missing_schedule_says_where_the_format_is(tmp_path):
    with pytest.raises(ScheduleError, match="no such schedule file.*rounds_headline.cfg"):
        read_schedule(tmp_path / "nope.cfg")


def test_a_round_name_must_be_a_folder_name():
    from nerel_spacy.rounds.schedule import parse_rounds

    for name in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ScheduleError, match=re.escape(f"[rounds.{name}]: a round's name names its folder")):
            parse_rounds({"rounds": {name: {"steps": 1, "learn_rate": 1.0}}})


def test_a_fingerprint_changes_with_what_the_round_trains_from_and_only_then():
    a = Round("a", 10, 0.001)
    base = fingerprint("start", a)
    assert fingerprint("start", Round("a", 10, 0.001)) == base
    assert len({base, fingerprint("other start", a), fingerprint("start", Round("a", 11, 0.001)),
                fingerprint("start", Round("a", 10, 0.002)), fingerprint("start", Round("b", 10, 0.001)),
                fingerprint("start", a, {"vectors": "x"})}) == 6


def test_a_folder_checksum_follows_names_and_contents(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "w.bin").write_bytes(b"\x00\x01")
        (folder / "config.cfg").write_text("[x]\n")
    assert folder_checksum(one) == folder_checksum(two)
    (two / "sub" / "w.bin").write_bytes(b"\x00\x02")
    assert folder_checksum(one) != folder_checksum(two)
    (two / "sub" / "w.bin").write_bytes(b"\x00\x01")
    (two / "sub" / "w.bin").rename(two / "sub" / "v.bin")
    assert folder_checksum(one) != folder_checksum(two)
    assert folder_checksum(one / "config.cfg") == folder_checksum(two / "config.cfg")


def test_the_empty_rounds_header_may_be_left_out(tmp_path):
    body = "# a comment first\n[rounds.b]\nsteps = 3\nlearn_rate = 1\n\n[rounds.a]\nsteps = 2\nlearn_rate = 0.5\n"
    with_header = read_schedule(write(tmp_path, "[rounds]\n\n" + body))
    assert read_schedule(write(tmp_path, body)) == with_header == [Round("b", 3, 1.0), Round("a", 2, 0.5)]
