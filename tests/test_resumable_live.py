"""nerel_spacy.resumable.live: the step a running training has reached, between checkpoints."""
import json
import os

from nerel_spacy.resumable.live import LIVE_FILE, LiveProgress, read_live


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_it_writes_the_first_step_then_at_most_once_an_interval(tmp_path):
    clock = Clock()
    live = LiveProgress(tmp_path, interval=15.0, clock=clock)
    live.step_done(0, 4.9)
    assert json.loads((tmp_path / LIVE_FILE).read_text())["step"] == 0
    clock.now += 14.0
    live.step_done(1, 9.8)  # within the interval: not written
    assert json.loads((tmp_path / LIVE_FILE).read_text())["step"] == 0
    clock.now += 1.0
    live.step_done(2, 14.7)
    record = json.loads((tmp_path / LIVE_FILE).read_text())
    assert (record["pid"], record["step"], record["seconds"]) == (os.getpid(), 2, 14.7)
    assert not (tmp_path / (LIVE_FILE + ".partial")).exists()
    live.close()
    assert not (tmp_path / LIVE_FILE).exists()
    live.close()  # twice is harmless


def test_only_the_lock_holders_record_is_read(tmp_path):
    LiveProgress(tmp_path).step_done(451, 2210.0)
    mine = read_live(tmp_path, os.getpid())
    assert (mine["step"], mine["seconds"]) == (451, 2210.0) and mine["written"] > 0
    assert read_live(tmp_path, None) is None  # nothing holds the lock: a killed run's file
    assert read_live(tmp_path, os.getpid() + 1) is None  # another process left it


def test_a_missing_or_damaged_file_reads_as_none(tmp_path):
    assert read_live(tmp_path, os.getpid()) is None
    for text in ("{half", "[]", json.dumps({"pid": os.getpid()}), json.dumps({"pid": os.getpid(), "step": "x", "seconds": 1})):
        (tmp_path / LIVE_FILE).write_text(text)
        assert read_live(tmp_path, os.getpid()) is None


def test_a_write_that_fails_does_not_stop_the_training(tmp_path):
    live = LiveProgress(tmp_path / "gone")  # the folder does not exist: the write fails
    live.step_done(0, 1.0)
    live.close()
