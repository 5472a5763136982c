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
rounds with their scores, and which round's fingerprint model-best was copied from (so a
shortened schedule copies its own last round's again).

OUTPUT may not be, hold or lie inside MODEL or the vectors, nor hold the corpus files, and
MODEL must be a transformer pipeline with strided windows: ``check_chain`` refuses both before any work.
The config overrides spell paths one way however the command was given them
(``paths.spelling``), so a stopped round resumes whether OUTPUT and the corpus are spelled
relative or absolute.
"""
import gc
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional

from ..brat_writer import atomic_write_text
from ..output_folders import staged_output
from .paths import CHECKPOINT, DamagedCheckpoint, checkpoint_step, keep_saved_spellings, output_clash, spelling
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
    steps_left: int = 0  # the round's steps, less those a stopped round's checkpoint holds
    note: str = ""  # what the plan adds to the state: where a resume starts, or why it cannot
    damaged: Optional[str] = None  # why a stopped round's checkpoint cannot be read


def check_chain(model: Path, rounds: List[Round], settings: ChainSettings, output: Optional[Path] = None) -> None:
    """Refuse, before any work, what would fail later: which path, and what to pass instead.
    Reads MODEL's and the continue config, and writes nothing (``--plan`` calls it)."""
    from ..windows import check_windows

    if not (Path(model) / "config.cfg").exists():
        raise ChainError(f"MODEL {model}: not a pipeline folder (no config.cfg)")
    if output is not None:
        # the corpus is its two files: OUTPUT may lie beside them, as their checksums do not see it
        clash = output_clash(output, [(model, "MODEL"), (settings.vectors, "--vectors"),
                                      (settings.train, "the training corpus"), (settings.dev, "the dev corpus")])
        if clash:
            raise ChainError(clash)
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
    _check_configs(Path(model), settings)


def _check_configs(model: Path, settings: ChainSettings) -> None:
    """MODEL has a transformer with strided windows (each round sets them), and the continue
    config takes the command's overrides."""
    from spacy.util import load_config

    try:
        config = load_config(model / "config.cfg", interpolate=False)
    except Exception as err:  # thinc's ConfigValidationError, configparser's errors, OSError
        raise ChainError(f"MODEL {model}: its config.cfg cannot be read: {err}") from None
    transformer = (config.get("components") or {}).get("transformer")
    if not isinstance(transformer, dict) or "get_spans" not in (transformer.get("model") or {}):
        pipeline = ", ".join((config.get("nlp") or {}).get("pipeline") or []) or "none"
        raise ChainError(f"MODEL {model} has no 'transformer' component with strided windows (its pipeline: "
                         f"{pipeline}); train-rounds continues a transformer pipeline (configs/joint_trf*.cfg). "
                         "Continue another pipeline with `nerel-batch train` and its own config")
    try:
        load_config(settings.base_config, overrides=dict(settings.overrides), interpolate=False)
    except Exception as err:
        overrides = f" with the overrides {', '.join(settings.overrides)}" if settings.overrides else ""
        raise ChainError(f"the continue config {settings.base_config}{overrides} cannot be read: {err}") from None


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
        steps_left, note, damaged = (0 if state == "done" else round_.steps), "", None
        if state == "resume":
            try:
                step = checkpoint_step(folder)
            except DamagedCheckpoint as err:
                damaged = f"{err}; delete {err.path} to train the round from its start"
                note = f"but {damaged}"
            else:
                if step is not None:
                    steps_left = max(0, round_.steps - step)
                    note = f"after step {step}, {steps_left} to go"
        planned.append(PlannedRound(round_, index, folder, round_fingerprint, reads_vectors, state,
                                    steps_left, note, damaged))
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


def build_source(previous: Path, source: Path, planned: PlannedRound, settings: ChainSettings) -> None:
    """previous's weights with the round's windows (and vectors, for an add_vectors round), written atomically."""
    from ..static_vectors import add_static_vectors
    from ..windows import load_with_windows

    round_ = planned.round
    nlp = load_with_windows(previous, round_.window or settings.window, round_.stride or settings.stride)
    if round_.add_vectors:
        add_static_vectors(nlp, settings.vectors, scale=round_.vectors_scale)
    with staged_output(source) as staging:  # a stop leaves the old folder or the new
        nlp.to_disk(staging)


def round_overrides(planned: PlannedRound, source: Path, settings: ChainSettings) -> Dict[str, Any]:
    """The continue config's overrides for one round: train-more's, plus the user's own. Paths
    are spelled one way (``paths.spelling``): the checkpoint compares their text on resuming."""
    return {
        "paths.init_model": spelling(source), "paths.train": spelling(settings.train),
        "paths.dev": spelling(settings.dev),
        "training.max_steps": planned.round.steps, "training.eval_frequency": settings.eval_frequency,
        "training.optimizer.learn_rate.initial_rate": planned.round.learn_rate,
        "initialize.vectors": spelling(settings.vectors) if planned.reads_vectors else None,
        **settings.overrides,
    }


