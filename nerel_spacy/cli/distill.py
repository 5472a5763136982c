"""``nerel-batch distill``: a shallower, faster student of a trained transformer pipeline."""
import json
import os
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..distill.run import (
    CONFIG_FILE,
    CORPUS_FILE,
    STUDENT_DIR,
    SUMMARY_FILE,
    copy_distill_corpus,
    student_config,
    write_distill_corpus,
    write_student,
    write_summary,
)
from ..distill.student import plan_layers
from ..distill.student_run import LOCK_SUFFIX, RUN_SUFFIX, StudentRun, StudentRunMismatch, run_settings
from ..distill.student_run import beside as _beside
from ..distill.teacher_pass import TeacherPass, folder_digest, made_from, texts_digest
from ..trim.texts import TextSourceError, read_all_texts
from ._app import app
from ._console import error, escape
from ._outputs import input_clash, output_clash
from ..output_folders import replace_dir
from ..resumable.lock import OutputBusy, output_lock

EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch distill training/joint_trf/model-trimmed training/student4 --layers 4 --steps 4000 --attention-dropout 0

  nerel-batch distill training/joint_trf/model-best training/student2 --layers 2 --texts ~/news --steps 3000

  nerel-batch quantize training/student4/model-best training/student4/model-int8

Writes OUTPUT/distill-corpus/train.spacy (the training docs with the teacher's outputs),
OUTPUT/student-init (the cut-down teacher), OUTPUT/config.cfg, then trains into
OUTPUT/model-best and OUTPUT/model-last like `spacy train`, and OUTPUT/distill.json. The run
is written in OUTPUT-student-run and renamed to OUTPUT once trained, so --overwrite replaces
an earlier OUTPUT only with a finished run. The teacher pass is written as it goes to
OUTPUT-teacher-pass, and the student's training checkpoints at every evaluation (and on
Ctrl-C or SIGTERM) in OUTPUT-student-run, as `nerel-batch train` does: after a kill, the same
command continues where it stopped, in the teacher pass or in training; another setting is
refused until --fresh discards the kept run. A run that fails before its training keeps the
teacher outputs it computed in OUTPUT-teacher-outputs.spacy, for --teacher-outputs.

