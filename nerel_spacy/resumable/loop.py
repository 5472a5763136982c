"""``spacy train``'s loop, checkpointed after every evaluation so that it can be resumed.

The loop is spaCy 3.8's ``spacy.training.loop.train`` with ``train_while_improving``
inlined, step for step: the same random calls in the same order, so a run that is never
stopped writes the same model as ``spacy train``. After each evaluation (when spaCy writes
model-last) it also writes OUTPUT/checkpoint, and a later call with the same config continues
from the step after it. SIGTERM or Ctrl-C stops it politely: the step in progress ends, a
checkpoint of that step is written and ``TrainingStopped`` is raised (a second Ctrl-C stops at
once). A finished run removes its checkpoint. Between checkpoints, OUTPUT/.train.live.json
says which step the run has reached (``live``).
"""
import contextlib
import json
import shutil
import signal
import sys
import threading
from pathlib import Path
from timeit import default_timer as timer
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.training.loop import (
    DIR_MODEL_BEST, DIR_MODEL_LAST, clean_output_dir, create_before_to_disk_callback,
    create_evaluation_callback, subdivide_batch, update_meta,
)
from spacy.util import registry, resolve_dot_names
from thinc.api import Config, constant, fix_random_seed
from wasabi import Printer

from ..training_logger import expected_duration
from .checkpoint_files import MODEL, READ_ERRORS
from .checks import check_checkpoint, check_inputs_outside, check_output_folder, damaged, read_progress
from .live import LiveProgress
from .lock import output_lock
from .progress_file import PROGRESS, interrupted_swap, old_checkpoint
from .state import ResumeError, load_optimizer, load_random_states, save_optimizer, save_random_states
from .stream import EpochStream, skip_batches

CHECKPOINT_DIR = "checkpoint"


class TrainingStopped(Exception):
    """The run stopped on a signal after ``step``, with a checkpoint of that step."""

    def __init__(self, signum: int, step: int, checkpoint: Path):
        super().__init__(f"stopped by {signal.Signals(signum).name} after step {step}; "
                         f"run the same command again to resume from {checkpoint}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


@contextlib.contextmanager
def stop_requests(stderr: IO) -> Iterator[Dict[str, Optional[int]]]:
    """While open, SIGTERM and SIGINT set ``["signal"]`` instead of killing the process (a
    second one acts as usual). Outside the main thread, where handlers cannot be set, the
    dict stays empty and signals act as usual."""
    request: Dict[str, Optional[int]] = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum, frame):
        if request["signal"] is not None:  # the second: as if we had no handler
            signal.signal(signum, previous[signum])
            signal.raise_signal(signum)
            return
        request["signal"] = signum
        stderr.write(f"\n{signal.Signals(signum).name}: stopping after this step, with a checkpoint "
                     "(send it again to stop at once)\n")

    for signum in previous:
        signal.signal(signum, handle)
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def config_differences(saved: str, current: str, limit: int = 8) -> List[str]:
    """The dotted settings whose values differ between two config texts, at most ``limit``.

    A component setting that the saved config lacks and the current one holds at its
    factory's default is not a difference: the factory gained it after the checkpoint was
    written (``max_batch_tokens``, say), and the default keeps the old behaviour.
    """
    flat_saved = _flatten(Config().from_str(saved, interpolate=False))
    flat_current = _flatten(Config().from_str(current, interpolate=False))
    keys = sorted(set(flat_saved) | set(flat_current))
    diffs = [
        f"{key}: {flat_saved.get(key, '(absent)')!r} → {flat_current.get(key, '(absent)')!r}"
        for key in keys
        if flat_saved.get(key, "(absent)") != flat_current.get(key, "(absent)")
        and not (key not in flat_saved and _is_new_factory_default(key, flat_current))
    ]
    return diffs[:limit] + ([f"… and {len(diffs) - limit} more"] if len(diffs) > limit else [])


def _is_new_factory_default(key: str, flat_config: Dict[str, Any]) -> bool:
    """Whether ``key`` is ``components.NAME.SETTING`` at its factory's default value."""
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "components":
        return False
    factory = flat_config.get(f"components.{parts[1]}.factory")
    if not factory or not Language.has_factory(factory):
        return False
    defaults = Language.get_factory_meta(factory).default_config or {}
    return parts[2] in defaults and defaults[parts[2]] == flat_config[key]


