"""How sure the bot is that its best sentence supports an answer.

A logistic function of the best hit's score parts, fitted by ``scripts/fit_confidence.py`` on
in-corpus versus out-of-corpus questions (SQuAD dev half-a split into two groups of articles,
each group indexed alone and asked its own and the other group's questions). The fitted
coefficients and the answering threshold are kept as figures in ``confidence_weights.json``;
``answered`` is ``confidence >= threshold``.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

WEIGHTS_FILE = Path(__file__).with_name("confidence_weights.json")
# Used only when the fitted file is missing.
FALLBACK = {"intercept": -6.0, "coefficients": {"dense": 8.0, "passage": 3.0, "lexical": 1.0},
            "threshold": 0.5}


@lru_cache(maxsize=1)
def _model() -> dict:
    try:
        data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        return {"intercept": float(data["intercept"]),
                "coefficients": {str(k): float(v) for k, v in data["coefficients"].items()},
                "threshold": float(data.get("threshold", 0.5))}
    except (OSError, ValueError, KeyError, TypeError):
        return FALLBACK


def confidence(parts: dict[str, float]) -> float:
    """Probability-like confidence in [0, 1] that the best sentence answers the question."""
    model = _model()
    z = model["intercept"] + sum(weight * parts.get(name, 0.0)
                                 for name, weight in model["coefficients"].items())
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def threshold() -> float:
    """The confidence from which a question counts as answered."""
    return _model()["threshold"]


def is_answered(conf: float) -> bool:
    """Whether a best hit with confidence ``conf`` is given as an answer."""
    return conf >= threshold()


def verdict(parts: dict[str, float] | None) -> tuple[float, bool]:
    """``(confidence, answered)`` for the best hit's score parts (None: there was no hit)."""
    if parts is None:
        return 0.0, False
    conf = confidence(parts)
    return conf, is_answered(conf)
