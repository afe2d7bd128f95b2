"""Corpus-wide BM25 statistics of a sharded index, and a shard's BM25 re-scored with them.

Each shard is an ordinary generation whose BM25 index (bm25s, Lucene variant) holds each
(term, sentence) contribution precomputed with the shard's own statistics::

    idf(t) · tf / (tf + k1 · (1 − b + b · dl / avgdl)),   idf(t) = ln(1 + (N − df + ½) / (df + ½))

A shard's N, df and avgdl are not the corpus's, so its scores (and the IDF weights of term
coverage) would differ from those of one index over all articles. The corpus's figures are
kept beside the shards (:class:`CorpusStats`: every term's document frequency, the number of
sentences and their total length), each shard's sentence lengths with them, and a shard
being loaded re-weights its postings once (:class:`CorpusWeights`): the term frequency is
recovered from each stored contribution, then weighted again with the corpus's avgdl; a
question multiplies a term's weights by its corpus IDF (:func:`rescore` does both at once, for
one posting). A shard rebuilt alone thus leaves the others' files as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from index.store.arrays import load_array
from index.store.bm25 import BM25_DIR, Bm25, document_tokens, tokenize

TERMS = "corpus_terms.json"  # {term: document frequency over all shards}


def sentence_lengths(texts: Sequence[str]) -> np.ndarray:
    """Each sentence's BM25 length (its number of tokens), counted on the very tokens
    :meth:`index.store.bm25.Bm25.build` indexes."""
    tokens = document_tokens(texts)
    return np.fromiter((len(t) for t in tokens), dtype=np.int32, count=len(tokens))


@dataclass(frozen=True)
class Bm25Params:
    """A saved bm25s index's scoring parameters and size."""

    k1: float
    b: float
    num_docs: int

    @classmethod
    def of(cls, generation: Path) -> "Bm25Params":
        data = json.loads((generation / BM25_DIR / "params.index.json").read_text("utf-8"))
        if data.get("method", "lucene") != "lucene":
            raise ValueError(f"BM25 variant {data.get('method')} cannot be re-scored")
        return cls(float(data["k1"]), float(data["b"]), int(data["num_docs"]))


def idf(df: np.ndarray | float, num_docs: int) -> np.ndarray:
    """bm25s's Lucene IDF (also the weight of a term in the coverage parts)."""
    df = np.asarray(df, dtype=np.float64)
    return np.log(1.0 + (num_docs - df + 0.5) / (df + 0.5))


def shard_document_frequencies(generation: Path) -> dict[str, int]:
    """Term → number of the shard's sentences holding it (its BM25 postings' lengths)."""
    folder = generation / BM25_DIR
    vocab: dict[str, int] = json.loads((folder / "vocab.index.json").read_text("utf-8"))
    counts = np.diff(load_array(folder / "indptr.csc.index.npy")).tolist()
    return {term: counts[token] for term, token in vocab.items()
            if token < len(counts) and counts[token] and term not in ("", "\x00")}


@dataclass
class CorpusStats:
    """What BM25 and term coverage need of the whole corpus."""

    df: dict[str, int]
    sentences: int
    total_length: int

    @property
    def avgdl(self) -> float:
        return self.total_length / max(self.sentences, 1)

    @classmethod
    def merge(cls, shards: Iterable[tuple[dict[str, int], np.ndarray]]) -> "CorpusStats":
        """From each shard's document frequencies and sentence lengths."""
        df: dict[str, int] = {}
        sentences = total = 0
        for frequencies, lengths in shards:
            for term, count in frequencies.items():
                df[term] = df.get(term, 0) + count
            sentences += len(lengths)
            total += int(lengths.sum())
        return cls(df, sentences, total)

    def save(self, folder: Path) -> None:
        (folder / TERMS).write_text(json.dumps(self.df, ensure_ascii=False, sort_keys=True),
                                    encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, sentences: int, total_length: int) -> "CorpusStats":
        return cls(json.loads((folder / TERMS).read_text(encoding="utf-8")), sentences,
                   total_length)

    def query_terms(self, question: str) -> tuple[list[str], np.ndarray, float]:
        """The question's distinct terms found in the corpus (in order), their IDF, and the
        share of its distinct terms they are (as :func:`index.search.term_match.match_terms`
        computes them over one index)."""
        asked = list(dict.fromkeys(term for term in tokenize([question])[0] if term))
        known = [t for t in asked if self.df.get(t)]
        weights = idf(np.array([self.df[t] for t in known], dtype=np.float64), self.sentences)
        return known, weights, len(known) / len(asked) if asked else 0.0


