"""nerel_spacy.resumable.progress_file: which checkpoint a resume reads and whether it can, one rule for
``nerel-batch train``, ``train-rounds`` and ``nerel-batch progress``."""
import json
import shutil
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy
import pytest
import spacy
from thinc.api import Adam

from nerel_spacy.resumable import ResumeError
from nerel_spacy.resumable.checks import check_checkpoint, read_progress
from nerel_spacy.resumable.loop import _recover_interrupted_swap, _save_checkpoint
from nerel_spacy.resumable.progress_file import (
    ABSENT, DAMAGED, READABLE, progress_problem, read_checkpoint, read_progress_file, resumed_checkpoint,
)
from nerel_spacy.rounds.paths import DamagedCheckpoint, checkpoint_progress
from nerel_spacy.workflow_progress import DAMAGED as STAGE_DAMAGED
from nerel_spacy.workflow_progress import NOT_STARTED, STOPPED, Stage, stage_state

# A progress.json as loop._save_checkpoint writes it (JSON turns the results' tuples into lists).
WHOLE = {"step": 4, "results": [[0.5, 0], [0.625, 4]], "words": 120, "losses": {"nerel_joint": 1.5},
         "seconds": 30, "orders": [[1, 0, 2]], "config": "[training]\nmax_steps = 10\n"}