Exit status: 0 trained, 2 usage error (unreadable texts, a CNN or int8 teacher, too many
layers, OUTPUT not empty without --overwrite, OUTPUT a file, one that is, holds or lies inside
TEACHER, or one that is or holds --teacher-outputs, --train, --dev or --texts, a teacher pass
or a student's run kept from other settings without --fresh, a damaged checkpoint, another
distill into OUTPUT still running, --texts with --teacher-outputs), 130 or
143 stopped by Ctrl-C or SIGTERM with a checkpoint (run the same command to continue).
"""


class StaticVectors(str, Enum):
    keep = "keep"
    drop = "drop"


@app.command("distill", epilog=EXAMPLES)
def distill_command(
    teacher: Path = typer.Argument(
        ..., metavar="TEACHER", show_default=False,
        help="A trained float32 transformer pipeline of this project (model-best, or its trim-vocab copy: "
        "the student keeps the teacher's vocabulary).",
    ),
    output: Path = typer.Argument(..., metavar="OUTPUT", show_default=False, help="Folder for the student and its run."),
    layers: int = typer.Option(4, "--layers", min=1, help="Encoder layers the student keeps, spread evenly over "
                               "the teacher's (first and last included)."),
    train: Path = typer.Option(Path("corpus/train.spacy"), "--train", help="The gold training corpus."),
    dev: Path = typer.Option(Path("corpus/dev.spacy"), "--dev", help="The corpus model-best is chosen on."),
    texts: List[Path] = typer.Option(
        [], "--texts", metavar="PATH", show_default=False,
        help="Unlabeled Russian texts to learn the teacher's predictions from too (repeatable): a folder of "
        ".txt files, a .txt file or a .spacy corpus.",
    ),
    weight: float = typer.Option(0.5, "--weight", min=0.0, max=1.0,
                                 help="How much of each target is the teacher's: (1 - w)·gold + w·teacher."),
    token_vector_weight: float = typer.Option(
        0.0, "--token-vector-weight", min=0.0,
        help="Also pull the student's token vectors (its encoder's output, which the heads read) towards the "
        "teacher's: this times their squared distance relative to the teacher's squared norm joins the loss. "
        "The teacher pass then stores its token vectors (about 0.75 KB a token for e5-small). 0: off.",
    ),
    steps: int = typer.Option(2000, "--steps", min=1, help="Training steps of the student."),
    eval_frequency: int = typer.Option(250, "--eval-frequency", min=1, help="Evaluate on --dev every N steps."),
    learn_rate: float = typer.Option(1.5e-4, "--learn-rate", help="Peak learning rate (linear warm-up and decay); "
                                     "the teacher's own in configs/joint_trf.cfg."),
    warmup_steps: int = typer.Option(100, "--warmup-steps", min=0, help="Warm-up steps of the learning rate."),
    attention_dropout: Optional[float] = typer.Option(
        None, "--attention-dropout", min=0.0, max=0.99, show_default="the teacher's",
        help="Dropout on the student's attention probabilities. 0 lets torch use its fused attention "
        "kernel in training, which is several times faster than the one with dropout.",
    ),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Docs per batch in the teacher pass."),
    teacher_outputs: Optional[Path] = typer.Option(
        None, "--teacher-outputs", metavar="FILE", show_default=False,
        help="Reuse the distill-corpus/train.spacy of an earlier run of the same teacher instead of "
        "running the teacher again (e.g. for a second student size); --train is then unused, and --texts refused.",
    ),
    static_vectors: StaticVectors = typer.Option(
        StaticVectors.keep, "--static-vectors", case_sensitive=False,
        help="For a teacher whose encoder also reads static vectors (all's, after its navec round): keep = the "
        "student reads them too; drop = it reads none, carries no table and learns without them (navec's "
        "codes are 34 MB, as much as a 4-layer student's int8 encoder).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it holds something."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard what an unfinished run kept (its teacher pass in "
                               "OUTPUT-teacher-pass, its student in OUTPUT-student-run) and start from the beginning."),
) -> None:
    """Train a student with fewer encoder layers on the teacher's soft outputs and the gold labels.

    The student starts as the teacher with only --layers of its transformer layers (and the
    teacher's embeddings and heads). It then learns from every training doc's gold labels
    mixed with the teacher's probabilities for each task: BIO tags, nested mentions,
    relation types and, on the gold mention pairs, relation triples. Quantize the result
    with `nerel-batch quantize` as any pipeline.

    The teacher's outputs are written to OUTPUT-teacher-pass a few dozen docs at a time, and
    the student trains in OUTPUT-student-run with a checkpoint at every evaluation. If the
    run is killed, the same command continues after the last shard or checkpoint that was
    written; a pass or run kept from another teacher, corpus, texts or setting is refused
    (--fresh discards them).
    """
    console = Console(stderr=True)
    inputs = [(teacher_outputs, "--teacher-outputs"), (train, "--train"), (dev, "--dev"),
              *((path, "--texts") for path in texts)]
    clash = output_clash(str(teacher), output, "TEACHER", "OUTPUT", "student") or input_clash(output, inputs)
    if clash:
        error(console, clash.replace("the copy", "the student"))
        raise typer.Exit(2)
    if teacher_outputs is not None and texts:
        # The reused pass already holds the texts it was run with; new ones would go unlabelled.
        error(console, "--texts needs the teacher to label them, and --teacher-outputs skips the teacher: "
              "leave --teacher-outputs out (the teacher then runs on --train and every --texts).")
        raise typer.Exit(2)
    if output.exists() and any(output.iterdir()) and not overwrite:
        error(console, f"{output} exists and is not empty. Pass --overwrite to replace it.")
        raise typer.Exit(2)
    needed = ((teacher / "config.cfg", "TEACHER"), (dev, "--dev"))
    needed += ((train, "--train"),) if teacher_outputs is None else ((teacher_outputs, "--teacher-outputs"),)
    for path, what in needed:
        if not path.is_file():
            error(console, f"{what}: {path} not found.")
            raise typer.Exit(2)
    try:
        extra_texts = read_all_texts(texts)
    except TextSourceError as err:
        error(console, err)
        raise typer.Exit(2)
    settings = dict(teacher=teacher, layers=layers, train=train, dev=dev, extra_texts=extra_texts, weight=weight,
                    token_vector_weight=token_vector_weight, steps=steps, eval_frequency=eval_frequency,
                    learn_rate=learn_rate, warmup_steps=warmup_steps, attention_dropout=attention_dropout,
                    batch_size=batch_size, teacher_outputs=teacher_outputs, fresh=fresh,
                    drop_static_vectors=static_vectors == StaticVectors.drop)
    try:
        # One run per OUTPUT: a second would write the same teacher pass and checkpoint, and its
        # --fresh would delete the first one's run under it.
        with output_lock(output, lock_file=_beside(output, LOCK_SUFFIX, hidden=True)):
            _distill(output, extra_texts, settings, console)
    except OutputBusy as err:
        error(console, err)
        raise typer.Exit(2)


def _distill(output: Path, extra_texts, settings: dict, console: Console) -> None:
    """The run itself, once OUTPUT is this process's: continued or begun, trained, renamed to OUTPUT."""
    teacher, teacher_outputs, fresh = settings["teacher"], settings["teacher_outputs"], settings["fresh"]
    shards = TeacherPass(_beside(output, "-teacher-pass"))
    run = StudentRun(_beside(output, RUN_SUFFIX))
    started = time.perf_counter()
    try:
        # The student's settings, the teacher's files by content: a resume must train the same student.
        kept = run_settings(teacher_files=folder_digest(teacher), texts=[len(extra_texts), texts_digest(extra_texts)],
                            **{k: v for k, v in settings.items() if k not in ("extra_texts", "fresh")
                               and not (k == "drop_static_vectors" and not v)})  # runs kept before it: unset
        if fresh:
            run.remove()
        run.check(kept)
    except (OSError, StudentRunMismatch) as err:
        error(console, err)
        raise typer.Exit(2)
    work = run.folder if output.is_absolute() else Path(os.path.relpath(run.folder))
    if not run.ready:
        run.begin()
        teacher_pass: List[Path] = []  # the corpus the teacher pass wrote, once it is complete
        try:
            _prepare(work, output, console, teacher_pass, shards, **settings)
        except BaseException:
            _keep_teacher_outputs(teacher_pass, output, console)
            _say_the_pass_is_kept(shards, console)
            run.remove()
            raise
        run.mark_ready(kept)
    else:
        step = run.checkpoint_step()
        after = f" after step {step:,}" if step is not None else ""
        console.print(f"Continuing the student's training kept in {escape(str(run.folder))}{after}.")
    try:
        summary = _train_student(work, run, console)
    except typer.Exit:  # stopped by a signal, or refused: _train_student said why
        raise
    except Exception:
        console.print(f"The student's run is kept in {escape(str(run.folder))}: once the cause is fixed, the same "
                      "command continues it after its last checkpoint (--fresh starts it again).")
        raise
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_summary(work, summary)
    run.finish()
    _relocate_configs(work, output)
    replace_dir(run.folder, output.resolve())
    if teacher_outputs is None:
        shards.remove()  # OUTPUT holds its corpus now
    console.print(f"Wrote {escape(str(output / 'model-best'))} ({summary['seconds']:.0f}s).")


def _prepare(output: Path, final: Path, console: Console, teacher_pass: List[Path], shards: TeacherPass, *,
             teacher: Path, layers: int, train: Path, dev: Path, extra_texts,
             weight: float, token_vector_weight: float, steps: int, eval_frequency: int, learn_rate: float,
             warmup_steps: int, attention_dropout: Optional[float], batch_size: int,
             teacher_outputs: Optional[Path], fresh: bool, drop_static_vectors: bool) -> None:
    """The teacher pass (continued from ``shards``, or its earlier outputs copied), the student
    and its training config, into ``output`` (the run's folder, renamed to ``final`` once
    trained); the corpus of a finished teacher pass is appended to ``teacher_pass``."""
    import spacy

    try:
        # One load: the teacher annotates the corpus, then is cut down into the student.
        if teacher_outputs is not None:
            corpus = copy_distill_corpus(teacher_outputs, output / CORPUS_FILE)
            if token_vector_weight > 0 and not corpus["token_vectors"]:
                raise ValueError(f"--teacher-outputs {teacher_outputs} has no token vectors, which "
                                 "--token-vector-weight needs: leave --teacher-outputs out to run the teacher again.")
        else:
            inputs = made_from(teacher, train, extra_texts, token_vectors=token_vector_weight > 0,
                               batch_size=batch_size)
            if not fresh:
                shards.check(inputs)  # a kept pass of other inputs is refused before the slow load
        teacher_nlp = spacy.load(teacher)
        plan_layers(teacher_nlp, layers)  # refuse a CNN, an int8 pipeline or too many layers now
        if drop_static_vectors and not _reads_static_vectors(teacher_nlp):
            console.print("--static-vectors drop: the teacher reads no static vectors, so there are none to drop.")
            drop_static_vectors = False
    except ValueError as err:
        error(console, err)
        raise typer.Exit(2)
    teacher_seconds = 0.0
    if teacher_outputs is None:
        if shards.open(inputs, fresh):
            console.print(f"Continuing the teacher pass kept in {escape(str(shards.folder))}.")
        progress = Progress(TextColumn("teacher outputs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TimeRemainingColumn(), console=console, transient=True)
        task = progress.add_task("teacher", total=None)

        def show(done: int, total: int) -> None:
            if progress.tasks[0].total is None:  # the start: the docs of a kept pass are not this run's speed
                progress.reset(task, total=total, completed=done)
            else:
                progress.update(task, total=total, completed=done)

        pass_started = time.perf_counter()
        with progress:
            corpus = write_distill_corpus(teacher_nlp, train, extra_texts, output / CORPUS_FILE, shards, batch_size,
                                          on_progress=show, token_vectors=token_vector_weight > 0)
        teacher_seconds = time.perf_counter() - pass_started
        teacher_pass.append(output / CORPUS_FILE)
    resumed = corpus.get("resumed_after_docs", 0)
    earlier = f", {resumed:,} of them by an earlier run" if resumed else ""
    console.print(f"Teacher outputs for {corpus['docs']:,} docs ({corpus['teacher_labelled_texts']:,} unlabeled"
                  f"{earlier}) in {teacher_seconds:.0f}s: {escape(str(final / CORPUS_FILE))}.")
    student = write_student(teacher_nlp, layers, weight, output / STUDENT_DIR, attention_dropout, token_vector_weight,
                            drop_static_vectors)
    del teacher_nlp
    dropped = "; static vectors dropped" if drop_static_vectors else ""
    console.print(f"Student: layers {student['layers']} of {student['teacher_layers']}, encoder "
                  f"{student['encoder_parameters']['teacher']:,} → {student['encoder_parameters']['student']:,} "
                  f"weights{dropped}.")
    config = student_config(output / STUDENT_DIR, output / CORPUS_FILE, dev, max_steps=steps,
                            eval_frequency=eval_frequency, learn_rate=learn_rate, warmup_steps=warmup_steps,
                            token_vectors=token_vector_weight > 0)
    config.to_disk(output / CONFIG_FILE)
    summary = {"teacher": str(teacher), "weight": weight, "token_vector_weight": token_vector_weight,
               "steps": steps, "learn_rate": learn_rate,
               "corpus": corpus, "student": student, "teacher_pass_seconds": round(teacher_seconds, 1)}
    write_summary(output, summary)  # read back by _train_student, in this run or a resumed one


def _reads_static_vectors(nlp) -> bool:
    from ..distill.teacher import joint_component
    from ..static_vectors import static_projection

    try:
        static_projection(nlp, joint_component(nlp).name)
    except ValueError:
        return False
    return True


def _train_student(output: Path, run: StudentRun, console: Console) -> dict:
    """Train the student prepared in ``output`` with ``nerel-batch train``'s resumable loop into
    ``run.training_output``, continuing its checkpoint where there is one; distill.json's
    summary, with the step it resumed from and model-best's dev scores."""
    import sys

    from spacy import util
    from spacy.training.initialize import init_nlp

    from ..resumable import OutputBusy, ResumeError, TrainingStopped, train_resumably

    summary = json.loads((output / SUMMARY_FILE).read_text(encoding="utf8"))
    resumed_from = run.checkpoint_step()
    if resumed_from is not None:
        summary["resumed_from_step"] = resumed_from
    training = output / run.training_output.name
    try:
        nlp = init_nlp(util.load_config(output / CONFIG_FILE, interpolate=False))
        train_resumably(nlp, training, resume=True, stdout=sys.stdout, stderr=sys.stderr)
    except TrainingStopped as stopped:  # the loop printed where its checkpoint is
        console.print(f"The student's training stopped after step {stopped.step:,}; the same command continues it "
                      f"from {escape(str(run.folder))}.")
        raise typer.Exit(128 + stopped.signum)
    except (OutputBusy, ResumeError) as err:
        error(console, f"{err} (the student's run is kept in {run.folder}; --fresh starts it again)")
        raise typer.Exit(2)
    meta = training / "model-best" / "meta.json"
    if meta.is_file():
        summary["dev_scores"] = json.loads(meta.read_text(encoding="utf8")).get("performance", {})
    return summary


def _keep_teacher_outputs(teacher_pass: List[Path], output: Path, console: Console) -> None:
    """After a failed run, move the teacher outputs it computed (the long part) out of the
    folder about to be removed, next to OUTPUT, and say how to reuse them."""
    if not teacher_pass or not teacher_pass[0].is_file():
        return
    corpus = teacher_pass[0]
    kept = _beside(output, "-teacher-outputs.spacy")
    try:
        os.replace(corpus, kept)
    except OSError:
        return
    console.print(f"The run failed; its teacher outputs are kept in {escape(str(kept))}: pass "
                  f"--teacher-outputs {escape(str(kept))} to skip the teacher pass next time.")


def _say_the_pass_is_kept(shards: TeacherPass, console: Console) -> None:
    """After a run stopped in its teacher pass, say where the docs it finished are kept."""
    if shards.manifest is None or shards.finished or not shards.shards():
        return
    console.print(f"The teacher pass stopped; the outputs of its first {len(shards.shards()) * shards.shard_docs:,} "
                  f"docs are kept in {escape(str(shards.folder))}: the same command continues from there.")


def _relocate_configs(work: Path, output: Path) -> None:
    """Point the configs written in the staging folder ``work`` (the student's sources, the
    corpus paths) at where they will be once it is renamed to ``output``."""
    for config in work.rglob("config.cfg"):
        text = config.read_text(encoding="utf8")
        if str(work) in text:
            config.write_text(text.replace(str(work), str(output)), encoding="utf8")
