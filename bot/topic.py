"""Which articles a dialogue is about: evidence from every turn, summed in log space.

Each search of a turn spreads a probability over the articles of its best candidates (a
softmax of their ranker scores at :data:`TEMPERATURE`, summed per article). The topic keeps,
per article, the sum over turns of ``log(p + FLOOR)``, older turns fading by :data:`DECAY`: an
article that answers turn after turn builds a lead no single lucky sentence elsewhere can match,
and one the dialogue left behind fades. An article no search reached counts ``log(FLOOR)`` for
each turn.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

TEMPERATURE = 3.0  # softens the ranker's scores (a listwise softmax's log-odds) per turn
FLOOR = 0.01  # the probability an article gets from a search that did not reach it
DECAY = 0.8  # an earlier turn's weight, per turn since
KEPT = 200  # articles remembered (the rest count as unreached)


class Topic:
    """A dialogue's article log-scores; :meth:`priors` are articles' distances to the best."""

    def __init__(self) -> None:
        self.scores: dict[int, float] = {}
        self.unreached = 0.0  # the score of an article no search has reached

    def fade(self, factor: float = DECAY) -> None:
        """One turn older: every earlier turn counts ``factor`` (:data:`DECAY`) times less."""
        self.scores = {a: s * factor for a, s in self.scores.items()}
        self.unreached *= factor

    def add(self, ranked: Iterable[tuple[int, float]], share: float = 1.0) -> None:
        """Add one search's best candidates, ``(article id, ranker score)`` each (``share``:
        how much this search counts)."""
        evidence = list(ranked)
        if not evidence or not share:
            return
        scores = np.array([score for _, score in evidence]) / TEMPERATURE
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        reached: dict[int, float] = {}
        for (article, _), w in zip(evidence, weights.tolist()):
            reached[article] = reached.get(article, 0.0) + w
        floor = share * math.log(FLOOR)
        for article in self.scores.keys() - reached.keys():
            self.scores[article] += floor
        for article, p in reached.items():
            self.scores[article] = self.scores.get(article, self.unreached) + \
                share * math.log(p + FLOOR)
        self.unreached += floor
        if len(self.scores) > KEPT:
            kept = sorted(self.scores, key=self.scores.__getitem__, reverse=True)[:KEPT]
            self.scores = {a: self.scores[a] for a in kept}

    def priors(self, articles: Iterable[int]) -> dict[int, float]:
        """Each of ``articles``' log-score minus the best article's (0 for the best, below 0
        else; 0 for all before any search)."""
        best = max(self.scores.values(), default=0.0)
        return {a: self.scores.get(a, self.unreached) - best if self.scores else 0.0
                for a in articles}

    def best(self, count: int) -> list[int]:
        """The ``count`` articles with the highest scores, best first."""
        return sorted(self.scores, key=self.scores.__getitem__, reverse=True)[:count]

    def clear(self) -> None:
        self.scores.clear()
        self.unreached = 0.0
