"""Search a built index: a question in, ranked sentences with their score parts out.

Candidates come from dense sentence search (FAISS) and BM25; each candidate is then scored with
the parts of :mod:`index.features` (its own, its paragraph's and its neighbours' cosine, BM25
of the sentence and its context, IDF-weighted term coverage, title match, answer-type cues) and
:mod:`index.ranking` combines those parts into one score.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ann
from .arrays import load_array
from .docstore import DocReader, SentenceRow
from .documents import Article
from .encoders import Encoder, load_encoder
from .errors import IndexCorrupt, IndexMismatch
from .features import candidate_features
from .lexical import Bm25, tokenize
from .ranking import Ranker
from .store import PASSAGE_VECTORS, SENTENCE_ANN, SENTENCE_VECTORS, IndexDir, Manifest
from .term_match import match_terms

ARTICLE_CACHE = 256  # articles (with their text) kept in memory, least recently used dropped
CANDIDATES = 100
DUPLICATE_SCAN = 40  # near-duplicates are looked for among the best candidates only


@dataclass
class Hit:
    """One retrieved sentence with where it stands and why it ranked."""

    sentence: SentenceRow
    article: Article
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    also: list[tuple[SentenceRow, Article]] = field(default_factory=list)  # same text elsewhere


class Searcher:
    """A loaded generation plus its encoder; cheap to query many times."""

    def __init__(self, generation: Path, manifest: Manifest, encoder: Encoder) -> None:
        self.generation = generation
        self.manifest = manifest
        self.encoder = encoder
        self.docs = DocReader(generation)
        self.sentence_vectors = load_array(generation / SENTENCE_VECTORS, random_access=True)
        self.passage_vectors = load_array(generation / PASSAGE_VECTORS, random_access=True)
        self.ann = ann.load(generation / SENTENCE_ANN,
                            ann.AnnConfig.from_json(manifest.ann.get("sentences", {})))
        self.bm25 = Bm25.load(generation)
        self.ranker = Ranker()
        self._articles: OrderedDict[int, Article] = OrderedDict()
        self._titles: dict[int, set[str]] = {}

    @classmethod
    def open(cls, index_dir: str | Path | IndexDir, encoder: Encoder | None = None,
             verified: str | None = None) -> "Searcher":
        """Load the live generation of ``index_dir`` and the encoder it was built with. Its
        files are checked against the manifest unless it is the generation ``verified`` (one
        the caller has just checked)."""
        store = index_dir if isinstance(index_dir, IndexDir) else IndexDir(index_dir)
        generation = store.require_current()
        manifest = store.read_manifest(generation, verify=generation.name != verified)
        built = manifest.encoder_spec(expected=encoder.spec if encoder else None)
        encoder = encoder or load_encoder(built)
        if encoder.dim != manifest.encoder.get("dim"):
            raise IndexMismatch(f"index vectors have {manifest.encoder.get('dim')} dimensions, "
                                f"the model gives {encoder.dim}")
        try:
            return cls(generation, manifest, encoder)
        except (OSError, ValueError, KeyError, RuntimeError, sqlite3.Error) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise IndexCorrupt(f"cannot load the index in {generation} ({reason}); rebuild "
                               "with: bot index --rebuild PATH...") from None

    @property
    def size(self) -> int:
        return len(self.sentence_vectors)

    def search(self, question: str, k: int = 5) -> list[Hit]:
        """The ``k`` best-supporting sentences for ``question``, best first."""
        if self.size == 0 or k <= 0:
            return []
        return self.rank(question, self.encoder.encode_query(question), k)

    def rank(self, question: str, query: np.ndarray, k: int = 5) -> list[Hit]:
        """Like :meth:`search` with the question already embedded as ``query``.

        Sentences with the same text in several places (a wire story reprinted) become one hit;
        the other places are in its ``also``.
        """
        pool = self.candidates(question, query)
        if pool is None:
            return []
        ids, rows, parts = pool
        scores = self.ranker.score(parts)
        order = np.argsort(-scores, kind="stable")
        groups: dict[str, list[int]] = {}
        for i in order[:DUPLICATE_SCAN + 4 * k].tolist():
            key = " ".join(rows[int(ids[i])].text.split()).casefold()
            if key in groups:
                groups[key].append(i)
            elif len(groups) <= k:  # one more than shown, for the margin of the last
                groups[key] = [i]
        leaders = np.array([scores[g[0]] for g in groups.values()])
        margins = leaders - _best_other(leaders)
        hits = []
        for (first, *rest), margin in list(zip(groups.values(), margins))[:k]:
            row = rows[int(ids[first])]
            values = {name: float(v[first]) for name, v in parts.items()}
            values["margin"] = float(margin)
            hits.append(Hit(row, self.article(row.article), float(scores[first]), values,
                            [(rows[int(ids[j])], self.article(rows[int(ids[j])].article))
                             for j in rest]))
        return hits

    def candidates(self, question: str, query: np.ndarray
                   ) -> tuple[np.ndarray, dict[int, SentenceRow], dict[str, np.ndarray]] | None:
        """Candidate sentence ids (dense and BM25 top lists), their rows (with neighbours) and
        score parts; None when the index is empty."""
        if self.size == 0:
            return None
        _, dense_ids = ann.search(self.ann, query, CANDIDATES)
        match = match_terms(self.bm25, question)
        lexical = match.scores
        top_lexical = _top_positive(lexical, CANDIDATES)
        ids = np.unique(np.concatenate([dense_ids, top_lexical]).astype(np.int64))
        ids = ids[(ids >= 0) & (ids < self.size)]
        wanted = np.unique(np.concatenate([ids - 1, ids, ids + 1]))
        rows = self.docs.sentences(wanted[(wanted >= 0) & (wanted < self.size)].tolist())
        ids = np.array([i for i in ids.tolist() if i in rows], dtype=np.int64)
        if not len(ids):
            return None
        titles = self._title_terms({rows[int(i)].article for i in ids})
        parts = candidate_features(question, query, ids, rows, self.sentence_vectors,
                                   self.passage_vectors, match, titles)
        return ids, rows, parts

    def _title_terms(self, articles: set[int]) -> dict[int, set[str]]:
        """Stemmed title terms of ``articles`` (fetched in one query, then cached)."""
        missing = [a for a in articles if a not in self._titles]
        if missing:
            titles = self.docs.titles(missing)
            texts = [titles.get(a) or "" for a in missing]
            for a, terms in zip(missing, tokenize(texts)):
                self._titles[a] = set(terms)
        return {a: self._titles[a] for a in articles}

    def article(self, article_id: int) -> Article:
        """An article's metadata and text (cached)."""
        if article_id in self._articles:
            self._articles.move_to_end(article_id)
        else:
            self._articles[article_id] = self.docs.article(article_id)
            if len(self._articles) > ARTICLE_CACHE:  # a long chat must not hold every article
                self._articles.popitem(last=False)
        return self._articles[article_id]


def _top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the (up to) ``k`` best positive scores, ties at the cut going to the lowest ids.

    Only sentences holding a query term score above 0, so a big index partitions those few
    instead of every sentence (~10 ms at 1M sentences).
    """
    hit = np.flatnonzero(scores > 0)
    if len(hit) <= k:
        return hit
    values = scores[hit]
    kth = np.partition(values, len(values) - k)[len(values) - k]  # the k-th best score
    above = hit[values > kth]
    return np.concatenate([above, hit[values == kth][:k - len(above)]])


def _best_other(scores: np.ndarray) -> np.ndarray:
    """For each candidate, the best score among the other candidates (0 if there is none)."""
    if len(scores) < 2:
        return np.zeros_like(scores)
    top2 = np.sort(scores)[-2:]
    return np.where(scores >= top2[1], top2[0], top2[1])
