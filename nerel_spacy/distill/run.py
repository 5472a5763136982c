"""``nerel-batch distill`` as library calls: the teacher's corpus, the student, its training config.

1. ``write_distill_corpus``: the training docs (and the teacher-labelled unlabeled texts)
   with the teacher's soft outputs, as one ``.spacy`` file, written in shards that a killed
   run continues from (``teacher_pass``);
2. ``write_student``: the teacher pipeline with its encoder cut to ``n_layers``, and
   ``distill_weight`` set on its ``nerel_joint`` so that it learns from those outputs;
3. ``student_config``: a ``spacy train`` config that sources both components from the
   student and reads the distillation corpus; the rest (batcher, logger, windows, score
   weights) is the teacher's own training config.
"""
import json
import shutil
from itertools import chain, islice
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Sequence

from spacy.language import Language
from spacy.tokens import DocBin
from thinc.api import Config

from ..corpus import read_corpus
from ..output_folders import link_or_copy
from ..training_logger import TOKEN_VECTORS_COLUMN
from .student import shrink_pipeline
from ..soft_targets import TEACHER_KEY
from .teacher import TEACHER_SOURCE, label_texts, with_teacher_outputs
from .teacher_pass import TeacherPass

CORPUS_FILE = "distill-corpus/train.spacy"
STUDENT_DIR = "student-init"
CONFIG_FILE = "config.cfg"
SUMMARY_FILE = "distill.json"


def write_distill_corpus(
    teacher: Language, train_path: Path, texts: Sequence[str], output: Path, shards: TeacherPass,
    batch_size: int = 8, on_progress: Optional[Callable[[int, int], None]] = None, token_vectors: bool = False,
) -> Dict[str, int]:
    """Every doc of ``train_path`` and every text, with the teacher's outputs (and, with
    ``token_vectors``, its encoder's token vectors), to ``output``.

    The docs are written to ``shards`` (opened) as they are done and joined there at the end;
    a pass an earlier run kept in it continues after its last complete shard. ``output`` is
    then a hard link to (or a copy of) the joined corpus."""
    references = read_corpus(train_path, teacher.vocab)
    total = len(references) + len(texts)
    done = total if shards.finished else min(len(shards.shards()) * shards.shard_docs, total)
    summary = {"gold_docs": len(references), "teacher_labelled_texts": len(texts), "docs": total,
               "token_vectors": bool(token_vectors)}
    if done:
        summary["resumed_after_docs"] = done
    if on_progress:
        on_progress(done, total)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(done, total)

    if done < total:
        docs = _docs_from(teacher, references, texts, done, batch_size)
        shard = DocBin(store_user_data=True)
        for doc in with_teacher_outputs(teacher, docs, batch_size, on_batch=advance, token_vectors=token_vectors):
            shard.add(doc)
            if len(shard) == shards.shard_docs:
                shards.add_shard(shard)
                shard = DocBin(store_user_data=True)
        if len(shard):
            shards.add_shard(shard)
    if not shards.finished:
        shards.join()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    link_or_copy(str(shards.corpus), str(output))
    return summary


def _docs_from(teacher: Language, references: Sequence, texts: Sequence[str], start: int, batch_size: int) -> Iterator:
    """The pass's docs from the ``start``-th on (a whole number of batches), the texts labelled
    in the batches an uninterrupted pass labels them in."""
    if start <= len(references):
        return chain(references[start:], label_texts(teacher, texts, batch_size))
    skipped = start - len(references)
    first = skipped - skipped % batch_size
    return islice(label_texts(teacher, texts[first:], batch_size), skipped - first, None)


def copy_distill_corpus(source: Path, output: Path) -> Dict[str, int]:
    """An earlier run's distillation corpus, copied; refused unless every doc has teacher outputs."""
    from spacy.vocab import Vocab

    docs = list(DocBin(store_user_data=True).from_disk(source).get_docs(Vocab()))
    missing = sum(len(doc) > 0 and TEACHER_KEY not in doc.user_data for doc in docs)
    if not docs or missing:
        raise ValueError(f"{source}: {missing} of {len(docs)} docs have no teacher outputs; "
                         "pass the distill-corpus/train.spacy that `nerel-batch distill` wrote.")
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, output)
    labelled = sum(bool(doc.user_data.get(TEACHER_SOURCE)) for doc in docs)
    with_vectors = all("token_vectors" in doc.user_data[TEACHER_KEY] for doc in docs if TEACHER_KEY in doc.user_data)
    return {"gold_docs": len(docs) - labelled, "teacher_labelled_texts": labelled, "docs": len(docs),
            "token_vectors": with_vectors, "copied_from": str(source)}


