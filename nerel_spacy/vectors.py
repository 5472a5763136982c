"""Russian static word vectors for the CNN pipeline: natasha's navec embeddings as spaCy vectors.

navec (https://github.com/natasha/navec) stores 250k lowercase words × 300 dimensions
as product-quantized codes: each vector is split into ``qdim`` chunks and each chunk
is one of 256 centroids. We unpack the codes into a dense float32 table and write a
blank ``ru`` pipeline that ``[initialize] vectors`` can point at.

Case: the table is keyed on ``ORTH`` with each word's case variants ("москва",
"Москва", "МОСКВА") sharing one row. spaCy 3.8 honours ``Vectors(attr="LOWER")`` at
run time, but saves ``attr`` only for floret vectors, so a default table comes back
from disk keyed on ``ORTH`` and every capitalized word would silently get a zero
vector in training and in the saved pipeline. Extra keys cost a few bytes each; rows
are not duplicated.
"""
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Sequence, Union

import numpy
import spacy
from spacy.language import Language
from spacy.strings import StringStore
from spacy.util import registry
from spacy.vectors import Vectors
from thinc.api import Model

from .machine import directory_size

if TYPE_CHECKING:  # navec is an optional dependency (the "vectors" extra)
    from navec import Navec

NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q.tar"
# navec's own padding and out-of-vocabulary rows. spaCy gives unknown words a zero
# vector already, so neither becomes a row: "<unk>" would otherwise be a token text.
NAVEC_SPECIAL = ("<unk>", "<pad>")
INSTALL_HINT = "Install the 'vectors' extra (pip install natasha) or pass the file with --navec PATH."


@dataclass
class VectorsReport:
    """What ``prepare_vectors`` wrote: the table's shape, its size on disk and the time taken."""

    source: Path
    output_dir: Path
    words: int
    keys: int
    dims: int
    bytes_on_disk: int
    seconds: float


def find_navec(path: Optional[Union[str, Path]] = None) -> Path:
    """The navec ``.tar`` to convert: ``path`` if given, else the file bundled in natasha's wheel."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"navec embeddings not found at {path}. Check the path, or leave it out to use "
                f"the file bundled with natasha (pip install natasha)."
            )
        return path
    try:
        import natasha
    except ImportError:
        raise FileNotFoundError(
            f"natasha is not installed, so its bundled navec embeddings ({NAVEC_FILE}) "
            f"are not available. {INSTALL_HINT}"
        ) from None
    bundled = Path(natasha.__file__).parent / "data" / "emb" / NAVEC_FILE
    if not bundled.is_file():
        raise FileNotFoundError(
            f"natasha is installed but {bundled} is missing (a different natasha version?). "
            f"{INSTALL_HINT}"
        )
    return bundled


def load_navec(path: Optional[Union[str, Path]] = None) -> "Navec":
    """Load navec embeddings with the ``navec`` package (found as in ``find_navec``)."""
    path = find_navec(path)
    try:
        from navec import Navec
    except ImportError:
        raise ImportError(f"Reading {path} needs the navec package. {INSTALL_HINT}") from None
    return Navec.load(str(path))


def unpack_pq(indexes: numpy.ndarray, codes: numpy.ndarray) -> numpy.ndarray:
    """Dense float32 vectors from product-quantized codes, in one gather.

    indexes: (n_words, qdim) centroid ids, one per chunk of each vector.
    codes: (qdim, n_centroids, chunk_dim) centroid values of each chunk.
    Returns (n_words, qdim * chunk_dim): chunk ``q`` of word ``i`` is ``codes[q, indexes[i, q]]``.
    """
    n_words, qdim = indexes.shape
    if codes.ndim != 3 or codes.shape[0] != qdim:
        raise ValueError(
            f"PQ codes of shape {codes.shape} do not match indexes of shape {indexes.shape}: "
            f"expected ({qdim}, n_centroids, chunk_dim)."
        )
    chunks = codes[numpy.arange(qdim), indexes]  # (n_words, qdim, chunk_dim)
    return numpy.ascontiguousarray(chunks.reshape(n_words, -1), dtype="float32")


def select_words(words: Sequence[str], counts: Sequence[int], max_words: Optional[int] = None) -> numpy.ndarray:
    """Row ids of the words to keep: all but navec's specials, or the ``max_words`` most frequent.

    navec's vocabulary is in alphabetical order, not by frequency, so ``max_words``
    ranks by the corpus counts stored with it (ties keep the vocabulary order).
    """
    if max_words is not None and max_words < 1:
        raise ValueError(f"max_words must be a positive number of words, not {max_words}.")
    keep = numpy.array([word not in NAVEC_SPECIAL for word in words], dtype=bool)
    ids = numpy.flatnonzero(keep)
    if max_words is not None and max_words < len(ids):
        order = numpy.argsort(-numpy.asarray(counts, dtype="int64")[ids], kind="stable")
        ids = numpy.sort(ids[order[:max_words]])
    return ids


def case_variants(word: str) -> Iterator[str]:
    """The spellings of a lowercase navec word that share its vector: as is, UPPER, Capitalized, Title-Case."""
    seen = set()
    for form in (word, word.upper(), word.capitalize(), word.title()):
        if form not in seen:
            seen.add(form)
            yield form


def navec_to_vectors(
    navec: "Navec", *, max_words: Optional[int] = None, strings: Optional[StringStore] = None
) -> Vectors:
    """A spaCy ``Vectors`` table of navec's words (or the top ``max_words``) and their case variants."""
    words: List[str] = navec.vocab.words
    ids = select_words(words, navec.vocab.counts, max_words)
    data = unpack_pq(numpy.asarray(navec.pq.indexes)[ids], numpy.asarray(navec.pq.codes))
    strings = strings if strings is not None else StringStore()
    vectors = Vectors(strings=strings, data=data, name=navec.meta.id)
    # Most frequent words first, so where two words share a variant the common one keeps it.
    counts = numpy.asarray(navec.vocab.counts, dtype="int64")[ids]
    for row in numpy.argsort(-counts, kind="stable").tolist():
        for form in case_variants(words[ids[row]]):
            key = strings.add(form)
            if key not in vectors:
                vectors.add(key, row=row)
    return vectors


