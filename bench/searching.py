"""Approximate-vs-exact recall, and warm per-question latency of the whole search path."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from index.search.searcher import CANDIDATES  # what search asks the vector index for
from index.store import ann

from .corpora import Seeds, SyntheticEncoder, squad_questions, squad_sentences, synthetic_corpus
from .encoding import TimedEncoder
from .measure import peak_mb, percentile, resident_mb


def real_embeddings(encoder, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """SQuAD sentence and question embeddings from the real encoder (cached in ``work``)."""
    key = getattr(encoder, "details", {}).get("quantisation", encoder.spec.backend)
    path = work / f"squad-embeddings-{key}.npz"
    if path.exists():
        data = np.load(path)
        return data["sentences"], data["questions"]
    texts, _, _ = squad_sentences()
    sentences = encoder.encode(texts)
    questions = np.stack([encoder.encode_query(q) for q in squad_questions(1000)])
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, sentences=sentences, questions=questions)
    return sentences, questions


def ann_recall(seeds: Seeds, queries: np.ndarray, size: int) -> dict[str, float]:
    """Build the index :func:`index.store.ann.choose` picks for ``size`` clustered vectors; recall@10
    against exact search (by the index's own scores, and of the candidates search takes,
    re-scored exactly as search does)."""
    import faiss

    vectors = seeds.sample(size, np.random.default_rng(size))
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    faiss.omp_set_num_threads(2)
    _, truth = exact.search(queries, 10)
    flat_times = []
    for q in queries[:50]:
        start = time.perf_counter()
        ann.search(exact, q, CANDIDATES)
        flat_times.append(time.perf_counter() - start)
    del exact
    config = ann.choose(size, vectors.shape[1])
    start = time.perf_counter()
    index = ann.build(vectors, config)
    build_s = time.perf_counter() - start
    raw, rescored, times = [], [], []
    for q, want in zip(queries, truth):
        start = time.perf_counter()
        ids = ann.nearest(index, config, vectors, q, CANDIDATES)  # the candidates search uses
        times.append(time.perf_counter() - start)
        best = ids[np.argsort(-(vectors[ids] @ q), kind="stable")[:10]]
        rescored.append(len(set(best.tolist()) & set(want.tolist())) / 10)
        own = ann.search(index, q, 10)[1]  # the index's own scores alone
        raw.append(len(set(own.tolist()) & set(want.tolist())) / 10)
    return {"size": size, "kind": config.kind, "nlist": config.nlist, "nprobe": config.nprobe,
            "recall10": float(np.mean(raw)), "recall10_rescored": float(np.mean(rescored)),
            "ann_p50_ms": percentile(times, 50) * 1000, "ann_p95_ms": percentile(times, 95) * 1000,
            "flat_p50_ms": percentile(flat_times, 50) * 1000,
            "index_mb": len(faiss.serialize_index(index)) / 2**20, "build_s": build_s,
            "queries": len(queries), "peak_mb": peak_mb()}


def synthetic_index(work: Path, size: int, real, seeds: Seeds,
                    raw_texts_per_s: float | None = None) -> tuple[Path, dict]:
    """An index of ``size`` synthetic sentences (vectors from ``seeds``), reused when built
    before; with how long indexing took without the model and an extrapolation with it."""
    from index.indexer import update_index

    folder = work / f"synthetic-{size}"
    target = folder / "index"
    info_path = folder / "build.json"
    if info_path.exists() and (target / "CURRENT").exists():
        _update_format(folder / "articles", target, real, seeds)
        return target, json.loads(info_path.read_text())
    corpus = synthetic_corpus(folder / "articles", size)
    timed = TimedEncoder(SyntheticEncoder(real, seeds))
    start = time.perf_counter()
    report = update_index([corpus], target, encoder=timed, rebuild=True)
    seconds = time.perf_counter() - start
    if raw_texts_per_s is None:  # the model on a sample of these very texts
        sample = timed.texts[::max(1, len(timed.texts) // 2000)]
        start = time.perf_counter()
        real.encode(sample)
        raw_texts_per_s = len(sample) / (time.perf_counter() - start)
    rest = seconds - timed.seconds
    info = {"sentences": report.sentences, "texts_embedded": len(timed.texts),
            "index_seconds_without_model": rest, "model_texts_per_s": raw_texts_per_s,
            "index_seconds_extrapolated": rest + len(timed.texts) / raw_texts_per_s,
            "build_peak_mb": peak_mb()}
    info_path.write_text(json.dumps(info))
    return target, info


def _update_format(corpus: Path, target: Path, real, seeds: Seeds) -> None:
    """Bring a kept index of an older format up to date (nothing is embedded again)."""
    from index.errors import IndexMismatch
    from index.indexer import update_index
    from index.store.generations import IndexDir

    try:
        IndexDir(target).read_manifest(verify=False)
    except IndexMismatch:
        update_index([corpus], target, encoder=SyntheticEncoder(real, seeds))


def search_latency(index_dir: Path, questions: list[str], warmup: int = 20,
                   rounds: int = 3) -> dict[str, float]:
    """Warm per-question latency of a whole answer (``Answerer.ask``, k=3: embedding, search,
    ranking, confidence and citations), and of its parts: medians over ``rounds`` passes of
    the p50/p95 of each pass. Warm means the index files are in the page cache (read once
    before timing; this machine's cache does not keep them long) and the process has
    answered ``warmup`` questions."""
    from bot.answering import Answerer

    start = time.perf_counter()
    answerer = Answerer.open(index_dir)
    searcher = answerer.searcher
    open_s = time.perf_counter() - start
    _warm(answerer, questions[:warmup])
    passes: list[dict[str, float]] = []
    for _ in range(rounds):
        total, encode, vector = [], [], []
        for q in questions:
            start = time.perf_counter()
            answerer.ask(q, 3)
            total.append(time.perf_counter() - start)
            start = time.perf_counter()
            query = searcher.encoder.encode_query(q)
            encode.append(time.perf_counter() - start)
            start = time.perf_counter()
            ann.nearest(searcher.ann, searcher.ann_config, searcher.sentence_vectors, query,
                        CANDIDATES)
            vector.append(time.perf_counter() - start)
        passes.append({"p50_ms": percentile(total, 50) * 1000,
                       "p95_ms": percentile(total, 95) * 1000,
                       "encode_p50_ms": percentile(encode, 50) * 1000,
                       "ann_p50_ms": percentile(vector, 50) * 1000})
    result = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
    result["rest_p50_ms"] = result["p50_ms"] - result["encode_p50_ms"] - result["ann_p50_ms"]
    result["p50_passes_ms"] = [p["p50_ms"] for p in passes]
    return {"sentences": searcher.size, "ann": searcher.manifest.ann.get("sentences", {}),
            "open_s": open_s, **result, "questions": len(questions), "rounds": rounds,
            "peak_mb": peak_mb(), "anon_mb": resident_mb().get("RssAnon", 0.0),
            "mapped_mb": resident_mb().get("RssFile", 0.0)}


# Source patterns over the synthetic corpora's paths (s0000/a000123.txt: article numbers in
# order), keeping about half, a twentieth and a thousandth of the articles, spread evenly.
FILTER_PATTERNS = {"50%": "*[0-4].txt", "5%": "*[0-4]0.txt", "0.1%": "*000.txt"}


def filtered_search(index_dir: Path, questions: list[str], warmup: int = 20,
                    rounds: int = 3) -> list[dict]:
    """For each of :data:`FILTER_PATTERNS`: what it keeps, the time to build its restriction
    (the first question under it), recall@10 of the dense candidates against an exact search
    over the kept sentences' vectors, and the warm latency of a whole filtered answer
    (``Answerer.ask(q, 3, sources=[pattern])``; medians of ``rounds`` passes' p50/p95)."""
    from bot.answering import Answerer
    from index.search.filters import ArticleFilter

    answerer = Answerer.open(index_dir)
    searcher = answerer.searcher
    _warm(answerer, questions[:warmup])  # as for latency
    queries = [searcher.encoder.encode_query(q) for q in questions]
    # the same answers unfiltered, in the same process: what the filter adds
    plain = [p50 for p50, _ in _timed_passes(lambda q: answerer.ask(q, 3), questions, rounds)]
    out = []
    for share, pattern in FILTER_PATTERNS.items():
        wanted = ArticleFilter.of(sources=[pattern])
        start = time.perf_counter()
        within = searcher.restriction(wanted)
        build_ms = (time.perf_counter() - start) * 1000
        kept = np.asarray(searcher.sentence_vectors[within.ids])
        recalls = []
        for query in queries:
            truth = within.ids[np.argsort(-(kept @ query), kind="stable")[:10]]
            found = ann.nearest_within(searcher.ann, searcher.ann_config,
                                       searcher.sentence_vectors, query, CANDIDATES, within.ids,
                                       within.bitmap(),
                                       lambda: within.exact_index(searcher.sentence_vectors))
            best = found[np.argsort(-(np.asarray(searcher.sentence_vectors[found]) @ query),
                                    kind="stable")[:10]]
            recalls.append(len(set(best.tolist()) & set(truth.tolist())) / 10)
        del kept
        for q in questions[:warmup]:
            answerer.ask(q, 3, filters=wanted)
        passes = _timed_passes(lambda q: answerer.ask(q, 3, filters=wanted), questions, rounds)
        out.append({"share": share, "pattern": pattern, "sentences": searcher.size,
                    "kept_articles": within.kept_articles, "articles": len(within.articles),
                    "kept_sentences": len(within.ids),
                    "path": "exact" if len(within.ids) <= ann.EXACT_KEPT
                    else searcher.ann_config.kind + " + ID selector",
                    "recall10": float(np.mean(recalls)), "build_ms": build_ms,
                    "p50_ms": statistics.median(p[0] for p in passes),
                    "p95_ms": statistics.median(p[1] for p in passes),
                    "p50_passes_ms": [p[0] for p in passes], "questions": len(questions),
                    "unfiltered_p50_ms": statistics.median(plain),
                    "peak_mb": peak_mb()})
    return out


def _timed_passes(ask: Callable[[str], object], questions: list[str],
                  rounds: int) -> list[tuple[float, float]]:
    """``rounds`` passes of ``ask`` over ``questions``: each pass's p50 and p95 in ms."""
    passes = []
    for _ in range(rounds):
        times = []
        for q in questions:
            start = time.perf_counter()
            ask(q)
            times.append(time.perf_counter() - start)
        passes.append((percentile(times, 50) * 1000, percentile(times, 95) * 1000))
    return passes


def _warm(answerer, questions: list[str]) -> None:  # noqa: ANN001 - a bot.answering.Answerer
    """Read every file of the index into the page cache, then ask ``questions`` once."""
    for path in sorted(answerer.searcher.generation.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(1 << 24):
                    pass
    for q in questions:
        answerer.ask(q, 3)
