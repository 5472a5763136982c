"""nerel_spacy.vector_compaction: a pipeline folder's dense navec table rewritten as codes, in place."""
import json
import shutil

import numpy
import pytest
import spacy
from spacy.strings import hash_string
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from nerel_spacy.pq_vectors import NotProductQuantized, PQVectors
from nerel_spacy.vector_compaction import NothingToCompact, check_compactable, compact_vectors_in_folder
from nerel_spacy.vectors import prepare_vectors

from conftest import REPO_ROOT, TINY_DOCS, make_examples
from vectors_helpers import write_fake_navec

# The fixture texts' words and enough others that one byte cannot name whole rows (navec has 250k).
WORDS = sorted({word.lower() for text, _, _ in TINY_DOCS for word in text.split()} | {f"слово{i}" for i in range(400)})


@pytest.fixture(scope="module")
def navec_vectors(tmp_path_factory):
    """prepare-vectors over a fake navec of 300-d vectors in 100 blocks of 3, as navec's are made."""
    root = tmp_path_factory.mktemp("navec")
    counts = {word: 1000 - i for i, word in enumerate(WORDS)}
    navec = write_fake_navec(root / "navec.tar", counts, dim=300, qdim=100, centroids=256)
    return prepare_vectors(root / "vectors", navec_path=navec) and root / "vectors"


def dense_rows(folder):
    nlp = spacy.load(folder)
    keys = [int(key) for key in nlp.vocab.vectors.key2row]
    return keys, nlp.vocab.vectors.get_batch(keys) if hasattr(nlp.vocab.vectors, "get_batch") else None, nlp


