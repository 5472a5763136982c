"""nerel_spacy.resumable.lock: one training run per output folder."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nerel_spacy.resumable.lock import LOCK_FILE, OutputBusy, output_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX-only")

HOLD = textwrap.dedent("""
    import sys, time
    from nerel_spacy.resumable.lock import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


def hold_in_another_process(output):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(output)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_lock_names_its_holder_is_reentrant_in_it_and_is_free_afterwards(tmp_path):
    output = tmp_path / "run"
    with output_lock(output) as path:
        assert path == (output / LOCK_FILE).resolve() and path.read_text() == str(os.getpid())
        with output_lock(output):  # the CLI holds it while train_resumably takes it again
            pass
        refused = subprocess.run([sys.executable, "-c", HOLD, str(output)], capture_output=True, text=True)
        assert "OutputBusy" in refused.stderr and f"kill -TERM {os.getpid()}" in refused.stderr
    held_again = hold_in_another_process(output)  # released on exit
    held_again.kill()
    held_again.wait()


def test_an_error_inside_releases_the_lock(tmp_path):
    with pytest.raises(ValueError):
        with output_lock(tmp_path):
            raise ValueError("boom")
    with output_lock(tmp_path):
        pass


def test_another_process_holding_it_is_named_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(OutputBusy) as busy:
            with output_lock(tmp_path):
                pass
        assert busy.value.holder == str(holder.pid)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.time() + 5
    while True:  # the kernel drops the lock with the process
        try:
            with output_lock(tmp_path):
                break
        except OutputBusy:
            assert time.time() < deadline, "the lock outlived its SIGKILLed holder"
            time.sleep(0.05)


def test_train_resumably_refuses_an_output_that_is_being_trained_into(tmp_path):
    import spacy

    from nerel_spacy.resumable import train_resumably

    holder = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(OutputBusy):
            train_resumably(spacy.blank("ru"), tmp_path)  # refused before the config is read
    finally:
        holder.kill()
        holder.wait()


HOLD_FILE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from nerel_spacy.resumable.lock import output_lock
    with output_lock(sys.argv[1], lock_file=Path(sys.argv[2])):
        print("held", flush=True)
        time.sleep(60)
""")


def test_a_lock_file_beside_output_guards_it_without_making_it(tmp_path):
    output, lock_file = tmp_path / "student", tmp_path / ".student.distill.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FILE, str(output), str(lock_file)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not output.exists() and lock_file.read_text() == str(holder.pid)
        with pytest.raises(OutputBusy, match=f"{output} is being trained into by pid {holder.pid}"):
            with output_lock(output, lock_file=lock_file):
                pass
        with output_lock(output):  # OUTPUT's own .train.lock is another lock
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with output_lock(output, lock_file=lock_file) as path:
        assert path == lock_file.resolve() and path.read_text() == str(os.getpid())
    assert not lock_file.exists()  # removed on release: nothing left beside OUTPUT


def test_a_lock_on_a_file_its_holder_removed_is_taken_again_on_the_new_file(tmp_path, monkeypatch):
    """Opened just before the holder removed it and locked just after: that lock guards a file
    nobody else can open, so the name is opened again."""
    import nerel_spacy.resumable.lock as lock

    lock_file, opened = tmp_path / ".out.lock", []
    real_open = open

    def open_then_lose_the_race(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if not opened:  # the first open: its holder removes the name before we lock it
            Path(path).unlink()
        opened.append(handle)
        return handle

    monkeypatch.setattr(lock, "open", open_then_lose_the_race, raising=False)
    with output_lock(tmp_path / "out", lock_file=lock_file) as path:
        assert len(opened) == 2 and opened[0].closed and path.read_text() == str(os.getpid())
