"""Ranking and abstention metrics: P@1, MRR@10, R@k, answered rate, AUROC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class RankingScores:
    """Ranking quality over a question set (hit = a returned sentence holding a gold start)."""

    questions: int
    p_at_1: float
    mrr_at_10: float
    r_at_5: float
    r_at_10: float

    def to_json(self) -> dict[str, float | int]:
        return {"questions": self.questions, "p@1": round(self.p_at_1, 4),
                "mrr@10": round(self.mrr_at_10, 4), "r@5": round(self.r_at_5, 4),
                "r@10": round(self.r_at_10, 4)}


def first_hit_ranks(rankings: Sequence[Sequence[set[int] | int]],
                    gold: Sequence[set[int]]) -> np.ndarray:
    """1-based rank of the first gold item in each ranking (0 when none is gold).

    A ranking entry is a sentence id, or a set of ids when near-duplicates were merged into one
    answer (it is a hit when any of them is gold).
    """
    ranks = np.zeros(len(gold), dtype=np.int64)
    for q, (ranking, wanted) in enumerate(zip(rankings, gold)):
        for position, entry in enumerate(ranking, start=1):
            ids = entry if isinstance(entry, (set, frozenset)) else {int(entry)}
            if ids & wanted:
                ranks[q] = position
                break
    return ranks


def ranking_scores(ranks: np.ndarray) -> RankingScores:
    """Scores from first-hit ranks (see :func:`first_hit_ranks`)."""
    ranks = np.asarray(ranks)
    if not len(ranks):
        return RankingScores(0, 0.0, 0.0, 0.0, 0.0)
    found = ranks > 0
    reciprocal = np.where(found & (ranks <= 10), 1.0 / np.maximum(ranks, 1), 0.0)
    return RankingScores(
        questions=len(ranks), p_at_1=float(np.mean(ranks == 1)),
        mrr_at_10=float(reciprocal.mean()), r_at_5=float(np.mean(found & (ranks <= 5))),
        r_at_10=float(np.mean(found & (ranks <= 10))))


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a positive outscores a negative (ties count half)."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    values = np.concatenate([pos, neg])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(values)]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    rank_sum = ranks[:len(pos)].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))
