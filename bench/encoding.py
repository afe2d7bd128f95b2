"""Indexing throughput against the raw encoder on the same texts, and batch-size sweeps."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from index import onnx_encoder
from index.indexer import update_index

from .measure import median_time


class TimedEncoder:
    """Wraps an encoder, recording the texts it embeds and the seconds it spends."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.dim = inner.dim
        self.details = getattr(inner, "details", {})
        self.seconds = 0.0
        self.texts: list[str] = []

    def encode(self, texts, progress=None):
        start = time.perf_counter()
        try:
            return self.inner.encode(texts, progress)
        finally:
            self.seconds += time.perf_counter() - start
            self.texts.extend(texts)

    def encode_query(self, text):
        return self.inner.encode_query(text)


def indexing_vs_raw(encoder, corpus: Path, work: Path, repeats: int) -> dict[str, float]:
    """Index ``corpus`` from scratch ``repeats`` times, alternating with the raw encoder on
    exactly the texts the indexer embedded; medians of both."""
    index_times, raw_times, embed_times, raw_sentence_times = [], [], [], []
    report = timed = None
    for _ in range(repeats):
        target = work / "index-throughput"
        shutil.rmtree(target, ignore_errors=True)
        timed = TimedEncoder(encoder)
        start = time.perf_counter()
        report = update_index([corpus], target, encoder=timed)
        index_times.append(time.perf_counter() - start)
        embed_times.append(timed.seconds)
        texts = list(timed.texts)
        sentences = texts[:report.sentences_embedded]
        raw_times.append(median_time(lambda: encoder.encode(texts), 1))
        raw_sentence_times.append(median_time(lambda: encoder.encode(sentences), 1))
    assert report is not None and timed is not None
    index_s = statistics.median(index_times)
    raw_s = statistics.median(raw_times)
    return {
        "sentences": report.sentences, "passages": report.passages_embedded,
        "index_seconds": index_s, "index_sentences_per_s": report.sentences / index_s,
        "raw_seconds_same_texts": raw_s,
        "raw_texts_per_s": len(timed.texts) / raw_s,
        "raw_sentences_per_s": report.sentences / statistics.median(raw_sentence_times),
        "ratio_vs_raw_same_texts": raw_s / index_s,
        "non_embedding_share": 1 - statistics.median(embed_times) / index_s,
    }


def sweep(encoder, texts: list[str], budgets: list[int], repeats: int) -> list[dict]:
    """Raw throughput for each token budget, with whole batches in parallel (one 1-thread
    session per core) or one multi-threaded session; configurations take turns each round."""
    configs = [(parallel, budget) for parallel in (True, False) for budget in budgets]
    times: dict[tuple[bool, int], list[float]] = {c: [] for c in configs}
    saved = onnx_encoder.TOKEN_BUDGET, onnx_encoder.PARALLEL_BATCHES
    try:
        for _ in range(repeats):
            for parallel, budget in configs:
                onnx_encoder.TOKEN_BUDGET, onnx_encoder.PARALLEL_BATCHES = budget, parallel
                times[(parallel, budget)].append(median_time(lambda: encoder.encode(texts), 1))
    finally:
        onnx_encoder.TOKEN_BUDGET, onnx_encoder.PARALLEL_BATCHES = saved
    return [{"budget": b, "parallel_batches": p,
             "texts_per_s": len(texts) / statistics.median(times[(p, b)])} for p, b in configs]
