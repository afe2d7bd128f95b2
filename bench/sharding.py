"""Sharded indexes: build memory and answer latency of big synthetic corpora, and indexing
throughput on a local Ray cluster with 1 or 2 workers."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from .corpora import Seeds, SyntheticEncoder, word_frequencies
from .measure import peak_mb, percentile, resident_mb

BLOCK = 256  # articles generated at a time (bounded memory at any size)


def synthetic_corpus_blocks(folder: Path, sentences: int, per_article: int = 40,
                            seed: int = 0) -> Path:
    """The format of :func:`bench.corpora.synthetic_corpus` (unigram sentences, ``.txt``
    articles of ``per_article`` sentences, 256 per sub-folder), drawn a block of articles at
    a time so that 10M sentences need no more memory than 10k."""
    marker = folder / ".sentences"
    if marker.exists() and marker.read_text() == str(sentences):
        return folder
    rng = np.random.default_rng(seed)
    words, p = word_frequencies()
    vocab = np.array(words, dtype=object)
    folder.mkdir(parents=True, exist_ok=True)
    articles = -(-sentences // per_article)
    for first in range(0, articles, BLOCK):
        block = folder / f"s{first // BLOCK:05d}"
        block.mkdir(exist_ok=True)
        for article in range(first, min(articles, first + BLOCK)):
            count = min(per_article, sentences - article * per_article)
            lengths = rng.integers(8, 30, size=count)
            tokens = vocab[rng.choice(len(words), size=int(lengths.sum()), p=p)]
            out, cursor = [f"Article {article}", ""], 0
            for s, n in enumerate(lengths):
                chunk = tokens[cursor:cursor + n]
                cursor += n
                out.append(str(chunk[0]).capitalize() + " " + " ".join(chunk[1:]) + ".")
                if s % 5 == 4:
                    out.append("")
            (block / f"a{article:07d}.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    marker.write_text(str(sentences))
    return folder


def build_sharded(corpus: Path, target: Path, shards: int, real, seeds: Seeds) -> dict:
    """Build ``corpus`` into ``shards`` shards one after another in this process (vectors
    from ``seeds``, not the model); seconds, sentences and this process's peak memory."""
    from index.sharded_indexer import update_sharded_index

    start = time.perf_counter()
    report = update_sharded_index([corpus], target, shards=shards, rebuild=True,
                                  encoder=SyntheticEncoder(real, seeds))
    return {"sentences": report.sentences, "shards": shards,
            "build_s": time.perf_counter() - start, "build_peak_mb": peak_mb()}


def sharded_latency(index_dir: Path, questions: list[str], warmup: int = 20,
                    rounds: int = 3) -> dict:
    """Warm per-question latency of a whole answer (``Answerer.ask``, k=3) on a sharded index
    searched in this process, and of its shards' part (all shards' candidate gathering)."""
    from bot.answering import Answerer
    from index.search.shard_search import ShardQuery

    start = time.perf_counter()
    answerer = Answerer.open(index_dir)
    searcher = answerer.searcher
    open_s = time.perf_counter() - start
    for q in questions[:warmup]:
        answerer.ask(q, 3)
    passes = []
    for _ in range(rounds):
        total, gather = [], []
        for q in questions:
            start = time.perf_counter()
            answerer.ask(q, 3)
            total.append(time.perf_counter() - start)
            terms, idf, _ = searcher.stats.query_terms(q)
            ask = ShardQuery(searcher.encoder.encode_query(q), terms, idf, searcher.stats.avgdl)
            start = time.perf_counter()
            searcher.group.gather(ask)
            gather.append(time.perf_counter() - start)
        passes.append({"p50_ms": percentile(total, 50) * 1000,
                       "p95_ms": percentile(total, 95) * 1000,
                       "gather_p50_ms": percentile(gather, 50) * 1000})
    result = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
    result["p50_passes_ms"] = [p["p50_ms"] for p in passes]
    shards = len([e for e in searcher.sharded.shards if e.generation])
    return {"sentences": searcher.size, "shards": shards, "open_s": open_s, **result,
            "questions": len(questions), "peak_mb": peak_mb(),
            "anon_mb": resident_mb().get("RssAnon", 0.0),
            "mapped_mb": resident_mb().get("RssFile", 0.0)}


def ray_throughput(corpus: Path, target: Path, shards: int, workers: int) -> dict:
    """Index ``corpus`` with the real model on a new local Ray cluster of ``workers`` CPUs
    (one shard build per worker at a time); sentences per second."""
    import ray

    from index.cluster import Cluster
    from index.embed.encoders import EncoderSpec
    from index.sharded_indexer import update_sharded_index

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local cluster
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False, object_store_memory=200 * 2**20)
    try:
        start = time.perf_counter()
        report = update_sharded_index([corpus], target, shards=shards, rebuild=True,
                                      spec=EncoderSpec(),
                                      builder=Cluster(None).shard_builder())
        seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
    return {"workers": workers, "shards": shards, "sentences": report.sentences,
            "seconds": seconds, "per_s": report.sentences / seconds,
            "nodes": len({o.node for o in report.outcomes}), "peak_mb": peak_mb()}


def dump(row: dict) -> None:
    print(json.dumps(row), flush=True)
