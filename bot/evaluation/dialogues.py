"""Evaluate follow-up questions on a CoQA-format file: every story indexed together, every
dialogue asked turn by turn through :meth:`bot.answering.Answerer.conversation`.

Beside the conversation, in the same run and on the same sentences: each question asked alone
through the bot, plain dense retrieval (exact cosine) of the question alone and of the last two
questions joined, and plain BM25 of the question alone. For each: P@1, MRR@10, R@5, R@10
against the rationale sentences, and ``story@1``, the share of turns whose top sentence comes
from the dialogue's own story.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.embed.encoders import Encoder, EncoderSpec, load_encoder
from index.progress import progress_bar
from index.search.ranking import Ranker

from ..answering import Answerer
from ..questions import clean_question
from .coqa import CoqaSet
from .metrics import first_hit_ranks, ranking_scores
from .runner import DEPTH, Spans, gap_of, index_articles, top_ids
from .runner import work_dir_for as _set_work_dir
METHODS = ("conversation", "alone", "dense", "dense_last_two", "bm25")


@dataclass
class Scored:
    """Each scored turn's ranking (sentence ids, best first) for one method."""

    rankings: list[list[int]] = field(default_factory=list)
    seconds: float = 0.0


def work_dir_for(coqa: CoqaSet, spec: EncoderSpec) -> Path:
    """A reusable work directory per dialogue file and model, under the bot's cache."""
    return _set_work_dir(coqa, spec, kind="coqa-")


def gold_of(spans: Spans, span: tuple[int, int] | None) -> set[int]:
    """Ids of the sentences overlapping the rationale ``span``."""
    if span is None:
        return set()
    start, end = span
    return {sid for s, e, sid in spans if s < end and start < e}


def evaluate_dialogues(coqa: CoqaSet, spec: EncoderSpec | None = None,
                       work_dir: Path | None = None, ranker: str = "learned",
                       encoder: Encoder | None = None,
                       rerank_depth: int | None = None) -> dict[str, Any]:
    """The report (see :func:`bot.evaluation.report.render_dialogues`) as a JSON-able dict;
    ``rerank_depth``: candidates the reranker reads (None: the default, 0: none)."""
    spec = spec or (encoder.spec if encoder else EncoderSpec.from_env())
    encoder = encoder or load_encoder(spec)
    work_dir = (work_dir or work_dir_for(coqa, spec)).absolute()
    indexed = index_articles(coqa, work_dir, encoder)
    searcher, spans = indexed.searcher, indexed.spans
    searcher.ranker = Ranker.named(ranker)
    if rerank_depth is not None:
        searcher.rerank_depth = rerank_depth
    answerer = Answerer(searcher)
    vectors = np.asarray(searcher.sentence_vectors)
    scored = {name: Scored() for name in METHODS}
    gold: list[set[int]] = []
    story: list[int] = []
    unscored = follow_ups = 0
    with progress_bar(coqa.turns, "asking dialogues", unit="turn") as bar:
        for dialogue in coqa.dialogues:
            conversation = answerer.conversation()
            previous = ""
            for turn in dialogue.turns:
                started = time.perf_counter()
                reply = conversation.ask(turn.text, k=DEPTH)
                took = time.perf_counter() - started
                wanted = gold_of(spans[dialogue.story], turn.span)
                joined, previous = f"{previous} {turn.text}".strip(), turn.text
                bar.update(1)
                if not wanted:
                    unscored += 1
                    continue
                follow_ups += bool(reply.read_with)
                gold.append(wanted)
                story.append(dialogue.story)
                scored["conversation"].rankings.append(
                    [e.sentence_id for e in reply.answer.evidence])
                scored["conversation"].seconds += took
                started = time.perf_counter()
                alone = answerer.ask(turn.text, k=DEPTH)
                scored["alone"].seconds += time.perf_counter() - started
                scored["alone"].rankings.append([e.sentence_id for e in alone.evidence])
                text = clean_question(turn.text)
                scored["dense"].rankings.append(top_ids(vectors @ encoder.encode_query(text)))
                scored["dense_last_two"].rankings.append(
                    top_ids(vectors @ encoder.encode_query(clean_question(joined))))
                scored["bm25"].rankings.append(top_ids(searcher.bm25.scores(text)))
    story_ids = [{sid for _, _, sid in spans[s]} for s in story]
    methods = {}
    for name, result in scored.items():
        row = ranking_scores(first_hit_ranks(result.rankings, gold)).to_json()
        row["story@1"] = round(float(np.mean([bool(r) and r[0] in ids for r, ids in
                                              zip(result.rankings, story_ids)])), 4) \
            if gold else 0.0
        if result.seconds:
            row["ms_per_turn"] = round(1000 * result.seconds / max(len(gold), 1), 2)
        methods[name] = row
    return {"kind": "dialogues", "stories": len(coqa.articles),
            "dialogues": len(coqa.dialogues), "turns": len(gold), "unscored_turns": unscored,
            "read_with_earlier_turns": follow_ups, "sentences": searcher.size,
            "ranker": ranker, "rerank_depth": searcher.rerank_depth,
            "rerank_gap": gap_of(searcher),
            "model": f"{spec.model} ({spec.backend})",
            "work_dir": str(work_dir), "index_seconds": round(indexed.index_seconds, 2),
            "methods": methods}
