"""The answering API: a question in, verbatim evidence sentences with citations out.

This is what the CLI, the chat TUI and the regression runner call; none of them touches FAISS
or the model directly. ``Answer.to_json()`` is the exact ``bot ask --json`` contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from index.ingest.documents import Article
from index.embed.encoders import Encoder
from index.search.date_expressions import DateMention, find_dates
from index.search.filters import NO_FILTER, ArticleFilter
from index.search.searcher import Hit, Searcher
from index.store.generations import IndexDir
from index.store.sharded import is_sharded

from .confidence import VERDICT_DEPTH, model, verdict
from .questions import DEFAULT_K, clean_question

if TYPE_CHECKING:
    import numpy as np

    from .conversation import Conversation


@dataclass(frozen=True)
class Evidence:
    """One supporting sentence, verbatim, with where it stands and why it ranked."""

    text: str
    source: str
    start: int
    end: int
    score: float
    title: str | None
    date: str | None
    url: str | None = None
    offsets: str = "file"
    record: int | None = None
    sentence_id: int = -1
    article_id: int = -1
    passage_id: int = -1
    parts: dict[str, float] = field(default_factory=dict)
    line: int = 0  # 1-based line and column of ``start`` in the article text
    column: int = 0
    sources: tuple[dict[str, Any], ...] = ()  # every place this sentence text appears, if >1

    @cached_property
    def dates(self) -> tuple[DateMention, ...]:
        """The sentence's date expressions resolved against the article's date, their spans
        in the article's coordinates (as ``start``/``end``); found when first asked for."""
        return tuple(d.shifted(self.start) for d in find_dates(self.text, self.date))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text, "source": self.source, "start": self.start, "end": self.end,
            "score": round(self.score, 6), "title": self.title, "date": self.date,
            "url": self.url, "offsets": self.offsets, "line": self.line, "column": self.column,
            "scores": {k: round(v, 6) for k, v in self.parts.items()},
            "dates": [d.to_json() for d in self.dates],
        }
        if self.record is not None:
            data["record"] = self.record
        if self.sources:
            data["sources"] = [dict(s) for s in self.sources]
        return data

    @classmethod
    def from_hit(cls, hit: Hit) -> "Evidence":
        article = hit.article
        return cls(text=hit.sentence.text, source=article.source, start=hit.sentence.start,
                   end=hit.sentence.end, score=hit.score, title=article.title, date=article.date,
                   url=article.url, offsets=article.offsets, record=article.record,
                   sentence_id=hit.sentence.id, article_id=hit.sentence.article,
                   passage_id=hit.sentence.passage, parts=dict(hit.parts),
                   line=hit.line, column=hit.column, sources=_sources(hit))


def _patterns(sources: Iterable[str] | str | None) -> tuple[str, ...]:
    if sources is None:
        return ()
    return (sources,) if isinstance(sources, str) else tuple(sources)


def _sources(hit: Hit) -> tuple[dict[str, Any], ...]:
    """Where a merged near-duplicate sentence appears: the hit itself first, then the rest."""
    if not hit.also:
        return ()
    places = [(hit.sentence, hit.article), *hit.also]
    return tuple({"source": a.source, "start": r.start, "end": r.end, "title": a.title,
                  "date": a.date, "url": a.url, "offsets": a.offsets}
                 | ({"record": a.record} if a.record is not None else {})
                 for r, a in places)


@dataclass(frozen=True)
class Answer:
    """The bot's reply to one question."""

    question: str
    answered: bool
    confidence: float
    evidence: list[Evidence]
    filters: ArticleFilter = NO_FILTER
    kept_articles: int | None = None  # under a filter: how many articles it kept
    total_articles: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"question": self.question, "answered": self.answered,
                "confidence": round(self.confidence, 6),
                "answers": [e.to_json() for e in self.evidence]}
        if self.filters.active:
            data["filters"] = self.filters.to_json() | {"articles": self.kept_articles}
        return data

    @property
    def filter_note(self) -> str | None:
        """What the filter kept, in words (None without a filter)."""
        if not self.filters.active:
            return None
        return (f"filter: {self.filters.describe()}; {self.kept_articles} of "
                f"{self.total_articles} articles kept")


