"""navec → spaCy vectors: PQ unpacking, word selection, the pipeline on disk and the CLI."""
import numpy
import pytest
import spacy
from typer.testing import CliRunner

from nerel_spacy.cli import app
from nerel_spacy.vectors import (
    case_variants,
    find_navec,
    load_navec,
    make_vectors_nlp,
    navec_to_vectors,
    prepare_vectors,
    select_words,
    unpack_pq,
)

from vectors_helpers import make_fake_navec, write_fake_navec

COUNTS = {"москва": 50, "в": 900, "город": 120, "ёж": 3, "путин": 120, "2017": 40, "нью-йорк": 30}


def test_unpack_pq_matches_chunk_by_chunk_lookup():
    rng = numpy.random.default_rng(1)
    n_words, qdim, centroids, chunk = 7, 5, 4, 3
    indexes = rng.integers(0, centroids, size=(n_words, qdim)).astype("uint8")
    codes = rng.normal(size=(qdim, centroids, chunk)).astype("float32")
    dense = unpack_pq(indexes, codes)
    assert dense.shape == (n_words, qdim * chunk) and dense.dtype == numpy.float32
    assert dense.flags["C_CONTIGUOUS"]
    for i in range(n_words):
        expected = numpy.concatenate([codes[q, indexes[i, q]] for q in range(qdim)])
        assert numpy.array_equal(dense[i], expected)


def test_unpack_pq_rejects_mismatched_codes():
    with pytest.raises(ValueError, match="do not match"):
        unpack_pq(numpy.zeros((3, 4), dtype="uint8"), numpy.zeros((5, 2, 3), dtype="float32"))


def test_select_words_drops_specials_and_ranks_by_count():
    navec = make_fake_navec(COUNTS)
    words, counts = navec.vocab.words, navec.vocab.counts
    assert [words[i] for i in select_words(words, counts)] == sorted(COUNTS)
    # "город" and "путин" tie at 120: the vocabulary (alphabetical) order decides.
    top = [words[i] for i in select_words(words, counts, max_words=3)]
    assert sorted(top) == sorted(["в", "город", "путин"])
    assert [words[i] for i in select_words(words, counts, max_words=100)] == sorted(COUNTS)
    with pytest.raises(ValueError, match="max_words"):
        select_words(words, counts, max_words=0)


def test_case_variants():
    assert list(case_variants("нью-йорк")) == ["нью-йорк", "НЬЮ-ЙОРК", "Нью-йорк", "Нью-Йорк"]
    assert list(case_variants("москва")) == ["москва", "МОСКВА", "Москва"]
    assert list(case_variants("2017")) == ["2017"]


def test_case_variants_share_a_row_and_match_navec():
    navec = make_fake_navec(COUNTS)
    nlp = make_vectors_nlp(navec)
    vectors = nlp.vocab.vectors
    assert vectors.shape == (len(COUNTS), 12)
    assert vectors.n_keys == sum(len(list(case_variants(word))) for word in COUNTS)
    assert "<unk>" not in nlp.vocab.strings and "<pad>" not in nlp.vocab.strings
    doc = nlp("Москва МОСКВА москва Ёж неведомо")
    for token in doc[:3]:
        assert numpy.allclose(token.vector, navec["москва"])
    assert numpy.allclose(doc[3].vector, navec["ёж"])
    assert numpy.allclose(nlp.vocab.get_vector("Нью-Йорк"), navec["нью-йорк"])
    assert not doc[4].has_vector and not doc[4].vector.any()


def test_a_shared_variant_goes_to_the_more_frequent_word():
    # "ß".upper() == "SS" == "ss".upper(): the more frequent word keeps "SS".
    navec = make_fake_navec({"ß": 1, "ss": 10})
    vectors = navec_to_vectors(navec)
    assert numpy.allclose(vectors[vectors.strings["SS"]], navec["ss"])
    assert numpy.allclose(vectors[vectors.strings["ß"]], navec["ß"])


def test_prepare_vectors_round_trips_from_a_navec_tar(tmp_path):
    navec_path = write_fake_navec(tmp_path / "navec.tar", COUNTS)
    navec = load_navec(navec_path)
    report = prepare_vectors(tmp_path / "vectors", navec_path=navec_path, max_words=4)
    assert (report.words, report.keys, report.dims) == (4, 11, 12)  # "в" has 2 forms, the rest 3
    assert report.source == navec_path and report.bytes_on_disk > 4 * 12 * 4
    nlp = spacy.load(tmp_path / "vectors")
    assert nlp.vocab.vectors.shape == (4, 12) and nlp.vocab.vectors.n_keys == 11
    for form in ("путин", "Путин", "ПУТИН"):
        assert numpy.allclose(nlp.vocab.get_vector(form), navec["путин"])
    assert not nlp.vocab.has_vector("ёж")  # the least frequent word was left out


def test_prepare_vectors_makes_missing_parent_folders(tmp_path):
    # Regression: on a fresh clone `nerel-batch prepare-vectors assets/navec_vectors`
    # failed with ENOENT because assets/ did not exist yet.
    navec_path = write_fake_navec(tmp_path / "navec.tar", COUNTS)
    out = tmp_path / "assets" / "navec_vectors"
    report = prepare_vectors(out, navec_path=navec_path, max_words=4)
    assert report.words == 4
    assert (out / "config.cfg").exists()


def test_missing_navec_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tar"):
        find_navec(tmp_path / "nope.tar")


def test_cli_writes_vectors_and_reports(tmp_path):
    navec_path = write_fake_navec(tmp_path / "navec.tar", COUNTS)
    out = tmp_path / "vectors"
    result = CliRunner().invoke(
        app, ["prepare-vectors", str(out), "--navec", str(navec_path), "--max-words", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 5 × 12 vectors" in result.output and "size on disk" in result.output
    assert spacy.load(out).vocab.vectors.shape == (5, 12)

    missing = CliRunner().invoke(app, ["prepare-vectors", str(out), "--navec", str(tmp_path / "x.tar")])
    assert missing.exit_code == 1
    assert "not found" in missing.output


def _bundled_navec():
    try:
        return find_navec()
    except FileNotFoundError:
        return None


@pytest.mark.slow
@pytest.mark.skipif(_bundled_navec() is None, reason="natasha's navec embeddings are not installed")
def test_real_navec_top_words_match_navec(tmp_path):
    navec = load_navec()
    report = prepare_vectors(tmp_path / "navec", max_words=2000)
    assert (report.words, report.dims) == (2000, 300)
    nlp = spacy.load(tmp_path / "navec")
    for text in ("москва", "Москва", "МОСКВА"):
        assert numpy.allclose(nlp.vocab.get_vector(text), navec["москва"])
    doc = nlp("В Москве")
    assert numpy.allclose(doc[0].vector, navec["в"]) and numpy.allclose(doc[1].vector, navec["москве"])
