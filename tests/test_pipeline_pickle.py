"""Every kind of pipeline this project saves pickles, and predicts the same once unpickled.

``annotate --n-process`` hands the pipeline to worker processes started by spawn or
forkserver (macOS' and Windows' default) pickled, so no model, scorer or ``set_transformer``
may hold a function defined inside another (pickle can't name it): models/joint.py's loss
weights, scoring_nested's and scoring_relations' scorers, models/encoders.py's forward
wrappers, models/relations.py's prior initializer (joint_cnn_fast's relation head) and
quantize/architectures.py's int8 ``set_transformer`` are module-level.
"""
import pickle
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from conftest import make_examples
from pipeline_helpers import V3_MODEL, V3_SCORER, cnn_nlp, trf_nlp

KINDS = ["cnn", "v3", "v3 with a prior", "transformer", "inline transformer", "int8 transformer", "int8 inline transformer"]
TEXTS = ["Министр Сергей Лавров посетил Китай .", "Барак Обама приехал в Москву в январе ."]


def saved_and_loaded(kind: str, bert_dir: Path, tmp_path: Path) -> Language:
    """A pipeline of ``kind``, initialised on the fixture examples, saved and loaded back."""
    if kind == "cnn":
        nlp = cnn_nlp()
    elif kind.startswith("v3"):
        relation_head = {**V3_MODEL["relation_head"], **({"prior": 0.01} if "prior" in kind else {})}
        nlp = cnn_nlp(model={**V3_MODEL, "relation_head": relation_head}, scorer=V3_SCORER)
    else:
        nlp = trf_nlp(bert_dir, inline="inline" in kind)
    nlp.initialize(lambda: make_examples(nlp))
    if kind.startswith("int8"):
        from nerel_spacy.quantize import quantize_pipeline

        nlp.to_disk(tmp_path / "fp32")
        nlp, _ = quantize_pipeline(spacy.load(tmp_path / "fp32"), compute="int8")
    nlp.to_disk(tmp_path / "model")
    return spacy.load(tmp_path / "model")


def predictions(nlp: Language):
    return [([(s.start, s.end, s.label_) for s in doc.spans.get("nerel", [])], [(e.start, e.end, e.label_) for e in
             doc.ents], {k: round(v, 5) for k, v in doc.cats.items()}, doc._.relations) for doc in nlp.pipe(TEXTS)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_saved_pipeline_pickles_and_predicts_the_same(kind, tiny_bert_dir, tmp_path):
    nlp = saved_and_loaded(kind, tiny_bert_dir, tmp_path)
    assert predictions(pickle.loads(pickle.dumps(nlp))) == predictions(nlp)


SPACY_PIPE_UNDER_SPAWN = """
import multiprocessing, sys
if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")  # macOS' and Windows' default
    import spacy
    nlp = spacy.load(sys.argv[1])
    texts = {texts!r} * 3
    def seen(docs):
        return [(d.to_json()["ents"], d.cats, d._.relations, [(s.start, s.end, s.label_) for s in d.spans["nerel"]])
                for d in docs]
    here = seen(nlp.pipe(texts))
    print("same" if seen(nlp.pipe(texts, n_process=2, batch_size=2)) == here else "differ")
"""


@pytest.mark.slow
def test_spacys_own_n_process_runs_a_loaded_pipeline_under_spawn(tiny_bert_dir, tmp_path):
    """``spacy.load`` in a user's code, then ``nlp.pipe(n_process=2)`` on macOS or Windows."""
    import subprocess
    import sys

    saved_and_loaded("v3", tiny_bert_dir, tmp_path)
    script = tmp_path / "pipe.py"
    script.write_text(SPACY_PIPE_UNDER_SPAWN.format(texts=TEXTS), encoding="utf8")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "model")], capture_output=True, text=True,
                          timeout=240)
    assert done.stdout.strip() == "same", done.stderr[-2000:]
