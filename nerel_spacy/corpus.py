"""NEREL folders to ``.spacy`` corpora, and statistics over those corpora.

``convert_corpus`` finds the splits of a brat root (``train``/``dev``/``test``
subfolders, any subset, or one flat folder of documents), reads them all and only then
writes one ``DocBin(store_user_data=True)`` per split, so a failed run writes nothing.
``find_split_files`` and ``find_split_file`` find those files again for evaluate,
benchmark and tune.
``corpus_stats`` describes a ``.spacy`` file with plain data structures, so the CLI,
tests and notebooks share them.
"""
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from .brat import FRAGMENTS_KEY, BratFormatError, ReadReport, check_pairs, load_schema, read_brat_folder
from .schema import SPANS_KEY, Schema
from .spans import get_relations

SPLIT_NAMES = ("train", "dev", "test")
# The order splits are scored and shown in: held-out data first.
SPLIT_ORDER = ("dev", "test", "train")
PathLike = Union[str, Path]


def discover_splits(root: PathLike, name: Optional[str] = None) -> Dict[str, Path]:
    """Map split name -> folder for a brat root.

    A root with ``train``/``dev``/``test`` subfolders (any subset) gives those splits.
    Otherwise a folder holding ``.txt`` (or ``.ann``) files is one split named ``name`` or after the
    folder. Anything else raises ``BratFormatError``.
    """
    root = Path(root)
    if not root.is_dir():
        raise BratFormatError(root, None, "input folder not found", "pass the NEREL folder")
    splits = {split: root / split for split in SPLIT_NAMES if (root / split).is_dir()}
    if splits:
        if name is not None:
            raise BratFormatError(
                root, None, f"--name {name!r} only applies to a flat folder of documents",
                f"this folder has split subfolders ({', '.join(splits)}); drop --name",
            )
        return splits
    if any(root.glob("*.txt")) or any(root.glob("*.ann")):
        return {name or root.name: root}
    raise BratFormatError(
        root,
        None,
        "no train/, dev/ or test/ subfolder and no .txt files",
        "pass a NEREL root (with train/ dev/ test/) or a folder of .txt + .ann files",
    )


def read_split(
    folder: PathLike,
    nlp: Optional[Language] = None,
    schema: Optional[Schema] = None,
    *,
    strict: bool = False,
    on_document: Optional[Callable[[Path], None]] = None,
) -> Tuple[DocBin, ReadReport]:
    """Read one brat folder into a ``DocBin(store_user_data=True)`` and its report."""
    report = ReadReport()
    doc_bin = DocBin(store_user_data=True)
    for doc, doc_report in read_brat_folder(
        folder, nlp, schema, strict=strict, on_document=on_document
    ):
        doc_bin.add(doc)
        report.merge(doc_report)
    return doc_bin, report


def write_doc_bins(doc_bins: Dict[Path, DocBin]) -> None:
    """Write every DocBin to its path, all or nothing.

    Each goes to a temporary file beside its target first; only when all are written
    are they renamed into place, so a failure leaves every target as it was.
    """
    temporary: Dict[Path, Path] = {}
    try:
        for path, doc_bin in doc_bins.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary[path] = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            doc_bin.to_disk(temporary[path])
        for path, temp_path in temporary.items():
            os.replace(temp_path, path)
    finally:
        for temp_path in temporary.values():
            if temp_path.exists():
                temp_path.unlink()


def convert_split(
    folder: PathLike,
    output_path: PathLike,
    nlp: Optional[Language] = None,
    schema: Optional[Schema] = None,
    *,
    strict: bool = False,
    on_document: Optional[Callable[[Path], None]] = None,
) -> ReadReport:
    """Read one brat folder and write its documents to ``output_path`` as a DocBin."""
    doc_bin, report = read_split(folder, nlp, schema, strict=strict, on_document=on_document)
    write_doc_bins({Path(output_path): doc_bin})
    return report


