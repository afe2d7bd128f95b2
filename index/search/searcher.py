"""Search a built index: a question in, ranked sentences with their score parts out.

Candidates come from dense sentence search (FAISS) and BM25; each candidate is then scored with
the parts of :mod:`index.search.features` (its own, its paragraph's and its neighbours' cosine, BM25
of the sentence and its context, IDF-weighted term coverage, title match, answer-type cues) and
:mod:`index.search.ranking` combines those parts into one score (the first stage). Where the
first stage is unsure (another text within ``rerank_gap`` of its best: :func:`unsure_head`),
those of its best ``rerank_depth`` that close are read again by the second stage (token
matching, :mod:`index.search.token_match`, score part ``rerank``) and reordered by the
combiner of :mod:`index.search.ranking`, on the first stage's scale; depth 0 (``--fast``)
skips it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TypeVar

import numpy as np

from index.store import ann
from index.store.arrays import load_array
from index.store.docstore import ArticleInfo, DocReader, SentenceRow
from index.ingest.documents import Article
from index.embed.encoders import Encoder, load_encoder
from index.errors import IndexCorrupt, IndexMismatch
from index.search.answer_types import question_kind
from index.search.article_catalog import ArticleCatalog
from index.search.features import candidate_features
from index.search.filters import ArticleFilter
from index.search.restriction import Restriction
from index.store.bm25 import Bm25
from index.search.ranking import (Ranker, combine, default_rerank_depth,
                                  default_rerank_gap)
from index.search.reranker import Reranker, cross_encoder_chosen, pair_text, shared_reranker
from index.store.sentence_table import SentenceTable
from index.store.generations import PASSAGE_VECTORS, SENTENCE_ANN, SENTENCE_VECTORS, IndexDir, Manifest
from index.search.term_match import TermMatch, match_terms
from index.search.token_match import TokenMatcher
from index.store.title_terms import TitleTerms

ARTICLE_CACHE = 256  # articles (with their text) kept in memory, least recently used dropped
INFO_CACHE = 65_536  # articles' citation data (no text) kept in memory, least recently used
RESTRICTIONS = 4  # filters whose kept sentences are kept in memory, least recently used
CANDIDATES = 100
DUPLICATE_SCAN = 40  # near-duplicates are looked for among the best candidates only
K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Hit:
    """One retrieved sentence with where it stands and why it ranked."""

    sentence: SentenceRow
    article: ArticleInfo
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    also: list[tuple[SentenceRow, ArticleInfo]] = field(default_factory=list)  # same text
    line: int = 0  # 1-based line and column of the sentence's start in the article text
    column: int = 0


@dataclass
class Pool:
    """A question's candidate sentences (sorted ids) and their score parts."""

    ids: np.ndarray
    parts: dict[str, np.ndarray]
    table: SentenceTable  # what ``ids`` index: the searcher's table, or a merged pool's
    sentence_ids: np.ndarray | None = None  # each table row's sentence id (None: its position)

    def row(self, at: int, text: str) -> SentenceRow:
        """Row ``at`` of the table (whose text is ``text``), with its sentence id."""
        t = self.table
        sid = at if self.sentence_ids is None else int(self.sentence_ids[at])
        return SentenceRow(sid, int(t.article[at]), int(t.passage[at]), int(t.start[at]),
                           int(t.end[at]), text)


def encoder_of(manifest: Manifest, encoder: Encoder | None = None) -> Encoder:
    """The encoder of the model ``manifest``'s vectors were made with: ``encoder`` when it is
    that model (else :class:`IndexMismatch`), or that model loaded."""
    built = manifest.encoder_spec(expected=encoder.spec if encoder else None)
    encoder = encoder or load_encoder(built)
    if encoder.dim != manifest.encoder.get("dim"):
        raise IndexMismatch(f"index vectors have {manifest.encoder.get('dim')} dimensions, "
                            f"the model gives {encoder.dim}")
    return encoder


@contextlib.contextmanager
def load_errors(what: str, rebuild: str = "bot index --rebuild PATH...") -> Iterator[None]:
    """What a damaged file makes FAISS, numpy or SQLite raise while ``what`` is loaded, as a
    one-line :class:`IndexCorrupt` saying how to rebuild."""
    try:
        yield
    except (OSError, ValueError, KeyError, RuntimeError, sqlite3.Error) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise IndexCorrupt(f"cannot load {what} ({reason}); rebuild with: {rebuild}") \
            from None


