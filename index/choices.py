"""Names a user can choose from, kept free of heavy imports so CLI help and parsing stay fast."""

from __future__ import annotations

BACKENDS = ("onnx", "torch", "hashing")  # encoder backends (index.embed.encoders)
RANKERS = ("learned", "hand", "rrf")  # sentence rankers (index.search.ranking)
