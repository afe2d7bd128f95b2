"""The vector index: approximate search agrees with exact search; awkward sizes work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_corpus
from index.store import ann


def clustered(n: int, dim: int = 64, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres (like sentence embeddings: topics with spread)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    v = centres[rng.integers(0, clusters, n)] + 0.8 * rng.standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def recall_at_10(index, vectors: np.ndarray, queries: np.ndarray, rescore: bool) -> float:
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = []
    for q, want in zip(queries, truth):
        _, ids = ann.search(index, q, 100)
        if rescore:  # what search does: exact cosines of the candidates
            ids = ids[np.argsort(-(vectors[ids] @ q), kind="stable")]
        found.append(len(set(ids[:10].tolist()) & set(want.tolist())) / 10)
    return float(np.mean(found))


def test_approximate_index_finds_what_exact_search_finds() -> None:
    vectors = clustered(6000)
    queries = clustered(60, seed=1)
    # these isotropic clusters are harder than real embeddings: a quarter of the lists
    approximate = ann.build(vectors, ann.AnnConfig("ivf-sq8", nlist=64, nprobe=16))
    assert recall_at_10(approximate, vectors, queries, rescore=False) >= 0.9
    assert recall_at_10(approximate, vectors, queries, rescore=True) >= 0.95
    exact = ann.build(vectors, ann.AnnConfig("flat"))
    assert recall_at_10(exact, vectors, queries, rescore=False) == 1.0


def test_the_smallest_approximate_index_is_searched_nearly_whole() -> None:
    count = ann.EXACT_LIMIT + 1  # just above the exact limit: many lists probed
    config = ann.choose(count, 64)
    assert config.kind == "ivf-sq8" and config.nprobe * count / config.nlist >= ann.MIN_SCANNED
    vectors = clustered(count)
    index = ann.build(vectors, config)
    assert recall_at_10(index, vectors, clustered(60, seed=1), rescore=True) >= 0.97


def test_product_codes_re_scored_find_what_exact_search_finds(tmp_path: Path) -> None:
    both = clustered(12060)  # questions on the corpus's own topics, as real ones mostly are
    vectors, queries = both[:12000], both[12000:]
    config = ann.AnnConfig("ivf-pq", nlist=64, nprobe=16, codes=16, rescore=ann.RESCORE)
    ann.save(ann.build(vectors, config), tmp_path / "v.faiss")
    index = ann.load(tmp_path / "v.faiss", ann.AnnConfig.from_json(config.to_json()))
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [ann.nearest(index, config, vectors, q, 100)[:10] for q in queries]  # as search
    assert np.mean([len(set(f.tolist()) & set(t.tolist())) / 10
                    for f, t in zip(found, truth)]) >= 0.95
    for q, ids in zip(queries, found):  # best first, by exact cosine
        assert np.all(np.diff(vectors[ids] @ q) <= 1e-6)


def test_large_corpora_get_product_codes_in_a_tenth_of_the_space() -> None:
    config = ann.choose(1_000_000, 384)
    assert (config.kind, config.codes, config.rescore) == ("ivf-pq", 96, ann.RESCORE)
    assert ann.choose(ann.CODES_FROM - 1, 384).kind == "ivf-sq8"
    assert ann.choose(ann.CODES_FROM, 385).kind == "ivf-sq8"  # dimensions not in fours


def test_compressed_index_fits_a_million_sentences_in_a_gigabyte(tmp_path: Path) -> None:
    vectors = clustered(5000, dim=384)
    for config in (ann.AnnConfig("ivf-sq8", nlist=32, nprobe=8), ann.choose(1_000_000, 384)):
        index = ann.build(vectors, config if config.kind == "ivf-sq8" else
                          ann.AnnConfig("ivf-pq", 32, 8, config.codes, config.rescore))
        ann.save(index, tmp_path / "v.faiss")
        per_vector = (tmp_path / "v.faiss").stat().st_size / len(vectors)
        assert per_vector * 1_000_000 <= 1024**3


@pytest.mark.parametrize("count", [1, 2, 9, ann.EXACT_LIMIT, ann.EXACT_LIMIT + 1])
def test_every_size_gets_an_index_that_answers(count: int) -> None:
    config = ann.choose(count, 16)
    assert config.kind == ("flat" if count <= ann.EXACT_LIMIT else "ivf-sq8")
    vectors = clustered(count, dim=16)
    index = ann.build(vectors, config, threads=1)
    for row in sorted({0, count // 2, count - 1}):  # each vector finds itself first
        scores, ids = ann.search(index, vectors[row], 10)  # k above the smallest sizes
        assert len(ids) == min(10, count)
        assert ids[0] == row and scores[0] == pytest.approx(1.0, abs=1e-2)


def test_search_accepts_any_query_layout_and_k() -> None:
    vectors = clustered(300, dim=16)
    index = ann.build(vectors, ann.AnnConfig("ivf-sq8", nlist=4, nprobe=4))
    query = np.asfortranarray(np.tile(vectors[7].astype(np.float64), (2, 1)))[0]
    _, ids = ann.search(index, query, 5)
    assert ids[0] == 7
    assert len(ann.search(index, vectors[0], 0)[1]) == 0
    assert len(ann.search(ann.build(vectors[:0], ann.AnnConfig("flat")), vectors[0], 5)[1]) == 0


def test_saved_index_keeps_its_probe_setting(tmp_path: Path) -> None:
    vectors = clustered(2000, dim=32)
    config = ann.AnnConfig("ivf-sq8", nlist=16, nprobe=5)
    ann.save(ann.build(vectors, config), tmp_path / "v.faiss")
    loaded = ann.load(tmp_path / "v.faiss", ann.AnnConfig.from_json(config.to_json()))
    assert loaded.nprobe == 5 and loaded.ntotal == 2000


def test_index_above_the_limit_answers_like_the_exact_one(tmp_path: Path, hashing_spec,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from index.search.searcher import Searcher

    words = ["market", "camera", "river", "election", "harvest", "engine", "court", "storm"]
    files = {f"a{i}.txt": "\n\n".join(
        " ".join(f"The {words[(i + j) % 8]} report {k} mentions {words[(i * j + k) % 8]} and "
                 f"{words[(k + 3) % 8]} number {i * 31 + j * 7 + k}." for k in range(3))
        for j in range(4)) for i in range(25)}
    corpus = write_corpus(tmp_path / "corpus", files)
    from index.indexer import update_index

    update_index([corpus], tmp_path / "exact", spec=hashing_spec)
    monkeypatch.setattr(ann, "EXACT_LIMIT", 50)
    update_index([corpus], tmp_path / "approx", spec=hashing_spec)
    monkeypatch.setattr(ann, "CODES_FROM", 50)
    update_index([corpus], tmp_path / "codes", spec=hashing_spec)
    exact, approx, codes = (Searcher.open(tmp_path / name) for name in ("exact", "approx",
                                                                        "codes"))
    assert [s.manifest.ann["sentences"]["kind"] for s in (exact, approx, codes)] == \
        ["flat", "ivf-sq8", "ivf-pq"]
    # bots reading format 2 know no product codes (they would not re-score): 3 keeps them out
    assert [s.manifest.format_version for s in (exact, approx, codes)] == [2, 2, 3]
    for question in ["Which report mentions the storm?", "camera number 40", "river harvest"]:
        expected = [h.sentence.text for h in exact.search(question, 3)]
        assert [h.sentence.text for h in approx.search(question, 3)] == expected
        assert [h.sentence.text for h in codes.search(question, 3)] == expected
