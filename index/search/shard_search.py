"""One shard's part of a sharded search: its candidates, scored with corpus-wide statistics.

A shard answers :meth:`ShardSearcher.gather` with a :class:`ShardPool`: its best sentences by
cosine and by BM25 (re-scored with the corpus's statistics, :mod:`index.store.corpus_stats`),
each with its neighbours, and for every one of those rows what the score parts need: cosine of
the sentence and of its paragraph, BM25, position, answer kinds, which query terms it and its
article's title hold. Everything is plain numbers (no vectors), so a pool is small enough to
come back from another machine; :mod:`index.search.sharded` merges the pools and ranks once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.ingest.documents import Article
from index.search.searcher import CANDIDATES, Searcher, load_errors
from index.search.term_match import TermMatch, holds
from index.store import ann
from index.store.corpus_stats import Bm25Params, mean_length, rescore
from index.store.docstore import ArticleInfo, SentenceRow
from index.store.generations import IndexDir
from index.store.sentence_table import COLUMNS


@dataclass
class ShardQuery:
    """A question as every shard needs it: embedded, and its terms with corpus statistics."""

    query: np.ndarray  # the question's vector
    terms: list[str]  # its distinct terms known to the corpus, in order
    idf: np.ndarray  # their corpus IDF
    avgdl: float  # the corpus's mean sentence length
    candidates: int = CANDIDATES
    anchored: bool = False  # a "when" question: say which articles have a whole-day date


@dataclass
class ShardPool:
    """A shard's candidates and their neighbours (``rows``, sorted local sentence ids)."""

    shard: int
    rows: np.ndarray
    cosine: np.ndarray  # float32, sentence · question
    passage_cosine: np.ndarray  # float32, its paragraph's vector · question
    bm25: np.ndarray  # float32, corpus-statistics BM25 (0: no query term)
    table: np.ndarray  # int64 (rows, len(COLUMNS)): the sentence table's rows
    holds: np.ndarray  # bool (rows, terms): the sentence holds the term
    title_holds: np.ndarray  # bool (rows, terms): its article's title holds the term
    dense: np.ndarray  # bool: among the shard's best by cosine
    lexical: np.ndarray  # bool: among the shard's best by BM25
    best_bm25: float  # the shard's best BM25 over all its sentences
    order: np.ndarray  # int64: its article's file's rank in the corpus (ties break by it)
    anchored: np.ndarray  # bool: its article has a whole-day date (asked for "when" only)


class ShardSearcher:
    """One shard's generation, loaded; no encoder (questions come embedded)."""

    def __init__(self, shard: int, generation: Path, lengths: np.ndarray,
                 order: np.ndarray) -> None:
        self.shard = shard
        manifest = IndexDir(generation.parent.parent).read_manifest(generation)
        with load_errors(f"shard {shard} in {generation}", "bot index --rebuild --shards N "
                                                           "PATH..."):
            self.searcher = Searcher(generation, manifest, None)  # type: ignore[arg-type]
            if len(lengths) != self.searcher.size:
                raise ValueError(f"{len(lengths)} sentence lengths for {self.searcher.size} "
                                 "sentences")
            if len(order) != manifest.counts.get("articles"):
                raise ValueError("the article order does not match the articles")
        self.lengths = lengths
        self.order = order
        self.params = Bm25Params.of(generation)
        self.avgdl = mean_length(lengths)

    @property
    def size(self) -> int:
        return self.searcher.size

    def gather(self, ask: ShardQuery) -> ShardPool:
        """This shard's candidates for a question (see the module text)."""
        s = self.searcher
        query = np.asarray(ask.query, dtype=np.float32)
        dense_ids = ann.nearest(s.ann, s.ann_config, s.sentence_vectors, query, ask.candidates)
        with s._score_buffer() as buffer:
            match = self._match(ask, buffer)
            try:
                lexical_ids = match.top(ask.candidates)
                best = match.best
                wanted = np.unique(np.concatenate([dense_ids, lexical_ids]).astype(np.int64))
                wanted = wanted[(wanted >= 0) & (wanted < s.size)]
                rows = np.unique(np.concatenate([wanted - 1, wanted, wanted + 1]))
                rows = rows[(rows >= 0) & (rows < s.size)]
                bm25 = buffer[rows].copy()
                present = match.present(rows)
            finally:
                match.release()
        table = np.asarray(s.table.table[rows], dtype=np.int64)
        article = table[:, COLUMNS.index("article")]
        passage = table[:, COLUMNS.index("passage")]
        return ShardPool(
            shard=self.shard, rows=rows,
            cosine=(np.asarray(s.sentence_vectors[rows]) @ query).astype(np.float32),
            passage_cosine=(np.asarray(s.passage_vectors[passage]) @ query).astype(np.float32),
            bm25=bm25, table=table, holds=present,
            title_holds=self._title_holds(ask.terms, article),
            dense=np.isin(rows, dense_ids), lexical=np.isin(rows, lexical_ids),
            best_bm25=best, order=self.order[article],
            anchored=self.searcher.catalog().anchored[article] if ask.anchored
            else np.zeros(len(rows), dtype=bool))

    def _match(self, ask: ShardQuery, buffer: np.ndarray) -> TermMatch:
        """The corpus's query terms matched in this shard, BM25 re-scored into ``buffer``."""
        postings: list[np.ndarray] = []
        fresh: list[np.ndarray] = []
        bm25 = self.searcher.bm25
        try:
            for term, weight in zip(ask.terms, ask.idf):
                token = bm25.term_id(term)
                if token is None:
                    postings.append(np.zeros(0, dtype=np.intp))
                    continue
                docs, stored = bm25.posting_of(token)
                docs = docs.astype(np.intp)
                postings.append(docs)
                scores = rescore(stored, self.lengths[docs], len(docs), self.params,
                                 self.avgdl, float(weight), ask.avgdl)
                before = buffer.take(docs)
                fresh.append(docs[before == 0])
                buffer.put(docs, before + scores)
            matched = np.concatenate(fresh) if fresh else np.zeros(0, dtype=np.intp)
            values = buffer.take(matched)
        except BaseException:
            for docs in postings:
                buffer[docs] = 0.0
            raise
        return TermMatch(list(ask.terms), np.asarray(ask.idf, dtype=np.float64), postings,
                         buffer, matched, values)

    def _title_holds(self, terms: list[str], article: np.ndarray) -> np.ndarray:
        out = np.zeros((len(article), len(terms)), dtype=bool)
        articles, at = np.unique(article, return_inverse=True)
        for j, term in enumerate(terms):
            token = self.searcher.bm25.term_id(term)
            if token is not None:
                out[:, j] = holds(self.searcher.titles.holding(token), articles)[at.reshape(-1)]
        return out

    def texts(self, ids: list[int]) -> list[str]:
        return self.searcher.table.texts(np.asarray(ids, dtype=np.int64))

    def article_infos(self, ids: list[int]) -> dict[int, ArticleInfo]:
        return self.searcher.docs.article_infos(ids)

    def article(self, article_id: int) -> Article:
        return self.searcher.docs.article(article_id)

    def passage_sentences(self, passage: int) -> list[SentenceRow]:
        return self.searcher.docs.passage_sentences(passage)

    def ping(self) -> int:
        """The shard's size (a cheap call to check that it answers)."""
        return self.size
