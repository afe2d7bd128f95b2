"""Run an evaluation: index a SQuAD-format file's articles, ask every question, score the ranks.

The bot is measured as ``bot ask`` answers (same cleaning, ranking, near-duplicate merging and
confidence), next to two baselines on the very same indexed sentences: plain BM25 and plain
dense (exact cosine) retrieval over the index's vectors (each sentence embedded as
``"Title: sentence"``). With
out-of-corpus questions (articles not indexed) it also reports how often the bot answers them
and how well its confidence separates the two sets. For a set whose questions come with their
own candidates (WikiQA: one article's sentences each) it also ranks each question's own
candidates alone and reports MAP and MRR (``own_candidates``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.errors import IndexCorrupt, IndexMismatch
from index.indexer import update_index
from index.paths import cache_dir
from index.progress import progress_bar
from index.search.ranking import Ranker
from index.search.restriction import Restriction
from index.search.searcher import Searcher
from index.store.generations import IndexDir

from ..confidence import VERDICT_DEPTH, threshold, verdict
from ..questions import clean_question
from .metrics import (auroc, first_hit_ranks, mean_average_precision, precision_coverage,
                      ranking_scores, reliability, verdict_scores)
from .squad import Question, SquadSet, write_articles

if TYPE_CHECKING:
    from .coqa import CoqaSet

DEPTH = 10  # ranks looked at (MRR@10, R@10)


@dataclass
class Prepared:
    """An indexed question set: the searcher and each question's gold sentence ids."""

    searcher: Searcher
    questions: list[Question]
    gold: list[set[int]]
    index_seconds: float
    sentences_embedded: int


@dataclass
class Asked:
    """What the bot and the baselines returned for a list of questions."""

    bot: list[list[set[int]]] = field(default_factory=list)
    bm25: list[list[int]] = field(default_factory=list)
    dense: list[list[int]] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)
    right: list[bool] = field(default_factory=list)  # the best sentence is a gold one
    best_dense: list[float] = field(default_factory=list)  # the best sentence's dense part
    best_bm25: list[float] = field(default_factory=list)  # ... and its BM25 (log) part
    reranked: bool = False  # some best sentence was scored by a reranker
    encode_seconds: float = 0.0
    rank_seconds: float = 0.0


Spans = list[tuple[int, int, int]]  # an article's sentences as ``(start, end, id)``


@dataclass
class Indexed:
    """A question set's articles, indexed: the searcher, each article's sentences, and what
    bringing the index up to date cost."""

    searcher: Searcher
    spans: list[Spans]  # by article position
    index_seconds: float
    sentences_embedded: int


def work_dir_for(squad: SquadSet | CoqaSet, spec: EncoderSpec, kind: str = "") -> Path:
    """A reusable work directory per question set and model, under the bot's cache
    (``kind``: a prefix naming the kind of set)."""
    model = "".join(c if c.isalnum() else "_" for c in f"{spec.backend}-{spec.model}")[-40:]
    return cache_dir() / "eval" / f"{kind}{squad.digest[:16]}-{model}"


def index_articles(squad: SquadSet | CoqaSet, work_dir: Path, encoder: Encoder) -> Indexed:
    """Write the articles into ``work_dir``, bring its index up to date (unchanged files embed
    nothing; a damaged one is rebuilt), open it and find each article's sentences."""
    work_dir = work_dir.absolute()  # the index keeps absolute paths; look them up so
    paths = write_articles(squad, work_dir / "articles")
    store = IndexDir(work_dir / "index")
    try:
        report = update_index([work_dir / "articles"], store, encoder=encoder)
    except (IndexCorrupt, IndexMismatch):  # our own scratch index: rebuild it
        report = update_index([work_dir / "articles"], store, encoder=encoder, rebuild=True)
    searcher = Searcher.open(store, encoder=encoder)
    spans: list[Spans] = []
    for path in paths:
        ids = searcher.docs.article_ids_of(str(path))
        if not ids:  # scoring on would report zeros for a bot that works: fail loudly
            raise IndexCorrupt(f"the evaluation index in {store.root} holds no article "
                               f"{path}; cannot score")
        rows = searcher.docs.article_rows(ids[0])[1]
        spans.append([(r.start, r.end, r.id) for r in rows])
    return Indexed(searcher, spans, report.seconds, report.sentences_embedded)


def prepare(squad: SquadSet, work_dir: Path, encoder: Encoder,
            ranker: Ranker | None = None) -> Prepared:
    """Index the articles in ``work_dir`` (:func:`index_articles`) and map every question's
    answer starts to gold sentence ids."""
    indexed = index_articles(squad, work_dir, encoder)
    if ranker is not None:
        indexed.searcher.ranker = ranker
    gold = [_gold(indexed.spans[q.article], q.answer_starts) for q in squad.questions]
    return Prepared(indexed.searcher, squad.questions, gold, indexed.index_seconds,
                    indexed.sentences_embedded)


