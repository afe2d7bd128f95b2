"""Search a sharded index: every shard's candidates merged, then ranked once, globally.

Each shard returns its best sentences by cosine and by BM25 (with corpus-wide statistics);
the corpus's best of each list are picked from those, and the shards holding them return
their rows and their neighbours' (:mod:`index.search.shard_search`); the merged rows stand in
for one index's sentence table, so the very code that scores and ranks one index
(:func:`index.search.features.candidate_features`, :meth:`Searcher.rank`) ranks them: the
same candidates (the corpus's 100 best by cosine and by BM25), the same score parts, the same
order as one index over all the articles would give. Sentence, passage and article ids are
global: shard ``s``'s local id plus the count of the shards before it.

Shards are searched in this process (:class:`LocalShards`: all at once, on threads) or by
one Ray actor each (:mod:`index.cluster`); both answer the same calls. A filter is applied
by every shard to its own candidates (:meth:`ShardedSearcher.restriction`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from index.embed.encoders import Encoder
from index.environment import whole_number
from index.ingest.documents import Article
from index.search.answer_types import question_kind
from index.search.features import candidate_features
from index.search.filters import ArticleFilter
from index.search.searcher import CANDIDATES, RESTRICTIONS, Hit, Pool, Searcher, _recall, \
    _remember, encoder_of
from index.search.shard_search import ShardPool, ShardQuery, ShardSearcher, ShardTop
from index.search.term_match import TermMatch
from index.store.corpus_stats import CorpusStats
from index.store.docstore import ArticleInfo, SentenceRow
from index.store.generations import Manifest
from index.store.sentence_table import COLUMNS
from index.store.sharded import ShardedDir, ShardedManifest, lengths_file, order_file


@dataclass(frozen=True)
class ShardSpec:
    """Where one shard's published generation and sentence lengths are."""

    shard: int
    generation: str
    lengths: str
    order: str
    avgdl: float  # the corpus's mean sentence length (its BM25 weights are computed with it)

    def load(self) -> ShardSearcher:
        return ShardSearcher(self.shard, Path(self.generation), np.load(self.lengths),
                             np.load(self.order), self.avgdl)


class ShardGroup(Protocol):
    """The searchers of an index's shards, wherever they run."""

    def each(self, method: str, calls: dict[int, tuple]) -> dict[int, Any]:
        """``method(*args)`` of every shard in ``calls`` (shard → args), all at once."""
        ...

    def call(self, shard: int, method: str, *args: Any) -> Any: ...

    def close(self) -> None: ...


def shard_threads() -> int:
    """How many shards one process searches at once: ``$BOT_SHARD_THREADS``, else one per
    core it may run on (:func:`index.embed.encoders.cpu_cores`). FAISS and numpy let go of
    the interpreter while they scan and copy, so shards run side by side; more threads than
    cores only paid off here while shards read their files from disk, and cost CPU otherwise
    (10M sentences in 10 shards on 2 busy cores: 36 ms of CPU per question on 1 thread, 46 on
    2, 57 on 10; wall time 36, 32 and 41 ms)."""
    from index.embed.encoders import cpu_cores

    forced = whole_number("BOT_SHARD_THREADS", "threads", minimum=1)
    return cpu_cores() if forced is None else forced


class LocalShards:
    """Every shard loaded in this process, searched on a pool of threads."""

    def __init__(self, specs: Sequence[ShardSpec], threads: int | None = None) -> None:
        self.searchers = {s.shard: s.load() for s in specs}
        count = min(len(self.searchers), threads or shard_threads())
        self.pool = ThreadPoolExecutor(count, thread_name_prefix="shard") if count > 1 else None

    def each(self, method: str, calls: dict[int, tuple]) -> dict[int, Any]:
        if self.pool is None or len(calls) < 2:
            return {n: getattr(self.searchers[n], method)(*a) for n, a in calls.items()}
        futures = {n: self.pool.submit(getattr(self.searchers[n], method), *a)
                   for n, a in calls.items()}
        return {n: f.result() for n, f in futures.items()}

    def call(self, shard: int, method: str, *args: Any) -> Any:
        return getattr(self.searchers[shard], method)(*args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False)
        self.searchers.clear()


