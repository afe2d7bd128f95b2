"""BM25 over sentences (bm25s: sparse-matrix BM25, saved as .npy/.json, no pickle)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from index.store.arrays import load_array

BM25_DIR = "bm25"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


# bm25s's English stop words (``bm25s.stopwords.STOPWORDS_EN``; a test keeps them equal)
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with"))
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's token pattern


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed word tokens without English stop words.

    The same tokens as ``bm25s.tokenize(texts, stopwords="en", stemmer=...)``, without
    importing bm25s (and scipy with it), which would cost a query ~0.3 s of start-up.
    """
    stem = _stemmer().stemWords
    out: list[list[str]] = []
    for text in texts:
        words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
        out.append(stem(words) if words else [])
    return out


def document_tokens(texts: Sequence[str]) -> list[list[str]]:
    """The tokens of each text as the index holds them: at least one document, and a
    vocabulary even when every text is only stop words (bm25s needs one; no query holds the
    ``"\\x00"`` it gets)."""
    tokens = tokenize(texts) if texts else [[]]
    if not any(tokens):
        tokens[0] = ["\x00"]
    return tokens


class Bm25:
    """A BM25 index of a list of texts, queried for every document's score."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> "Bm25":
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
        retriever = bm25s.BM25()
        retriever.index(document_tokens(texts), show_progress=False)
        _sort_postings(retriever.scores)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder / BM25_DIR), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "Bm25":
        """The saved index's arrays, memory-mapped, read with numpy alone (no bm25s import)."""
        return cls(_SavedRetriever(folder / BM25_DIR))

    @property
    def size(self) -> int:
        """How many documents (sentences) the index holds."""
        return int(self.retriever.scores["num_docs"])

    @property
    def vocab(self) -> dict[str, int]:
        """Term → term id."""
        return self.retriever.vocab_dict

    def term_id(self, term: str) -> int | None:
        return self.retriever.vocab_dict.get(term)

    def posting(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The (sorted) ids of the documents holding ``term`` and its BM25 contribution to
        each; None for a term the index does not know."""
        token = self.term_id(term)
        return None if token is None else self.posting_of(token)

    def posting_of(self, token: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`posting` of the term whose id is ``token``."""
        matrix = self.retriever.scores
        start, end = int(matrix["indptr"][token]), int(matrix["indptr"][token + 1])
        return matrix["indices"][start:end], matrix["data"][start:end]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when no term is known)."""
        scores = np.zeros(self.size, dtype=np.float32)
        for term in tokenize([query])[0]:  # a repeated term counts again, as in bm25s
            if (found := self.posting(term)) is not None:
                scores[found[0]] += found[1]
        return scores


def _sort_postings(matrix: dict) -> None:
    """Make each column's document ids ascending (bm25s builds them so; search relies on it
    for binary searches, so it is made sure of once here rather than on every query)."""
    indptr, indices = matrix["indptr"], matrix["indices"]
    drops = np.flatnonzero(indices[1:] < indices[:-1]) + 1
    if np.isin(drops, indptr).all():  # descents only where a new column starts
        return
    column = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    order = np.lexsort((indices, column))
    matrix["indices"], matrix["data"] = indices[order], matrix["data"][order]


class _SavedRetriever:
    """What search needs of a saved ``bm25s.BM25``: its score matrix (CSC) and vocabulary.

    bm25s precomputes each (term, document) BM25 contribution at indexing time, so with the
    default variant the indexer builds (Lucene) a query's scores are sums of matrix columns.
    """

    def __init__(self, folder: Path) -> None:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        self.vocab_dict: dict[str, int] = json.loads(
            (folder / "vocab.index.json").read_text(encoding="utf-8"))
        self.scores = {name: load_array(folder / f"{name}.csc.index.npy")
                       for name in ("data", "indices", "indptr")}
        self.scores["num_docs"] = int(params["num_docs"])