def _gold(spans: Spans, starts: list[int]) -> set[int]:
    """Ids of the sentences holding an answer start (or the next sentence, for a start that
    falls in the space between two)."""
    found: set[int] = set()
    for start in starts:
        holder = next((sid for s, e, sid in spans if s <= start < e), None)
        if holder is None:
            holder = next((sid for s, _, sid in spans if s >= start), None)
        if holder is not None:
            found.add(holder)
    return found


def ask_all(searcher: Searcher, questions: list[Question], baselines: bool = True,
            desc: str = "asking", gold: list[set[int]] | None = None) -> Asked:
    """Ask every question as ``bot ask`` would (and the baselines, unless told not to);
    ``gold``: each question's gold sentence ids (none: no sentence is right)."""
    asked = Asked()
    with progress_bar(len(questions), desc, unit="question") as bar:
        for n, question in enumerate(questions):
            text = clean_question(question.text)
            started = time.perf_counter()
            query = searcher.encoder.encode_query(text)
            encoded = time.perf_counter()
            hits = searcher.rank(text, query, DEPTH)
            conf, answered = verdict(text, hits[:VERDICT_DEPTH])
            asked.rank_seconds += time.perf_counter() - encoded
            asked.encode_seconds += encoded - started
            asked.bot.append([{h.sentence.id, *(row.id for row, _ in h.also)} for h in hits])
            asked.confidence.append(conf)
            asked.answered.append(answered)
            asked.reranked = asked.reranked or bool(hits) and "rerank" in hits[0].parts
            asked.right.append(bool(hits) and gold is not None and bool(asked.bot[-1][0] & gold[n]))
            asked.best_dense.append(hits[0].parts.get("dense", 0.0) if hits else 0.0)
            asked.best_bm25.append(hits[0].parts.get("lexical_log", 0.0) if hits else 0.0)
            if baselines:
                asked.bm25.append(top_ids(searcher.bm25.scores(text)))
                asked.dense.append(top_ids(np.asarray(searcher.sentence_vectors) @ query))
            bar.update(1)
    return asked


def gap_of(searcher: Searcher) -> float | None:
    """The second stage's gate (:attr:`Searcher.rerank_gap`; None: no gate, all read)."""
    return searcher.rerank_gap if math.isfinite(searcher.rerank_gap) else None


def top_ids(scores: np.ndarray, depth: int = DEPTH) -> list[int]:
    """The ``depth`` best ids by score, best first (only those scoring above 0): a plain
    baseline's ranking."""
    if not len(scores) or scores.max() <= 0:
        return []
    top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [int(i) for i in top if scores[i] > 0]


def own_candidates(prepared: Prepared) -> dict[str, dict[str, float]]:
    """MAP and MRR of each method ranking each question's own article's sentences alone."""
    searcher = prepared.searcher
    article_of = np.asarray(searcher.table.article)
    rankings: dict[str, list[list[set[int]]]] = {m: [] for m in ("bot", "bm25", "dense")}
    with progress_bar(len(prepared.questions), "own candidates", unit="question") as bar:
        for question, gold in zip(prepared.questions, prepared.gold):
            text = clean_question(question.text)
            article = int(article_of[next(iter(gold))]) if gold else -1
            ids = np.flatnonzero(article_of == article)
            query = searcher.encoder.encode_query(text)
            kept = np.zeros(int(article_of.max()) + 1, dtype=bool)
            kept[article] = True
            hits = searcher.rank(text, query, len(ids), Restriction.of(kept, article_of))
            rankings["bot"].append([{h.sentence.id, *(r.id for r, _ in h.also)} for h in hits])
            for name, scores in (("bm25", searcher.bm25.scores(text)[ids]),
                                 ("dense", np.asarray(searcher.sentence_vectors[ids]) @ query)):
                order = np.argsort(-np.asarray(scores), kind="stable")
                rankings[name].append([{int(ids[i])} for i in order])
            bar.update(1)
    out = {}
    for name, ranked in rankings.items():
        ranks = first_hit_ranks(ranked, prepared.gold)
        out[name] = {"map": round(mean_average_precision(ranked, prepared.gold), 4),
                     "mrr": round(float(np.mean(np.where(ranks > 0, 1 / np.maximum(ranks, 1),
                                                         0))), 4)}
    return out