class Searcher:
    """A loaded generation plus its encoder; cheap to query many times, one query at a time
    (its caches are not locked)."""

    # Whether :meth:`rank` takes extra candidate ids (``also``: a conversation's topic).
    takes_extra_candidates = True

    def __init__(self, generation: Path, manifest: Manifest, encoder: Encoder) -> None:
        self.generation = generation
        self.manifest = manifest
        self.encoder = encoder
        self.docs = DocReader(generation)
        self.table = SentenceTable(generation)
        self.sentence_vectors = load_array(generation / SENTENCE_VECTORS, random_access=True)
        self.passage_vectors = load_array(generation / PASSAGE_VECTORS, random_access=True)
        self.ann_config = ann.AnnConfig.from_json(manifest.ann.get("sentences", {}))
        self.ann = ann.load(generation / SENTENCE_ANN, self.ann_config)
        self.bm25 = Bm25.load(generation)
        self.titles = TitleTerms.load(generation)
        sizes = {len(self.table), len(self.sentence_vectors), self.ann.ntotal}
        if len(sizes) != 1:
            raise ValueError(f"its parts hold different numbers of sentences {sorted(sizes)}")
        self._init_ranking()
        self._scores: np.ndarray | None = None  # the BM25 score buffer (see _score_buffer)
        self._scores_lock = threading.Lock()
        self._catalog: ArticleCatalog | None = None  # read on the first filter
        self._sentence_article: np.ndarray | None = None
        self._restrictions: OrderedDict[ArticleFilter, Restriction] = OrderedDict()
        self._filter_lock = threading.Lock()

    def _init_ranking(self) -> None:
        """The ranking and citing state of every searcher, a sharded one's too (which loads no
        generation of its own): the ranker, the reranker's depth (``$BOT_RERANK_DEPTH``) and
        the article caches."""
        self.ranker = Ranker()
        self.rerank_depth = default_rerank_depth()  # candidates the reranker reads (0: none)
        self.rerank_gap = default_rerank_gap()  # ... those this close to the best (the gate)
        self.reranker: Reranker | TokenMatcher | None = None  # made on first use
        self._articles: OrderedDict[int, Article] = OrderedDict()
        self._infos: OrderedDict[int, ArticleInfo] = OrderedDict()

    @classmethod
    def open(cls, index_dir: str | Path | IndexDir, encoder: Encoder | None = None,
             verified: str | None = None) -> "Searcher":
        """Load the live generation of ``index_dir`` and the encoder it was built with. Its
        files are checked against the manifest unless it is the generation ``verified`` (one
        the caller has just checked)."""
        store = index_dir if isinstance(index_dir, IndexDir) else IndexDir(index_dir)
        generation = store.require_current()
        manifest = store.read_manifest(generation, verify=generation.name != verified)
        encoder = encoder_of(manifest, encoder)
        with load_errors(f"the index in {generation}"):
            return cls(generation, manifest, encoder)

    @property
    def size(self) -> int:
        return len(self.sentence_vectors)

    def search(self, question: str, k: int = 5, within: Restriction | None = None, *,
               vector: np.ndarray | None = None) -> list[Hit]:
        """The ``k`` best-supporting sentences for ``question``, best first (among the
        sentences ``within`` keeps, when given: see :meth:`restriction`); ``vector``: the
        question already embedded by ``encoder.encode_query`` (None: embedded here)."""
        if self.size == 0 or k <= 0 or (within is not None and not within.kept_sentences):
            return []
        if vector is None:
            vector = self.encoder.encode_query(question)
        return self.rank(question, vector, k, within)

    def restriction(self, wanted: ArticleFilter) -> Restriction:
        """The sentences ``wanted`` keeps (built on first use, then kept for the next
        questions under the same filter)."""
        with self._filter_lock:
            if wanted in self._restrictions:
                return _recall(self._restrictions, wanted)
            if self._sentence_article is None:
                self._sentence_article = np.ascontiguousarray(self.table.article)
            restriction = Restriction.of(self.catalog().allowed(wanted), self._sentence_article)
            return _remember(self._restrictions, wanted, restriction, RESTRICTIONS)

    def catalog(self) -> ArticleCatalog:
        """Every article's date and source names (read on first use)."""
        if self._catalog is None:
            self._catalog = ArticleCatalog.read(self.docs.db)
        return self._catalog

    def rank(self, question: str, query: np.ndarray, k: int = 5,
             within: Restriction | None = None, also: np.ndarray | None = None,
             second_stage: bool = True) -> list[Hit]:
        """Like :meth:`search` with the question already embedded as ``query``; the sentence
        ids ``also`` (those ``within`` keeps) are candidates too (a conversation's topic);
        ``second_stage=False``: the first stage's order even at a ``rerank_depth``.

        Sentences with the same text in several places (a wire story reprinted) become one hit;
        the other places are in its ``also``.
        """
        pool = self.candidates(question, query, within, also)
        if pool is None:
            return []
        scores = self.ranker.score(pool.parts)
        order = np.argsort(-scores, kind="stable")
        table = pool.table
        head = order[:max(DUPLICATE_SCAN + 4 * k, self.rerank_depth)]
        texts = dict(zip(head.tolist(), table.texts(pool.ids[head])))
        close = unsure_head(scores, order[:self.rerank_depth], texts, self.rerank_gap) \
            if second_stage else order[:0]
        if len(close):
            scores = self._reranked(question, pool, scores, close)
            order = np.argsort(-scores, kind="stable")
        head = order[:DUPLICATE_SCAN + 4 * k]
        unread = [i for i in head.tolist() if i not in texts]  # passed by one read lower
        texts.update(zip(unread, table.texts(pool.ids[unread])))
        groups: dict[str, list[int]] = {}
        for i in head.tolist():
            key = _text_key(texts[i])
            if key in groups:
                groups[key].append(i)
            elif len(groups) <= k:  # one more than shown, for the margin of the last
                groups[key] = [i]
        leaders = np.array([scores[g[0]] for g in groups.values()])
        margins = leaders - _best_other(leaders)
        shown = list(zip(groups.values(), margins))[:k]
        infos = self._article_infos(
            table.article[pool.ids[[i for g, _ in shown for i in g]]].tolist())
        hits = []
        for (first, *rest), margin in shown:
            at = int(pool.ids[first])
            row = pool.row(at, texts[first])
            values = {name: float(v[first]) for name, v in pool.parts.items()}
            values["margin"] = float(margin)
            hits.append(Hit(row, infos[row.article], float(scores[first]), values,
                            [(other, infos[other.article]) for other in
                             (pool.row(int(pool.ids[j]), texts[j]) for j in rest)],
                            int(table.line[at]), int(table.column[at])))
        return hits

    def _reranked(self, question: str, pool: Pool, scores: np.ndarray,
                  top: np.ndarray) -> np.ndarray:
        """``scores`` with the candidates ``top`` (the first stage's best, best first)
        rescored by the combiner of the reranker's and the first stage's scores, on the first
        stage's scale and shifted so that the best keeps its score: the others move by how
        much better or worse the second stage reads them than the best, and the candidates
        not read keep theirs (so a conversation's priors and the lead a new question needs
        compare like with like). Adds the part ``rerank`` (the reranker's logit; the lowest
        one read for the rest)."""
        logits = self.rerank_scores(question, pool.ids[top], pool.table)
        rerank = np.full(len(scores), float(logits.min()) if len(logits) else 0.0)
        rerank[top] = logits
        pool.parts["rerank"] = rerank
        combined = combine(logits, scores[top])
        out = scores.copy()
        out[top] = combined + scores[top[0]] - combined[0]
        return out

    def rerank_scores(self, question: str, ids: np.ndarray,
                      table: SentenceTable | None = None) -> np.ndarray:
        """The second stage's scores for sentences ``ids`` of ``table`` (the searcher's own by
        default), each read as ``Title: sentence``: token matching with the searcher's own
        encoder (:mod:`index.search.token_match`), or the cross-encoder when
        ``$BOT_RERANKER=cross-encoder``."""
        if self.reranker is None:
            self.reranker = shared_reranker() if cross_encoder_chosen() \
                else TokenMatcher(self.encoder)
        return self.reranker.score(question, self.read_texts(ids, table))

    def read_texts(self, ids: np.ndarray, table: SentenceTable | None = None) -> list[str]:
        """The texts the second stage reads for sentences ``ids`` of ``table`` (the
        searcher's own by default): ``Title: sentence``, as each was embedded."""
        table = table if table is not None else self.table
        infos = self._article_infos(table.article[ids].tolist())
        return [pair_text(infos[int(a)].title, t)
                for a, t in zip(table.article[ids], table.texts(ids))]

    def candidates(self, question: str, query: np.ndarray, within: Restriction | None = None,
                   also: np.ndarray | None = None) -> Pool | None:
        """The candidate sentences (dense and BM25 top lists, and the ids ``also``) with their
        score parts; None when the index is empty. With ``within``, all come from its
        sentences only."""
        if self.size == 0:
            return None
        if within is None:
            dense_ids = ann.nearest(self.ann, self.ann_config, self.sentence_vectors, query,
                                    CANDIDATES)
        else:
            dense_ids = ann.nearest_within(
                self.ann, self.ann_config, self.sentence_vectors, query, CANDIDATES,
                within.ids, within.bitmap(), lambda: within.exact_index(self.sentence_vectors))
        with self._term_match(question, within) as match:
            extra = np.asarray(also if also is not None else [], dtype=np.int64)
            extra = extra[(extra >= 0) & (extra < self.size)]
            if within is not None:
                extra = extra[within.mask[extra]]
            ids = np.unique(np.concatenate([dense_ids, match.top(CANDIDATES), extra])
                            .astype(np.int64))
            ids = ids[(ids >= 0) & (ids < self.size)]
            if not len(ids):
                return None
            anchored = self.catalog().anchored if question_kind(question) == "date" else None
            parts = candidate_features(question, query, ids, self.table, self.sentence_vectors,
                                       self.passage_vectors, match, self.titles, anchored)
        return Pool(ids, parts, self.table)

    @contextlib.contextmanager
    def _term_match(self, question: str,
                    within: Restriction | None = None) -> Iterator[TermMatch]:
        """The question's BM25 match, its scores summed in a buffer zeroed again afterwards
        (its matched sentences those ``within`` keeps, when given)."""
        with self._score_buffer() as buffer:
            match = match_terms(self.bm25, question, buffer)
            try:
                yield match if within is None else match.within(within.mask, within.ids)
            finally:
                match.release()

    @contextlib.contextmanager
    def _score_buffer(self) -> Iterator[np.ndarray]:
        """A zeroed BM25 score array, to be zeroed again by its user: the searcher's own one,
        kept from question to question whichever thread asks (a new one costs page faults
        over every sentence: ~1 ms at 1M), or a new one while another question holds it."""
        if not self._scores_lock.acquire(blocking=False):
            yield np.zeros(self.bm25.size, dtype=np.float32)
            return
        try:
            if self._scores is None:
                self._scores = np.zeros(self.bm25.size, dtype=np.float32)
            yield self._scores
        finally:
            self._scores_lock.release()

    def _article_infos(self, ids: list[int]) -> dict[int, ArticleInfo]:
        """Citation data of articles ``ids`` (the missing ones fetched in one query; cached,
        least recently used dropped first)."""
        wanted = list(dict.fromkeys(ids))
        found = {a: _recall(self._infos, a) for a in wanted if a in self._infos}
        if len(found) < len(wanted):
            fetched = self.docs.article_infos([a for a in wanted if a not in found])
            for a, info in fetched.items():
                _remember(self._infos, a, info, INFO_CACHE)
            found.update(fetched)
        return found

    def article(self, article_id: int) -> Article:
        """An article's metadata and text (cached, least recently used dropped first: a long
        chat must not hold every article)."""
        if article_id in self._articles:
            return _recall(self._articles, article_id)
        return _remember(self._articles, article_id, self.docs.article(article_id),
                         ARTICLE_CACHE)


