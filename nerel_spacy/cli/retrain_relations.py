"""``nerel-batch retrain-relations``: a trained pipeline's relation head, trained again on its frozen encoder."""
import hashlib
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ._app import app
from ._console import error, escape
from ._outputs import input_clash, output_clash, staged_output

DEFAULT_ARCHITECTURE = "nerel.RelationScorer.v4"
EXAMPLES = """\
[bold]Examples[/bold]

  nerel-batch retrain-relations training/joint_trf_heads_more_more/model-best training/joint_trf_rel/model-best

  nerel-batch retrain-relations training/run/model-best training/run_rel --epochs 4 --head '{"depth": 1}' --cache training/run_vectors

  nerel-batch retrain-relations training/run/model-best training/run_more --continue --epochs 2

Exit status: 0 written, 2 usage error (no relation head, a missing corpus, OUTPUT not empty
without --overwrite, OUTPUT a file, one that is, holds or lies inside PIPELINE, or one that
is or holds --corpus or --cache).
"""


@app.command("retrain-relations", epilog=EXAMPLES)
def retrain_relations_command(
    pipeline: Path = typer.Argument(..., metavar="PIPELINE", exists=True, file_okay=False,
                                    help="A trained float32 pipeline whose nerel_joint has a relation head.",
                                    show_default=False),
    output: Path = typer.Argument(..., metavar="OUTPUT", help="Folder for the pipeline with the new head.",
                                  show_default=False),
    corpus: Path = typer.Option(Path("corpus"), "--corpus", help="Folder with train.spacy and dev.spacy."),
    architecture: Optional[str] = typer.Option(
        None, "--architecture", metavar="NAME",
        help=f"The relation head to train, e.g. nerel.RelationScorer.v3 \\[default: {DEFAULT_ARCHITECTURE}; "
        "with --continue, the pipeline's own].", show_default=False),
    head_settings: str = typer.Option(
        "{}", "--head", metavar="JSON",
        help="Other settings over the pipeline's relation_head config block, e.g. '{\"depth\": 1}'.",
    ),
    keep_weights: bool = typer.Option(
        False, "--continue", help="Continue from the pipeline's trained head instead of a fresh one "
        "(its architecture and settings stay)."),
    epochs: int = typer.Option(16, "--epochs", min=1, help="Passes over the training documents."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Documents per update."),
    learn_rate: float = typer.Option(1.5e-3, "--learn-rate", help="Adam's rate, decaying linearly to 0."),
    seed: int = typer.Option(0, "--seed", help="Initial weights and the order of the documents."),
    cache: Optional[Path] = typer.Option(
        None, "--cache", metavar="DIR", help="Keep the encoder's token vectors here and reuse them on the "
        "next run with the same PIPELINE (path and encoder weights) and corpus; not inside OUTPUT.",
        show_default=False),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists (once the new "
                                   "pipeline is complete; a failed run leaves it as it was)."),
) -> None:
    """Train the relation head again, on the encoder's token vectors computed once.

    The encoder and the other heads stay as they are, so doc.ents and doc.spans do not change
    (doc.cats does where the pipeline takes relation types from the triples too: cats_source
    "max" or "triples"). The vectors are computed once per document (the slow part: about 13
    minutes for NEREL on one core with e5-small), and each epoch then takes about two
    minutes. After every epoch the head is scored on dev with gold mentions; the best
    epoch's weights (by all-pairs F) are written into a copy of the pipeline, with
    OUTPUT/retrain_relations.json holding the curve. Quantize OUTPUT like any trained pipeline.
    """
    import spacy
    from spacy.training import Corpus
    from thinc.api import fix_random_seed

    from .. import relation_retrain as rr
    from ..machine import describe_machine

    console = Console(stderr=True)

    def fail(message: str) -> None:
        error(console, message)
        raise typer.Exit(2)

    clash = output_clash(str(pipeline), output, "PIPELINE", "OUTPUT", "rel") or input_clash(
        output, [(corpus, "--corpus")])
    if clash:
        fail(clash.replace("the copy", "the retrained pipeline"))
    if cache is not None and cache.resolve().is_relative_to(output.resolve()):
        fail(f"--cache {cache} lies in OUTPUT {output}, which the run replaces: keep the cache elsewhere.")
    if output.exists() and any(output.iterdir()) and not overwrite:
        fail(f"{output} exists and is not empty. Pass --overwrite to replace it.")
    for split in ("train", "dev"):
        if not (corpus / f"{split}.spacy").is_file():
            fail(f"{corpus / f'{split}.spacy'} not found. Convert NEREL first: nerel-batch convert NEREL_DIR {corpus}")
    try:
        overrides = json.loads(head_settings)
    except json.JSONDecodeError as err:
        fail(f"--head is not JSON ({err}): give an object such as '{{\"depth\": 1}}'")
    if not isinstance(overrides, dict):
        fail("--head must be a JSON object such as '{\"depth\": 1}'")
    if keep_weights and (overrides or architecture):
        fail("--continue keeps the pipeline's head as it is: leave out --architecture and --head.")
    nlp = spacy.load(pipeline)
    if rr.COMPONENT not in nlp.pipe_names or nlp.get_pipe(rr.COMPONENT).relation_head is None:
        fail(f"{pipeline} has no nerel_joint relation head (nerel.JointTagCat.v3) to retrain.")
    joint = nlp.get_pipe(rr.COMPONENT)
    own = dict(nlp.config["components"][rr.COMPONENT]["model"]["relation_head"])
    settings = {**own, **overrides}
    if not keep_weights:
        settings["@architectures"] = architecture or DEFAULT_ARCHITECTURE
    try:
        rr.build_relation_head(settings, 1, 1)
    except Exception as err:  # an unknown architecture or a setting it does not take
        fail(f"cannot build the relation head {settings}: {err}")
    examples = {split: list(Corpus(corpus / f"{split}.spacy")(nlp)) for split in ("train", "dev")}
    vectors = _vectors(nlp, examples, pipeline, corpus, cache, console)

    fix_random_seed(seed)
    spans_key = joint.cfg["spans_key"]
    gold = rr.gold_relations(examples["train"], joint.entity_labels, joint.cats_labels, spans_key)
    head = rr.starting_head(joint, settings, vectors["train"], gold, keep_weights=keep_weights)
    threshold, nested_arguments = joint.cfg["relation_threshold"], joint.cfg["nested_arguments"]

    def evaluate():
        return rr.score_relation_head(head, examples["dev"], vectors["dev"], joint.entity_labels,
                                      joint.cats_labels, threshold, spans_key, nested_arguments)

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True)
    n_batches = -(-len(rr.trainable_documents(gold)) // batch_size)
    task = progress.add_task("epoch 1", total=n_batches)

    def on_epoch(entry):
        dev = entry["dev"]
        loss = f"loss {entry['loss']:.4f}, " if "loss" in entry else ""
        console.print(f"epoch {entry['epoch']:>2}: {loss}dev gold mentions: all pairs F {dev['relations_gold_f']:.3f}, "
                      f"in-sentence P {dev['relations_gold_insent_p']:.3f} R {dev['relations_gold_insent_r']:.3f} "
                      f"F {dev['relations_gold_insent_f']:.3f}")
        progress.reset(task, description=f"epoch {entry['epoch'] + 1}")

    console.print(f"Training {settings['@architectures']} on {len(gold)} documents for {epochs} epochs "
                  f"({'continuing the pipeline' if keep_weights else 'fresh'}; relation threshold {threshold}, "
                  f"nested arguments {nested_arguments!r}).")
    with progress:
        curve = rr.train_relation_head(head, vectors["train"], gold, epochs=epochs, evaluate=evaluate,
                                       batch_size=batch_size, learn_rate=learn_rate, seed=seed,
                                       on_epoch=on_epoch, on_batch=lambda: progress.advance(task))
    best = max(curve, key=lambda entry: entry["dev"][rr.SELECT_BY])
    retrained = rr.with_relation_head(nlp, settings, head)
    with staged_output(output) as staging:  # an earlier OUTPUT is replaced only by a complete one
        retrained.to_disk(staging)
        rr.write_report(staging / "retrain_relations.json", {
            "source": str(pipeline), "head": settings, "continued": keep_weights, "epochs": epochs,
            "batch_size": batch_size, "learn_rate": learn_rate, "seed": seed, "threshold": threshold,
            "nested_arguments": nested_arguments,
            "selected_epoch": best["epoch"], "selected_by": rr.SELECT_BY, "curve": curve,
            "machine": describe_machine(),
        })
    console.print(f"[green]✔[/green] {escape(str(output))}: the head of epoch {best['epoch']} (all-pairs F "
                  f"{best['dev'][rr.SELECT_BY]:.3f}; before: {curve[0]['dev'][rr.SELECT_BY]:.3f}).")


def _vectors(nlp, examples, pipeline: Path, corpus: Path, cache: Optional[Path], console: Console):
    """The token vectors of every example, from ``cache`` when it holds this pipeline's
    (same path and encoder) and corpus's."""
    from .. import relation_retrain as rr

    source = cached = None
    if cache is not None:
        source = {"pipeline": str(pipeline.resolve()), "encoder": encoder_fingerprint(nlp), **{
            split: [(corpus / f"{split}.spacy").stat().st_size, (corpus / f"{split}.spacy").stat().st_mtime_ns]
            for split in examples}}
        cached = _read_source(cache / "source.json")
        if cached == source:
            console.print(f"Token vectors from {escape(str(cache))}.")
            return {split: rr.load_vectors(cache, split) for split in examples}
        if cached is not None:
            changed = ", ".join(key for key in source if cached.get(key) != source[key])
            console.print(f"Token vectors in {escape(str(cache))} are stale ({escape(changed)} changed): "
                          "computing them again.")
        (cache / "source.json").unlink(missing_ok=True)  # arrays half rewritten must not pass for the old ones
    vectors = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        for split, found in examples.items():
            task = progress.add_task(f"encoding {split}", total=len(found))
            vectors[split] = rr.encode_token_vectors(nlp, found, progress=lambda n: progress.advance(task, n))
    if cache is not None:
        for split, arrays in vectors.items():
            rr.save_vectors(cache, split, arrays)
        (cache / "source.json").write_text(json.dumps(source))
    return vectors


def _read_source(path: Path) -> Optional[dict]:
    """What a cache's source.json records, or None when it has none (or an unreadable one)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def encoder_fingerprint(nlp) -> str:
    """A digest of what the token vectors depend on: the weights and config of the components
    before nerel_joint (the transformer) and of nerel_joint's own encoder layers, and the
    vocab's static vectors, as loaded (saved files differ from save to save: the transformer's
    carries a temporary folder name). A pipeline replaced at the same path, or given other
    windows, gets another digest; new thresholds or a new relation head do not."""
    import numpy

    from .. import relation_retrain as rr

    digest = hashlib.sha256()
    upstream = nlp.pipe_names[: nlp.pipe_names.index(rr.COMPONENT)]
    components = nlp.config["components"]
    settings = {"upstream": {name: components[name] for name in upstream},
                "tok2vec": components[rr.COMPONENT]["model"].get("tok2vec")}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    models = [nlp.get_pipe(name).model for name in upstream if hasattr(nlp.get_pipe(name), "model")]
    for model in [*models, nlp.get_pipe(rr.COMPONENT).model.get_ref("tok2vec")]:
        for node in model.walk():
            for name in node.param_names:
                if node.has_param(name):
                    digest.update(node.ops.to_numpy(node.get_param(name)).tobytes())
            for shim in node.shims:  # a transformer's torch weights
                torch_model = getattr(shim, "_model", None)
                for key, value in sorted(getattr(torch_model, "state_dict", dict)().items()):
                    digest.update(key.encode())
                    digest.update(_tensor_bytes(value))
    vectors = nlp.vocab.vectors
    digest.update(repr(vectors.shape).encode())
    digest.update(numpy.ascontiguousarray(vectors.data).tobytes())
    digest.update(repr(sorted(getattr(vectors, "key2row", {}).items())).encode())
    return digest.hexdigest()[:16]


def _tensor_bytes(value) -> bytes:
    """A torch tensor's bytes, whatever its dtype; anything else by its repr."""
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    except (ImportError, RuntimeError, TypeError):
        pass
    return repr(value).encode()
