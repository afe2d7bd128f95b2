"""Which query terms each sentence holds, with their rarity, from the BM25 index's postings.

One pass over the postings of the query's terms gives the BM25 score of every sentence holding
a term (as :meth:`Bm25.scores` does, without touching the others), the list of those sentences,
and, for any few sentences asked about, which terms they contain; that feeds the IDF-weighted
term coverage used in ranking, with no re-tokenising of candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from index.store.bm25 import Bm25, tokenize


@dataclass
class TermMatch:
    """The query's known terms, their IDF and postings, and every sentence's BM25 score."""

    terms: list[str]
    idf: np.ndarray  # (terms,)
    postings: list[np.ndarray]  # sorted sentence ids holding each term
    scores: np.ndarray  # (sentences,) BM25 of the whole query (0 where no term occurs)
    matched: np.ndarray  # ids of the sentences scoring above 0, each once (any order)
    values: np.ndarray  # their scores
    known: float = 0.0  # share of the query's distinct terms that occur in the index
    term_ids: tuple[int, ...] = ()  # the terms' ids in the BM25 vocabulary

    @property
    def best(self) -> float:
        """The best BM25 score of any sentence (0 when no sentence holds a term)."""
        return float(self.values.max()) if len(self.values) else 0.0

    def release(self) -> None:
        """Zero ``scores`` again where this query wrote, for the next query to reuse it."""
        if len(self.matched) * 8 > len(self.scores):  # a sweep beats scattered writes
            self.scores.fill(0.0)
        else:
            self.scores.put(self.matched, 0.0)

    def within(self, mask: np.ndarray, kept: np.ndarray | None = None) -> "TermMatch":
        """This match with only the sentences ``mask`` keeps counted as matched (their top
        list and best score); :meth:`release` stays the original's to call. ``kept`` (the
        ids ``mask`` keeps) is read instead of the matched ones when there are fewer."""
        if kept is not None and len(kept) < len(self.matched):
            values = self.scores.take(kept)
            hit = values > 0
            return replace(self, matched=kept[hit], values=values[hit])
        keep = mask[self.matched]
        return replace(self, matched=self.matched[keep], values=self.values[keep])

    def top(self, k: int) -> np.ndarray:
        """Ids of the (up to) ``k`` best-scoring matched sentences, ties at the cut going to
        the lowest ids; only the matched sentences are looked at, never the whole index."""
        hit, values = self.matched, self.values
        if len(hit) <= k:
            return np.sort(hit)
        kth = np.partition(values, len(values) - k)[len(values) - k]  # the k-th best score
        above = hit[values > kth]
        return np.concatenate([above, np.sort(hit[values == kth])[:k - len(above)]])

    def present(self, ids: np.ndarray) -> np.ndarray:
        """Boolean ``(len(ids), terms)``: does sentence ``ids[i]`` hold term ``j``."""
        out = np.zeros((len(ids), len(self.terms)), dtype=bool)
        for j, posting in enumerate(self.postings):
            out[:, j] = holds(posting, ids)
        return out

    def coverage(self, present: np.ndarray) -> np.ndarray:
        """Share of the query's IDF mass held, per row of a ``present`` matrix."""
        total = float(self.idf.sum())
        if total <= 0:
            return np.zeros(len(present), dtype=np.float64)
        return (present.astype(np.float64) @ self.idf) / total


def match_terms(bm25: Bm25, query: str, buffer: np.ndarray | None = None) -> TermMatch:
    """Score ``query`` against every sentence of ``bm25`` and keep its terms' postings.

    The scores are summed in ``buffer`` (float32 zeros, one per sentence, reused from query to
    query: :meth:`TermMatch.release` zeroes what a query wrote) or in a new array. Every BM25
    term contribution is positive, so a sentence whose score is still 0 has not been seen.
    """
    num_docs = bm25.size
    asked = list(dict.fromkeys(term for term in tokenize([query])[0] if term))  # in order
    scores = np.zeros(num_docs, dtype=np.float32) if buffer is None else buffer
    terms: list[str] = []
    term_ids: list[int] = []
    postings: list[np.ndarray] = []
    fresh: list[np.ndarray] = []
    idf: list[float] = []
    try:
        for term in asked:  # each distinct term once
            if (term_id := bm25.term_id(term)) is None:
                continue
            docs, contributions = bm25.posting_of(term_id)
            docs = docs.astype(np.intp)  # once, not in each of take/put (stored as int32)
            first = not postings
            postings.append(docs)  # before writing: an interruption zeroes what is listed
            if first:  # every sentence is new, the buffer all zeros
                fresh.append(docs)
                scores.put(docs, contributions)
            else:
                before = scores.take(docs)
                fresh.append(docs[before == 0])
                before += contributions
                scores.put(docs, before)  # a term occurs once per column: no repeats
            terms.append(term)
            term_ids.append(term_id)
            df = len(docs)
            idf.append(float(np.log(1.0 + (num_docs - df + 0.5) / (df + 0.5))))
        matched = np.concatenate(fresh) if fresh else np.zeros(0, dtype=np.intp)
        values = scores.take(matched)
    except BaseException:  # interrupted: leave the buffer zeroed for the next query
        for docs in postings:
            scores[docs] = 0.0
        raise
    return TermMatch(terms, np.asarray(idf, dtype=np.float64), postings, scores, matched,
                     values, len(terms) / len(asked) if asked else 0.0, tuple(term_ids))


def holds(posting: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``np.isin(ids, posting)`` for a sorted ``posting`` (the index keeps postings sorted,
    :meth:`Bm25.build`), by binary search: sorting a long list per query, as ``isin`` does,
    costs milliseconds at 1M sentences."""
    if len(posting) == 0:
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(posting, ids), len(posting) - 1)
    return np.asarray(posting[at] == ids)
