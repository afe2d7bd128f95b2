"""BM25 over sentences (bm25s: sparse-matrix BM25, saved as .npy/.json, no pickle)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

BM25_DIR = "bm25"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed word tokens without English stop words."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False,
                          show_progress=False)


class Bm25:
    """A BM25 index of a list of texts, queried for every document's score."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> "Bm25":
        import bm25s

        retriever = bm25s.BM25()
        tokens = tokenize(texts) if texts else [[]]
        retriever.index(tokens, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder / BM25_DIR), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "Bm25":
        import bm25s

        return cls(bm25s.BM25.load(str(folder / BM25_DIR), mmap=False, show_progress=False))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when no term is known)."""
        terms = [t for t in tokenize([query])[0] if t in self.retriever.vocab_dict]
        if not terms:
            return np.zeros(self.retriever.scores["num_docs"], dtype=np.float32)
        return self.retriever.get_scores(terms).astype(np.float32)