def _recall(cache: OrderedDict[K, V], key: K) -> V:
    """``cache[key]``, now the most recently used."""
    cache.move_to_end(key)
    return cache[key]


def _remember(cache: OrderedDict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` as the most recently used, dropping the least recently used beyond
    ``limit``; return ``value``."""
    cache[key] = value
    while len(cache) > limit:
        cache.popitem(last=False)
    return value


def unsure_head(scores: np.ndarray, top: np.ndarray, texts: dict[int, str],
                gap: float) -> np.ndarray:
    """The gate of the second stage: of the candidates ``top`` (best first), those scoring
    within ``gap`` of the best; none when none of them but the best (and its reprints:
    whitespace and case aside) is that close. A sentence far behind is one the second stage
    would rarely bring first, and a question whose best leads by ``gap`` keeps its order."""
    if len(top) < 2:
        return top[:0]
    close = top[scores[top[0]] - scores[top] < gap]
    first = _text_key(texts[int(top[0])])
    if all(_text_key(texts[i]) == first for i in close[1:].tolist()):
        return top[:0]
    return close


def _text_key(text: str) -> str:
    """What makes two sentences the same one (whitespace and case aside)."""
    return " ".join(text.split()).casefold()


def _best_other(scores: np.ndarray) -> np.ndarray:
    """For each candidate, the best score among the other candidates (0 if there is none)."""
    if len(scores) < 2:
        return np.zeros_like(scores)
    top2 = np.sort(scores)[-2:]
    return np.where(scores >= top2[1], top2[0], top2[1])
