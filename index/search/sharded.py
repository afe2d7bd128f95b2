"""Search a sharded index: every shard's candidates merged, then ranked once, globally.

Each shard returns its best sentences by cosine and by BM25 (with corpus-wide statistics)
and their neighbours (:mod:`index.search.shard_search`); the merged rows stand in for one
index's sentence table, so the very code that scores and ranks one index
(:func:`index.search.features.candidate_features`, :meth:`Searcher.rank`) ranks them: the
same candidates (the corpus's 100 best by cosine and by BM25), the same score parts, the same
order as one index over all the articles would give. Sentence, passage and article ids are
global: shard ``s``'s local id plus the count of the shards before it.

Shards are searched in this process (:class:`LocalShards`) or by one Ray actor each
(:mod:`index.cluster`); both answer the same calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from index.embed.encoders import Encoder
from index.errors import BadInput
from index.ingest.documents import Article
from index.search.answer_types import question_kind
from index.search.features import candidate_features
from index.search.searcher import CANDIDATES, Hit, Pool, Searcher, encoder_of
from index.search.shard_search import ShardPool, ShardQuery, ShardSearcher
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

    def load(self) -> ShardSearcher:
        return ShardSearcher(self.shard, Path(self.generation), np.load(self.lengths),
                             np.load(self.order))


class ShardGroup(Protocol):
    """The searchers of an index's shards, wherever they run."""

    def gather(self, ask: ShardQuery) -> list[ShardPool]: ...

    def call(self, shard: int, method: str, *args: Any) -> Any: ...

    def close(self) -> None: ...


class LocalShards:
    """Every shard loaded in this process, searched one after another."""

    def __init__(self, specs: Sequence[ShardSpec]) -> None:
        self.searchers = {s.shard: s.load() for s in specs}

    def gather(self, ask: ShardQuery) -> list[ShardPool]:
        return [searcher.gather(ask) for searcher in self.searchers.values()]

    def call(self, shard: int, method: str, *args: Any) -> Any:
        return getattr(self.searchers[shard], method)(*args)

    def close(self) -> None:
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
        self.docs = ShardedDocs(self)  # type: ignore[assignment]

    @classmethod
    def open(cls, index_dir: str | Path | ShardedDir, encoder: Encoder | None = None,
             verified: str | None = None, cluster: Any = None) -> "ShardedSearcher":
        """Load the live version of a sharded index: in this process, or on a Ray cluster
        (``cluster``: an :class:`index.cluster.Cluster`), one actor per shard."""
        store = index_dir if isinstance(index_dir, ShardedDir) else ShardedDir(index_dir)
        version = store.require_current()
        manifest = store.read_manifest(version)
        encoder = encoder_of(manifest, encoder)  # type: ignore[arg-type]
        specs = [ShardSpec(e.shard, str(store.shard_generation(e)),
                           str(version / lengths_file(e.shard)),
                           str(version / order_file(e.shard)))
                 for e in manifest.shards if e.generation]
        group = cluster.shard_group(specs) if cluster is not None else LocalShards(specs)
        stats = CorpusStats.load(version, manifest.sentences, manifest.total_length)
        return cls(version, manifest, stats, group, encoder)

    @property
    def size(self) -> int:
        return int(self.sharded.sentences)

    def restriction(self, wanted: Any) -> Any:
        raise BadInput("filters do not work on a sharded index yet")

    def rank(self, question: str, query: np.ndarray, k: int = 5,
             within: Any = None) -> list[Hit]:
        """As :meth:`Searcher.rank`, over the merged pool (its rows have their global ids)."""
        if within is not None:
            raise BadInput("filters do not work on a sharded index yet")
        return super().rank(question, query, k)

    def candidates(self, question: str, query: np.ndarray, within: Any = None,
                   also: np.ndarray | None = None) -> Pool | None:
        """As :meth:`Searcher.candidates`, from every shard (without filters or extra ids:
        not yet)."""
        if within is not None:
            raise BadInput("filters do not work on a sharded index yet")
        if also is not None:
            raise NotImplementedError("extra candidates on a sharded index")
        terms, idf, known = self.stats.query_terms(question)
        dated = question_kind(question) == "date"
        pools = [p for p in self.group.gather(
            ShardQuery(np.asarray(query, dtype=np.float32), terms, idf, self.stats.avgdl,
                       anchored=dated)) if len(p.rows)]
        if not pools:
            return None
        table = MergedTable(pools, self.offsets, self.group)
        cosine, bm25 = table.merged(pools, "cosine"), table.merged(pools, "bm25")
        holds = table.merged(pools, "holds").reshape(len(table), len(terms))
        ids = _best_of_both(cosine, bm25, table.merged(pools, "dense"),
                            table.merged(pools, "lexical"))
        matched = np.flatnonzero(bm25 > 0)
        match = PooledMatch(terms, idf, [np.flatnonzero(holds[:, j]) for j in range(len(terms))],
                            bm25, matched, bm25[matched], known, tuple(range(len(terms))),
                            corpus_best=max(p.best_bm25 for p in pools))
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


def _best_of_both(cosine: np.ndarray, bm25: np.ndarray, dense: np.ndarray,
                  lexical: np.ndarray) -> np.ndarray:
    """Positions of the corpus's best :data:`CANDIDATES` rows by cosine among the shards'
    dense candidates, and by BM25 among their lexical ones (ties: the earlier row)."""
    chosen = []
    for score, flagged in ((cosine, dense), (bm25, lexical & (bm25 > 0))):
        at = np.flatnonzero(flagged)
        best = at[np.argsort(-score[at].astype(np.float64), kind="stable")][:CANDIDATES]
        chosen.append(best)
    return np.unique(np.concatenate(chosen)).astype(np.int64)
