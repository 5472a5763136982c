"""Static word vectors kept as product-quantized codes: the same rows, a twelfth of the bytes.

navec, natasha's news vectors, is product-quantized: each 300-d vector is 100 one-byte codes,
each naming one of 256 centroids of its 3-d block. ``prepare-vectors`` unpacks the codes into
the dense float32 table spaCy's ``Vectors`` holds, so every pipeline that reads navec (the CNN,
and the transformer after ``add-vectors``) carried 300 MB of rows, plus the 757k words'
strings: a 304 MB wheel, several seconds to load and as much memory again.

- ``exact_product_quantization`` splits a dense table into blocks and, where every block
  holds at most 256 distinct sub-rows (navec's unpacked table does, by construction), returns
  codes and centroids that rebuild the table bit for bit. A table that is not product-quantized
  is refused (``NotProductQuantized``), never approximated: the pipeline's outputs must not change.
- ``PQVectors`` is a spaCy ``BaseVectors``, the documented extension point for custom vectors
  (spaCy 3.7+): it keeps the codes, the centroids and the key → row index, and rebuilds rows in
  ``get_batch``, which spaCy's ``StaticVectors`` (the CNN's) and ``nerel.WithStaticVectors.v1``
  call. A pipeline names it in its config, ``[nlp.vectors] @vectors = "nerel.PQVectors.v1"``,
  and ``spacy.load`` builds it from there (entry point ``spacy_vectors``).

Rows for keys the table lacks are zeros, as ``StaticVectors`` makes them for a dense table.
"""
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Tuple, Union

import numpy
import srsly
from spacy.attrs import ORTH
from spacy.strings import StringStore, get_string_id
from spacy.util import registry
from spacy.vectors import BaseVectors

N_CENTROIDS = 256  # one byte a code
FORMAT = 1
MODE = "nerel.pq"
FILES = {"codes": "pq_codes.npy", "centroids": "pq_centroids.npy", "keys": "pq_keys.npy", "rows": "pq_rows.npy"}
CONFIG_FILE = "pq_vectors.json"


class NotProductQuantized(ValueError):
    """A dense table some block of which holds more distinct sub-rows than one byte can name."""