class Offsets:
    """Global ids ↔ (shard, local id) for one kind of row (sentences, passages, articles)."""

    def __init__(self, shards: list[int], counts: list[int]) -> None:
        self.shards = np.asarray(shards, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) \
            if counts else np.zeros(0, dtype=np.int64)
        self.by_shard = dict(zip(shards, self.starts.tolist()))

    def locate(self, ids: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """``(shard, local id)`` of global ids."""
        at = np.searchsorted(self.starts, ids, side="right") - 1
        return self.shards[at], np.asarray(ids) - self.starts[at]


class MergedTable:
    """The merged rows of a question's shard pools, read as a sentence table (by position)."""

    def __init__(self, pools: list[ShardPool], offsets: dict[str, Offsets],
                 group: ShardGroup) -> None:
        self.local = np.concatenate([p.rows for p in pools])
        # rows in the order one index over the same files holds them (ties break the same)
        self.order = np.lexsort((self.local, np.concatenate([p.order for p in pools])))
        table = np.concatenate([p.table for p in pools])[self.order]
        shift = {name: np.concatenate([np.full(len(p.rows), offsets[name].by_shard[p.shard])
                                       for p in pools])[self.order] for name in offsets}
        self.group = group
        self.shard = np.concatenate([np.full(len(p.rows), p.shard) for p in pools])[self.order]
        self.local = self.local[self.order]
        self.sentence = self.local + shift["sentences"]
        columns = {name: table[:, i] for i, name in enumerate(COLUMNS)}
        self.article = columns["article"] + shift["articles"]
        self.passage = columns["passage"] + shift["passages"]
        self.start, self.end = columns["start"], columns["end"]
        self.line, self.column, self.kinds = columns["line"], columns["column"], columns["kinds"]

    def __len__(self) -> int:
        return len(self.local)

    def merged(self, pools: list[ShardPool], name: str) -> np.ndarray:
        """The pools' column ``name``, concatenated in this table's row order."""
        return np.concatenate([getattr(p, name) for p in pools])[self.order]

    def texts(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        ids = np.asarray(ids, dtype=np.int64)
        out: list[str] = [""] * len(ids)
        for shard in np.unique(self.shard[ids]).tolist():
            at = np.flatnonzero(self.shard[ids] == shard)
            for i, text in zip(at.tolist(), self.group.call(shard, "texts",
                                                            self.local[ids[at]].tolist())):
                out[i] = text
        return out


class PassageCosines:
    """``passage_vectors[passages] @ [1]`` of the merged rows: each passage's cosine with the
    question, computed by its shard, looked up by global passage id."""

    def __init__(self, passages: np.ndarray, cosines: np.ndarray) -> None:
        self.ids, first = np.unique(passages, return_index=True)
        self.cosines = cosines[first].reshape(-1, 1)

    def __getitem__(self, passages: np.ndarray) -> np.ndarray:
        return self.cosines[np.searchsorted(self.ids, passages)]


class ArticleFlags:
    """A per-article flag of the merged rows (each row's copy of its article's), looked up by
    global article id, as features index a per-article array."""

    def __init__(self, articles: np.ndarray, flags: np.ndarray) -> None:
        self.ids, first = np.unique(articles, return_index=True)
        self.flags = flags[first]

    def __getitem__(self, articles: np.ndarray) -> np.ndarray:
        return self.flags[np.searchsorted(self.ids, articles)]


class TitleHolders:
    """Which merged articles' titles hold each query term (term ids: positions in the query)."""

    def __init__(self, article: np.ndarray, title_holds: np.ndarray) -> None:
        self.holders = [np.unique(article[title_holds[:, j]])
                        for j in range(title_holds.shape[1])]

    def holding(self, term: int) -> np.ndarray:
        return self.holders[term]


@dataclass
class PooledMatch(TermMatch):
    """A query's term match over the merged rows; its best BM25 is the corpus's best."""

    corpus_best: float = 0.0

    @property
    def best(self) -> float:  # type: ignore[override]
        return self.corpus_best

    def release(self) -> None:
        pass


@dataclass
class ShardedRestriction:
    """A filter over a sharded index: the articles it keeps (bool per global article id) and
    how many sentences they hold. Each shard applies the filter to its own candidates."""

    wanted: ArticleFilter
    articles: np.ndarray
    kept_sentences: int

    @property
    def kept_articles(self) -> int:
        return int(np.count_nonzero(self.articles))


class ShardedDocs:
    """The parts of :class:`index.store.docstore.DocReader` answering needs, over all shards."""

    def __init__(self, searcher: "ShardedSearcher") -> None:
        self.searcher = searcher

    def passage_sentences(self, passage: int) -> list[SentenceRow]:
        s = self.searcher
        (shard,), (local,) = s.offsets["passages"].locate(np.array([passage]))
        rows = s.group.call(int(shard), "passage_sentences", int(local))
        return [s._global_row(int(shard), r) for r in rows]

    def article(self, article_id: int) -> Article:
        return self.searcher.article(article_id)


class ShardedSearcher(Searcher):
    """A sharded index's live version: its shards' searchers, the corpus statistics and the
    encoder; asked like a :class:`Searcher`."""

    takes_extra_candidates = False  # not yet: a conversation keeps its topic by the prior alone

    def __init__(self, version: Path, manifest: ShardedManifest, stats: CorpusStats,
                 group: ShardGroup, encoder: Encoder) -> None:
        self.generation = version
        self.sharded = manifest
        self.manifest = Manifest(encoder=manifest.encoder, splitter=manifest.splitter,
                                 counts=manifest.counts)
        self.encoder = encoder
        self.stats = stats
        self.group = group
        self._init_ranking()
        live = [e for e in manifest.shards if e.generation]
        self.offsets = {
            name: Offsets([e.shard for e in live], [int(e.counts.get(name, 0)) for e in live])
            for name in ("sentences", "passages", "articles")}
        self.live = [e.shard for e in live]
        self.docs = ShardedDocs(self)  # type: ignore[assignment]
        self._restrictions: OrderedDict[ArticleFilter, ShardedRestriction] = OrderedDict()
        self._filter_lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path | ShardedDir, encoder: Encoder | None = None,
             verified: str | None = None, cluster: Any = None) -> "ShardedSearcher":
        """Load the live version of a sharded index: in this process, or on a Ray cluster
        (``cluster``: an :class:`index.cluster.Cluster`), one actor per shard."""
        store = index_dir if isinstance(index_dir, ShardedDir) else ShardedDir(index_dir)
        version = store.require_current()
        manifest = store.read_manifest(version)
        encoder = encoder_of(manifest, encoder)  # type: ignore[arg-type]
        stats = CorpusStats.load(version, manifest.sentences, manifest.total_length)
        specs = [ShardSpec(e.shard, str(store.shard_generation(e)),
                           str(version / lengths_file(e.shard)),
                           str(version / order_file(e.shard)), stats.avgdl)
                 for e in manifest.shards if e.generation]
        group = cluster.shard_group(specs) if cluster is not None else LocalShards(specs)
        return cls(version, manifest, stats, group, encoder)

    @property
    def size(self) -> int:
        return int(self.sharded.sentences)

    def restriction(self, wanted: ArticleFilter) -> ShardedRestriction:  # type: ignore[override]
        """What ``wanted`` keeps, from every shard (each keeps its own restriction for the
        next questions; this one is kept here too, least recently used dropped)."""
        with self._filter_lock:
            if wanted in self._restrictions:
                return _recall(self._restrictions, wanted)
        kept = self.group.each("kept", {n: (wanted,) for n in self.live})
        restriction = ShardedRestriction(
            wanted, np.concatenate([kept[n][0] for n in self.live]).astype(bool)
            if self.live else np.zeros(0, dtype=bool), sum(kept[n][1] for n in self.live))
        with self._filter_lock:
            return _remember(self._restrictions, wanted, restriction, RESTRICTIONS)

    def rank(self, question: str, query: np.ndarray, k: int = 5,  # type: ignore[override]
             within: ShardedRestriction | None = None, second_stage: bool = True) -> list[Hit]:
        """As :meth:`Searcher.rank`, over the merged pool (its rows have their global ids)."""
        return super().rank(question, query, k, within,  # type: ignore[arg-type]
                            second_stage=second_stage)

    def shard_pools(self, ask: ShardQuery) -> tuple[list[ShardPool], float]:
        """Both calls to the shards (:mod:`index.search.shard_search`): every shard's best
        sentences by cosine and by BM25, then the rows of the corpus's best of each list from
        the shards holding them; and the corpus's best BM25 (among the kept sentences)."""
        tops = self.group.each("top", {n: (ask,) for n in self.live})
        picked = _picks([tops[n] for n in self.live])
        pools = self.group.each("gather", {n: (ask, ids) for n, ids in picked.items()})
        return [pools[n] for n in self.live if n in pools], \
            max((t.best_bm25 for t in tops.values()), default=0.0)

    def candidates(self, question: str, query: np.ndarray,  # type: ignore[override]
                   within: ShardedRestriction | None = None,
                   also: np.ndarray | None = None) -> Pool | None:
        """As :meth:`Searcher.candidates`, from every shard (without extra ids: not yet)."""
        if also is not None:
            raise NotImplementedError("extra candidates on a sharded index")
        terms, idf, known = self.stats.query_terms(question)
        dated = question_kind(question) == "date"
        pools, best = self.shard_pools(ShardQuery(
            np.asarray(query, dtype=np.float32), terms, idf, anchored=dated,
            within=within.wanted if within is not None else None))
        if not pools:
            return None
        table = MergedTable(pools, self.offsets, self.group)
        cosine, bm25 = table.merged(pools, "cosine"), table.merged(pools, "bm25")
        holds = table.merged(pools, "holds").reshape(len(table), len(terms))
        ids = np.flatnonzero(table.merged(pools, "picked")).astype(np.int64)
        matched = np.flatnonzero(bm25 > 0)
        match = PooledMatch(terms, idf, [np.flatnonzero(holds[:, j]) for j in range(len(terms))],
                            bm25, matched, bm25[matched], known, tuple(range(len(terms))),
                            corpus_best=best)
        titles = TitleHolders(table.article, table.merged(pools, "title_holds")
                              .reshape(len(table), len(terms)))
        passages = PassageCosines(table.passage, table.merged(pools, "passage_cosine"))
        anchored = ArticleFlags(table.article, table.merged(pools, "anchored")) \
            if dated else None
        parts = candidate_features(question, np.ones(1, dtype=np.float32), ids, table,  # type: ignore[arg-type]
                                   cosine.reshape(-1, 1), passages, match, titles,  # type: ignore[arg-type]
                                   anchored)  # type: ignore[arg-type]
        return Pool(ids, parts, table, table.sentence)  # type: ignore[arg-type]

    def _global_row(self, shard: int, row: SentenceRow) -> SentenceRow:
        """A shard's row with global ids."""
        return SentenceRow(row.id + self.offsets["sentences"].by_shard[shard],
                           row.article + self.offsets["articles"].by_shard[shard],
                           row.passage + self.offsets["passages"].by_shard[shard],
                           row.start, row.end, row.text)

    def _article_infos(self, ids: list[int]) -> dict[int, ArticleInfo]:
        wanted = np.array(list(dict.fromkeys(ids)), dtype=np.int64)
        shards, local = self.offsets["articles"].locate(wanted)
        found: dict[int, ArticleInfo] = {}
        for shard in np.unique(shards).tolist():
            at = shards == shard
            infos = self.group.call(shard, "article_infos", local[at].tolist())
            for global_id, local_id in zip(wanted[at].tolist(), local[at].tolist()):
                found[global_id] = dataclasses.replace(infos[local_id], id=global_id)
        return found

    def article(self, article_id: int) -> Article:
        (shard,), (local,) = self.offsets["articles"].locate(np.array([article_id]))
        return self.group.call(int(shard), "article", int(local))

    def close(self) -> None:
        self.group.close()


def _picks(tops: list[ShardTop]) -> dict[int, np.ndarray]:
    """Shard → its sentences (sorted local ids) among the corpus's best :data:`CANDIDATES` by
    cosine and the best by BM25 of the shards' top lists; ties go to the sentence one index
    over the same files would hold first (its file's rank, then its place in the file)."""
    shards, ids = [], []
    for name, score, order in (("dense", "cosine", "dense_order"),
                               ("lexical", "bm25", "lexical_order")):
        local = np.concatenate([getattr(t, name) for t in tops]) if tops else \
            np.zeros(0, dtype=np.int64)
        if not len(local):
            continue
        owner = np.concatenate([np.full(len(getattr(t, name)), t.shard) for t in tops])
        values = np.concatenate([getattr(t, score) for t in tops]).astype(np.float64)
        best = np.lexsort((local, np.concatenate([getattr(t, order) for t in tops]),
                           -values))[:CANDIDATES]
        shards.append(owner[best])
        ids.append(local[best])
    if not shards:
        return {}
    owner, local = np.concatenate(shards), np.concatenate(ids)
    return {int(n): np.unique(local[owner == n]) for n in np.unique(owner)}
