"""Which query terms each sentence holds, with their rarity, from the BM25 index's postings.

One pass over the postings of the query's terms gives both the BM25 score of every sentence
(as :meth:`Bm25.scores` does) and, for any few sentences asked about, which terms they contain;
that feeds the IDF-weighted term coverage used in ranking, with no re-tokenising of candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import Bm25, tokenize


@dataclass
class TermMatch:
    """The query's known terms, their IDF and postings, and every sentence's BM25 score."""

    terms: list[str]
    idf: np.ndarray  # (terms,)
    postings: list[np.ndarray]  # sentence ids holding each term
    scores: np.ndarray  # (sentences,) BM25 of the whole query
    known: float = 0.0  # share of the query's distinct terms that occur in the index

    def present(self, ids: np.ndarray) -> np.ndarray:
        """Boolean ``(len(ids), terms)``: does sentence ``ids[i]`` hold term ``j``."""
        out = np.zeros((len(ids), len(self.terms)), dtype=bool)
        for j, posting in enumerate(self.postings):
            out[:, j] = _holds(posting, ids)
        return out

    def coverage(self, present: np.ndarray) -> np.ndarray:
        """Share of the query's IDF mass held, per row of a ``present`` matrix."""
        total = float(self.idf.sum())
        if total <= 0:
            return np.zeros(len(present), dtype=np.float64)
        return (present.astype(np.float64) @ self.idf) / total


def match_terms(bm25: Bm25, query: str) -> TermMatch:
    """Score ``query`` against every sentence of ``bm25`` and keep its terms' postings."""
    num_docs = bm25.size
    asked = list(dict.fromkeys(term for term in tokenize([query])[0] if term))  # in order
    scores = np.zeros(num_docs, dtype=np.float32)
    terms: list[str] = []
    postings: list[np.ndarray] = []
    idf: list[float] = []
    for term in asked:  # each distinct term once
        if (found := bm25.posting(term)) is None:
            continue
        docs, contributions = found
        scores[docs] += contributions  # a term occurs once per column: no repeated ids
        terms.append(term)
        postings.append(docs)
        df = len(docs)
        idf.append(float(np.log(1.0 + (num_docs - df + 0.5) / (df + 0.5))))
    return TermMatch(terms, np.asarray(idf, dtype=np.float64), postings, scores,
                     len(terms) / len(asked) if asked else 0.0)


def _holds(posting: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``np.isin(ids, posting)`` by binary search: bm25s keeps each posting list sorted, and
    sorting a long list per query (as ``isin`` does) costs milliseconds at 1M sentences."""
    if len(posting) == 0:
        return np.zeros(len(ids), dtype=bool)
    if np.any(posting[1:] < posting[:-1]):  # not sorted after all: the general way
        return np.isin(ids, posting)
    at = np.minimum(np.searchsorted(posting, ids), len(posting) - 1)
    return np.asarray(posting[at] == ids)
