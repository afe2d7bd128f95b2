"""Sharded indexes: build memory and answer latency of big synthetic corpora, and indexing
throughput on a local Ray cluster with 1 or 2 workers."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

from .corpora import Seeds, SyntheticEncoder
from .measure import peak_mb, percentile, resident_mb


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
    searched in this process, and of its shards' part (both calls to all shards: their top
    lists, then the picked sentences' rows; on ``BOT_SHARD_THREADS`` threads)."""
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
            ask = ShardQuery(searcher.encoder.encode_query(q), terms, idf)
            start = time.perf_counter()
            searcher.shard_pools(ask)
            gather.append(time.perf_counter() - start)
        passes.append({"p50_ms": percentile(total, 50) * 1000,
                       "p95_ms": percentile(total, 95) * 1000,
                       "gather_p50_ms": percentile(gather, 50) * 1000})
    result = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
    result["p50_passes_ms"] = [p["p50_ms"] for p in passes]
    shards = len([e for e in searcher.sharded.shards if e.generation])
    from index.search.sharded import shard_threads

    return {"sentences": searcher.size, "shards": shards, "open_s": open_s, **result,
            "threads": min(shards, shard_threads()),
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