def evaluate(squad: SquadSet, ooc: SquadSet | None = None, spec: EncoderSpec | None = None,
             work_dir: Path | None = None, ranker: str = "learned",
             encoder: Encoder | None = None, rerank_depth: int | None = None) -> dict[str, Any]:
    """The full report (see :func:`bot.evaluation.report.render`) as a JSON-able dict;
    ``rerank_depth``: candidates the reranker reads (None: the default, 0: none)."""
    spec = spec or (encoder.spec if encoder else EncoderSpec.from_env())
    encoder = encoder or load_encoder(spec)
    work_dir = (work_dir or work_dir_for(squad, spec)).absolute()
    prepared = prepare(squad, work_dir, encoder, Ranker.named(ranker))
    if rerank_depth is not None:
        prepared.searcher.rerank_depth = rerank_depth
    asked = ask_all(prepared.searcher, prepared.questions, gold=prepared.gold)
    n = len(prepared.questions)
    methods = {
        "bot": ranking_scores(first_hit_ranks(asked.bot, prepared.gold)).to_json(),
        "bm25": ranking_scores(first_hit_ranks(asked.bm25, prepared.gold)).to_json(),
        "dense": ranking_scores(first_hit_ranks(asked.dense, prepared.gold)).to_json(),
    }
    methods["bot"]["answered"] = round(float(np.mean(asked.answered)), 4)
    report: dict[str, Any] = {
        "file_articles": len(squad.articles), "questions": n,
        "sentences": prepared.searcher.size, "ranker": ranker,
        "rerank_depth": prepared.searcher.rerank_depth,
        "rerank_gap": gap_of(prepared.searcher),
        "model": f"{spec.model} ({spec.backend})", "work_dir": str(work_dir),
        "index_seconds": round(prepared.index_seconds, 2),
        "sentences_embedded": prepared.sentences_embedded,
        "ms_per_question": round(1000 * (asked.encode_seconds + asked.rank_seconds) / max(n, 1), 2),
        "ms_per_question_search": round(1000 * asked.rank_seconds / max(n, 1), 2),
        "methods": methods,
    }
    if squad.own_candidates:
        report["own_candidates"] = own_candidates(prepared)
    unanswerable = ask_all(prepared.searcher, squad.unanswerable, baselines=False,
                           desc="asking unanswerable") if squad.unanswerable else None
    outside = None
    if ooc is not None:
        outside = ask_all(prepared.searcher, [*ooc.questions, *ooc.unanswerable],
                          baselines=False, desc="asking out-of-corpus")
        report["ooc"] = {
            "questions": len(outside.confidence),
            "answered": round(float(np.mean(outside.answered)), 4),
            "auroc": round(auroc(asked.confidence, outside.confidence), 4),
        }
    report["verdict"] = verdict_report(asked, unanswerable, outside)
    return report


def _rounded(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def verdict_report(answerable: Asked, unanswerable: Asked | None,
                   outside: Asked | None) -> dict[str, Any]:
    """How far the verdict can be trusted, on all replies together: precision and coverage of
    "answered", AUROC and ECE of the confidence as P(right), the answered rates of on-topic
    unanswerable and out-of-corpus questions, the reliability table and the precision–coverage
    curve."""
    sets = [s for s in (answerable, unanswerable, outside) if s is not None]
    conf = np.concatenate([np.asarray(s.confidence, dtype=np.float64) for s in sets])
    right = np.concatenate([np.asarray(s.right, dtype=bool) for s in sets])
    # the bot's own verdicts: with a gated second stage, read and unread replies are judged by
    # two models, each at its threshold (``threshold`` below is the read ones')
    said = np.concatenate([np.asarray(s.answered, dtype=bool) for s in sets])
    is_answerable = np.zeros(len(conf), dtype=bool)
    is_answerable[:len(answerable.confidence)] = True
    reranked = any(s.reranked for s in sets)
    cut, first_stage = threshold(reranked), threshold(False)
    thresholds, precision, coverage = precision_coverage(conf, right, is_answerable)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(len(thresholds), 101)).astype(int))
    out: dict[str, Any] = {
        "threshold": cut,
        **({"first_stage_threshold": first_stage} if first_stage != cut else {}),
        "all": verdict_scores(conf, right, cut, is_answerable, answered=said),
        "answerable": verdict_scores(answerable.confidence, answerable.right, cut,
                                     answered=answerable.answered),
        # plain baselines: the best sentence's dense cosine or BM25 as the confidence
        "baseline_auroc": {
            name: _rounded(auroc(values[right], values[~right]))
            for name, values in (
                ("dense", np.concatenate([np.asarray(s.best_dense, np.float64) for s in sets])),
                ("bm25", np.concatenate([np.asarray(s.best_bm25, np.float64) for s in sets])))},
        "reliability": [[round(c, 4), round(r, 4), int(n)] for c, r, n in reliability(conf, right)],
        "precision_coverage": [[round(float(t), 4), round(float(p), 4), round(float(c), 4)]
                               for t, p, c in zip(thresholds[keep], precision[keep],
                                                  coverage[keep])],
    }
    for name, asked in (("unanswerable", unanswerable), ("ooc", outside)):
        if asked is not None:
            out[name] = {"questions": len(asked.answered),
                         "answered": round(float(np.mean(asked.answered)), 4)}
    return out
