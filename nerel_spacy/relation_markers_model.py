"""The torch side of subject-marked relation classification (``relation_markers``).

A Hugging Face encoder reads each pass's marked words; a pair is the concatenation of the
subject's two marker vectors, the object's first- and last-piece vectors and an embedding
of the object's type, fed to a one-hidden-layer classifier with a sigmoid per relation type.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy

from .relation_markers import MarkedWords, PassPieces, SubjectPass, mark_subject, pass_pieces


class MarkerBatch(NamedTuple):
    inputs: Dict[str, object]  # input_ids, attention_mask (torch tensors)
    subjects: object  # (n_passes, 2) long: opening and closing marker piece
    objects: object  # (n_pairs, 4) long: pass, first piece, last piece, object type
    targets: object  # (n_pairs, n_labels) float
    kept: List[Optional[PassPieces]]  # per pass; None if it was dropped


def build_classifier(encoder, n_entity_types: int, n_labels: int, *, width: int = 384,
                     type_width: int = 32, dropout: float = 0.1, prior: float = 0.01):
    import torch

    class MarkerRelationClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            size = encoder.config.hidden_size
            self.object_type = torch.nn.Embedding(n_entity_types, type_width)
            self.hidden = torch.nn.Linear(4 * size + type_width, width)
            self.dropout = torch.nn.Dropout(dropout)
            self.output = torch.nn.Linear(width, n_labels)
            # Start at the base rate: about one candidate pair in ten holds any relation.
            torch.nn.init.constant_(self.output.bias, float(numpy.log(prior / (1 - prior))))

        def forward(self, inputs, subjects, objects):
            states = self.encoder(**inputs).last_hidden_state
            passes = objects[:, 0]
            subject = torch.cat([states[passes, subjects[passes, 0]], states[passes, subjects[passes, 1]]], dim=-1)
            pair = torch.cat([subject, states[passes, objects[:, 1]], states[passes, objects[:, 2]],
                              self.object_type(objects[:, 3])], dim=-1)
            return self.output(self.dropout(torch.nn.functional.gelu(self.hidden(pair))))

    return MarkerRelationClassifier()


def make_batch(tokenizer, passes: Sequence[SubjectPass], tokens: Sequence[Sequence[str]],
               mentions: Sequence[numpy.ndarray], entity_labels: Sequence[str], *,
               max_words: int = 160, max_pieces: int = 256) -> MarkerBatch:
    """Tokenize passes together. ``tokens[d]`` and ``mentions[d]`` (a sequence, or a mapping
    holding the docs of these passes) are doc ``d``'s token texts and ``(n, 3)`` gold mentions."""
    import torch

    marked: List[MarkedWords] = []
    for one in passes:
        lo, hi = one.sentence
        start, end, label = mentions[one.doc][one.subject]
        marked.append(mark_subject(tokens[one.doc][lo:hi], (start - lo, end - lo), entity_labels[label], max_words))
    encoded = tokenizer([m.words for m in marked], is_split_into_words=True, padding=True, truncation=True,
                        max_length=max_pieces, return_tensors="pt")
    kept, subjects, objects, targets = [], [], [], []
    for i, (one, words) in enumerate(zip(passes, marked)):
        found = pass_pieces(words, encoded.word_ids(i), mentions[one.doc], one)
        kept.append(found)
        subjects.append(found.subject if found else (0, 0))
        if found is None:
            continue
        for position, (first, last) in zip(found.objects, found.object_pieces):
            objects.append((i, first, last, int(mentions[one.doc][one.objects[position]][2])))
            targets.append(one.targets[position])
    n_labels = passes[0].targets.shape[1] if passes else 0
    return MarkerBatch(
        {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]},
        torch.tensor(subjects, dtype=torch.long).reshape(-1, 2),
        torch.tensor(objects, dtype=torch.long).reshape(-1, 4),
        torch.tensor(numpy.asarray(targets, dtype="float32").reshape(-1, n_labels)),
        kept,
    )


def predict_probabilities(model, batch: MarkerBatch) -> List[Optional[numpy.ndarray]]:
    """Per pass, the ``(len(kept objects), n_labels)`` probabilities; None for a dropped pass."""
    import torch

    with torch.no_grad():
        probabilities = torch.sigmoid(model(batch.inputs, batch.subjects, batch.objects)).numpy() \
            if len(batch.objects) else numpy.zeros((0, 0), dtype="float32")
    found, row = [], 0
    for kept in batch.kept:
        if kept is None:
            found.append(None)
            continue
        found.append(probabilities[row: row + len(kept.objects)])
        row += len(kept.objects)
    return found


def length_batches(passes: Sequence[SubjectPass], size: int, rng, *, pool: int = 50) -> List[List[SubjectPass]]:
    """Shuffled batches of ``size`` passes, each drawn from a pool of similar sentence lengths
    (so little padding), in shuffled order."""
    order = list(passes)
    rng.shuffle(order)
    batches = []
    for lo in range(0, len(order), size * pool):
        chunk = sorted(order[lo: lo + size * pool], key=lambda one: one.sentence[1] - one.sentence[0])
        batches.extend(chunk[i: i + size] for i in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches


def train_classifier(model, batches_per_epoch, make, *, epochs: float, learn_rate: float, head_learn_rate: float,
                     seconds: Optional[float] = None, warmup: float = 0.05, on_step=None) -> Dict[str, float]:
    """AdamW over the trainable weights (the encoder's at ``learn_rate``, the classifier's at
    ``head_learn_rate``), warmed up, then decaying linearly to 0 at the planned last step.

    ``batches_per_epoch()`` returns a fresh list of pass batches, ``make(batch)`` a
    ``MarkerBatch``. With ``seconds``, the plan is cut after 20 steps to what fits in that
    time at the speed so far, and the decay follows the new plan. ``on_step(step, planned,
    loss)`` is called after each update. Returns the steps, the plan and the seconds taken.
    """
    import time

    import torch

    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    encoder_ids = {id(p) for p in encoder_params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": learn_rate},
                                   {"params": head_params, "lr": head_learn_rate}], weight_decay=0.01)
    epoch_batches = batches_per_epoch()
    plan = {"steps": max(1, int(round(epochs * len(epoch_batches))))}

    def scale(step: int) -> float:
        warm = max(1, int(warmup * plan["steps"]))
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (plan["steps"] - step) / max(1, plan["steps"] - warm))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, scale)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    model.train()
    started, step = time.perf_counter(), 0
    while step < plan["steps"]:
        for batch_passes in epoch_batches:
            if step >= plan["steps"]:
                break
            batch = make(batch_passes)
            if len(batch.objects) == 0:
                continue
            logits = model(batch.inputs, batch.subjects, batch.objects)
            loss = loss_fn(logits, batch.targets) / len(batch.objects)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if seconds is not None and step == 20:
                per_step = (time.perf_counter() - started) / step
                plan["steps"] = max(step, min(plan["steps"], int(seconds / per_step)))
            if on_step is not None:
                on_step(step, plan["steps"], float(loss.detach()))
        epoch_batches = batches_per_epoch()
    model.eval()
    return {"steps": step, "planned_steps": plan["steps"], "seconds": time.perf_counter() - started}
