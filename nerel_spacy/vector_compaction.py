"""A saved pipeline's dense static vectors rewritten as product-quantized codes, in its folder.

``compact_vectors_in_folder`` turns vocab/'s dense table (``vectors``, ``key2row``,
``vectors.cfg``: spaCy's ``Vectors``) into ``PQVectors`` files (``nerel_spacy.pq_vectors``),
names ``nerel.PQVectors.v1`` in config.cfg's ``[nlp.vectors]`` and meta.json, and drops from
strings.json the words that are only vector keys (757k of navec's 783k strings, 44 MB: a
table looks words up by their hashes, which need no strings). Every key's rebuilt row is
compared with its dense row, bit for bit, before anything is written.

It reads no model weights and imports no torch: it works on any pipeline folder (the CNN,
a transformer in fp32, int8 or ONNX) and is what ``nerel-batch compact-vectors``,
``quantize`` and ``export-onnx`` run on the copy they write.
"""
import json
from pathlib import Path
from typing import Any, Dict

import numpy
from spacy.strings import StringStore, hash_string
from spacy.vectors import Vectors
from thinc.api import Config

from .pq_vectors import PQVectors, exact_product_quantization, rebuild_rows

REGISTERED_NAME = "nerel.PQVectors.v1"
DENSE_FILES = ("vectors", "key2row", "vectors.cfg")
CHECK_ROWS = 50_000  # keys compared at a time: 60 MB of float32 rows


class NothingToCompact(ValueError):
    """A pipeline folder without a dense static vectors table (none at all, or already compact)."""


def dense_vectors_registered(config: Dict[str, Any]) -> bool:
    """Whether a pipeline config builds spaCy's own vectors table (the default when it names none)."""
    vectors = (config.get("nlp") or {}).get("vectors") or {"@vectors": "spacy.Vectors.v1"}
    return vectors.get("@vectors") == "spacy.Vectors.v1"


def refuse_compact_vectors(path, what: str) -> None:
    """A ``ValueError`` naming the fix where ``path`` is a vectors pipeline made by compaction: its
    table cannot be loaded into a pipeline to train (spaCy copies the vocab's table but not the
    config that names it, so the trained pipeline would load without its vectors)."""
    config_path = Path(str(path)) / "config.cfg"
    if not config_path.is_file():
        return
    if not dense_vectors_registered(Config().from_disk(config_path, interpolate=False)):
        raise ValueError(
            f"{what} {path} holds compact vectors ({REGISTERED_NAME}), made to ship a trained pipeline; "
            "load the dense table prepare-vectors writes instead (e.g. assets/navec_vectors)"
        )


def check_compactable(folder: Path) -> Config:
    """``folder``'s config, or ``NothingToCompact`` where it names other vectors than spaCy's dense
    table or its vocab has none (read without loading the table)."""
    folder = Path(folder)
    config = Config().from_disk(folder / "config.cfg", interpolate=False)
    if not dense_vectors_registered(config):
        raise NothingToCompact(f"{folder}: its vectors are {config['nlp']['vectors'].get('@vectors')!r} already, "
                               "not spaCy's dense table")
    table = folder / "vocab" / "vectors"
    if not table.is_file() or 0 in numpy.load(table, mmap_mode="r").shape:  # the shape from the file's header
        raise NothingToCompact(f"{folder}: it has no static vectors table (vocab/vectors)")
    return config


