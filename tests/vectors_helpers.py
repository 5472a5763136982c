"""A tiny navec model built on the spot, so vector tests need neither natasha nor 26 MB."""
from pathlib import Path
from typing import Dict, Sequence

import numpy
from navec import Navec
from navec.meta import Meta
from navec.pq import PQ
from navec.vocab import PAD, UNK, Vocab


def make_fake_navec(
    counts: Dict[str, int], *, dim: int = 12, qdim: int = 4, centroids: int = 8, seed: int = 0
) -> Navec:
    """A navec model over ``counts``' words in alphabetical order plus <unk> and <pad>, as navec's own."""
    rng = numpy.random.default_rng(seed)
    words: Sequence[str] = sorted(counts) + [UNK, PAD]
    word_counts = [counts[word] for word in sorted(counts)] + [0, 0]
    indexes = rng.integers(0, centroids, size=(len(words), qdim)).astype("uint8")
    codes = rng.normal(size=(qdim, centroids, dim // qdim)).astype("float32")
    pq = PQ(len(words), dim, qdim, centroids, indexes, codes)
    return Navec(Meta("fake_navec_v1"), Vocab(list(words), word_counts), pq)


def write_fake_navec(path: Path, counts: Dict[str, int], **kwargs) -> Path:
    """Dump a fake navec model as a ``.tar`` like natasha's, and return its path."""
    make_fake_navec(counts, **kwargs).dump(str(path))
    return path
