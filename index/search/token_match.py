"""Token matching: how well each of a question's words is matched somewhere in a sentence,
read from the same bi-encoder's token states (no training of its own).

The sentence vectors the first stage compares are each one mean of its tokens' states: a
sentence's many other words dilute the few that match the question. Here every
question token (``[CLS]``/``[SEP]`` left out) takes its best cosine with any token of the
sentence (read as ``Title: sentence``, as it was embedded), and the sentence scores the mean of
those: late interaction (as ColBERT, BERTScore's recall) with the packaged MiniLM. It costs one
model run over the candidates it reads, so it is a second stage over the first stage's best
few, read only where the first stage is unsure (:class:`index.search.searcher.Searcher`,
``rerank_depth`` and ``rerank_gap``; ``--fast`` skips it); measured in docs/quality.md.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from index.embed.encoders import Encoder


def token_match(question: np.ndarray, sentences: Sequence[np.ndarray]) -> np.ndarray:
    """For each sentence's token vectors (rows L2-normalised), the mean over the question's
    token vectors of their best cosine with one of the sentence's tokens (in [-1, 1])."""
    out = np.zeros(len(sentences), dtype=np.float64)
    if not len(question):
        return out
    for row, states in enumerate(sentences):
        if len(states):
            out[row] = float((question @ states.T).max(axis=1).mean())
    return out


class TokenMatcher:
    """The second stage's scorer: :func:`token_match` with ``encoder``'s token states."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text (higher: more of the question's tokens found in it); a text
        given twice (a reprinted sentence) is read once."""
        if not len(texts):
            return np.zeros(0, dtype=np.float64)
        asked = self.encoder.token_states([question], specials=False)[0]
        unique = list(dict.fromkeys(texts))
        scores = dict(zip(unique, token_match(asked, self.encoder.token_states(unique))))
        return np.array([scores[t] for t in texts], dtype=np.float64)
