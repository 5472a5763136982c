"""Train a schedule's rounds one after another into one folder, each resumable.

Round k continues round k−1's model-last (the first round continues MODEL) with the
continue config (``configs/joint_trf_continue.cfg``): its source is a copy of that model
with the round's windows set and, for an ``add_vectors`` round, static vectors added
(``nerel-batch set-windows``, ``nerel-batch add-vectors``), then ``train_resumably`` trains
it into OUTPUT/NAME. This is what ``spacy project run train-more`` does by hand for one round.

OUTPUT/NAME/round.json records each round's fingerprint (``schedule.fingerprint``) and
whether it finished. Run again, the chain skips the rounds that finished with the same
fingerprint, resumes the one that was stopped from its checkpoint, and trains again a round
whose settings, starting model or corpus changed (and so every round after it, whose
fingerprints chain on). Training is deterministic (a resumed run equals an uninterrupted one
bit for bit), so a finished round with the same fingerprint holds the weights it would train. At the end
OUTPUT/model-best is a copy of the last round's model-best and OUTPUT/rounds.json lists the
rounds with their scores.
"""
import gc
import json
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional

from ..brat_writer import atomic_write_text
from .schedule import Round, fingerprint, folder_checksum

RECORD = "round.json"
SUMMARY = "rounds.json"
FINAL = "model-best"
SOURCE_SUFFIX = "_source"
DONE, TRAINING = "done", "training"


class ChainError(ValueError):
    """The chain cannot start or continue: what is wrong and what to do."""


@dataclass
class ChainSettings:
    """What every round shares: the continue config, the corpus, the windows and the vectors."""

    base_config: Path
    train: Path
    dev: Path
    window: int = 128
    stride: int = 96
    eval_frequency: int = 250
    vectors: Optional[Path] = None
    overrides: Dict[str, Any] = field(default_factory=dict)

    def start_fingerprint(self, model: Path) -> str:
        """Stands for what the first round trains from: MODEL, the corpus and these settings."""
        return json.dumps({
            "model": folder_checksum(model), "train": folder_checksum(self.train), "dev": folder_checksum(self.dev),
            "config": Path(self.base_config).read_text(encoding="utf8"), "window": self.window,
            "stride": self.stride, "eval_frequency": self.eval_frequency,
            "overrides": {key: self.overrides[key] for key in sorted(self.overrides)},
        }, sort_keys=True, default=str)


@dataclass
class PlannedRound:
    round: Round
    index: int
    folder: Path
    fingerprint: str
    reads_vectors: bool
    state: str  # "done", "resume", "train" or "retrain"


def check_chain(model: Path, rounds: List[Round], settings: ChainSettings) -> None:
    """Refuse, before any work, what would fail later: which path, and what to pass instead."""
    from ..windows import check_windows

    if not (Path(model) / "config.cfg").exists():
        raise ChainError(f"MODEL {model}: not a pipeline folder (no config.cfg)")
    for round_ in rounds:
        if round_.name in (FINAL, SUMMARY) or round_.name.endswith((SOURCE_SUFFIX, ".partial")):
            raise ChainError(f"round {round_.name}: the name is taken by the chain's own files "
                             f"({FINAL}, {SUMMARY}, NAME{SOURCE_SUFFIX}); rename the round")
        try:
            check_windows(round_.window or settings.window, round_.stride or settings.stride)
        except ValueError as err:
            raise ChainError(f"round {round_.name}: {err}") from None
    for path, what in ((settings.base_config, "the continue config"), (settings.train, "the training corpus"),
                       (settings.dev, "the dev corpus")):
        if not Path(path).exists():
            raise ChainError(f"{what} {path} does not exist")
    adding = [r.name for r in rounds if r.add_vectors]
    if adding and settings.vectors is None:
        raise ChainError(f"round {adding[0]} adds static vectors: pass --vectors (a `nerel-batch prepare-vectors` "
                         "folder, e.g. assets/navec_vectors)")
    if adding and not (Path(settings.vectors) / "config.cfg").exists():
        raise ChainError(f"--vectors {settings.vectors}: not a vectors pipeline folder (no config.cfg); "
                         "write one with `nerel-batch prepare-vectors`")