def compact_vectors_in_folder(folder: Path, *, keep_strings: bool = False) -> Dict[str, Any]:
    """Rewrite ``folder``'s static vectors as product-quantized codes, in place; what was done.

    Raises ``NothingToCompact`` for a folder with no dense table, and ``NotProductQuantized``
    for a table that cannot be rebuilt exactly (then nothing is changed)."""
    folder = Path(folder)
    vocab = folder / "vocab"
    config = check_compactable(folder)
    dense = Vectors(strings=StringStore()).from_disk(vocab)
    if dense.mode != "default" or dense.shape[0] == 0 or dense.shape[1] == 0 or not len(dense.key2row):
        raise NothingToCompact(f"{folder}: its vectors table holds no rows to compact "
                               f"(mode {dense.mode}, shape {dense.shape})")
    codes, centroids = exact_product_quantization(dense.data)
    keys = numpy.fromiter(dense.key2row.keys(), dtype="uint64", count=len(dense.key2row))
    rows = numpy.fromiter(dense.key2row.values(), dtype="int64", count=len(dense.key2row))
    _check_every_row(codes, centroids, dense.data, rows)
    compact = PQVectors(codes=codes, centroids=centroids, keys=keys, rows=rows,
                        name=dense.name or _meta_vectors_name(folder / "meta.json"))
    dense_bytes = sum((vocab / name).stat().st_size for name in DENSE_FILES if (vocab / name).is_file())
    strings_before = (vocab / "strings.json").stat().st_size if (vocab / "strings.json").is_file() else 0
    dropped = 0 if keep_strings else _drop_vector_only_strings(vocab / "strings.json", keys)
    compact.to_disk(vocab)
    for name in DENSE_FILES:
        (vocab / name).unlink(missing_ok=True)
    config["nlp"]["vectors"] = {"@vectors": REGISTERED_NAME}
    config.to_disk(folder / "config.cfg")
    _record_in_meta(folder / "meta.json", compact)
    compact_bytes = sum(p.stat().st_size for p in vocab.iterdir() if p.name.startswith("pq_"))
    return {
        "rows": int(compact.shape[0]), "width": int(compact.shape[1]), "keys": compact.n_keys,
        "blocks": int(centroids.shape[0]), "block_width": int(centroids.shape[2]),
        "vectors_bytes": {"dense": dense_bytes, "compact": compact_bytes},
        "strings_bytes": {"before": strings_before,
                          "after": (vocab / "strings.json").stat().st_size if strings_before else 0},
        "strings_dropped": dropped, "identical_rows": True,
    }


def _check_every_row(codes, centroids, data, rows) -> None:
    """Every key's rebuilt row against its dense row, bit for bit (exact_product_quantization's
    promise, checked where it matters: a pipeline must predict what it predicted before)."""
    for start in range(0, len(rows), CHECK_ROWS):
        part = rows[start:start + CHECK_ROWS]
        rebuilt = rebuild_rows(codes, centroids, part)
        if not numpy.array_equal(rebuilt.view("uint32"), numpy.ascontiguousarray(data[part]).view("uint32")):
            raise AssertionError("a rebuilt row differs from its dense row")  # a bug here, not bad input


def _drop_vector_only_strings(path: Path, keys: numpy.ndarray) -> int:
    """Remove from strings.json (a JSON list) every string whose hash is a vector key; how many."""
    if not path.is_file():
        return 0
    strings = json.loads(path.read_text(encoding="utf8"))
    hashes = numpy.fromiter((hash_string(s) for s in strings), dtype="uint64", count=len(strings))
    vector_key = numpy.isin(hashes, keys)
    kept = [s for s, drop in zip(strings, vector_key) if not drop]
    path.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf8")
    return int(vector_key.sum())


def _meta_vectors_name(path: Path):
    """The table's name as meta.json records it (spaCy keeps it there, not with the table)."""
    try:
        return json.loads(path.read_text(encoding="utf8")).get("vectors", {}).get("name")
    except (OSError, ValueError, AttributeError):
        return None


def _record_in_meta(path: Path, compact: PQVectors) -> None:
    if not path.is_file():
        return
    meta = json.loads(path.read_text(encoding="utf8"))
    meta["vectors"] = {"width": compact.shape[1], "vectors": compact.shape[0], "keys": compact.n_keys,
                       "name": compact.name, "mode": compact.mode}
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf8")


__all__ = ["NothingToCompact", "REGISTERED_NAME", "check_compactable", "compact_vectors_in_folder",
           "dense_vectors_registered", "refuse_compact_vectors"]
