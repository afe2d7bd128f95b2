"""Combine a candidate sentence's score parts into one ranking score.

The parts are cosine similarities (dense sentence, dense passage) and BM25 normalised by the
best BM25 score of the query. The weights are a linear combination; they are tuned on data by
``scripts/`` tooling and kept as figures here.
"""

from __future__ import annotations

import numpy as np

WEIGHTS = {"dense": 0.5, "passage": 0.2, "lexical": 0.3}


class Ranker:
    """A weighted sum of score parts."""

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = dict(weights or WEIGHTS)

    def score(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        total = np.zeros(len(next(iter(parts.values()))), dtype=np.float64)
        for name, weight in self.weights.items():
            if name in parts:
                total += weight * np.asarray(parts[name], dtype=np.float64)
        return total
