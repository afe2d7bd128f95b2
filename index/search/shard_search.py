"""One shard's part of a sharded search: its candidates, scored with corpus-wide statistics.

A question reaches every shard twice:

1. :meth:`ShardSearcher.top` answers with a :class:`ShardTop`: the shard's best sentences by
   cosine and by BM25 (re-scored with the corpus's statistics, :mod:`index.store.corpus_stats`),
   with their scores and their articles' places in the corpus's file order (ties break by it),
   among the sentences a filter keeps when one is given. :mod:`index.search.sharded` picks the
   corpus's best of each list from those.
2. :meth:`ShardSearcher.gather` answers with a :class:`ShardPool` for the sentences picked
   from this shard: each with its neighbours, and for every one of those rows what the score
   parts need: cosine of the sentence and of its paragraph, BM25, position, answer kinds,
   which query terms it and its article's title hold.

Everything is plain numbers (no vectors), so both answers are small enough to come back from
another machine; only the picked sentences' rows are read and sent (at 10 shards about a
tenth of what every shard's top lists with neighbours would be).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.ingest.documents import Article
from index.search.filters import ArticleFilter
from index.search.searcher import CANDIDATES, Searcher, load_errors
from index.search.term_match import TermMatch, holds
from index.store import ann
from index.store.corpus_stats import Bm25Params, CorpusWeights
from index.store.docstore import ArticleInfo, SentenceRow
from index.store.generations import IndexDir
from index.store.sentence_table import COLUMNS


@dataclass
class ShardQuery:
    """A question as every shard needs it: embedded, and its terms with corpus statistics."""

    query: np.ndarray  # the question's vector
    terms: list[str]  # its distinct terms known to the corpus, in order
    idf: np.ndarray  # their corpus IDF
    candidates: int = CANDIDATES
    anchored: bool = False  # a "when" question: say which articles have a whole-day date
    within: ArticleFilter | None = None  # a filter: only the articles it keeps compete


@dataclass
class ShardTop:
    """A shard's best sentences by cosine and by BM25 (local ids, sorted), their scores and
    their articles' ranks in the corpus's file order."""

    shard: int
    dense: np.ndarray  # int64
    cosine: np.ndarray  # float32, sentence · question
    dense_order: np.ndarray  # int64
    lexical: np.ndarray  # int64, sentences holding a query term only
    bm25: np.ndarray  # float32, corpus-statistics BM25
    lexical_order: np.ndarray  # int64
    best_bm25: float  # the best BM25 of the shard's (kept) sentences


@dataclass
class ShardPool:
    """The sentences picked from a shard and their neighbours (``rows``, sorted local ids)."""

    shard: int
    rows: np.ndarray
    cosine: np.ndarray  # float32, sentence · question
    passage_cosine: np.ndarray  # float32, its paragraph's vector · question
    bm25: np.ndarray  # float32, corpus-statistics BM25 (0: no query term)
    table: np.ndarray  # int64 (rows, len(COLUMNS)): the sentence table's rows
    holds: np.ndarray  # bool (rows, terms): the sentence holds the term
    title_holds: np.ndarray  # bool (rows, terms): its article's title holds the term
    picked: np.ndarray  # bool: a candidate (not only a neighbour)
    order: np.ndarray  # int64: its article's file's rank in the corpus (ties break by it)
    anchored: np.ndarray  # bool: its article has a whole-day date (asked for "when" only)


class ShardSearcher:
    """One shard's generation, loaded; no encoder (questions come embedded)."""

    def __init__(self, shard: int, generation: Path, lengths: np.ndarray,
                 order: np.ndarray, corpus_avgdl: float) -> None:
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
            self.weights = CorpusWeights(self.searcher.bm25, lengths,
                                         Bm25Params.of(generation), corpus_avgdl)
        self.order = order

    @property
    def size(self) -> int:
        return self.searcher.size

    def kept(self, wanted: ArticleFilter) -> tuple[np.ndarray, int]:
        """The articles ``wanted`` keeps in this shard (bool per local article id) and how
        many sentences they hold (the shard's restriction, kept for the next questions)."""
        within = self.searcher.restriction(wanted)
        return within.articles, len(within.ids)

    def top(self, ask: ShardQuery) -> ShardTop:
        """This shard's best sentences by cosine and by BM25 (the first call, see the module
        text), among those ``ask.within`` keeps when it is set."""
        s = self.searcher
        query = np.asarray(ask.query, dtype=np.float32)
        within = s.restriction(ask.within) if ask.within is not None else None
        if within is None:
            dense = ann.nearest(s.ann, s.ann_config, s.sentence_vectors, query, ask.candidates)
        elif len(within.ids):
            dense = ann.nearest_within(
                s.ann, s.ann_config, s.sentence_vectors, query, ask.candidates, within.ids,
                within.bitmap(), lambda: within.exact_index(s.sentence_vectors))
        else:
            nothing = np.zeros(0, dtype=np.int64)
            return ShardTop(self.shard, nothing, np.zeros(0, dtype=np.float32), nothing,
                            nothing, np.zeros(0, dtype=np.float32), nothing, 0.0)
        with s._score_buffer() as buffer:
            match = self._match(ask, buffer)
            try:
                kept = match if within is None else match.within(within.mask, within.ids)
                lexical = np.sort(kept.top(ask.candidates)).astype(np.int64)
                bm25 = buffer[lexical].copy()
                best = kept.best
            finally:
                match.release()
        dense = np.unique(np.asarray(dense, dtype=np.int64))
        dense = dense[(dense >= 0) & (dense < s.size)]
        article = s.table.article
        return ShardTop(
            self.shard, dense,
            (np.asarray(s.sentence_vectors[dense]) @ query).astype(np.float32),
            self.order[article[dense]], lexical, bm25, self.order[article[lexical]], best)

    def gather(self, ask: ShardQuery, picked: np.ndarray) -> ShardPool:
        """The rows of the sentences ``picked`` from this shard and of their neighbours (the
        second call, see the module text)."""
        s = self.searcher
        query = np.asarray(ask.query, dtype=np.float32)
        picked = np.asarray(picked, dtype=np.int64)
        rows = np.unique(np.concatenate([picked - 1, picked, picked + 1]))
        rows = rows[(rows >= 0) & (rows < s.size)]
        bm25, present = self._row_scores(ask, rows)
        table = np.asarray(s.table.table[rows], dtype=np.int64)
        article = table[:, COLUMNS.index("article")]
        passage = table[:, COLUMNS.index("passage")]
        return ShardPool(
            shard=self.shard, rows=rows,
            cosine=(np.asarray(s.sentence_vectors[rows]) @ query).astype(np.float32),
            passage_cosine=(np.asarray(s.passage_vectors[passage]) @ query).astype(np.float32),
            bm25=bm25, table=table, holds=present,
            title_holds=self._title_holds(ask.terms, article),
            picked=holds(np.sort(picked), rows),
            order=self.order[article],
            anchored=self.searcher.catalog().anchored[article] if ask.anchored
            else np.zeros(len(rows), dtype=bool))

    def _postings(self, ask: ShardQuery) -> tuple[list[tuple[np.ndarray, np.ndarray]],
                                                  list[int]]:
        """Each query term's posting here (sentences, weights), and the order their BM25 is
        summed in: the longest posting first (written without reading the buffer, which is
        all zeros then), then the others, each in the question's order."""
        postings = [self.weights.posting(term) for term in ask.terms]
        order = sorted(range(len(postings)), key=lambda j: -len(postings[j][0]))
        return postings, order

    def _match(self, ask: ShardQuery, buffer: np.ndarray) -> TermMatch:
        """The corpus's query terms matched in this shard, their corpus BM25 summed into
        ``buffer`` (float32, in the order :meth:`_row_scores` sums them too)."""
        postings, order = self._postings(ask)
        ids: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * len(postings)
        fresh: list[np.ndarray] = []
        try:
            for j in order:
                docs, weights = postings[j]
                if not len(docs):
                    continue
                ids[j] = docs = docs.astype(np.intp)
                scores = weights * float(ask.idf[j])
                if not fresh:  # the longest posting: every sentence new, the buffer zeros
                    fresh.append(docs)
                    buffer.put(docs, scores)
                    continue
                before = buffer.take(docs)
                fresh.append(docs[before == 0])
                buffer.put(docs, before + scores)
            matched = np.concatenate(fresh) if fresh else np.zeros(0, dtype=np.intp)
            values = buffer.take(matched)
        except BaseException:
            for docs in ids:
                buffer[docs] = 0.0
            raise
        return TermMatch(list(ask.terms), np.asarray(ask.idf, dtype=np.float64), ids,
                         buffer, matched, values)

    def _row_scores(self, ask: ShardQuery, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The corpus BM25 of the sentences ``rows`` (sorted; the numbers :meth:`_match`
        gives them) and which query terms each holds: only their postings' entries are read."""
        scores = np.zeros(len(rows), dtype=np.float32)
        present = np.zeros((len(rows), len(ask.terms)), dtype=bool)
        if not len(rows):
            return scores, present
        postings, order = self._postings(ask)
        for j in order:
            docs, weights = postings[j]
            if not len(docs):
                continue
            at = np.minimum(np.searchsorted(docs, rows), len(docs) - 1)
            present[:, j] = hit = docs[at] == rows
            scores[hit] += weights[at[hit]] * float(ask.idf[j])
        return scores, present

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