def write_student(
    nlp: Language, n_layers: int, distill_weight: float, output: Path, attention_dropout: Optional[float] = None,
    token_vectors_weight: float = 0.0, drop_static_vectors: bool = False,
) -> Dict[str, object]:
    """Cut the teacher ``nlp`` (in place) to ``n_layers`` encoder layers and save it to ``output``,
    ready to be sourced by ``spacy train``. ``attention_dropout``: see ``set_attention_dropout``;
    ``token_vectors_weight``: the component's ``distill_token_vectors_weight``;
    ``drop_static_vectors``: the student's encoder reads no static vectors, and it carries no
    table (``static_vectors.remove_static_vectors``)."""
    from spacy.util import load_config

    from ..quantize.pipeline import find_transformer_shims
    from ..static_vectors import remove_static_vectors
    from .teacher import joint_component

    before = _parameters(nlp, find_transformer_shims)
    shrunk = shrink_pipeline(nlp, n_layers, attention_dropout)
    joint = joint_component(nlp)
    if drop_static_vectors:
        remove_static_vectors(nlp, joint.name)
    settings = {"distill_weight": float(distill_weight), "distill_token_vectors_weight": float(token_vectors_weight)}
    joint.cfg.update(settings)
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    config = load_config(output / "config.cfg", interpolate=False)
    config["components"][joint.name].update(settings)
    config.to_disk(output / "config.cfg")
    return {"component": joint.name, "layers": {name: kept for name, kept, _ in shrunk},
            "teacher_layers": shrunk[0][2], "attention_dropout": attention_dropout, "encoder_parameters": {"teacher": before,
                                                                     "student": _parameters(nlp, find_transformer_shims)},
            "static_vectors": "dropped" if drop_static_vectors else list(nlp.vocab.vectors.shape)}


def _parameters(nlp: Language, find_shims) -> int:
    return sum(p.numel() for _, shim in find_shims(nlp) for p in shim._hfmodel.transformer.parameters())


def student_config(
    student_dir: Path, train_path: Path, dev_path: Path, *,
    max_steps: int, eval_frequency: int, learn_rate: float, warmup_steps: int, token_vectors: bool = False,
) -> Config:
    """The teacher's training config, sourcing the student and reading the distillation corpus,
    with every component trained (none frozen); ``token_vectors``: the console table also shows
    the distance from the teacher's token vectors."""
    from spacy.util import load_config

    config = load_config(student_dir / "config.cfg", interpolate=False)
    config["paths"]["train"] = str(train_path)
    config["paths"]["dev"] = str(dev_path)
    _read_corpora_from_paths(config)
    reads_vectors = any(_reads_static_vectors(block) for block in config["components"].values())
    config["components"] = {name: {"source": str(student_dir)} for name in config["nlp"]["pipeline"]}
    # spaCy does not carry a sourced pipeline's vectors: the student holds the teacher's where it reads
    # them, and loads none where it does not (a teacher's paths.vectors would fill it with a dead table)
    config.setdefault("initialize", {})["vectors"] = str(student_dir) if reads_vectors else None
    training = config["training"]
    # The student's shortened encoder is what distillation trains. A teacher whose last stage
    # froze it (train-heads: fresh heads on a frozen, annotating encoder) would hand that on,
    # and the student would learn only its heads; a frozen component that stays annotating
    # would also run twice a step once unfrozen.
    frozen = list(training.get("frozen_components") or [])
    training["frozen_components"] = []
    training["annotating_components"] = [name for name in training.get("annotating_components") or []
                                         if name not in frozen]
    training["max_steps"] = int(max_steps)
    training["eval_frequency"] = int(eval_frequency)
    training["optimizer"]["learn_rate"] = {
        "@schedules": "warmup_linear.v1", "warmup_steps": int(warmup_steps),
        "total_steps": int(max_steps), "initial_rate": float(learn_rate),
    }
    logger = training.get("logger", {})
    if token_vectors and "raw_columns" in logger:
        logger["raw_columns"] = [*logger["raw_columns"], TOKEN_VECTORS_COLUMN]
        training.setdefault("score_weights", {})[TOKEN_VECTORS_COLUMN] = 0.0
    if "seconds_per_step" in logger:  # the teacher's step time, not the student's
        logger["seconds_per_step"] = None
        logger["measured_on"] = ""
    return config


def _reads_static_vectors(block: object) -> bool:
    """Whether a config block builds ``nerel.WithStaticVectors.v1`` anywhere inside it."""
    if isinstance(block, dict):
        return block.get("@architectures") == "nerel.WithStaticVectors.v1" or any(
            _reads_static_vectors(value) for value in block.values())
    return False


def _read_corpora_from_paths(config: Config) -> None:
    """Point the training and dev readers at ``${paths.train}`` and ``${paths.dev}``.

    A pipeline saved outside ``spacy train`` can carry a literal corpus path in its config
    (e.g. ``corpus/train.spacy``); the student would then train on the gold corpus without
    the teacher's outputs, or fail where that file does not exist."""
    training = config["training"]
    for key, variable in (("train_corpus", "${paths.train}"), ("dev_corpus", "${paths.dev}")):
        section = config
        for part in str(training.get(key, f"corpora.{key.split('_')[0]}")).split("."):
            section = section.get(part, {})
        if "path" in section:
            section["path"] = variable


def write_summary(output: Path, summary: Dict[str, object]) -> None:
    (output / SUMMARY_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf8")


__all__ = ["CONFIG_FILE", "CORPUS_FILE", "STUDENT_DIR", "copy_distill_corpus", "student_config", "write_distill_corpus",
           "write_student", "write_summary"]
