"""FAISS vector indexes: exact inner product for small corpora, compressed approximate above.

Vectors are L2-normalised, so inner product is cosine similarity. Up to :data:`EXACT_LIMIT`
vectors the index is exact (``IndexFlatIP``; a single-core scan of 8k vectors takes ~0.7 ms).
Above it, an inverted file of ~2·√N lists, of which :func:`choose` probes max(16, lists/128),
and at least :data:`MIN_SCANNED` vectors, so that a small corpus is searched nearly whole
(10k sentences: 40 of 200 lists, 0.15 ms instead of 0.7 ms for the exact scan, recall@10
≥ 0.995 re-scored; forcing it on the 4,719 sentences of SQuAD half-a moved MRR@10 of the
answers by less than 0.001). Its vectors are stored as

- ``ivf-sq8`` (up to :data:`CODES_FROM` vectors): 8-bit scalars, 392 bytes per 384-d vector;
  recall@10 ≥ 0.97 against exact search at 100k, 0.98 once re-scored;
- ``ivf-pq`` (from :data:`CODES_FROM`): 4-bit product codes, one per 4 dimensions (48 bytes per
  384-d vector, scanned with SIMD "fast scan"): rough alone (recall@10 0.4-0.8), so
  :func:`nearest` re-scores its best ``RESCORE × k`` with the exact vectors (1M sentences:
  recall@10 0.987 in 0.49 ms and 58 MB, where 8-bit scalars took 0.86 ms and 377 MB for
  0.992; and a whole answer at 1M took 5.6 ms p50 instead of 12.9: scanning 6 MB less per
  question left the model's weights in the CPU caches).

Recall figures come from ``python -m bench.run ann``. The float32 vectors stay beside the
index in ``.npy`` files, and search ranks its candidates with exact cosines. The choice is
recorded in the manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_LIMIT = 8_000  # above this many vectors an approximate index is built
CODES_FROM = 200_000  # from this many vectors on, 4-bit product codes instead of 8-bit scalars
MIN_PROBES = 16
MIN_SCANNED = 2_000  # vectors a search looks at, at least (many probes for small corpora)
DIMS_PER_CODE = 4  # ivf-pq: one 4-bit code per 4 dimensions (48 bytes per 384-d vector)
RESCORE = 4  # ivf-pq: candidates re-scored with the exact vectors per nearest one wanted
EXACT_KEPT = EXACT_LIMIT  # a filter keeping at most this many vectors: exact search of them
TRAIN_PER_LIST = 50  # training sample size per list (FAISS wants at least 39)
TRAIN_ITERATIONS = 10


@dataclass(frozen=True)
class AnnConfig:
    """How a vector set is indexed: ``flat`` (exact), ``ivf-sq8`` or ``ivf-pq`` (approximate;
    ``codes`` 4-bit codes per vector, its candidates re-scored ``rescore`` to one)."""

    kind: str
    nlist: int = 0
    nprobe: int = 0
    codes: int = 0
    rescore: int = 1

    def to_json(self) -> dict[str, int | str]:
        data: dict[str, int | str] = {"kind": self.kind, "nlist": self.nlist,
                                      "nprobe": self.nprobe}
        if self.kind == "ivf-pq":
            data |= {"codes": self.codes, "rescore": self.rescore}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "AnnConfig":
        return cls(kind=str(data.get("kind", "flat")), nlist=int(data.get("nlist", 0)),
                   nprobe=int(data.get("nprobe", 0)), codes=int(data.get("codes", 0)),
                   rescore=max(1, int(data.get("rescore", 1))))


def choose(count: int, dim: int) -> AnnConfig:
    """The index type for ``count`` vectors of ``dim`` dimensions."""
    if count <= EXACT_LIMIT:
        return AnnConfig("flat")
    nlist = max(16, int(2 * math.sqrt(count)))
    probes = max(MIN_PROBES, nlist // 128, math.ceil(MIN_SCANNED * nlist / count))
    if count >= CODES_FROM and dim % DIMS_PER_CODE == 0:
        return AnnConfig("ivf-pq", nlist=nlist, nprobe=min(nlist, probes),
                         codes=dim // DIMS_PER_CODE, rescore=RESCORE)
    return AnnConfig("ivf-sq8", nlist=nlist, nprobe=min(nlist, probes))


def build(vectors: np.ndarray, config: AnnConfig, threads: int | None = None):
    """A FAISS index over ``vectors`` (float32, normalised rows), built on all cores."""
    import faiss

    from index.embed.encoders import cpu_cores

    faiss.omp_set_num_threads(threads or cpu_cores())
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if config.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif config.kind in ("ivf-sq8", "ivf-pq"):
        storage = f"PQ{config.codes}x4fs" if config.kind == "ivf-pq" else "SQ8"
        index = faiss.index_factory(dim, f"IVF{config.nlist},{storage}",
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


def nearest(index, config: AnnConfig, vectors: np.ndarray, query: np.ndarray,
            k: int) -> np.ndarray:
    """Ids of (nearly) the ``k`` nearest vectors to ``query``: the index's own best first, or
    for ``ivf-pq`` its best ``rescore × k`` re-scored with the exact ``vectors``, best first by
    exact cosine (4-bit codes alone rank too roughly: recall@10 0.37-0.82 at 1M against 0.99
    re-scored)."""
    if config.kind != "ivf-pq":
        return search(index, query, k)[1]
    ids = np.sort(search(index, query, k * config.rescore)[1])  # rows read in file order
    exact = np.asarray(vectors[ids]) @ np.asarray(query, dtype=np.float32).reshape(-1)
    return ids[np.argsort(-exact, kind="stable")[:k]]


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


def nearest_within(index, config: AnnConfig, vectors: np.ndarray, query: np.ndarray, k: int,
                   kept: np.ndarray, bitmap: np.ndarray, kept_index=None) -> np.ndarray:
    """Like :func:`nearest`, among the vectors ``kept`` only (sorted ids; ``bitmap``: them as
    :meth:`index.search.restriction.Restriction.bitmap`).

    Up to :data:`EXACT_KEPT` kept vectors they are scanned exactly (``kept_index()``: an
    exact index of them, :func:`exact_index`, built once per filter). Above it the index is
    searched with an ID selector, so the lists it probes yield kept vectors only, and with
    more probes the fewer it keeps (``nprobe / fraction^¼``: the nearest kept vectors are
    farther from the query than the nearest ones overall; at 1M sentences a filter keeping
    0.5% had recall@10 0.89 with the usual 16 probes, 0.99 with 61, in 1.5 ms).
    """
    count = len(kept)
    if count == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    if count <= EXACT_KEPT:
        exact = kept_index() if kept_index is not None else exact_index(vectors[kept])
        return kept[search(exact, query, k)[1]]
    if config.kind == "flat":
        return _selected(index, query, k, bitmap, None)
    fraction = count / max(1, index.ntotal)
    nprobe = min(config.nlist, math.ceil(config.nprobe / fraction ** 0.25))
    if config.kind != "ivf-pq":
        return _selected(index, query, k, bitmap, nprobe)
    ids = np.sort(_selected(index, query, k * config.rescore, bitmap, nprobe))
    exact = np.asarray(vectors[ids]) @ query
    return ids[np.argsort(-exact, kind="stable")[:k]]


def exact_index(vectors: np.ndarray):
    """An exact inner-product index of ``vectors`` (rows: their position)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _selected(index, query: np.ndarray, k: int, bitmap: np.ndarray,
              nprobe: int | None) -> np.ndarray:
    """Ids of the ``k`` nearest vectors whose bit is set in ``bitmap`` (``nprobe`` lists of
    an inverted file probed; None for an exact index), best first."""
    import faiss

    selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bitmap))
    params = faiss.SearchParameters(sel=selector) if nprobe is None else \
        faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
    faiss.omp_set_num_threads(1)
    k = min(k, index.ntotal)
    _, ids = index.search(query.reshape(1, -1), k, params=params)
    return ids[0][ids[0] >= 0].astype(np.int64)
