"""Which articles' titles hold each term of the BM25 vocabulary.

Stored as postings (sorted article ids per term id, CSR layout in two ``.npy`` files), so a
question's title-coverage part is a binary search per term instead of tokenising the titles of
its candidates' articles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from index.store.arrays import load_array
from index.store.bm25 import tokenize

INDPTR = "title_terms_indptr.npy"  # int64 (terms + 1,)
ARTICLES = "title_terms_articles.npy"  # int64: article ids, sorted within each term


class TitleTerms:
    """Term id → the sorted ids of the articles whose title holds that term."""

    def __init__(self, indptr: np.ndarray, articles: np.ndarray) -> None:
        self.indptr = indptr
        self.articles = articles

    @classmethod
    def build(cls, titles: Sequence[str | None], vocab: Mapping[str, int]) -> "TitleTerms":
        """From the titles of articles ``0..len(titles)-1`` and the BM25 vocabulary."""
        pairs = {(vocab[term], article)
                 for article, terms in enumerate(tokenize([t or "" for t in titles]))
                 for term in terms if term in vocab}
        ordered = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
        counts = np.bincount(ordered[:, 0], minlength=len(vocab))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr, np.ascontiguousarray(ordered[:, 1]))

    def save(self, folder: Path) -> None:
        np.save(folder / INDPTR, self.indptr, allow_pickle=False)
        np.save(folder / ARTICLES, self.articles, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> "TitleTerms":
        return cls(load_array(folder / INDPTR), load_array(folder / ARTICLES))

    def holding(self, term_id: int) -> np.ndarray:
        """Sorted ids of the articles whose title holds term ``term_id``."""
        if not 0 <= term_id < len(self.indptr) - 1:
            return self.articles[:0]
        return self.articles[self.indptr[term_id]:self.indptr[term_id + 1]]