def write_progress(folder: Path, progress) -> None:
    """FOLDER/progress.json: ``progress`` as JSON, or as the text given."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "progress.json").write_text(progress if isinstance(progress, str) else json.dumps(progress),
                                          encoding="utf8")


def write_checkpoint(folder: Path, progress=WHOLE) -> None:
    """A checkpoint folder a resume reads: ``progress`` and, beside it, every other file
    loop._save_checkpoint writes (empty tables, but each one there and opening)."""
    write_progress(folder, progress)
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "config.cfg").write_text("[nlp]\n", encoding="utf8")
    (folder / "model" / "meta.json").write_text("{}", encoding="utf8")
    numpy.savez(folder / "optimizer.npz")
    (folder / "optimizer.json").write_text('{"nr_update": {}, "last_seen": {}}', encoding="utf8")
    (folder / "random.json").write_text('{"python": null, "numpy": null}', encoding="utf8")
    numpy.save(folder / "numpy_random.npy", numpy.zeros(1))


def whole_progress(**fields) -> dict:
    """WHOLE with ``fields`` changed (None: left out)."""
    return {key: value for key, value in {**WHOLE, **fields}.items() if value is not None}


def refused(**fields):
    """A case: OUTPUT/checkpoint whose progress.json is WHOLE with ``fields`` changed, which the loop refuses."""
    return lambda out: write_progress(out / "checkpoint", whole_progress(**fields)), (DAMAGED, None, "checkpoint")


# OUTPUT folders, each as a kill, a disk or a hand could leave one, and what resuming makes of it:
# (state, step, the folder named) with the folder as a name beside OUTPUT.
CASES = {
    "whole": (lambda out: write_checkpoint(out / "checkpoint"), (READABLE, 4, "checkpoint")),
    "no checkpoint": (lambda out: None, (ABSENT, None, None)),
    "only checkpoint.removed (a kill while removing it)": (
        lambda out: write_progress(out / "checkpoint.removed", WHOLE), (ABSENT, None, None)),
    "only checkpoint.partial (a kill while writing it)": (
        lambda out: write_progress(out / "checkpoint.partial", WHOLE), (ABSENT, None, None)),
    "an empty checkpoint folder": (lambda out: (out / "checkpoint").mkdir(), (DAMAGED, None, "checkpoint")),
    "only checkpoint.old (a kill between the renames)": (
        lambda out: write_checkpoint(out / "checkpoint.old"), (READABLE, 4, "checkpoint.old")),
    "checkpoint.old beside a checkpoint without progress.json": (
        lambda out: ((out / "checkpoint").mkdir(), write_checkpoint(out / "checkpoint.old")),
        (READABLE, 4, "checkpoint.old")),
    "checkpoint.old cut short": (
        lambda out: write_progress(out / "checkpoint.old", json.dumps(WHOLE)[:20]), (DAMAGED, None, "checkpoint.old")),
    "progress.json cut short": (
        lambda out: write_progress(out / "checkpoint", json.dumps(WHOLE)[:20]), (DAMAGED, None, "checkpoint")),
    "no config": refused(config=None),
    "no results, words or orders": refused(results=None, words=None, orders=None),
    "step as text": refused(step="4"),
    "step 4.0": refused(step=4.0),
    "step -1": refused(step=-1),
    "seconds as text": refused(seconds="30"),
    "a list, not an object": (lambda out: write_progress(out / "checkpoint", [4]), (DAMAGED, None, "checkpoint")),
    "checkpoint is a file": (lambda out: (out / "checkpoint").write_text("x"), (DAMAGED, None, "checkpoint")),
    "checkpoint is a dangling link": (
        lambda out: (out / "checkpoint").symlink_to(out / "gone"), (DAMAGED, None, "checkpoint")),
    "checkpoint is a file beside a whole checkpoint.old": (
        lambda out: ((out / "checkpoint").write_text("x"), write_checkpoint(out / "checkpoint.old")),
        (READABLE, 4, "checkpoint.old")),
    "checkpoint is a dangling link beside a whole checkpoint.old": (
        lambda out: ((out / "checkpoint").symlink_to(out / "gone"), write_checkpoint(out / "checkpoint.old")),
        (READABLE, 4, "checkpoint.old")),
    # a whole progress.json beside files the loop cannot resume from (a disk full or a hand)
    "only progress.json": (lambda out: write_progress(out / "checkpoint", WHOLE), (DAMAGED, None, "checkpoint")),
    "no optimizer.npz": (lambda out: without(out / "checkpoint", "optimizer.npz"), (DAMAGED, None, "checkpoint")),
    "optimizer.npz cut short": (
        lambda out: rewrite(out / "checkpoint", "optimizer.npz", b"PK\x03\x04"), (DAMAGED, None, "checkpoint")),
    "random.json without numpy's state": (
        lambda out: rewrite(out / "checkpoint", "random.json", b'{"python": null}'), (DAMAGED, None, "checkpoint")),
    "no model/meta.json": (lambda out: without(out / "checkpoint", "model/meta.json"), (DAMAGED, None, "checkpoint")),
    "no numpy_random.npy in checkpoint.old": (
        lambda out: without(out / "checkpoint.old", "numpy_random.npy"), (DAMAGED, None, "checkpoint.old")),
}


def without(folder: Path, name: str) -> None:
    """A whole checkpoint in ``folder`` but for its file ``name``."""
    write_checkpoint(folder)
    (folder / name).unlink()


def rewrite(folder: Path, name: str, content: bytes) -> None:
    """A whole checkpoint in ``folder`` with ``content`` in its file ``name``."""
    write_checkpoint(folder)
    (folder / name).write_bytes(content)


Verdict = Tuple[str, Optional[int], Optional[str]]  # state, step, the checkpoint named


def output_of(tmp_path: Path, case: str) -> Path:
    output = tmp_path / "project" / "out"
    output.mkdir(parents=True)
    CASES[case][0](output)
    return output


def listing(folder: Path):
    return sorted((str(p.relative_to(folder)), p.is_symlink() or p.is_file()) for p in folder.rglob("*"))


@pytest.mark.parametrize("case", CASES)
def test_read_checkpoint_classifies_each_checkpoint_as_resuming_would_and_moves_nothing(tmp_path, case):
    output = output_of(tmp_path, case)
    before = listing(output)
    found = read_checkpoint(output / "checkpoint")
    state, step, named = CASES[case][1]
    assert (found.state, found.step) == (state, step)
    if named is not None:
        assert found.folder == output / named
    assert (found.problem is not None) == (state == DAMAGED)
    assert listing(output) == before


@pytest.mark.parametrize("case", CASES)
def test_the_loop_takes_back_the_checkpoint_resumed_checkpoint_names(tmp_path, case):
    output = output_of(tmp_path, case)
    named = resumed_checkpoint(output / "checkpoint")
    expected = listing(named) if named.is_dir() else None
    _recover_interrupted_swap(output / "checkpoint")  # what the loop does first
    checkpoint = output / "checkpoint"
    assert (listing(checkpoint) if checkpoint.is_dir() else None) == expected
    assert not (named.name == "checkpoint.old" and (output / "checkpoint.old").exists())


def train_resume_verdict(output: Path, tmp_path: Path) -> Verdict:
    """What ``nerel-batch train`` does on resuming: the loop's own recovery (on a copy), then ``read_progress``.
    The folder named is the one the loop read: checkpoint.old where it took that back."""
    copy = tmp_path / "loop_copy"
    shutil.copytree(output, copy, symlinks=True)
    checkpoint = copy / "checkpoint"
    _recover_interrupted_swap(checkpoint)
    taken_back = (output / "checkpoint.old").exists() and not (copy / "checkpoint.old").exists()
    named = "checkpoint.old" if taken_back else "checkpoint"
    if not (checkpoint.exists() or checkpoint.is_symlink()):
        return ABSENT, None, None
    try:
        progress = read_progress(checkpoint)
        check_checkpoint(checkpoint, progress)  # after comparing the settings, which are the same here
    except ResumeError as err:
        assert f"checkpoint {checkpoint} is damaged (" in str(err) and "--fresh" in str(err), str(err)
        return DAMAGED, None, named
    return READABLE, progress["step"], named


def train_rounds_verdict(output: Path, tmp_path: Path) -> Verdict:
    """What train-rounds plans for a stopped round in OUTPUT."""
    try:
        progress = checkpoint_progress(output)
    except DamagedCheckpoint as err:
        return DAMAGED, None, err.path.name
    if progress is None:
        return ABSENT, None, None
    return READABLE, progress["step"], resumed_checkpoint(output / "checkpoint").name


def progress_verdict(output: Path, tmp_path: Path) -> Verdict:
    """What nerel-batch progress shows for a stage training into OUTPUT."""
    state = stage_state(output.parent, Stage("train", Path(output.name), 10, 1.0, ""))
    verdict = {NOT_STARTED: ABSENT, STOPPED: READABLE, STAGE_DAMAGED: DAMAGED}[state.status]
    return (verdict, state.step if verdict == READABLE else None,
            None if state.checkpoint is None else state.checkpoint.name)


READERS: Dict[str, Callable[[Path, Path], Verdict]] = {
    "train --resume": train_resume_verdict, "train-rounds": train_rounds_verdict, "progress": progress_verdict,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", CASES)
def test_train_train_rounds_and_progress_agree_on_every_checkpoint(tmp_path, case, reader):
    output = output_of(tmp_path, case)
    assert READERS[reader](output, tmp_path) == CASES[case][1]


def test_a_checkpoint_written_by_the_loop_is_readable_and_whole(tmp_path):
    checkpoint = tmp_path / "out" / "checkpoint"
    progress = {"step": 8, "results": [(0.25, 0), (0.5, 4), (0.5, 8)], "words": 931, "losses": {"nerel_joint": 3.25},
                "seconds": 12, "orders": [[2, 0, 1], [1, 2, 0]]}
    nlp = spacy.blank("ru")
    _save_checkpoint(checkpoint, nlp, Adam(0.001), nlp.config.to_str(), progress)
    found = read_progress_file(checkpoint)
    assert (found.state, found.step, found.folder) == (READABLE, 8, checkpoint)
    assert read_progress(checkpoint) == found.progress
    check_checkpoint(checkpoint, found.progress)
    # the first format had no losses; nothing else has been added since
    write_progress(checkpoint, {key: value for key, value in found.progress.items() if key != "losses"})
    assert read_progress_file(checkpoint).step == 8


def test_read_progress_file_reads_progress_json_alone_so_train_can_compare_settings_first(tmp_path):
    """train refuses a checkpoint of other settings for those, whatever else is wrong with it; train-rounds
    and progress, which compare no settings, name the first file a resume would find wrong."""
    write_progress(tmp_path / "checkpoint", WHOLE)
    assert read_progress_file(tmp_path / "checkpoint").state == READABLE
    found = read_checkpoint(tmp_path / "checkpoint")
    assert (found.state, found.problem, found.progress) == (DAMAGED, "missing model/config.cfg", None)
    with pytest.raises(ResumeError, match=r"is damaged \(missing model/config.cfg\)"):
        check_checkpoint(tmp_path / "checkpoint", WHOLE)


@pytest.mark.parametrize("progress,says", [
    ({}, "no config, step, results, words, seconds, orders"),
    ("[]", "no config, step, results, words, seconds, orders"),
    (whole_progress(words=None, orders=None), "no words, orders"),
    (whole_progress(config=3), "it holds no config"),
    (whole_progress(step=True), 'step = true'),
    (whole_progress(step="4", seconds=-1), 'step = "4", seconds = -1'),
    (whole_progress(results=[[0.5]]), "results = [[0.5]]"),
    (whole_progress(results=[["0.5", 0]]), 'results = [["0.5", 0]]'),
    (whole_progress(orders=[3]), "orders = [3]"),
    (whole_progress(losses=[]), "losses = []"),
])
def test_progress_problem_names_each_field_the_loop_could_not_use(progress, says):
    assert says in progress_problem(json.loads(progress) if isinstance(progress, str) else progress)


def test_progress_problem_takes_what_the_loop_writes():
    assert progress_problem(WHOLE) is None
    assert progress_problem(whole_progress(losses=None, seconds=30.5, results=[])) is None
