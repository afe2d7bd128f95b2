"""A deterministic encoder with no model: hashed word and word-pair counts, normalised.

Useful for fast tests and for trying the tool without a model; its vectors only know shared
words, so answers are lexical.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from index.embed.encoders import EncoderSpec, ProgressFn

_WORD = re.compile(r"\w+")


class HashingEncoder:
    """``hashing`` or ``hashing:DIM`` (default 256 dimensions)."""

    def __init__(self, spec: EncoderSpec, dim: int) -> None:
        self.spec = spec
        self.dim = dim

    @classmethod
    def from_spec(cls, spec: EncoderSpec) -> "HashingEncoder":
        _, _, size = spec.model.partition(":")
        return cls(spec, int(size) if size.isdigit() and int(size) > 0 else 256)

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                slot, sign = self._signed_slot(token)
                out[row, slot] += sign
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        if progress:
            progress(len(texts))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def token_states(self, texts: Sequence[str], specials: bool = True) -> list[np.ndarray]:
        """One vector per word (its hashed slot, ±1); there are no special tokens."""
        out = []
        for text in texts:
            words = _WORD.findall(text.lower()) or [""]
            states = np.zeros((len(words), self.dim), dtype=np.float32)
            for row, word in enumerate(words):
                slot, sign = self._signed_slot(word)
                states[row, slot] = sign
            out.append(states)
        return out

    def _signed_slot(self, token: str) -> tuple[int, float]:
        """The dimension ``token`` hashes to and its sign there (±1), for vectors and token
        states alike."""
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        return int.from_bytes(digest[:4], "little") % self.dim, 1.0 if digest[4] & 1 else -1.0