def train_round(planned: PlannedRound, source: Path, settings: ChainSettings, *, stdout: IO, stderr: IO) -> None:
    from spacy import util
    from spacy.training.initialize import init_nlp

    from ..resumable import train_resumably

    overrides = round_overrides(planned, source, settings)
    if planned.state == "resume":  # the checkpoint's own spelling of a path that names the same thing
        overrides = keep_saved_spellings(planned.folder, overrides)
    config = util.load_config(settings.base_config, overrides=overrides, interpolate=False)
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

    check_chain(model, rounds, settings, output)
    if settings.vectors is not None and not any(r.add_vectors for r in rounds):
        log(f"Note: no round sets add_vectors, so the vectors {settings.vectors} are not used")
        settings = replace(settings, vectors=None)
    output = Path(output)
    with output_lock(output):
        planned = plan_chain(model, rounds, output, settings)
        total = sum(p.steps_left for p in planned)
        log(f"{len(planned)} rounds into {output}; {total:,} steps to train{estimate(settings, total)}"
            + "".join(f"\n  {p.index}. {p.round.name}: {p.round.steps} steps at {p.round.learn_rate:g}"
                      f"{', adds vectors' if p.round.add_vectors else ''} ({p.state})"
                      f"{' ' + p.note if p.note else ''}" for p in planned))
        for p in planned:
            if p.damaged:
                raise ChainError(f"round {p.round.name} cannot resume: {p.damaged}")
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
    from ..resumable import ResumeError

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
    try:
        train_round(p, source, settings, stdout=stdout, stderr=stderr)
    except ResumeError as err:  # its advice names `nerel-batch train --fresh`, which train-rounds has not
        text = _without_fresh(str(err))
        restart = f"delete {p.folder / CHECKPOINT} to train the round again from its start"
        if CHECKPOINT not in text:  # not about the checkpoint (OUTPUT is a file, say)
            advice = ""
        elif "damaged" in text:
            advice = f"\nD{restart[1:]}"
        else:
            advice = (f"\nRun train-rounds with the settings (and from the folder) the round was started with "
                      f"to resume it, or {restart}")
        raise ChainError(f"round {p.round.name}: {text}{advice}") from None
    _write_json(p.folder / RECORD, {**record, "status": DONE, "seconds_this_run": round(time.time() - started, 1),
                                    "dev": _best_scores(p.folder)})
    shutil.rmtree(source, ignore_errors=True)


def _without_fresh(text: str) -> str:
    """The loop's message without its advice, which names `nerel-batch train --fresh`: train-rounds has none."""
    for marker in ("\nRun with the settings", "Pass --fresh", "pass --fresh"):
        text = text[:text.index(marker)] if marker in text else text
    if "--fresh" in text:
        text = " ".join(sentence for sentence in re.split(r"(?<=\.)\s+", text) if "--fresh" not in sentence)
    return text.rstrip()


HEADLINE_SCORES = ("spans_nerel_f", "seqeval_f", "ents_f", "cats_micro_f", "relations_f")


def _best_scores(folder: Path) -> Dict[str, float]:
    """The headline dev scores of the round's model-best, from its meta.json."""
    meta = folder / FINAL / "meta.json"
    performance = json.loads(meta.read_text(encoding="utf8")).get("performance", {}) if meta.exists() else {}
    return {key: performance[key] for key in HEADLINE_SCORES if key in performance}


def read_summary(output: Path) -> Dict[str, Any]:
    """OUTPUT/rounds.json, or {} where there is none or it cannot be read."""
    try:
        summary = json.loads((Path(output) / SUMMARY).read_text(encoding="utf8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _finish(planned: List[PlannedRound], output: Path, log: Callable[[str], None]) -> Path:
    last = planned[-1]
    final = output / FINAL
    copied = read_summary(output).get("model_best_fingerprint")  # absent in rounds.json before it was kept
    if (any(p.state != "done" for p in planned) or not (final / "config.cfg").exists()
            or copied != last.fingerprint):  # else it is the copy of this last round's
        with staged_output(final) as staging:
            shutil.copytree(last.folder / FINAL, staging, dirs_exist_ok=True)
    rounds = [{"name": p.round.name, **{k: v for k, v in (read_record(p.folder) or {}).items() if k != "round"},
               "settings": p.round.settings()} for p in planned]
    summary = {"model": str(final), "model_best_round": last.round.name, "model_best_fingerprint": last.fingerprint,
               "rounds": rounds}
    _write_json(output / SUMMARY, summary)
    log(f"Wrote {final} (round {planned[-1].round.name}'s model-best) and {output / SUMMARY}")
    return final