def test_the_folder_keeps_codes_not_rows_and_loads_with_every_row_the_same(navec_vectors, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(navec_vectors, folder)
    dense = spacy.load(navec_vectors).vocab.vectors
    keys = [int(key) for key in dense.key2row]
    expected = dense.data[dense.find(keys=keys)]
    (folder / "vocab" / "strings.json").write_text(json.dumps(
        json.loads((folder / "vocab" / "strings.json").read_text(encoding="utf8")) + ["PER", "Москва"]),
        encoding="utf8")  # a label and a word navec lacks: strings nothing keys a vector by
    report = compact_vectors_in_folder(folder)
    assert (report["rows"], report["width"], report["keys"], report["block_width"]) == (
        len(WORDS), 300, len(keys), 3)
    assert report["identical_rows"] and report["strings_dropped"] == len(keys)
    assert not any((folder / "vocab" / name).exists() for name in ("vectors", "key2row", "vectors.cfg"))
    loaded = spacy.load(folder)
    assert isinstance(loaded.vocab.vectors, PQVectors)
    assert loaded.config["nlp"]["vectors"] == {"@vectors": "nerel.PQVectors.v1"}
    assert loaded.meta["vectors"]["mode"] == "nerel.pq" and loaded.meta["vectors"]["keys"] == len(keys)
    assert loaded.meta["vectors"]["name"] == spacy.load(navec_vectors).meta["vectors"]["name"] is not None
    assert numpy.array_equal(loaded.vocab.vectors.get_batch(keys).view("uint32"), expected.view("uint32"))
    doc = loaded.make_doc(f"{WORDS[0].capitalize()} незнакомое")
    assert numpy.array_equal(doc[0].vector, expected[keys.index(hash_string(WORDS[0]))]) and not doc[1].has_vector
    strings = json.loads((folder / "vocab" / "strings.json").read_text(encoding="utf8"))
    assert "PER" in strings and "Москва" in strings and hash_string("Москва") not in keys
    assert not set(map(hash_string, strings)) & set(keys)


def test_keep_strings_keeps_the_words(navec_vectors, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(navec_vectors, folder)
    before = json.loads((folder / "vocab" / "strings.json").read_text(encoding="utf8"))
    assert compact_vectors_in_folder(folder, keep_strings=True)["strings_dropped"] == 0
    assert json.loads((folder / "vocab" / "strings.json").read_text(encoding="utf8")) == before


def test_nothing_to_compact_and_a_table_not_product_quantized_are_refused_and_change_nothing(navec_vectors, tmp_path):
    blank = tmp_path / "blank"
    spacy.blank("ru").to_disk(blank)
    with pytest.raises(NothingToCompact, match="no static vectors table"):
        check_compactable(blank)
    compact = tmp_path / "compact"
    shutil.copytree(navec_vectors, compact)
    compact_vectors_in_folder(compact)
    with pytest.raises(NothingToCompact, match="'nerel.PQVectors.v1' already"):
        compact_vectors_in_folder(compact)
    rng = numpy.random.default_rng(0)
    nlp = spacy.blank("ru")
    for i in range(300):  # 300 distinct values in each column: no byte can name them
        nlp.vocab.set_vector(f"w{i}", rng.normal(size=4).astype("float32"))
    nlp.to_disk(tmp_path / "dense")
    files = sorted((p.name, p.stat().st_size) for p in (tmp_path / "dense" / "vocab").iterdir())
    with pytest.raises(NotProductQuantized):
        compact_vectors_in_folder(tmp_path / "dense")
    assert sorted((p.name, p.stat().st_size) for p in (tmp_path / "dense" / "vocab").iterdir()) == files


@pytest.mark.slow
def test_a_trained_cnn_over_navec_predicts_exactly_the_same_once_compact(navec_vectors, tmp_path):
    """configs/joint_cnn.cfg (spaCy's StaticVectors inside its Tok2Vec) over the fake navec, trained a few
    steps: spans, entities, cats and relations of the compact copy equal the dense pipeline's, in this
    process and in one that unpickles it (annotate --n-process under spawn)."""
    import pickle

    from spacy.tokens import DocBin
    from spacy.training.loop import train

    for split in ("train", "dev"):
        DocBin(docs=[eg.reference for eg in make_examples(spacy.blank("ru"))]).to_disk(tmp_path / f"{split}.spacy")
    config = load_config(REPO_ROOT / "configs" / "joint_cnn.cfg", overrides={
        "paths.vectors": str(navec_vectors), "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "dev.spacy"), "training.max_steps": 4, "training.eval_frequency": 2})
    (tmp_path / "trained").mkdir()
    nlp, _ = train(init_nlp(config), tmp_path / "trained")
    dense = tmp_path / "trained" / "model-last"
    shutil.copytree(dense, tmp_path / "compact")
    compact_vectors_in_folder(tmp_path / "compact")
    texts = [text for text, _, _ in TINY_DOCS] + ["ПУТИН и незнакомые слова: Барак Обама, МОСКВА."]

    def seen(pipeline):
        return [([(s.start, s.end, s.label_) for s in doc.spans["nerel"]], [(e.start, e.end, e.label_) for e in
                 doc.ents], doc.cats, doc._.relations) for doc in pipeline.pipe(texts)]

    expected = seen(spacy.load(dense))
    loaded = spacy.load(tmp_path / "compact")
    assert isinstance(loaded.vocab.vectors, PQVectors)
    assert seen(loaded) == expected
    assert seen(pickle.loads(pickle.dumps(loaded))) == expected


def test_compact_vectors_are_refused_as_vectors_to_train_with(navec_vectors, tmp_path):  # noqa: F811
    """spaCy copies a vectors pipeline's table into the one it initializes, not the config naming it: a
    pipeline trained over a compact table would load without its vectors. add-vectors (train-rounds'
    navec round) and the CNN configs' before_init check name the dense folder instead."""
    from nerel_spacy.static_vectors import add_static_vectors
    from nerel_spacy.vectors import create_require_vectors

    compact = tmp_path / "compact"
    shutil.copytree(navec_vectors, compact)
    compact_vectors_in_folder(compact)
    with pytest.raises(ValueError, match="VECTORS .* holds compact vectors .*assets/navec_vectors"):
        add_static_vectors(spacy.blank("ru"), compact)
    config = load_config(REPO_ROOT / "configs" / "joint_cnn.cfg", overrides={"paths.vectors": str(compact)})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    with pytest.raises(ValueError, match=r"\[initialize\] vectors .* holds compact vectors"):
        create_require_vectors()(nlp)
    create_require_vectors()(spacy.util.load_model_from_config(load_config(
        REPO_ROOT / "configs" / "joint_cnn.cfg", overrides={"paths.vectors": str(navec_vectors)}), auto_fill=True))