def check_split(folder: PathLike) -> List[Path]:
    """The ``.txt`` files of a split folder; raises if a file is unpaired or there are none."""
    paths = check_pairs(folder)
    if not paths:
        raise BratFormatError(
            folder, None, "split folder holds no documents (no .txt + .ann files)",
            "put the split's .txt and .ann files in it, or remove the empty folder",
        )
    return paths


def convert_corpus(
    root: PathLike,
    output_dir: PathLike,
    nlp: Optional[Language] = None,
    *,
    strict: bool = False,
    name: Optional[str] = None,
    on_document: Optional[Callable[[Path], None]] = None,
) -> Dict[str, ReadReport]:
    """Convert every split of ``root`` to ``output_dir/{split}.spacy``; reports by split.

    The schema comes from ``root/annotation.conf`` when present. All or nothing: every
    split is checked (unpaired files, empty folders) and read before anything is
    written, and the files are then written together, so a run that fails leaves
    ``output_dir`` as it was.
    """
    splits = discover_splits(root, name)
    for folder in splits.values():
        check_split(folder)
    schema = load_schema(root)
    if nlp is None:
        from .tokenizer import make_blank_nlp

        nlp = make_blank_nlp()
    output_dir = Path(output_dir)
    doc_bins: Dict[Path, DocBin] = {}
    reports: Dict[str, ReadReport] = {}
    for split, folder in splits.items():
        doc_bin, reports[split] = read_split(
            folder, nlp, schema, strict=strict, on_document=on_document
        )
        doc_bins[output_dir / f"{split}.spacy"] = doc_bin
    write_doc_bins(doc_bins)
    return reports


def find_split_files(corpus: PathLike) -> Dict[str, Path]:
    """``{split: path}`` for a ``.spacy`` file, or for every ``.spacy`` file in a folder.

    A folder's files come in ``SPLIT_ORDER`` (dev, test, train), then the others by name.
    """
    corpus = Path(corpus)
    if corpus.is_file():
        return {corpus.stem: corpus}
    if not corpus.is_dir():
        raise FileNotFoundError(
            f"{corpus}: no such corpus file or folder. Run `nerel-batch convert` first."
        )
    files = {path.stem: path for path in sorted(corpus.glob("*.spacy"))}
    if not files:
        raise FileNotFoundError(f"{corpus}: no .spacy files in this folder.")
    ordered = {name: files[name] for name in SPLIT_ORDER if name in files}
    ordered.update({name: path for name, path in files.items() if name not in ordered})
    return ordered


def find_split_file(corpus: PathLike, split: str = "dev") -> Path:
    """A ``.spacy`` file, or a folder's ``{split}.spacy`` (else its only ``.spacy`` file)."""
    files = find_split_files(corpus)
    if split in files:
        return files[split]
    if len(files) == 1:
        return next(iter(files.values()))
    raise FileNotFoundError(
        f"{corpus}: no {split}.spacy and {len(files)} .spacy files; pass the file to use."
    )


def read_corpus(path: PathLike, vocab: Optional[Vocab] = None) -> List[Doc]:
    """The documents of a ``.spacy`` file, user data (relations, fragments) included."""
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"{path}: a folder; give one of its .spacy files, e.g. {path / 'dev.spacy'}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: corpus file not found (run `nerel-batch convert` first)")
    doc_bin = DocBin(store_user_data=True).from_disk(path)
    return list(doc_bin.get_docs(vocab if vocab is not None else Vocab()))