def rescore(contributions: np.ndarray, lengths: np.ndarray, local_df: int,
            local: Bm25Params, local_avgdl: float, corpus_idf: float,
            corpus_avgdl: float) -> np.ndarray:
    """A posting's stored BM25 contributions (computed with the shard's statistics) as the
    corpus's statistics give them; ``lengths`` are the posting's sentences' lengths."""
    return _rescored(contributions, lengths, float(idf(local_df, local.num_docs)), local,
                     local_avgdl, corpus_idf, corpus_avgdl)


def _rescored(contributions: np.ndarray, lengths: np.ndarray, local_idf: np.ndarray | float,
              local: Bm25Params, local_avgdl: float, corpus_idf: np.ndarray | float,
              corpus_avgdl: float) -> np.ndarray:
    k1, b = local.k1, local.b
    dl = lengths.astype(np.float64)
    weight = contributions.astype(np.float64) / local_idf
    weight = np.minimum(weight, 1.0 - 1e-9)
    local_norm = k1 * (1.0 - b + b * dl / local_avgdl)
    tf = np.maximum(np.rint(weight * local_norm / (1.0 - weight)), 1.0)
    corpus_norm = k1 * (1.0 - b + b * dl / corpus_avgdl)
    return (corpus_idf * tf / (corpus_norm + tf)).astype(np.float32)


class CorpusWeights:
    """A shard's BM25 postings re-weighted once for the corpus's statistics: for every posting
    entry, ``tf / (tf + k1 · (1 − b + b · dl / avgdl_corpus))`` (:func:`rescore` without the
    IDF) as float32, computed when the shard is loaded. A term's corpus BM25 over its posting
    is then its corpus IDF times a slice of this array, as cheap as one index's stored scores
    (re-scoring the postings at each question read every entry's length at random: at 1M
    sentences per shard, most of a sharded search's time). 4 bytes per entry (~12 entries
    per sentence); equal to :func:`rescore` to float32 precision."""

    CHUNK = 1 << 20  # entries converted at a time (bounded temporary memory)

    def __init__(self, bm25: Bm25, lengths: np.ndarray, params: Bm25Params,
                 corpus_avgdl: float) -> None:
        matrix = bm25.retriever.scores
        self.bm25 = bm25
        self.indptr = np.asarray(matrix["indptr"], dtype=np.int64)
        self.indices = matrix["indices"]
        stored = matrix["data"]
        local_idf = idf(np.diff(self.indptr), params.num_docs)
        local_avgdl = mean_length(lengths)
        self.weights = np.empty(len(stored), dtype=np.float32)
        for first in range(0, len(stored), self.CHUNK):
            at = np.arange(first, min(first + self.CHUNK, len(stored)))
            term = np.searchsorted(self.indptr, at, side="right") - 1
            self.weights[at] = _rescored(stored[at], lengths[self.indices[at]], local_idf[term],
                                         params, local_avgdl, 1.0, corpus_avgdl)

    def posting(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The sentences holding ``term`` (sorted) and their weights (empty when none)."""
        token = self.bm25.term_id(term)
        if token is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = int(self.indptr[token]), int(self.indptr[token + 1])
        return self.indices[start:end], self.weights[start:end]


def mean_length(lengths: np.ndarray) -> float:
    return float(lengths.mean()) if len(lengths) else 1.0

