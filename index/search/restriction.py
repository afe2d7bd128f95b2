"""A filter as the search applies it: the set of sentence ids a question may be answered from.

Built from a mask of allowed articles (:class:`~index.search.article_catalog.ArticleCatalog`)
and kept per filter by the searcher, so a chat or a stream asking many questions under one
filter builds it once. Any searcher applies it the same way: dense candidates come only from
the kept sentences (:func:`index.store.ann.nearest_within`), BM25 candidates are taken among
the kept sentences holding a query term, and the ranking that follows sees nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Restriction:
    """The kept articles and sentences of one filter over one index."""

    articles: np.ndarray  # bool per article
    mask: np.ndarray  # bool per sentence
    ids: np.ndarray  # int64, the kept sentence ids, sorted
    _bitmap: np.ndarray | None = field(default=None, repr=False)
    _exact: object | None = field(default=None, repr=False)

    @classmethod
    def of(cls, articles: np.ndarray, sentence_article: np.ndarray) -> "Restriction":
        """The restriction keeping ``articles`` (bool per article id), for sentences whose
        articles are ``sentence_article``."""
        mask = articles[sentence_article] if len(articles) else \
            np.zeros(len(sentence_article), dtype=bool)
        return cls(articles, mask, np.flatnonzero(mask).astype(np.int64))

    @property
    def kept_articles(self) -> int:
        return int(np.count_nonzero(self.articles))

    @property
    def kept_sentences(self) -> int:
        return len(self.ids)

    @property
    def fraction(self) -> float:
        """Share of the index's sentences kept."""
        return len(self.ids) / max(1, len(self.mask))

    def bitmap(self) -> np.ndarray:
        """The mask as FAISS's ``IDSelectorBitmap`` reads it (bit ``i`` of byte ``i // 8``)."""
        if self._bitmap is None:
            self._bitmap = np.packbits(self.mask, bitorder="little")
        return self._bitmap

    def exact_index(self, all_vectors: np.ndarray):  # noqa: ANN201 - a FAISS index
        """An exact index of the kept sentences' vectors (built once; meant for a few
        thousand: :data:`index.store.ann.EXACT_KEPT`)."""
        if self._exact is None:
            from index.store.ann import exact_index

            self._exact = exact_index(np.asarray(all_vectors[self.ids]))
        return self._exact
