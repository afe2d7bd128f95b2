"""How sure the bot is that its best sentence is right: a calibrated probability.

``confidence`` is the estimated chance that the reply's best sentence supports the answer to
the question. A logistic regression on :func:`bot.confidence_features.verdict_features` (the
best sentence's score parts, its lead over the second, whether it holds the kind of answer
asked for, the question's form), followed by an isotonic calibration map, both fitted by
``scripts/fit_confidence.py`` on replies labelled right or wrong: answerable SQuAD questions,
on-topic SQuAD v2.0 questions their article does not answer, questions about articles not
indexed and CoQA conversations with their follow-ups. The figures live in
``confidence_weights.json``; ``answered`` is ``confidence >= threshold``, the threshold chosen
there for precision. The file may hold a second model under ``reranked``, fitted on replies
whose sentences a reranker scored; it is used for those (a ``rerank`` part), the first for the
rest (no reranker, or the fast mode).

The weights file is part of the program: if it is missing or unreadable the bot refuses to
give verdicts (:class:`ConfidenceModelError`) rather than guess.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from index.errors import EngineError

from .confidence_features import Scored, feature_row, verdict_features

WEIGHTS_FILE = Path(__file__).with_name("confidence_weights.json")
VERDICT_DEPTH = 2  # the verdict reads the two best sentences


class ConfidenceModelError(EngineError):
    """The fitted confidence model cannot be read (a broken installation)."""


@dataclass(frozen=True)
class ConfidenceModel:
    """A logistic score over named features, then a monotone calibration map."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    calibration_x: tuple[float, ...]  # increasing logistic outputs ...
    calibration_y: tuple[float, ...]  # ... and the calibrated probabilities there
    threshold: float
    reranked: "ConfidenceModel | None" = None  # for replies whose sentences were reranked

    def for_parts(self, parts: dict[str, float]) -> "ConfidenceModel":
        """The model for a reply whose best sentence has ``parts``: the one fitted on
        reranked replies when the reranker scored it (``rerank`` part) and there is one."""
        return self.reranked if self.reranked is not None and "rerank" in parts else self

    def raw(self, row: Sequence[float]) -> float:
        """The logistic model's probability for a feature row."""
        z = self.intercept + sum(w * x for w, x in zip(self.coefficients, row))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def probability(self, row: Sequence[float]) -> float:
        """The calibrated probability that the best sentence is right."""
        return calibrate(self.raw(row), self.calibration_x, self.calibration_y)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ConfidenceModel":
        """Read the fitted figures (raises KeyError/TypeError/ValueError when malformed)."""
        coefficients = {str(k): float(v) for k, v in data["coefficients"].items()}
        xs = tuple(float(x) for x in data["calibration"]["x"])
        ys = tuple(float(y) for y in data["calibration"]["y"])
        if len(xs) != len(ys) or not xs or list(xs) != sorted(xs):
            raise ValueError("calibration points are not increasing pairs")
        known = set(verdict_features("what?", [_Empty()]))
        unknown = sorted(set(coefficients) - known)
        if unknown:
            raise ValueError(f"unknown features {', '.join(unknown)}")
        threshold = float(data["threshold"])
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold {threshold} is not a probability")
        reranked = cls.from_json(data["reranked"]) if data.get("reranked") else None
        return cls(tuple(coefficients), tuple(coefficients.values()), float(data["intercept"]),
                   xs, ys, threshold, reranked)


class _Empty:
    parts: dict[str, float] = {}


def calibrate(p: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """``p`` mapped through the piecewise-linear calibration curve (flat beyond its ends)."""
    if p <= xs[0]:
        return ys[0]
    if p >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, p)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 if x1 == x0 else y0 + (y1 - y0) * (p - x0) / (x1 - x0)


@lru_cache(maxsize=1)
def model() -> ConfidenceModel:
    """The shipped model; :class:`ConfidenceModelError` when its file is missing or broken."""
    try:
        return ConfidenceModel.from_json(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
    raise ConfidenceModelError(f"cannot read the confidence model {WEIGHTS_FILE} ({reason}); "
                               "reinstall the bot or refit it with: python "
                               "scripts/fit_confidence.py --write")


def verdict(question: str, ranked: Sequence[Scored],
            follow_up: bool = False) -> tuple[float, bool]:
    """``(confidence, answered)`` for a reply whose sentences are ``ranked``, best first (the
    two best are read; pass at least two when there are): the confidence and the threshold
    of one model, the one fitted for replies like this one (:meth:`ConfidenceModel.for_parts`)."""
    if not ranked:
        return 0.0, False
    fitted = model().for_parts(ranked[0].parts)
    conf = fitted.probability(feature_row(verdict_features(question, ranked, follow_up),
                                          fitted.features))
    return conf, conf >= fitted.threshold


def confidence(question: str, ranked: Sequence[Scored], follow_up: bool = False) -> float:
    """The chance that ``ranked[0]`` supports the answer to ``question`` (0 with no sentence)."""
    return verdict(question, ranked, follow_up)[0]


def threshold(reranked: bool = False) -> float:
    """The confidence from which a reply counts as answered (of the model for reranked
    replies, when asked for and there is one)."""
    return model().for_parts({"rerank": 0.0} if reranked else {}).threshold
