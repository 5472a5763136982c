"""``nerel.ConsoleLogger.v1``: spaCy's console table, with σ and raw task losses as numbers.

The joint component reports, through the ``losses`` dict of ``update``, the raw
(unweighted) loss of each task (``{pipe}_{task}``, summed over the steps since the
last evaluation) and the learned uncertainty σ (``{pipe}_sigma_{task}``). This
logger turns them into the columns ``loss_{task}`` (mean per step) and
``sigma_{task}`` of spaCy's table, unscaled: they are not percentages. Everything
else, including the optional JSONL output, is spaCy's.

Before the first step it prints what the run will cost: ``max_steps`` × the
``seconds_per_step`` measured for this config, naming where it was measured, and the
precision each trained encoder's training passes run in (``train_precision``).
"""
import sys
from typing import IO, Any, Callable, Dict, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.training.loggers import console_logger_v3
from spacy.util import registry

TASKS = ("ner", "spans", "cats", "relations")
RAW_COLUMNS = tuple(f"{kind}_{task}" for kind in ("sigma", "loss") for task in TASKS)
# A distilled student's distance from its teacher's token vectors (no σ: a fixed weight).
TOKEN_VECTORS_COLUMN = "loss_token_vectors"


def rescale_raw_scores(info: Dict[str, Any], raw_columns: Sequence[str]) -> Dict[str, Any]:
    """A copy of ``info`` whose raw columns are divided by 100, to cancel the ×100 display."""
    other_scores = dict(info.get("other_scores", {}))
    for column in raw_columns:
        if isinstance(other_scores.get(column), (int, float)):
            other_scores[column] = other_scores[column] / 100.0
    return {**info, "other_scores": other_scores}


def previous_evaluation(info: Dict[str, Any]) -> int:
    """The step of the evaluation before ``info``'s, from which its ``losses`` were summed.

    A run resumed by ``nerel-batch train`` after a stop between two evaluations restores the
    losses summed since the last one, so the mean is over the steps since that evaluation, not
    over the steps this process made; a fresh run's first evaluation (step 0) had one step.
    """
    earlier = [step for _, step in info.get("checkpoints", []) if step < info["step"]]
    return max(earlier) if earlier else info.get("start_step", 0)


def task_columns(losses: Dict[str, float], pipe: str, n_steps: int) -> Dict[str, float]:
    """``sigma_{task}`` and mean ``loss_{task}`` of ``pipe`` from ``n_steps`` steps' ``losses``."""
    columns: Dict[str, float] = {}
    for task in TASKS:
        if f"{pipe}_sigma_{task}" in losses:
            columns[f"sigma_{task}"] = float(losses[f"{pipe}_sigma_{task}"])
        if f"{pipe}_{task}" in losses:
            columns[f"loss_{task}"] = float(losses[f"{pipe}_{task}"]) / max(1, n_steps)
    if f"{pipe}_token_vectors" in losses:
        columns[TOKEN_VECTORS_COLUMN] = float(losses[f"{pipe}_token_vectors"]) / max(1, n_steps)
    return columns


def expected_duration(max_steps: int, seconds_per_step: float) -> str:
    """``max_steps × seconds_per_step`` as hours and minutes."""
    return format_duration(max_steps * seconds_per_step)


def format_duration(seconds: float) -> str:
    """Seconds as ``2 h 05 min``, or ``45 min`` under an hour."""
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


PRECISION_NAMES = {"fp32": "float32", "bf16": "bfloat16"}


def encoder_precision_lines(nlp: Language) -> list:
    """One line for each encoder that this run trains, saying its training precision."""
    frozen = set(nlp.config["training"].get("frozen_components") or [])
    lines = []
    for name, pipe in nlp.components:
        model = getattr(pipe, "model", None)
        if name in frozen or model is None or not hasattr(model, "walk"):
            continue
        for node in model.walk():
            precision = node.attrs.get("train_precision")
            if precision is not None:
                setting = node.attrs.get("train_precision_setting", precision)
                chosen = f"train_precision = {setting!r}" + (
                    ": the CPU multiplies bfloat16 natively" if setting == "auto" and precision == "bf16"
                    else ": no native bfloat16 on this CPU" if setting == "auto" else ""
                )
                lines.append(f"ℹ {name}: training passes in {PRECISION_NAMES[precision]} ({chosen}).")
                break
    return lines


@registry.loggers("nerel.ConsoleLogger.v1")
def console_logger(
    progress_bar: Optional[str] = None,
    console_output: bool = True,
    output_file: Optional[str] = None,
    raw_columns: Sequence[str] = RAW_COLUMNS,
    seconds_per_step: Optional[float] = None,
    measured_on: str = "",
) -> Callable[[Language, IO, IO], Tuple[Callable, Callable]]:
    """spaCy's ``ConsoleLogger.v3``, printing ``raw_columns`` unscaled.

    seconds_per_step: measured training cost of one step of this config (with its
        evaluations), to print the expected duration before training starts.
    measured_on: where it was measured, e.g. "2 cores, AMD EPYC (no AMX)".
    """
    base = console_logger_v3(
        progress_bar=progress_bar, console_output=console_output, output_file=output_file
    )

    def setup_printer(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        if seconds_per_step and console_output:
            max_steps = int(nlp.config["training"]["max_steps"] or 0)
            where = f" on {measured_on}" if measured_on else ""
            if max_steps:
                stdout.write(
                    f"ℹ Expected duration: {max_steps} steps × {seconds_per_step:g} s/step "
                    f"(measured{where}) ≈ {expected_duration(max_steps, seconds_per_step)}.\n"
                )
        if console_output:
            for line in encoder_precision_lines(nlp):
                stdout.write(line + "\n")
        log_step, finalize = base(nlp, stdout, stderr)
        joint_pipes = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory == "nerel_joint"]
        last_step: Dict[str, Optional[int]] = {"step": None}

        def log_raw_step(info: Optional[Dict[str, Any]]) -> None:
            if info is None:
                log_step(None)
                return
            if last_step["step"] is None:
                last_step["step"] = previous_evaluation(info)
            n_steps = info["step"] - last_step["step"]
            last_step["step"] = info["step"]
            columns: Dict[str, float] = {}
            for pipe in joint_pipes:
                columns.update(task_columns(info.get("losses", {}), pipe, n_steps))
            info = {**info, "other_scores": {**info.get("other_scores", {}), **columns}}
            log_step(rescale_raw_scores(info, raw_columns))

        return log_raw_step, finalize

    return setup_printer
