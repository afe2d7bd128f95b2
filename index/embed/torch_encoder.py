"""The plain sentence-transformers (PyTorch) encoder: any model it can load, fp32."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from index.embed.encoders import EncoderSpec, ProgressFn, length_sorted_batches, model_path
from index.errors import ModelUnavailable


class TorchEncoder:
    """Wraps ``SentenceTransformer.encode`` with normalised float32 output."""

    def __init__(self, spec: EncoderSpec) -> None:
        from sentence_transformers import SentenceTransformer

        self.spec = spec
        try:
            self.model = SentenceTransformer(model_path(spec.model), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any loading failure is reported the same way
            raise ModelUnavailable(
                f"cannot load model '{spec.model}' offline: {exc}".splitlines()[0]) from None
        dimension = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension  # renamed in sentence-transformers 5.x
        self.dim = int(dimension())

    @classmethod
    def from_spec(cls, spec: EncoderSpec) -> "TorchEncoder":
        return cls(spec)

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in length_sorted_batches(texts):
            out[batch] = self.model.encode([texts[i] for i in batch], batch_size=len(batch),
                                           normalize_embeddings=True, show_progress_bar=False)
            if progress:
                progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def token_states(self, texts: Sequence[str], specials: bool = True) -> list[np.ndarray]:
        """sentence-transformers' token embeddings of each text, L2-normalised per token;
        ``specials=False`` drops the first and last ([CLS], [SEP])."""
        cut = 0 if specials else 1
        out = []
        for states in self.model.encode(list(texts), output_value="token_embeddings",
                                        batch_size=max(len(texts), 1), show_progress_bar=False):
            states = np.asarray(states.cpu() if hasattr(states, "cpu") else states,
                                dtype=np.float32)
            states = states[cut:max(len(states) - cut, cut + 1)]
            out.append(states / np.maximum(np.linalg.norm(states, axis=1, keepdims=True), 1e-12))
        return out
