"""nerel_spacy.pq_vectors: exact product quantization, and a spaCy vectors table kept as codes."""
import pickle

import numpy
import pytest
import spacy
from spacy.ml.staticvectors import StaticVectors
from spacy.strings import StringStore
from spacy.vectors import Vectors

from nerel_spacy.pq_vectors import (
    CONFIG_FILE, FILES, NotProductQuantized, PQVectors, exact_product_quantization, rebuild_rows,
)


def product_quantized(n_rows: int, n_blocks: int, block_width: int, n_centroids: int = 256, seed: int = 0):
    """A dense table made as navec's is unpacked: every block of every row is one of its block's centroids."""
    rng = numpy.random.default_rng(seed)
    centroids = rng.normal(size=(n_blocks, n_centroids, block_width)).astype("float32")
    codes = rng.integers(0, n_centroids, size=(n_rows, n_blocks))
    return centroids[numpy.arange(n_blocks), codes].reshape(n_rows, n_blocks * block_width)


def test_the_codes_rebuild_the_table_bit_for_bit_with_the_widest_blocks_that_work():
    data = product_quantized(2000, n_blocks=3, block_width=2)
    codes, centroids = exact_product_quantization(data)
    assert codes.dtype == numpy.uint8 and codes.shape == (2000, 3) and centroids.shape == (3, 256, 2)
    rebuilt = rebuild_rows(codes, centroids, numpy.arange(2000))
    assert numpy.array_equal(rebuilt.view("uint32"), data.view("uint32"))


def test_a_table_of_few_rows_is_one_block_and_signed_zeros_keep_their_bits():
    data = numpy.asarray([[0.0, 1.5], [-0.0, 1.5], [0.0, 1.5]], dtype="float32")
    codes, centroids = exact_product_quantization(data)
    assert centroids.shape[2] == 2 and codes[0, 0] == codes[2, 0] != codes[1, 0]
    assert numpy.array_equal(rebuild_rows(codes, centroids, [0, 1, 2]).view("uint32"), data.view("uint32"))


def test_a_table_that_is_not_product_quantized_is_refused_not_approximated():
    dense = numpy.random.default_rng(1).normal(size=(600, 4)).astype("float32")  # 600 distinct values a column
    with pytest.raises(NotProductQuantized, match=r"600 × 4 table is not product-quantized.*256"):
        exact_product_quantization(dense)
    with pytest.raises(NotProductQuantized, match="blocks of 6"):  # wider than the blocks the codes were made in
        exact_product_quantization(product_quantized(2000, n_blocks=3, block_width=2), block_width=6)
    with pytest.raises(ValueError, match="does not divide"):
        exact_product_quantization(dense, block_width=3)


def test_missing_rows_are_zeros():
    data = product_quantized(10, n_blocks=2, block_width=3)
    codes, centroids = exact_product_quantization(data)
    rows = rebuild_rows(codes, centroids, [-1, 4, -1])
    assert not rows[0].any() and not rows[2].any() and numpy.array_equal(rows[1], data[4])


@pytest.fixture
def table():
    """A PQVectors of 300 rows (3 blocks of 2), keyed by three case forms of each word where given."""
    data = product_quantized(300, n_blocks=3, block_width=2, seed=2)
    codes, centroids = exact_product_quantization(data)
    strings = StringStore()
    words = [f"слово{i}" for i in range(300)]
    keys = [strings.add(w) for w in words] + [strings.add(w.upper()) for w in words[:50]]
    rows = list(range(300)) + list(range(50))
    return PQVectors(strings=strings, codes=codes, centroids=centroids, keys=keys, rows=rows, name="test"), data