def exact_product_quantization(
    data: numpy.ndarray, block_width: Optional[int] = None,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """``codes`` (rows × blocks, uint8) and ``centroids`` (blocks × 256 × block_width, float32) with
    ``centroids[b, codes[r, b]] == data[r, b*w:(b+1)*w]`` for every row ``r`` and block ``b``.

    block_width: the width of a block; by default the widest that divides the table's width
        and works (3 for navec's 300-d vectors), so that the codes are as few as they can be.
    Raises ``NotProductQuantized`` where no such block width exists."""
    data = numpy.ascontiguousarray(data, dtype="float32")
    if data.ndim != 2 or not data.shape[0] or not data.shape[1]:
        raise NotProductQuantized(f"a table of shape {data.shape} has no rows to quantize")
    width = data.shape[1]
    widths = [block_width] if block_width else [w for w in range(width, 0, -1) if width % w == 0]
    for w in widths:
        if width % w:
            raise ValueError(f"block_width {w} does not divide the vectors' width {width}")
        if _distinct(data[:, :w]) > N_CENTROIDS:  # the first block decides most widths at once
            continue
        found = _quantize_blocks(data, w)
        if found is not None:
            return found
    tried = f"blocks of {block_width}" if block_width else "any block width"
    raise NotProductQuantized(
        f"the {data.shape[0]:,} × {width} table is not product-quantized: with {tried}, some block holds more "
        f"than {N_CENTROIDS} distinct sub-rows, so one byte cannot name each"
    )


def _distinct(block: numpy.ndarray) -> int:
    return len(numpy.unique(_as_items(block)))


def _as_items(block: numpy.ndarray) -> numpy.ndarray:
    """Each row of ``block`` as one opaque item, so that numpy.unique compares whole bit patterns
    (-0.0 and 0.0 stay apart: the rebuilt rows must be the same bits)."""
    block = numpy.ascontiguousarray(block)
    return block.view(numpy.dtype((numpy.void, block.dtype.itemsize * block.shape[1]))).ravel()


def _quantize_blocks(data: numpy.ndarray, w: int) -> Optional[Tuple[numpy.ndarray, numpy.ndarray]]:
    n_blocks = data.shape[1] // w
    codes = numpy.empty((data.shape[0], n_blocks), dtype="uint8")
    centroids = numpy.zeros((n_blocks, N_CENTROIDS, w), dtype="float32")
    for b in range(n_blocks):
        block = numpy.ascontiguousarray(data[:, b * w:(b + 1) * w])
        items, first, inverse = numpy.unique(_as_items(block), return_index=True, return_inverse=True)
        if len(items) > N_CENTROIDS:
            return None
        centroids[b, :len(items)] = block[first]
        codes[:, b] = inverse.ravel()
    return codes, centroids


def rebuild_rows(codes: numpy.ndarray, centroids: numpy.ndarray, rows: numpy.ndarray) -> numpy.ndarray:
    """The dense rows ``rows`` (int, -1: none, a row of zeros), rebuilt from their codes."""
    rows = numpy.asarray(rows, dtype="int64")
    n_blocks, n_centroids, w = centroids.shape
    known = rows >= 0
    # Each code as a row of all blocks' centroids stacked: one numpy.take, 6x faster than fancy indexing.
    stacked = codes[numpy.where(known, rows, 0)].astype("intp") + numpy.arange(n_blocks) * n_centroids
    out = numpy.take(centroids.reshape(n_blocks * n_centroids, w), stacked, axis=0).reshape(len(rows), n_blocks * w)
    out[~known] = 0.0
    return out


class PQVectors(BaseVectors):
    """A static vectors table kept as product-quantized codes (see the module's docstring).

    Keys are spaCy's hashes of the words (ORTH, as ``prepare-vectors`` keys navec), several
    keys may share a row, and no key can be added: the table is what it was made from."""

    def __init__(
        self, *, strings=None, codes: Optional[numpy.ndarray] = None, centroids: Optional[numpy.ndarray] = None,
        keys: Optional[Iterable[int]] = None, rows: Optional[Iterable[int]] = None, name: Optional[str] = None,
    ):
        super().__init__(strings=strings)
        self.strings = StringStore() if strings is None else strings  # the vocab's, once it holds the table
        self.name = name
        self.codes = numpy.ascontiguousarray(numpy.zeros((0, 0)) if codes is None else codes, dtype="uint8")
        self.centroids = numpy.ascontiguousarray(
            numpy.zeros((0, N_CENTROIDS, 0)) if centroids is None else centroids, dtype="float32")
        self._set_index(_array(keys, "uint64"), _array(rows, "int32"))

    def _set_index(self, keys: numpy.ndarray, rows: numpy.ndarray) -> None:
        if keys.shape != rows.shape:
            raise ValueError(f"{len(keys)} keys but {len(rows)} rows")
        if len(rows) and (rows.min() < 0 or rows.max() >= self.codes.shape[0]):
            raise ValueError(f"a row outside the table's {self.codes.shape[0]} rows")
        order = numpy.argsort(keys, kind="stable")
        self._keys, self._rows = keys[order], rows[order]
        if len(self._keys) > 1 and (self._keys[1:] == self._keys[:-1]).any():
            raise ValueError("a key is given twice")

    # --- what spaCy reads ---
    attr = ORTH  # the token attribute whose hash is a key (StaticVectors and Token.vector read it)

    @property
    def mode(self) -> str:
        return MODE

    @property
    def shape(self) -> Tuple[int, int]:
        return self.codes.shape[0], self.centroids.shape[0] * self.centroids.shape[2]

    @property
    def vectors_length(self) -> int:
        return self.shape[1]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def n_keys(self) -> int:
        return len(self._keys)

    @property
    def data(self) -> numpy.ndarray:
        """The codes (rows × blocks, uint8): spaCy's ``Vocab.get_vector`` reads ``data`` only to
        choose numpy or cupy for a missing word's zeros."""
        return self.codes

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[int]:
        return iter(int(key) for key in self._keys)

    def __contains__(self, key: Union[str, int]) -> bool:
        return self.find_rows([get_string_id(key)])[0] >= 0

    def __getitem__(self, key: Union[str, int]) -> numpy.ndarray:
        row = self.find_rows([get_string_id(key)])[0]
        if row < 0:
            raise KeyError(key)
        return rebuild_rows(self.codes, self.centroids, [row])[0]

    @property
    def is_full(self) -> bool:
        """Always: a property, as spaCy's Vocab.set_vector reads it on its own Vectors."""
        return True

    def add(self, key, *, vector=None, row=None) -> int:
        """-1: no key can be added (BaseVectors' answer for a fixed table)."""
        return -1

    def resize(self, shape, inplace: bool = False):
        """Refused: Vocab.set_vector on a full table resizes it, and codes have no room for a new row."""
        raise ValueError("nerel.PQVectors.v1 is a fixed table of codes: set or add vectors on the dense "
                         "table (prepare-vectors' folder), then make the compact copy again")

    def find_rows(self, keys) -> numpy.ndarray:
        """The row of each key (-1: not in the table)."""
        keys = numpy.asarray(keys, dtype="uint64").ravel()
        if not len(self._keys) or not len(keys):
            return numpy.full(len(keys), -1, dtype="int64")
        distinct, back = numpy.unique(keys, return_inverse=True)  # sorted queries search faster, and words repeat
        at = numpy.minimum(numpy.searchsorted(self._keys, distinct), len(self._keys) - 1)
        return numpy.where(self._keys[at] == distinct, self._rows[at], -1).astype("int64")[back.ravel()]

    def get_batch(self, keys) -> numpy.ndarray:
        """The rows of ``keys`` (rows of zeros where the table lacks a key), float32."""
        return rebuild_rows(self.codes, self.centroids, self.find_rows(keys))

    def to_ops(self, ops) -> None:
        """Nothing to move: rows are rebuilt on the CPU and handed to the model's ops as numpy arrays."""

    # --- saving and loading ---
    def _arrays(self):
        return {"codes": self.codes, "centroids": self.centroids, "keys": self._keys, "rows": self._rows}

    def _settings(self):
        return {"format": FORMAT, "name": self.name, "shape": list(self.shape), "keys": self.n_keys}

    def _load(self, arrays, settings, where: str) -> "PQVectors":
        if settings.get("format") != FORMAT:
            raise ValueError(f"{where}: PQ vectors of format {settings.get('format')!r}; this nerel-spacy reads "
                             f"format {FORMAT}. Install the nerel-spacy version that wrote them.")
        self.name = settings.get("name")
        self.codes = numpy.ascontiguousarray(arrays["codes"], "uint8")
        self.centroids = numpy.ascontiguousarray(arrays["centroids"], "float32")
        self._set_index(numpy.asarray(arrays["keys"], "uint64"), numpy.asarray(arrays["rows"], "int32"))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude=tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for field, array in self._arrays().items():
            numpy.save(path / FILES[field], array, allow_pickle=False)
        srsly.write_json(path / CONFIG_FILE, self._settings())

    def from_disk(self, path: Union[str, Path], *, exclude=tuple()) -> "PQVectors":
        path = Path(path)
        missing = [name for name in (CONFIG_FILE, *FILES.values()) if not (path / name).is_file()]
        if missing:
            raise ValueError(
                f"{path}: the pipeline's config asks for nerel.PQVectors.v1, but {', '.join(missing)} "
                "is missing there. Copy the whole pipeline folder again, or rebuild it with "
                "`nerel-batch compact-vectors`."
            )
        arrays = {field: numpy.load(path / name, allow_pickle=False) for field, name in FILES.items()}
        return self._load(arrays, srsly.read_json(path / CONFIG_FILE), str(path))

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        return srsly.msgpack_dumps({"settings": self._settings(), **self._arrays()})

    def from_bytes(self, data: bytes, *, exclude=tuple()) -> "PQVectors":
        msg = srsly.msgpack_loads(data)
        return self._load(msg, msg["settings"], "PQ vectors from bytes")

    def __reduce__(self):
        return _unpickle_pq_vectors, (self.to_bytes(),)


def _array(values, dtype: str) -> numpy.ndarray:
    """``values`` (an array, any iterable, or None for none) as a contiguous 1-d array."""
    if values is None:
        return numpy.zeros(0, dtype=dtype)
    return numpy.ascontiguousarray(values if isinstance(values, numpy.ndarray) else list(values), dtype=dtype)


def _unpickle_pq_vectors(data: bytes) -> PQVectors:
    return PQVectors().from_bytes(data)


@registry.vectors("nerel.PQVectors.v1")
def create_pq_vectors() -> Callable:
    """The vocab's vectors table as product-quantized codes, filled when the pipeline loads."""

    def make(vocab) -> PQVectors:
        return PQVectors(strings=vocab.strings)

    return make


__all__ = ["NotProductQuantized", "PQVectors", "create_pq_vectors", "exact_product_quantization", "rebuild_rows"]
