"""Names a user can choose from, kept free of heavy imports so CLI help and parsing stay fast."""

from __future__ import annotations

BACKENDS = ("onnx", "torch", "hashing")  # encoder backends (index.embed.encoders)
RANKERS = ("learned", "hand", "rrf")  # sentence rankers (index.search.ranking)
# at most this many of the first stage's best the second stage reads (0: none, --fast)
RERANK_DEPTH = 4
SECOND_STAGE_DEPTH = 10  # token matching's measured depth (--rerank-depth 10; combiner_weights.json)
MAX_RERANK_DEPTH = 200
RERANK_DEPTH_ENV = "BOT_RERANK_DEPTH"
# The gate: of the first stage's best ``rerank depth`` sentences, the second stage reads those
# within this of the best one's first-stage score, and none when no other text is that close
# (the first stage is sure). First-stage score units; chosen on fitting data (docs/quality.md);
# $BOT_RERANK_GAP overrides it ("inf": all of them, every question).
RERANK_GAP = 2.0
RERANK_GAP_ENV = "BOT_RERANK_GAP"