@dataclass
class CorpusStats:
    """Counts that describe a corpus; every field is plain data (JSON-safe via ``to_dict``)."""

    documents: int = 0
    tokens: int = 0
    doc_lengths: List[int] = field(default_factory=list)
    # Entity types over doc.spans["nerel"] (nested included) and over doc.ents (flat view).
    entity_types_nested: Counter = field(default_factory=Counter)
    entity_types_flat: Counter = field(default_factory=Counter)
    # Spans by how many other spans contain them: 0 = outermost.
    nesting_depth: Counter = field(default_factory=Counter)
    discontinuous: int = 0
    linked: int = 0
    # Documents with at least one relation of a type (doc.cats), and relation triples.
    relation_docs: Counter = field(default_factory=Counter)
    relation_triples: Counter = field(default_factory=Counter)

    @property
    def entities_nested(self) -> int:
        return sum(self.entity_types_nested.values())

    @property
    def entities_flat(self) -> int:
        return sum(self.entity_types_flat.values())

    def length_summary(self) -> Dict[str, float]:
        """Min, median, mean and max document length in tokens."""
        if not self.doc_lengths:
            return {"min": 0, "median": 0, "mean": 0.0, "max": 0}
        return {
            "min": min(self.doc_lengths),
            "median": statistics.median(self.doc_lengths),
            "mean": round(statistics.fmean(self.doc_lengths), 1),
            "max": max(self.doc_lengths),
        }

    def length_histogram(self, bins: Iterable[int] = (100, 200, 300, 500, 1000)) -> Dict[str, int]:
        """Documents per length bucket, e.g. ``{"<100": 3, "100-199": 40, …, ">=1000": 2}``."""
        edges = sorted(bins)
        labels = [f"<{edges[0]}"]
        labels += [f"{low}-{high - 1}" for low, high in zip(edges, edges[1:])]
        labels.append(f">={edges[-1]}")
        counts = dict.fromkeys(labels, 0)
        for length in self.doc_lengths:
            index = sum(length >= edge for edge in edges)
            counts[labels[index]] += 1
        return counts

    def to_dict(self) -> dict:
        data = {
            name: dict(value.most_common()) if isinstance(value, Counter) else value
            for name, value in vars(self).items()
            if name != "doc_lengths"
        }
        data["doc_length"] = self.length_summary()
        data["doc_length_histogram"] = self.length_histogram()
        return data


def nesting_depths(doc: Doc, key: str = SPANS_KEY) -> List[int]:
    """For each span of ``doc.spans[key]``, how many other spans strictly contain it.

    Spans with the same boundaries (one mention, two types) sit at the same depth.
    """
    bounds = [(span.start, span.end) for span in doc.spans.get(key, [])]
    return [
        sum(
            1
            for other in set(bounds)
            if other != (start, end) and other[0] <= start and end <= other[1]
        )
        for start, end in bounds
    ]


def corpus_stats(docs: Iterable[Doc], schema: Optional[Schema] = None) -> CorpusStats:
    """Statistics over documents that follow the data contract (see ``read_corpus``)."""
    schema = schema if schema is not None else Schema()
    stats = CorpusStats()
    stats.relation_docs.update(dict.fromkeys(schema.relation_types, 0))
    for doc in docs:
        stats.documents += 1
        stats.tokens += len(doc)
        stats.doc_lengths.append(len(doc))
        spans = doc.spans.get(SPANS_KEY, [])
        stats.entity_types_nested.update(span.label_ for span in spans)
        stats.entity_types_flat.update(ent.label_ for ent in doc.ents)
        stats.nesting_depth.update(nesting_depths(doc))
        stats.discontinuous += len(doc.user_data.get(FRAGMENTS_KEY) or {})
        stats.linked += sum(1 for span in spans if span.kb_id_)
        stats.relation_docs.update(label for label, value in doc.cats.items() if value >= 0.5)
        stats.relation_triples.update(relation["label"] for relation in get_relations(doc))
    return stats


__all__ = [
    "SPLIT_NAMES",
    "SPLIT_ORDER",
    "CorpusStats",
    "check_split",
    "convert_corpus",
    "convert_split",
    "corpus_stats",
    "discover_splits",
    "find_split_file",
    "find_split_files",
    "nesting_depths",
    "read_corpus",
    "read_split",
    "write_doc_bins",
]
