"""Token matching: how well each of a question's words is matched somewhere in a sentence,
read from the same bi-encoder's token states.

The sentence vectors the first stage compares are each one mean of its tokens' states: a
sentence's many other words dilute the few that match the question. Here every
question token (``[CLS]``/``[SEP]`` left out) takes its best cosine with any token of the
sentence (read as ``Title: sentence``, as it was embedded), and the sentence scores the
weighted mean of those: late interaction (as ColBERT, BERTScore's recall) with the packaged
MiniLM. How much each question token counts is learned (:class:`QuestionTokenWeights`,
``token_weights.npz``: ``softplus(u · h + c)`` of the token's state ``h``, fitted by
``scripts/fit_token_head.py``); an encoder it was not fitted for counts every token alike.
It costs one model run over the candidates it reads, so it is a second stage over the first
stage's best few, read only where the first stage is unsure
(:class:`index.search.searcher.Searcher`, ``rerank_depth`` and ``rerank_gap``; ``--fast``
skips it); measured in docs/quality.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from index.embed.encoders import Encoder
from index.errors import BrokenInstall

WEIGHTS_FILE = Path(__file__).with_name("token_weights.npz")


@dataclass(frozen=True)
class QuestionTokenWeights:
    """How much a question token counts in the mean: ``softplus(u · h + c)`` of its state
    ``h`` (a contextual IDF), for the token states of ``model``."""

    u: np.ndarray  # (dim,)
    c: float
    model: str

    def __call__(self, states: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, states.astype(np.float64) @ self.u + self.c)

    def fits(self, encoder: Encoder) -> bool:
        """Whether these weights were fitted on ``encoder``'s token states."""
        return encoder.spec.model == self.model and encoder.dim == len(self.u)

    def save(self, path: Path, record: dict) -> None:
        """Write the weights and ``record`` (how they were fitted) as one ``.npz``."""
        with open(path, "wb") as out:
            np.savez(out, u=self.u.astype(np.float32), c=np.float32(self.c),
                     model=np.array(self.model), record=np.array(json.dumps(record)))

    @classmethod
    def equal(cls, encoder: Encoder) -> "QuestionTokenWeights":
        """Every token of ``encoder``'s alike: the plain mean (token matching before weights)."""
        return cls(np.zeros(encoder.dim), 0.0, encoder.spec.model)

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "QuestionTokenWeights":
        """The weights in ``path``; :class:`BrokenInstall` when it cannot be read (the
        combiner was fitted with the shipped weights: equal ones would rank on another
        scale)."""
        try:
            with np.load(path) as saved:
                return cls(saved["u"].astype(np.float64), float(saved["c"]), str(saved["model"]))
        except (OSError, ValueError, KeyError, EOFError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise BrokenInstall(f"the token-match weights {path} cannot be read ({reason}); "
                                "reinstall the bot or refit them with: python "
                                "scripts/fit_token_head.py --write") from None


def token_match(question: np.ndarray, sentences: Sequence[np.ndarray],
                weights: np.ndarray | None = None) -> np.ndarray:
    """For each sentence's token vectors (rows L2-normalised), the mean over the question's
    token vectors (weighted by ``weights``, one per question token; equal when None) of their
    best cosine with one of the sentence's tokens (in [-1, 1])."""
    out = np.zeros(len(sentences), dtype=np.float64)
    if not len(question):
        return out
    share = np.full(len(question), 1.0 / len(question)) if weights is None else \
        np.asarray(weights, dtype=np.float64) / max(float(np.sum(weights)), 1e-300)
    for row, states in enumerate(sentences):
        if len(states):
            out[row] = float((question @ states.T).max(axis=1) @ share)
    return out


class TokenMatcher:
    """The second stage's scorer: :func:`token_match` with ``encoder``'s token states, the
    question's tokens weighted by ``weights`` (default: the shipped ones; weights fitted for
    another model, or none: every token alike)."""

    def __init__(self, encoder: Encoder, weights: QuestionTokenWeights | None = None) -> None:
        self.encoder = encoder
        weights = weights if weights is not None else QuestionTokenWeights.load()
        self.weights = weights if weights.fits(encoder) else None

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text (higher: more of the question's tokens found in it); a text
        given twice (a reprinted sentence) is read once."""
        if not len(texts):
            return np.zeros(0, dtype=np.float64)
        asked = self.encoder.token_states([question], specials=False)[0]
        weights = self.weights(asked) if self.weights is not None and len(asked) else None
        unique = list(dict.fromkeys(texts))
        scores = dict(zip(unique, token_match(asked, self.encoder.token_states(unique),
                                              weights)))
        return np.array([scores[t] for t in texts], dtype=np.float64)
