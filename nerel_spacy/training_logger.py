"""``nerel.ConsoleLogger.v1``: spaCy's console table, with σ and raw losses shown as numbers.

spaCy's ConsoleLogger prints every score column ×100, as a percentage. The joint
component also reports the learned uncertainty σ per task and the raw (unweighted)
training loss per task; those are not percentages, so this logger shows them as
they are. Everything else, including the optional JSONL output, is spaCy's.
"""
from typing import IO, Any, Callable, Dict, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.training.loggers import console_logger_v3
from spacy.util import registry

RAW_COLUMNS = ("sigma_ner", "sigma_cats", "loss_ner", "loss_cats")


def rescale_raw_scores(info: Dict[str, Any], raw_columns: Sequence[str]) -> Dict[str, Any]:
    """A copy of ``info`` whose raw columns are divided by 100, to cancel the ×100 display."""
    other_scores = dict(info.get("other_scores", {}))
    for column in raw_columns:
        if isinstance(other_scores.get(column), (int, float)):
            other_scores[column] = other_scores[column] / 100.0
    return {**info, "other_scores": other_scores}


@registry.loggers("nerel.ConsoleLogger.v1")
def console_logger(
    progress_bar: Optional[str] = None,
    console_output: bool = True,
    output_file: Optional[str] = None,
    raw_columns: Sequence[str] = RAW_COLUMNS,
) -> Callable[[Language, IO, IO], Tuple[Callable, Callable]]:
    """spaCy's ``ConsoleLogger.v3``, printing ``raw_columns`` unscaled."""
    base = console_logger_v3(
        progress_bar=progress_bar, console_output=console_output, output_file=output_file
    )

    def setup_printer(nlp: Language, stdout: IO, stderr: IO):
        log_step, finalize = base(nlp, stdout, stderr)

        def log_raw_step(info: Optional[Dict[str, Any]]) -> None:
            log_step(rescale_raw_scores(info, raw_columns) if info is not None else None)

        return log_raw_step, finalize

    return setup_printer