def make_vectors_nlp(navec: "Navec", *, max_words: Optional[int] = None, lang: str = "ru") -> Language:
    """A blank pipeline whose vocab holds navec's vectors, for ``[initialize] vectors``."""
    nlp = spacy.blank(lang)
    nlp.vocab.vectors = navec_to_vectors(navec, max_words=max_words, strings=nlp.vocab.strings)
    nlp.meta["name"] = "navec_vectors"
    nlp.meta["description"] = (
        f"navec {navec.meta.id} word vectors (with case variants) for [initialize] vectors"
    )
    nlp.meta["sources"] = [
        {
            "name": f"navec {navec.meta.id}",
            "url": "https://github.com/natasha/navec",
            "license": "MIT",
            "author": "Alexander Kukushkin (natasha)",
        }
    ]
    return nlp


def prepare_vectors(
    output_dir: Union[str, Path],
    *,
    navec_path: Optional[Union[str, Path]] = None,
    max_words: Optional[int] = None,
) -> VectorsReport:
    """Convert navec embeddings into a spaCy pipeline directory at ``output_dir``."""
    started = time.perf_counter()
    source = find_navec(navec_path)
    nlp = make_vectors_nlp(load_navec(source), max_words=max_words)
    output_dir = Path(output_dir)
    # spaCy's to_disk makes only the last folder; a fresh clone has no assets/ yet.
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output_dir)
    n_words, dims = nlp.vocab.vectors.shape
    return VectorsReport(
        source=source,
        output_dir=output_dir,
        words=n_words,
        keys=nlp.vocab.vectors.n_keys,
        dims=dims,
        bytes_on_disk=directory_size(output_dir),
        seconds=time.perf_counter() - started,
    )


@registry.callbacks("nerel.require_vectors.v1")
def create_require_vectors() -> Callable[[Language], Language]:
    """An ``[initialize] before_init`` check: static-vector layers need ``[initialize] vectors``,
    and a dense table to train with (not a copy made by ``compact-vectors``).

    Without it spaCy fails deep in thinc with an IndexError; this names the fix instead.
    """

    def require_vectors(nlp: Language) -> Language:
        vectors = nlp.config.interpolate()["initialize"].get("vectors")
        if vectors is not None:
            from .vector_compaction import refuse_compact_vectors

            refuse_compact_vectors(vectors, "[initialize] vectors")
            return nlp
        needy = [name for name, pipe in nlp.pipeline if _embeds_static_vectors(pipe)]
        if needy:
            raise ValueError(
                f"[initialize] vectors is null, but {', '.join(needy)} embeds static vectors "
                f"(include_static_vectors = true, as in configs/joint_cnn.cfg). Make them with "
                f"'nerel-batch prepare-vectors assets/navec_vectors' or pass --paths.vectors DIR."
            )
        return nlp

    return require_vectors


def _embeds_static_vectors(pipe: Callable) -> bool:
    model = getattr(pipe, "model", None)
    return isinstance(model, Model) and any(node.name == "static_vectors" for node in model.walk())