def plan_chain(model: Path, rounds: List[Round], output: Path, settings: ChainSettings) -> List[PlannedRound]:
    """Each round's fingerprint and what running the chain will do with it."""
    previous = settings.start_fingerprint(Path(model))
    vectors_checksum = folder_checksum(settings.vectors) if settings.vectors is not None else None
    planned, reads_vectors = [], False
    for index, round_ in enumerate(rounds, 1):
        reads_vectors = reads_vectors or round_.add_vectors
        extra = {"vectors": vectors_checksum} if round_.add_vectors else {}
        round_fingerprint = fingerprint(previous, round_, extra)
        folder = Path(output) / round_.name
        record = read_record(folder)
        if record is None:
            if folder.exists() and any(p.name != ".train.lock" for p in folder.iterdir()):
                raise ChainError(f"{folder} exists but was not written by train-rounds (no {RECORD}); "
                                 "move it away or choose another --output")
            state = "train"
        elif record.get("fingerprint") != round_fingerprint:
            state = "retrain"
        elif record.get("status") == DONE and (folder / "model-last" / "config.cfg").exists():
            state = "done"
        else:
            state = "resume"
        planned.append(PlannedRound(round_, index, folder, round_fingerprint, reads_vectors, state))
        previous = round_fingerprint
    return planned


def read_record(folder: Path) -> Optional[Dict[str, Any]]:
    path = Path(folder) / RECORD
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError:
        return {}  # a record cut short: the round is trained again


