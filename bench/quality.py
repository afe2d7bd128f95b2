"""What int8 quantisation costs: MRR@10 of plain dense sentence retrieval on SQuAD.

Every sentence (sentencex-split, as the indexer splits) of SQuAD v1.1 dev half-a is embedded;
each question is embedded alone (as ``bot ask`` does) and the ten nearest sentences by exact
cosine are ranked; the gold sentence is the one holding an annotator's ``answer_start``.
"""

from __future__ import annotations

import time

import numpy as np

from .corpora import squad_sentences, load_squad


def mrr_at_10(encoder, limit: int | None = None) -> dict[str, float]:
    """MRR@10 and P@1 of dense retrieval with ``encoder`` (``limit`` questions, default all)."""
    texts, _, gold = squad_sentences()
    questions = load_squad().questions
    if limit:
        gold = gold[:limit]
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    reciprocal = []
    for q, _, answer in gold:
        scores = vectors @ encoder.encode_query(questions[q][0])
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top], kind="stable")]
        hits = np.flatnonzero(top == answer)
        reciprocal.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
    rr = np.array(reciprocal)
    return {"mrr10": float(rr.mean()), "p1": float((rr == 1.0).mean()),
            "questions": len(rr), "sentences": len(texts),
            "seconds": time.perf_counter() - started}
