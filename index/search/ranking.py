"""Combine a candidate sentence's score parts (:mod:`index.search.features`) into one ranking score.

The default ranker is linear in the parts; its weights were learned on SQuAD v1.1 dev half-a and
every turn of the CoQA dev stories by ``scripts/train_ranker.py`` (a listwise softmax over each
question's candidates, chosen by article-grouped cross-validation) and are kept as figures in
``ranker_weights.json``. CoQA's short turns reuse few of the story's words, so the weights lean
on the dense parts more than a fit on SQuAD alone (whose questions copy the paragraph's words)
and hold up better on natural questions (docs/quality.md). Two
reference rankers remain for comparison with ``bot eval --ranker``: ``hand`` (the original
hand-set weighted sum) and ``rrf`` (reciprocal-rank fusion of dense and BM25).

That score is the first stage. Where it is unsure, those of its best ``RERANK_DEPTH``
candidates that score within ``RERANK_GAP`` of its best are read again by the second stage
(token matching, :mod:`index.search.token_match`; or the cross-encoder,
:mod:`index.search.reranker`), and :func:`combine` orders them: a weighted sum of the second
stage's score and the first-stage score, fitted by ``scripts/fit_combiner.py``
(article-grouped cross-validation), kept as figures in ``combiner_weights.json``, on the
first stage's scale.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.choices import RANKERS, RERANK_DEPTH, RERANK_DEPTH_ENV, RERANK_GAP, RERANK_GAP_ENV
from index.environment import non_negative, whole_number
from index.errors import BadInput, BrokenInstall
from index.search.features import ranks

WEIGHTS_FILE = Path(__file__).with_name("ranker_weights.json")
COMBINER_FILE = Path(__file__).with_name("combiner_weights.json")
DEFAULT_COMBINER = {"rerank": 1.0, "first_stage": 0.0}


def default_rerank_depth() -> int:
    """``$BOT_RERANK_DEPTH`` (0: no reranker, the fast mode), else ``RERANK_DEPTH``."""
    chosen = whole_number(RERANK_DEPTH_ENV, "candidates (0: none)")
    return RERANK_DEPTH if chosen is None else chosen


def default_rerank_gap() -> float:
    """``$BOT_RERANK_GAP`` (``inf``: the second stage reads all its candidates, every
    question), else ``RERANK_GAP``: it reads those the first stage scores within this of its
    best, and none when no other text is that close."""
    chosen = non_negative(RERANK_GAP_ENV, "a score gap",
                          "inf: the second stage reads all its candidates")
    return RERANK_GAP if chosen is None else chosen


HAND_WEIGHTS = {"dense": 0.5, "passage": 0.2, "lexical": 0.3}
RRF_K = 60.0


@lru_cache(maxsize=1)
def learned_weights() -> dict[str, float]:
    """The committed learned weights; raises :class:`BrokenInstall` when the shipped file is
    missing or unreadable (measured figures that cannot load are a packaging error, never a
    silent switch to other weights)."""
    try:
        data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        weights = {str(k): float(v) for k, v in data["weights"].items()}
    except OSError as exc:
        raise BrokenInstall(f"the shipped ranker weights {WEIGHTS_FILE} cannot be read "
                            f"({exc.strerror or exc}); reinstall sentence-bot") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BrokenInstall(f"the shipped ranker weights {WEIGHTS_FILE} are damaged "
                            f"({type(exc).__name__}: {exc}); reinstall sentence-bot") from None
    if not weights:
        raise BrokenInstall(f"the shipped ranker weights {WEIGHTS_FILE} hold no weights; "
                            "reinstall sentence-bot")
    return weights


@lru_cache(maxsize=1)
def combiner_weights() -> dict[str, float]:
    """The committed combiner weights (the reranker alone when the file is missing)."""
    try:
        data = json.loads(COMBINER_FILE.read_text(encoding="utf-8"))
        return {k: float(data["weights"][k]) for k in DEFAULT_COMBINER}
    except (OSError, ValueError, KeyError, TypeError):
        return dict(DEFAULT_COMBINER)


def combine(rerank: np.ndarray, first_stage: np.ndarray,
            weights: dict[str, float] | None = None) -> np.ndarray:
    """The final score of reranked candidates from their reranker logits and first-stage
    scores: the fitted weighted sum, divided by its first-stage weight (when it has one) so
    that it stays on the first stage's scale. The order is the sum's; what reads the scores
    further (a conversation's topic and walk priors, the lead a new question needs, the
    verdict's margin) reads them in the units it was tuned in."""
    w = weights or combiner_weights()
    scale = w["first_stage"] if w["first_stage"] > 0 else 1.0
    return (w["rerank"] * np.asarray(rerank, dtype=np.float64) +
            w["first_stage"] * np.asarray(first_stage, dtype=np.float64)) / scale


class Ranker:
    """A weighted sum of score parts, or reciprocal-rank fusion when ``kind == "rrf"``."""

    def __init__(self, weights: dict[str, float] | None = None, kind: str = "linear") -> None:
        self.kind = kind
        self.weights = dict(weights if weights is not None else learned_weights())

    @classmethod
    def named(cls, name: str) -> "Ranker":
        """``learned`` (default), ``hand`` or ``rrf``."""
        if name == "learned":
            return cls()
        if name == "hand":
            return cls(HAND_WEIGHTS)
        if name == "rrf":
            return cls({}, kind="rrf")
        raise BadInput(f"unknown ranker '{name}' (choose from {', '.join(RANKERS)})")

    def score(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """One score per candidate (higher is better)."""
        size = len(next(iter(parts.values()))) if parts else 0
        if self.kind == "rrf":
            return rrf(parts["dense"], parts["lexical"])
        total = np.zeros(size, dtype=np.float64)
        for name, weight in self.weights.items():
            if name in parts:
                total += weight * np.asarray(parts[name], dtype=np.float64)
        return total


def rrf(*scores: np.ndarray) -> np.ndarray:
    """Reciprocal-rank fusion: the sum over score lists of ``1 / (RRF_K + rank)``."""
    total = np.zeros(len(scores[0]), dtype=np.float64)
    for values in scores:
        total += 1.0 / (RRF_K + ranks(values))
    return total