def _write_json(path: Path, data: Dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _write_folder_atomically(folder: Path, write: Callable[[Path], Any]) -> None:
    """``write`` into FOLDER.partial, then put it in FOLDER's place: a stop leaves the old folder or the new."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    write(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def build_source(previous: Path, source: Path, planned: PlannedRound, settings: ChainSettings) -> None:
    """previous's weights with the round's windows (and vectors, for an add_vectors round), written atomically."""
    from ..static_vectors import add_static_vectors
    from ..windows import load_with_windows

    round_ = planned.round
    nlp = load_with_windows(previous, round_.window or settings.window, round_.stride or settings.stride)
    if round_.add_vectors:
        add_static_vectors(nlp, settings.vectors, scale=round_.vectors_scale)
    _write_folder_atomically(source, nlp.to_disk)


def round_overrides(planned: PlannedRound, source: Path, settings: ChainSettings) -> Dict[str, Any]:
    """The continue config's overrides for one round: train-more's, plus the user's own."""
    return {
        "paths.init_model": str(source), "paths.train": str(settings.train), "paths.dev": str(settings.dev),
        "training.max_steps": planned.round.steps, "training.eval_frequency": settings.eval_frequency,
        "training.optimizer.learn_rate.initial_rate": planned.round.learn_rate,
        "initialize.vectors": str(settings.vectors) if planned.reads_vectors else None,
        **settings.overrides,
    }


def train_round(planned: PlannedRound, source: Path, settings: ChainSettings, *, stdout: IO, stderr: IO) -> None:
    from spacy import util
    from spacy.training.initialize import init_nlp

    from ..resumable import train_resumably

    config = util.load_config(settings.base_config, overrides=round_overrides(planned, source, settings),
                              interpolate=False)
    nlp = init_nlp(config, use_gpu=-1)
    train_resumably(nlp, planned.folder, resume=planned.state == "resume", stdout=stdout, stderr=stderr)
    del nlp
    gc.collect()


def run_chain(
    model: Path, rounds: List[Round], output: Path, settings: ChainSettings, *,
    log: Callable[[str], None] = print, stdout: IO = sys.stdout, stderr: IO = sys.stderr,
) -> Path:
    """Train every round not yet done; return OUTPUT/model-best, the last round's model-best."""
    from ..resumable import output_lock

    check_chain(model, rounds, settings)
    if settings.vectors is not None and not any(r.add_vectors for r in rounds):
        log(f"Note: no round sets add_vectors, so the vectors {settings.vectors} are not used")
        settings = replace(settings, vectors=None)
    output = Path(output)
    with output_lock(output):
        planned = plan_chain(model, rounds, output, settings)
        total = sum(p.round.steps for p in planned if p.state != "done")
        log(f"{len(planned)} rounds into {output}; {total:,} steps to train{estimate(settings, total)}"
            + "".join(f"\n  {p.index}. {p.round.name}: {p.round.steps} steps at {p.round.learn_rate:g}"
                      f"{', adds vectors' if p.round.add_vectors else ''} ({p.state})" for p in planned))
        previous = Path(model)
        for p in planned:
            if p.state != "done":
                _run_round(p, previous, output, settings, log=log, stdout=stdout, stderr=stderr,
                           count=len(planned))
            previous = p.folder / "model-last"
        return _finish(planned, output, log)


def estimate(settings: ChainSettings, steps: int) -> str:
    """" (≈ T on CPU)" from the continue config's logger (``seconds_per_step``, ``measured_on``)."""
    from spacy.util import load_config

    from ..training_logger import expected_duration

    logger = load_config(settings.base_config, interpolate=False)["training"].get("logger", {})
    seconds = logger.get("seconds_per_step")
    if not steps or not seconds:
        return ""
    where = f" on {logger['measured_on'].split(',')[0]}" if logger.get("measured_on") else ""
    return f" (≈ {expected_duration(steps, float(seconds))}{where})"


def _run_round(p: PlannedRound, previous: Path, output: Path, settings: ChainSettings, *, log, stdout, stderr,
               count: int) -> None:
    source = output / f"{p.round.name}{SOURCE_SUFFIX}"
    if p.state == "retrain":
        log(f"Round {p.index}/{count} ({p.round.name}): its settings, its starting model or the corpus "
            f"changed since it was trained; training it again")
        shutil.rmtree(p.folder)
    if p.state != "resume" or not (source / "config.cfg").exists():
        build_source(previous, source, p, settings)
    record = {"fingerprint": p.fingerprint, "status": TRAINING, "round": p.round.settings(), "from": str(previous),
              "reads_vectors": p.reads_vectors}
    p.folder.mkdir(parents=True, exist_ok=True)
    _write_json(p.folder / RECORD, record)
    verb = "resuming" if p.state == "resume" else "training"
    log(f"Round {p.index}/{count} ({p.round.name}): {verb}, {p.round.steps} steps at {p.round.learn_rate:g} "
        f"from {previous}")
    started = time.time()
    train_round(p, source, settings, stdout=stdout, stderr=stderr)
    _write_json(p.folder / RECORD, {**record, "status": DONE, "seconds_this_run": round(time.time() - started, 1),
                                    "dev": _best_scores(p.folder)})
    shutil.rmtree(source, ignore_errors=True)


HEADLINE_SCORES = ("spans_nerel_f", "seqeval_f", "ents_f", "cats_micro_f", "relations_f")


def _best_scores(folder: Path) -> Dict[str, float]:
    """The headline dev scores of the round's model-best, from its meta.json."""
    meta = folder / FINAL / "meta.json"
    performance = json.loads(meta.read_text(encoding="utf8")).get("performance", {}) if meta.exists() else {}
    return {key: performance[key] for key in HEADLINE_SCORES if key in performance}


def _finish(planned: List[PlannedRound], output: Path, log: Callable[[str], None]) -> Path:
    last = planned[-1].folder / FINAL
    final = output / FINAL
    if any(p.state != "done" for p in planned) or not (final / "config.cfg").exists():  # else it is the copy
        _write_folder_atomically(final, lambda partial: shutil.copytree(last, partial))
    summary = {"model": str(final), "rounds": [
        {"name": p.round.name, **{k: v for k, v in (read_record(p.folder) or {}).items() if k != "round"},
         "settings": p.round.settings()} for p in planned]}
    _write_json(output / SUMMARY, summary)
    log(f"Wrote {final} (round {planned[-1].round.name}'s model-best) and {output / SUMMARY}")
    return final
