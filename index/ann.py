"""FAISS vector indexes: exact inner product for small corpora, compressed approximate above.

Vectors are L2-normalised, so inner product is cosine similarity. The choice of index type is
recorded in the manifest; the float32 vectors themselves are kept beside it in ``.npy`` files so
that re-indexing reuses them and exact rescoring stays possible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_LIMIT = 50_000  # above this many vectors an approximate index is built


@dataclass(frozen=True)
class AnnConfig:
    """How a vector set is indexed: ``flat`` (exact) or ``ivf-sq8`` (approximate)."""

    kind: str
    nlist: int = 0
    nprobe: int = 0

    def to_json(self) -> dict[str, int | str]:
        return {"kind": self.kind, "nlist": self.nlist, "nprobe": self.nprobe}

    @classmethod
    def from_json(cls, data: dict) -> "AnnConfig":
        return cls(kind=str(data.get("kind", "flat")), nlist=int(data.get("nlist", 0)),
                   nprobe=int(data.get("nprobe", 0)))


def choose(count: int) -> AnnConfig:
    """The index type for ``count`` vectors."""
    if count <= EXACT_LIMIT:
        return AnnConfig("flat")
    nlist = int(4 * np.sqrt(count))
    return AnnConfig("ivf-sq8", nlist=nlist, nprobe=max(16, nlist // 32))


def build(vectors: np.ndarray, config: AnnConfig):
    """A FAISS index over ``vectors`` (float32, normalised rows)."""
    import faiss

    dim = vectors.shape[1]
    if config.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif config.kind == "ivf-sq8":
        quantiser = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantiser, dim, config.nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(
            len(vectors), size=min(len(vectors), config.nlist * 64), replace=False)]
        index.train(sample)
        index.nprobe = config.nprobe
    else:
        raise ValueError(f"unknown index kind {config.kind}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load(path: Path, config: AnnConfig):
    import faiss

    index = faiss.read_index(str(path))
    if config.kind != "flat":
        faiss.extract_index_ivf(index).nprobe = config.nprobe
    return index


def search(index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)`` of the ``k`` nearest vectors to one query; ids of -1 are dropped."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
