"""Score parts of candidate sentences: why a sentence may support the answer to a question.

Every part is a number per candidate, computed for all candidates at once:

- ``dense``: cosine of the sentence and the question; ``passage``: of its paragraph (with the
  article title); ``neighbour``: the best cosine of the sentences just before/after it.
- ``lexical``: BM25 of the sentence over the best BM25 of the question; ``lexical_log``: the raw
  BM25, log-scaled; ``context``: BM25 of the sentence and its neighbours in the same paragraph.
- ``dense_rank`` / ``lexical_rank``: ``log2(1 + rank)`` of the sentence among the candidates by
  its dense / BM25 score (rank information, as in reciprocal-rank fusion).
- ``coverage``: share of the question's term rarity (IDF) the sentence holds;
  ``context_coverage``: the same over the sentence and its neighbours; ``title``: over the title;
  ``all_coverage``: over the sentence, its neighbours and the title together.
- ``article_dense`` / ``article_lexical``: the best dense / lexical part among the candidates of
  the same article (how much the whole article is about the question).
- ``cue_date`` / ``cue_number`` / ``cue_name``: the question wants a date / number / name and the
  sentence holds one (:mod:`index.search.answer_types`).
- ``length``: log of the sentence length (very short sentences rarely answer).

One more part describes the question, not the candidate (the same for all; used by the
confidence, not the ranking): ``known_terms``, the share of the question's terms found anywhere
in the index.
"""

from __future__ import annotations

import numpy as np

from index.search.answer_types import (HELD_BITS, cue_features, cues_read_texts,
                                       question_kind, resolved_relative_dates)
from index.store.sentence_table import SentenceTable
from index.search.term_match import TermMatch, holds
from index.store.title_terms import TitleTerms

FEATURES = ("dense", "passage", "neighbour", "dense_rank", "lexical", "lexical_log", "context",
            "lexical_rank", "coverage", "context_coverage", "title", "all_coverage",
            "article_dense", "article_lexical", "cue_date", "cue_number", "cue_name", "length")
QUESTION_PARTS = ("known_terms",)


def candidate_features(question: str, query: np.ndarray, ids: np.ndarray,
                       table: SentenceTable, sentence_vectors: np.ndarray,
                       passage_vectors: np.ndarray, match: TermMatch,
                       titles: TitleTerms,
                       anchored: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All parts for the candidate sentences ``ids`` (sorted, unique); ``table`` says where
    every sentence stands (its neighbours too) and holds the texts, read only when a cue
    needs them; ``anchored``: bool per article id, whether it has a full date (its relative
    dates then count as dates for "when" questions)."""
    n, size = len(ids), len(table)
    article, passage = table.article[ids], table.passage[ids]
    prev_ids, next_ids = ids - 1, ids + 1
    prev_same = (prev_ids >= 0) & (table.passage[np.maximum(prev_ids, 0)] == passage)
    next_same = (next_ids < size) & (table.passage[np.minimum(next_ids, size - 1)] == passage)

    around = np.unique(np.concatenate([ids, prev_ids[prev_same], next_ids[next_same]]))
    vectors = np.asarray(sentence_vectors[around])
    cosines = vectors @ query
    own = np.searchsorted(around, ids)
    prev_at = np.where(prev_same, np.searchsorted(around, prev_ids), -1)
    next_at = np.where(next_same, np.searchsorted(around, next_ids), -1)

    dense = cosines[own].astype(np.float64)
    neighbour = np.maximum(np.where(prev_same, cosines[prev_at], -1.0),
                           np.where(next_same, cosines[next_at], -1.0))
    neighbour = np.where(prev_same | next_same, neighbour, dense)
    passage_cos = (passage_vectors[passage] @ query).astype(np.float64)

    bm25 = match.scores
    best = max(match.best, 1e-9)
    lexical_raw = bm25[ids].astype(np.float64)
    window = lexical_raw + np.where(prev_same, bm25[np.maximum(prev_ids, 0)], 0.0) \
        + np.where(next_same, bm25[np.minimum(next_ids, size - 1)], 0.0)

    present = match.present(around)
    own_present = present[own]
    window_present = own_present.copy()
    window_present[prev_same] |= present[prev_at[prev_same]]
    window_present[next_same] |= present[next_at[next_same]]
    unique_articles, article_at = np.unique(article, return_inverse=True)
    article_at = article_at.reshape(-1)
    title_rows = np.zeros((len(unique_articles), len(match.terms)), dtype=bool)
    for j, term_id in enumerate(match.term_ids):
        title_rows[:, j] = holds(titles.holding(term_id), unique_articles)
    title_present = title_rows[article_at]

    lexical = lexical_raw / best
    parts = {
        "dense": dense, "passage": passage_cos, "neighbour": neighbour.astype(np.float64),
        "dense_rank": _log_rank(dense), "lexical_rank": _log_rank(lexical_raw),
        "lexical": lexical, "lexical_log": np.log1p(lexical_raw),
        "context": window / max(float(window.max()) if n else 0.0, 1e-9),
        "coverage": match.coverage(own_present),
        "context_coverage": match.coverage(window_present),
        "title": match.coverage(title_present),
        "all_coverage": match.coverage(window_present | title_present),
        "article_dense": _group_max(article_at, len(unique_articles), dense),
        "article_lexical": _group_max(article_at, len(unique_articles), lexical),
        "length": np.log(np.maximum(table.end[ids] - table.start[ids], 1) / 100.0),
    }
    texts = table.texts(ids) if cues_read_texts(question) else []
    held = table.kinds[ids]
    relative = None
    if anchored is not None and question_kind(question) == "date":
        # only candidates without a recorded date, in dated articles, are read and parsed
        need = np.flatnonzero(((held & HELD_BITS["date"]) == 0) & anchored[article])
        relative = np.zeros(n, dtype=bool)
        if len(need):
            relative[need] = resolved_relative_dates(table.texts(ids[need]))
    parts.update(cue_features(question, texts, held, relative))
    parts["known_terms"] = np.full(n, match.known)
    return parts


def _group_max(group: np.ndarray, groups: int, values: np.ndarray) -> np.ndarray:
    """For each element, the maximum of ``values`` over the elements of its group (``group``:
    each element's group number, below ``groups``)."""
    best = np.full(groups, -np.inf)
    np.maximum.at(best, group, values)
    return best[group]


def ranks(values: np.ndarray) -> np.ndarray:
    """The rank of each value, 1 for the largest (ties: the earlier one first)."""
    order = np.argsort(-np.asarray(values), kind="stable")
    out = np.empty(len(order), dtype=np.float64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def _log_rank(values: np.ndarray) -> np.ndarray:
    """``log2(1 + rank)`` of each value, rank 1 being the largest."""
    return np.log2(1.0 + ranks(values))
