"""How sure the bot is that its best sentence supports an answer.

A logistic function of the top candidate's score parts; ``answered`` is ``confidence >= 0.5``.
The coefficients are fitted by ``scripts/fit_confidence.py`` (see the README's design section).
"""

from __future__ import annotations

import math

# Fitted coefficients: intercept and one weight per score part of the best hit.
COEFFICIENTS = {"intercept": -6.0, "dense": 8.0, "passage": 3.0, "lexical": 1.0}


def confidence(parts: dict[str, float]) -> float:
    """Probability-like confidence in [0, 1] that the best sentence answers the question."""
    z = COEFFICIENTS["intercept"] + sum(
        weight * parts.get(name, 0.0) for name, weight in COEFFICIENTS.items()
        if name != "intercept")
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
