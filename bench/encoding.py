"""Indexing throughput against the raw encoder on the same sentences, and batch-size sweeps.

Both wall time and CPU time are reported: the machine is shared, and CPU seconds (all threads)
say how much work a configuration needs whatever else is running.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from index.embed import onnx_encoder
from index.indexer import update_index

from .measure import cpu_seconds


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

    def token_states(self, texts, specials=True):
        return self.inner.token_states(texts, specials)


def timed(fn) -> tuple[float, float]:
    """``(wall seconds, CPU seconds)`` of one call."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def indexing_vs_raw(encoder, corpus: Path, work: Path, repeats: int) -> dict[str, float]:
    """Index ``corpus`` from scratch ``repeats`` times, alternating with the raw encoder on
    exactly the sentences the indexer embedded (as it embeds them: ``Title: sentence``);
    medians of both."""
    index_wall, index_cpu, raw_wall, raw_cpu, embed = [], [], [], [], []
    report = None
    for _ in range(repeats):
        target = work / "index-throughput"
        shutil.rmtree(target, ignore_errors=True)
        encoder_log = TimedEncoder(encoder)
        box = {}
        wall, cpu = timed(lambda: box.setdefault("r", update_index([corpus], target,
                                                                   encoder=encoder_log)))
        report = box["r"]
        index_wall.append(wall)
        index_cpu.append(cpu)
        embed.append(encoder_log.seconds)
        texts = list(encoder_log.texts)
        assert len(texts) == report.sentences_embedded == report.sentences
        wall, cpu = timed(lambda: encoder.encode(texts))
        raw_wall.append(wall)
        raw_cpu.append(cpu)
    assert report is not None
    med = statistics.median
    return {
        "sentences": report.sentences, "index_seconds": med(index_wall),
        "index_sentences_per_s": report.sentences / med(index_wall),
        "raw_seconds": med(raw_wall), "raw_sentences_per_s": report.sentences / med(raw_wall),
        "ratio_vs_raw": med(raw_wall) / med(index_wall),
        "cpu_ratio_vs_raw": med(raw_cpu) / med(index_cpu),
        "non_embedding_share": 1 - med(embed) / med(index_wall),
    }


def sweep(encoder, texts: list[str], budgets: list[int], repeats: int) -> list[dict]:
    """Raw throughput for each token budget, with whole batches in parallel (one 1-thread
    session per core) or one multi-threaded session; configurations take turns each round."""
    configs = [(parallel, budget) for parallel in (True, False) for budget in budgets]
    walls: dict[tuple[bool, int], list[float]] = {c: [] for c in configs}
    cpus: dict[tuple[bool, int], list[float]] = {c: [] for c in configs}
    saved = onnx_encoder.TOKEN_BUDGET, onnx_encoder.PARALLEL_BATCHES
    try:
        for _ in range(repeats):
            for parallel, budget in configs:
                onnx_encoder.TOKEN_BUDGET, onnx_encoder.PARALLEL_BATCHES = budget, parallel
                wall, cpu = timed(lambda: encoder.encode(texts))
                walls[(parallel, budget)].append(wall)
                cpus[(parallel, budget)].append(cpu)
    finally:
        onnx_encoder.TOKEN_BUDGET, onnx_encoder.PARALLEL_BATCHES = saved
    return [{"budget": b, "parallel_batches": p,
             "texts_per_s": len(texts) / statistics.median(walls[(p, b)]),
             "texts_per_cpu_s": len(texts) / statistics.median(cpus[(p, b)])}
            for p, b in configs]