def _flatten(section: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def train_resumably(
    nlp: Language,
    output_path: Path,
    *,
    resume: bool = True,
    stdout: IO = sys.stdout,
    stderr: IO = sys.stderr,
) -> Path:
    """Train the initialized ``nlp`` into ``output_path`` like ``spacy train``, resumably.

    resume: continue from OUTPUT/checkpoint when there is one; False starts afresh and
        removes it. Raises ``ResumeError`` when the checkpoint's config differs, when the
        checkpoint is damaged (it is never trained over: ``resume=False`` removes it), when
        OUTPUT is a file, and when a path the config reads lies inside OUTPUT.
    Returns the path of model-last. Raises ``OutputBusy`` when another process is
    training into ``output_path``.

    A resumed run equals an uninterrupted one bit for bit on the CPU. On a GPU the CUDA and
    cupy generators are not saved, so a resumed GPU run draws other dropout masks.
    """
    check_output_folder(Path(output_path))
    with output_lock(output_path):
        return _train(nlp, Path(output_path), resume=resume, stdout=stdout, stderr=stderr)


def steps_to_go(config: Config, last_step: int) -> str:
    """", N to go (≈ T)" after ``last_step`` of ``max_steps``: the logger's expected duration
    (``nerel.ConsoleLogger.v1``'s ``seconds_per_step``) is that of the whole run."""
    max_steps = int(config["training"].get("max_steps") or 0)
    if not max_steps:
        return ""
    to_go = max(0, max_steps - last_step)
    seconds_per_step = config["training"].get("logger", {}).get("seconds_per_step")
    estimate = f" ≈ {expected_duration(to_go, float(seconds_per_step))}" if seconds_per_step else ""
    return f", {to_go} to go{estimate}"


def _train(nlp: Language, output_path: Path, *, resume: bool, stdout: IO, stderr: IO) -> Path:
    msg = Printer(no_print=True)
    checkpoint = output_path / CHECKPOINT_DIR
    config_text = nlp.config.to_str()
    config = nlp.config.interpolate()
    if config["training"]["seed"] is not None:
        fix_random_seed(config["training"]["seed"])
    T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    optimizer = T["optimizer"]
    before_to_disk = create_before_to_disk_callback(T["before_to_disk"])
    frozen, annotating = T["frozen_components"], T["annotating_components"]
    evaluate = create_evaluation_callback(nlp, dev_corpus, T["score_weights"])
    dropouts = constant(T["dropout"]) if isinstance(T["dropout"], float) else T["dropout"]
    stream = EpochStream(list(train_corpus(nlp)), T["batcher"], T["max_epochs"])

    progress: Dict[str, Any] = {"step": -1, "results": [], "words": 0, "seconds": 0}
    check_inputs_outside(config, output_path)  # before anything in OUTPUT is removed or written
    _recover_interrupted_swap(checkpoint)
    _delete(_removed(checkpoint))
    if resume and (checkpoint.exists() or checkpoint.is_symlink()):  # whole and readable, or refused
        progress = _load_checkpoint(checkpoint, nlp, optimizer, config_text)
        stream.orders = [list(order) for order in progress["orders"]]
    else:
        clean_output_dir(output_path)
        _remove_checkpoint(checkpoint)
    batches = iter(stream)
    first_step = progress["step"] + 1
    if first_step:
        skip_batches(batches, first_step)
        for _ in range(first_step):
            optimizer.step_schedules()
            next(dropouts)
        try:
            load_random_states(checkpoint)
        except READ_ERRORS as err:
            damaged(checkpoint, f"unreadable random states: {err}")
        stdout.write(msg.info(f"Resuming from {checkpoint} after step {progress['step']}: "
                              f"{first_step} steps done{steps_to_go(config, progress['step'])}") + "\n")

    def save_model(is_best: bool) -> None:
        with nlp.use_params(optimizer.averages):
            before_to_disk(nlp).to_disk(output_path / DIR_MODEL_LAST)
        if is_best:
            if (output_path / DIR_MODEL_BEST).exists():
                shutil.rmtree(output_path / DIR_MODEL_BEST)
            shutil.copytree(output_path / DIR_MODEL_LAST, output_path / DIR_MODEL_BEST)

    stdout.write(msg.info(f"Pipeline: {nlp.pipe_names}") + "\n")
    if frozen:
        stdout.write(msg.info(f"Frozen components: {frozen}") + "\n")
    if annotating:
        stdout.write(msg.info(f"Set annotations on update for: {annotating}") + "\n")
    stdout.write(msg.info(f"Initial learn rate: {optimizer.learn_rate}") + "\n")
    with nlp.select_pipes(disable=frozen):
        log_step, finalize_logger = T["logger"](nlp, stdout, stderr)
    results: List[Tuple[float, int]] = [tuple(r) for r in progress["results"]]
    losses: Dict[str, float] = dict(progress.get("losses", {}))
    words_seen, seconds_before, start_time = progress["words"], progress["seconds"], timer()
    output_path.mkdir(parents=True, exist_ok=True)

    def save_checkpoint(step: int, seconds: int) -> None:
        _save_checkpoint(checkpoint, nlp, optimizer, config_text, {
            "step": step, "results": results, "words": words_seen, "losses": losses,
            "seconds": seconds, "orders": stream.orders,
        })

    stop = contextlib.ExitStack()
    request = stop.enter_context(stop_requests(stderr))
    live = LiveProgress(output_path)
    stop.callback(live.close)
    try:
        for step, (epoch, batch) in enumerate(batches, start=first_step):
            if T["before_update"]:
                T["before_update"](nlp, {"step": step, "epoch": epoch})
            dropout = next(dropouts)
            for subbatch in subdivide_batch(batch, T["accumulate_gradient"]):
                nlp.update(subbatch, drop=dropout, losses=losses, sgd=False,
                           exclude=frozen, annotates=annotating)
            for name, proc in nlp.pipeline:
                if (name not in frozen and getattr(proc, "is_trainable", False)
                        and proc.model not in (True, False, None)):
                    proc.finish_update(optimizer)
            optimizer.step_schedules()
            is_best: Optional[bool] = None
            score, other_scores = None, None
            if not step % T["eval_frequency"]:
                if optimizer.averages:
                    with nlp.use_params(optimizer.averages):
                        score, other_scores = evaluate()
                else:
                    score, other_scores = evaluate()
                results.append((score, step))
                is_best = score == max(results)[0]
            words_seen += sum(len(eg) for eg in batch)
            info = {
                "epoch": epoch, "step": step, "score": score, "other_scores": other_scores,
                "losses": losses, "checkpoints": results, "start_step": first_step,
                "seconds": seconds_before + int(timer() - start_time), "words": words_seen,
            }
            if is_best is not None:
                with nlp.select_pipes(disable=frozen):
                    update_meta(T, nlp, info)
                save_model(is_best)
                info["output_path"] = str(output_path / DIR_MODEL_LAST)
            log_step(info if is_best is not None else None)
            live.step_done(step, seconds_before + timer() - start_time)
            if is_best is not None:
                losses = {}
                save_checkpoint(step, info["seconds"])
            best_step = -max((r_score, -r_step) for r_score, r_step in results)[1]
            if T["patience"] and (step - best_step) >= T["patience"]:
                break
            if T["max_steps"] and step >= T["max_steps"]:
                break
            if request["signal"] is not None:
                if is_best is None:  # not checkpointed at an evaluation just now
                    save_checkpoint(step, info["seconds"])
                raise TrainingStopped(request["signal"], step, checkpoint)
    except TrainingStopped as stopped:
        stdout.write(msg.warn(f"Training {stopped}.") + "\n")
        raise
    except Exception as err:
        stdout.write(msg.warn(f"Aborting and saving the final best model. Encountered exception: "
                              f"{err!r}. Run the same command again to resume from {checkpoint}.")
                     + "\n")
        raise
    finally:
        stop.close()
        finalize_logger()
        save_model(False)
    _remove_checkpoint(checkpoint)
    if optimizer.averages:
        nlp.use_params(optimizer.averages)
    part = f" ({info['seconds'] - seconds_before} s in this part)" if first_step else ""
    stdout.write(msg.info(f"Trained {info['step'] + 1} steps in {info['seconds']} s of training "
                          f"time{part}") + "\n")
    stdout.write(msg.good("Saved pipeline to output directory", output_path / DIR_MODEL_LAST) + "\n")
    return output_path / DIR_MODEL_LAST


def _save_checkpoint(folder: Path, nlp: Language, optimizer, config_text: str,
                     progress: Dict[str, Any]) -> None:
    """Write the checkpoint beside the old one, then swap, so a kill never leaves half of one."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    nlp.to_disk(partial / MODEL, exclude=["vectors"])  # static, and init_nlp loads them again
    save_optimizer(optimizer, nlp, partial)
    save_random_states(partial)
    (partial / PROGRESS).write_text(json.dumps({**progress, "config": config_text}), encoding="utf8")
    old = old_checkpoint(folder)
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_swap(folder: Path) -> None:
    """A kill between the two renames of ``_save_checkpoint`` leaves only checkpoint.old: take it
    back (``progress_file.resumed_checkpoint`` is this rule, read only)."""
    if interrupted_swap(folder):
        _delete(folder)  # a folder without progress.json, or a file or link in its place
        old_checkpoint(folder).rename(folder)


def _removed(folder: Path) -> Path:
    return folder.with_name(folder.name + ".removed")


def _remove_checkpoint(folder: Path) -> None:
    """Rename, then delete: a kill while deleting leaves checkpoint.removed, not half a checkpoint."""
    if folder.exists() or folder.is_symlink():
        _delete(_removed(folder))
        folder.rename(_removed(folder))
    _delete(_removed(folder))


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _load_checkpoint(folder: Path, nlp: Language, optimizer, config_text: str) -> Dict[str, Any]:
    """The progress of a whole checkpoint (the settings first: a damaged checkpoint of other
    settings is refused for those), with its weights and optimizer state loaded."""
    progress = read_progress(folder)
    try:
        differences = config_differences(progress["config"], config_text)
    except Exception as err:  # the saved config does not parse
        damaged(folder, f"unreadable {PROGRESS}: its config: {err}")
    if differences:
        raise ResumeError(
            f"{folder} was written by a run with other settings:\n  " + "\n  ".join(differences)
            + "\nRun with the settings it was written with to resume it, or pass --fresh to "
            "start over (the checkpoint is then removed)."
        )
    check_checkpoint(folder, progress)
    try:
        nlp.from_disk(folder / MODEL, exclude=["config.cfg", "vectors"])
    except READ_ERRORS as err:
        damaged(folder, f"{MODEL}/ does not load, unreadable or written by other code: {err!r}")
    try:
        load_optimizer(optimizer, nlp, folder)
    except ResumeError:
        raise
    except READ_ERRORS as err:
        damaged(folder, f"unreadable optimizer state: {err!r}")
    return progress
