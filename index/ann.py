"""FAISS vector indexes: exact inner product for small corpora, compressed approximate above.

Vectors are L2-normalised, so inner product is cosine similarity. Up to :data:`EXACT_LIMIT`
vectors the index is exact (``IndexFlatIP``; a single-core scan of 8k vectors takes ~0.7 ms).
Above it, ``ivf-sq8``: an inverted file of ~2·√N lists whose vectors are stored as 8-bit scalars
(392 bytes per 384-d vector: 1M sentences in ~0.4 GB), of which :func:`choose` probes enough for
recall@10 ≥ 0.97 against exact search, 0.98–0.99 once the candidates are re-scored (measured
by ``python -m bench.run ann``; at 1M sentences 16 probes take 0.8 ms, 32 probes 1.4 ms for
+0.003 recall), and at least :data:`MIN_SCANNED` vectors, so that a small corpus is searched
nearly whole (10k sentences: 40 of 200 lists, 0.15 ms instead of 0.7 ms for the exact scan,
recall@10 ≥ 0.995 re-scored; forcing this index on the 4,719 sentences of SQuAD half-a moved
MRR@10 of the answers by less than 0.001). The float32
vectors stay beside the index in ``.npy`` files, and search re-scores its candidates with them,
so the final ranking uses exact cosines. The choice is recorded in the manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_LIMIT = 8_000  # above this many vectors an approximate index is built
MIN_PROBES = 16
MIN_SCANNED = 2_000  # vectors a search looks at, at least (many probes for small corpora)
TRAIN_PER_LIST = 50  # training sample size per list (FAISS wants at least 39)
TRAIN_ITERATIONS = 10


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
    nlist = max(16, int(2 * math.sqrt(count)))
    probes = max(MIN_PROBES, nlist // 128, math.ceil(MIN_SCANNED * nlist / count))
    return AnnConfig("ivf-sq8", nlist=nlist, nprobe=min(nlist, probes))


def build(vectors: np.ndarray, config: AnnConfig, threads: int | None = None):
    """A FAISS index over ``vectors`` (float32, normalised rows), built on all cores."""
    import faiss

    from .encoders import cpu_cores

    faiss.omp_set_num_threads(threads or cpu_cores())
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if config.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif config.kind == "ivf-sq8":
        quantiser = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantiser, dim, config.nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = TRAIN_ITERATIONS
        size = min(len(vectors), config.nlist * TRAIN_PER_LIST)
        sample = vectors[np.sort(np.random.default_rng(0).choice(len(vectors), size=size,
                                                                 replace=False))]
        index.train(sample)
        index.nprobe = config.nprobe
    else:
        raise ValueError(f"unknown index kind {config.kind}")
    for start in range(0, len(vectors), 65536):  # bounded temporary memory while adding
        index.add(vectors[start:start + 65536])
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
    """``(scores, ids)`` of the ``k`` nearest vectors to one query; ids of -1 are dropped.

    One query runs on one core: FAISS's threads only pay off for batches of queries, and on a
    busy machine their spinning costs more than the scan.
    """
    import faiss

    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    faiss.omp_set_num_threads(1)
    scores, ids = index.search(np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