@dataclass(frozen=True)
class PassageView:
    """A paragraph around a piece of evidence: its text and where each sentence lies in it."""

    text: str
    sentences: list[tuple[int, int]]  # spans relative to ``text``
    focus: int  # index in ``sentences`` of the evidence sentence


class Answerer:
    """Answers questions from one index; load once, ask many times."""

    def __init__(self, searcher: Searcher, rerank_depth: int | None = None) -> None:
        self.searcher = searcher
        if rerank_depth is not None:
            searcher.rerank_depth = rerank_depth

    @classmethod
    def open(cls, index_dir: str | Path, encoder: Encoder | None = None,
             verified: str | None = None, rerank_depth: int | None = None) -> "Answerer":
        """Load an index (see :meth:`Searcher.open` for ``verified``; ``rerank_depth``:
        candidates the reranker reads, None: the default, 0: none); a sharded one is
        searched in this process, or on the Ray cluster :mod:`bot.cluster` was told of. Raises
        :class:`~bot.confidence.ConfidenceModelError` if the confidence model is unreadable."""
        model()  # a broken installation fails here, before any question is asked
        if is_sharded(index_dir):
            from index.search.sharded import ShardedSearcher  # only a sharded index needs it

            from .cluster import active_cluster

            return cls(ShardedSearcher.open(index_dir, encoder=encoder,
                                            cluster=active_cluster()), rerank_depth)
        return cls(Searcher.open(IndexDir(index_dir), encoder=encoder, verified=verified),
                   rerank_depth)

    def ask(self, question: str, k: int = DEFAULT_K, *, since: str | None = None,
            until: str | None = None, sources: Iterable[str] | str | None = None,
            filters: ArticleFilter | None = None, vector: np.ndarray | None = None) -> Answer:
        """Rank the best-supporting sentences for ``question`` (raises BadInput if empty),
        from the articles dated ``since``..``until`` (``YYYY[-MM[-DD]]``, inclusive) whose
        source matches one of the ``sources`` patterns, when given (or ``filters``, the
        same already checked; :mod:`index.search.filters`). A bad filter raises BadInput.
        ``vector``: the question already embedded (None: embedded here)."""
        query = clean_question(question)
        wanted = filters if filters is not None else ArticleFilter.of(since, until, sources)
        if filters is not None and (since or until or sources):
            wanted = ArticleFilter.of(since or filters.since, until or filters.until,
                                      (*filters.sources, *_patterns(sources)))
        depth = max(k, VERDICT_DEPTH)  # the verdict reads the two best, whatever k
        if not wanted.active:
            hits = self.searcher.search(query, depth, vector=vector)
            kept = total = None
        else:
            within = self.searcher.restriction(wanted)
            hits = self.searcher.search(query, depth, within, vector=vector)
            kept, total = within.kept_articles, len(within.articles)
        conf, answered = verdict(query, hits[:VERDICT_DEPTH])
        return Answer(question=question, answered=answered, confidence=conf,
                      evidence=[Evidence.from_hit(h) for h in hits[:k]], filters=wanted,
                      kept_articles=kept, total_articles=total)

    def conversation(self) -> "Conversation":
        """A new dialogue: its ``ask(question)`` reads follow-ups in the earlier turns' context."""
        from .conversation import Conversation

        return Conversation(self)

    def article(self, evidence: Evidence) -> Article:
        """The whole article an evidence sentence comes from."""
        return self.searcher.article(evidence.article_id)

    def passage(self, evidence: Evidence) -> PassageView:
        """The paragraph holding ``evidence``, with its sentences' spans."""
        rows = self.searcher.docs.passage_sentences(evidence.passage_id)
        article = self.article(evidence)
        start, end = rows[0].start, rows[-1].end
        spans = [(r.start - start, r.end - start) for r in rows]
        focus = next(i for i, r in enumerate(rows) if r.id == evidence.sentence_id)
        return PassageView(article.text[start:end], spans, focus)
