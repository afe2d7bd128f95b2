"""Ranking and verdict metrics: P@1, MRR@10, R@k; answered, precision, coverage, AUROC, ECE;
the bootstrap interval of a paired difference."""

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


def mean_average_precision(rankings: Sequence[Sequence[set[int] | int]],
                           gold: Sequence[set[int]]) -> float:
    """Mean over questions of the average precision of each full ranking (entries as in
    :func:`first_hit_ranks`; a merged entry counts as one item, relevant if any id is gold)."""
    values = []
    for ranking, wanted in zip(rankings, gold):
        if not wanted:
            continue
        found, total = 0, 0.0
        for position, entry in enumerate(ranking, start=1):
            ids = entry if isinstance(entry, (set, frozenset)) else {int(entry)}
            if ids & wanted:
                found += 1
                total += found / position
        values.append(total / len(wanted))
    return float(np.mean(values)) if values else 0.0


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


def reliability(confidence: Sequence[float], right: Sequence[bool], bins: int = 10,
                weight: Sequence[float] | None = None) -> list[tuple[float, float, float]]:
    """Equal-width confidence bins: ``(mean confidence, share right, replies)`` for each
    non-empty bin, lowest first (the reliability diagram); ``weight``: each reply's weight
    (default 1), which the means and counts use."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(right, dtype=np.float64)
    w = np.ones(len(conf)) if weight is None else np.asarray(weight, dtype=np.float64)
    at = np.minimum((conf * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        keep = at == b
        if keep.any() and w[keep].sum() > 0:
            total = float(w[keep].sum())
            table.append((float(w[keep] @ conf[keep] / total), float(w[keep] @ ok[keep] / total),
                          total))
    return table


def expected_calibration_error(confidence: Sequence[float], right: Sequence[bool],
                               bins: int = 10, weight: Sequence[float] | None = None) -> float:
    """Mean gap between confidence and the share right, over equal-width bins, weighted by
    their replies (ECE)."""
    table = reliability(confidence, right, bins, weight)
    total = sum(n for _, _, n in table)
    return float(sum(n * abs(c - r) for c, r, n in table) / total) if total else float("nan")


def precision_coverage(confidence: Sequence[float], right: Sequence[bool],
                       answerable: Sequence[bool] | None = None,
                       weight: Sequence[float] | None = None,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each threshold (every distinct confidence, highest first): the precision of the
    replies answered at it and their coverage (right answers over answerable questions)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(right, dtype=bool)
    w = np.ones(len(conf)) if weight is None else np.asarray(weight, dtype=np.float64)
    mask = np.ones(len(ok), bool) if answerable is None else np.asarray(answerable, bool)
    base = max(float(w[mask].sum()), 1e-12)
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(w[order] * ok[order])
    count = np.cumsum(w[order])
    last = np.r_[np.flatnonzero(np.diff(conf[order]) != 0), len(conf) - 1]  # ties together
    return conf[order][last], hits[last] / np.maximum(count[last], 1e-12), hits[last] / base


def verdict_scores(confidence: Sequence[float], right: Sequence[bool], threshold: float,
                   answerable: Sequence[bool] | None = None,
                   weight: Sequence[float] | None = None,
                   answered: Sequence[bool] | None = None) -> dict[str, float | int | None]:
    """How good the verdict is: share answered, precision of the answered (right among them),
    coverage (right and answered, over the ``answerable`` replies: all by default), AUROC of
    the confidence for right vs not (unweighted), and its ECE read as P(right); ``weight``:
    each reply's weight in the shares (default 1). "Answered" is ``confidence >= threshold``,
    or the replies' own ``answered`` flags when given (the bot's verdicts, which may come from
    two models with two thresholds: a gated second stage). A figure without replies to say it
    is None."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(right, dtype=bool)
    w = np.ones(len(conf)) if weight is None else np.asarray(weight, dtype=np.float64)
    mask = np.ones(len(ok), bool) if answerable is None else np.asarray(answerable, bool)
    answered = conf >= threshold if answered is None else np.asarray(answered, dtype=bool)

    def share(num: np.ndarray, den: np.ndarray) -> float | None:
        total = float(w[den].sum())
        return round(float(w[num & den].sum()) / total, 4) if total > 0 else None

    area = auroc(conf[ok], conf[~ok])

    everything = np.ones(len(ok), bool)
    return {
        "replies": len(ok), "right_rate": share(ok, everything),
        "answered": share(answered, everything), "precision": share(ok, answered),
        "coverage": share(ok & answered, mask),
        "auroc": None if np.isnan(area) else round(area, 4),
        "ece": round(expected_calibration_error(conf, ok, weight=w), 4) if len(ok) else None,
    }


def grouped_bootstrap(diff: Sequence[float], groups: Sequence | None = None, draws: int = 5000,
                      seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean of ``diff`` (e.g. a paired right-first difference per
    question), resampling ``groups`` (articles, dialogues) whole; each item alone when None."""
    diff = np.asarray(diff, dtype=np.float64)
    groups = np.arange(len(diff)) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(seed)
    labels, inverse = np.unique(groups, return_inverse=True)
    sums, sizes = np.bincount(inverse, diff), np.bincount(inverse)
    picks = rng.integers(0, len(labels), (draws, len(labels)))
    means = sums[picks].sum(1) / sizes[picks].sum(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