def test_rows_keys_and_shape_as_spacy_reads_them(table):
    vectors, data = table
    assert (vectors.shape, len(vectors), vectors.n_keys, vectors.vectors_length) == ((300, 6), 300, 350, 6)
    assert "слово7" in vectors and "СЛОВО7" in vectors and "Слово7" not in vectors
    assert numpy.array_equal(vectors["СЛОВО7"], data[7]) and numpy.array_equal(vectors["слово7"], data[7])
    with pytest.raises(KeyError):
        vectors["нет"]
    batch = vectors.get_batch([vectors.strings["слово3"], 12345, vectors.strings["СЛОВО49"]])
    assert batch.dtype == numpy.float32 and numpy.array_equal(batch[0], data[3])
    assert not batch[1].any() and numpy.array_equal(batch[2], data[49])
    assert vectors.add("новое") == -1 and vectors.is_full is True


def test_setting_a_vector_through_the_vocab_is_refused_by_name(table):
    vectors, _ = table
    nlp = spacy.blank("xx")
    nlp.vocab.vectors = vectors
    with pytest.raises(ValueError, match="fixed table of codes"):
        nlp.vocab.set_vector("новое", numpy.zeros(6, dtype="float32"))


def test_bad_indexes_are_refused(table):
    vectors, _ = table
    with pytest.raises(ValueError, match="given twice"):
        PQVectors(codes=vectors.codes, centroids=vectors.centroids, keys=[1, 1], rows=[0, 1])
    with pytest.raises(ValueError, match="outside the table's 300 rows"):
        PQVectors(codes=vectors.codes, centroids=vectors.centroids, keys=[1], rows=[300])


def test_disk_bytes_and_pickle_round_trips_keep_every_row(table, tmp_path):
    vectors, data = table
    keys = list(vectors)
    vectors.to_disk(tmp_path)
    for copy in (PQVectors().from_disk(tmp_path), PQVectors().from_bytes(vectors.to_bytes()),
                 pickle.loads(pickle.dumps(vectors))):
        assert copy.name == "test" and copy.shape == vectors.shape and sorted(copy) == sorted(keys)
        assert numpy.array_equal(copy.get_batch(keys), vectors.get_batch(keys))


def test_a_folder_without_its_files_or_of_another_format_is_named(table, tmp_path):
    vectors, _ = table
    vectors.to_disk(tmp_path)
    (tmp_path / FILES["rows"]).unlink()
    with pytest.raises(ValueError, match=f"{FILES['rows']} is missing there.*compact-vectors"):
        PQVectors().from_disk(tmp_path)
    vectors.to_disk(tmp_path)
    (tmp_path / CONFIG_FILE).write_text('{"format": 99}', encoding="utf8")
    with pytest.raises(ValueError, match="format 99; this nerel-spacy reads format 1"):
        PQVectors().from_disk(tmp_path)


def test_spacys_static_vectors_layer_gives_what_it_gives_over_the_dense_table(table):
    """StaticVectors reads PQVectors through get_batch: the same output as over spaCy's dense
    Vectors, for words in the table, case forms it keys and words it lacks."""
    vectors, data = table
    keys = list(vectors)
    rows = vectors.find_rows(keys)
    outputs = []
    for make in (lambda vocab: Vectors(strings=vocab.strings, data=data), lambda vocab: vectors):
        nlp = spacy.blank("xx")  # the tokenizer splits on spaces here; "ru" would only load pymorphy's dictionaries
        nlp.vocab.vectors = make(nlp.vocab)
        if isinstance(nlp.vocab.vectors, Vectors):
            for key, row in zip(keys, rows):
                nlp.vocab.vectors.add(key, row=int(row))
        doc = nlp.make_doc("слово1 СЛОВО2 Слово3 незнакомое слово299")
        layer = StaticVectors(nO=4, nM=6)
        layer.initialize(X=[doc])
        layer.set_param("W", numpy.random.default_rng(0).normal(size=(4, 6)).astype("float32"))
        outputs.append(layer.predict([doc]).dataXd)
    assert numpy.array_equal(outputs[0], outputs[1])
    assert not outputs[1][2].any() and not outputs[1][3].any() and outputs[1][1].any()  # Слово3 is not keyed
