"""Tune the conversation's constants (bot/conversation.py) on a CoQA-format dev file.

    python scripts/tune_conversation.py ../shared/eval/coqa-dev-wikipedia-literature.json \\
        --set TOPIC_WEIGHT=1.0,2.0 --set NEAR_BONUS=0,0.3

Indexes every story together (as ``bot eval`` does, reusing its work directory), then asks
every dialogue turn by turn for each combination of the given values and prints P@1, MRR@10
and story@1 (the top sentence from the dialogue's story). Tune on CoQA only (CC BY-SA): the
held-out judgement is other dialogues. ``--half even`` asks only the dialogues of the stories at
even positions (tune there), ``odd`` the others (report there); every story is indexed either
way. ``--rows FILE`` writes one JSON line per scored turn and setting (story, dialogue, turn,
first-hit rank (0: none in the top 10), best sentence id), for a bootstrap over dialogues.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import math
import time
from pathlib import Path

import numpy as np

from bot import conversation, topic
from bot.answering import Answerer
from bot.evaluation.coqa import load_coqa
from bot.evaluation.dialogues import gold_of, work_dir_for
from bot.evaluation.metrics import first_hit_ranks, ranking_scores
from bot.evaluation.runner import index_articles
from index.embed.encoders import EncoderSpec, load_encoder


def run(answerer: Answerer, coqa, spans, rows: list[dict] | None = None) -> dict[str, float]:
    rankings, gold, story_ok, where, best = [], [], [], [], []
    started = time.perf_counter()
    for number, dialogue in enumerate(coqa.dialogues):
        chat = answerer.conversation()
        ids = {sid for _, _, sid in spans[dialogue.story]}
        for n, turn in enumerate(dialogue.turns):
            evidence = chat.ask(turn.text, k=10).answer.evidence
            wanted = gold_of(spans[dialogue.story], turn.span)
            if wanted:
                rankings.append([e.sentence_id for e in evidence])
                gold.append(wanted)
                story_ok.append(bool(evidence) and evidence[0].sentence_id in ids)
                where.append((dialogue.story, number, n))
                best.append(evidence[0].sentence_id if evidence else None)
    ranks = first_hit_ranks(rankings, gold)
    if rows is not None:
        rows += [{"story": s, "dialogue": d, "turn": t, "rank": int(r), "best": b}
                 for (s, d, t), r, b in zip(where, ranks, best)]
    row = ranking_scores(ranks).to_json()
    row["story@1"] = round(float(np.mean(story_ok)), 4)
    row["ms_per_turn"] = round(1000 * (time.perf_counter() - started) / max(len(gold), 1), 1)
    return row


def count_steps(coqa, spans) -> None:
    """Print where each turn's rationale stands from the previous turn's, in sentences (the
    counts behind ``bot.conversation.STEPS``: log of each share over a far sentence's)."""
    steps: collections.Counter[int] = collections.Counter()
    for dialogue in coqa.dialogues:
        previous: set[int] = set()
        for turn in dialogue.turns:
            gold = gold_of(spans[dialogue.story], turn.span)
            if gold and previous:
                steps[min(gold) - min(previous)] += 1
            previous = gold or previous
    total = sum(steps.values())
    near = {s: n / total for s, n in sorted(steps.items()) if -3 <= s <= 5}
    far = (1 - sum(near.values())) / max(len(steps) - len(near), 1)
    print(f"{total} turn pairs; share of each step: "
          + ", ".join(f"{s}: {share:.3f}" for s, share in near.items())
          + f"; a far step: {far:.4f}")
    print("log over 0.01: " + ", ".join(f"{s}: {math.log(share / 0.01):.2f}"
                                        for s, share in near.items()))


def _owner(name: str) -> tuple[object, str]:
    """``(module, constant)`` for ``NAME`` (bot.conversation) or ``topic.NAME`` (bot.topic)."""
    module, _, constant = name.rpartition(".")
    return ({"": conversation, "topic": topic}[module], constant)


def _value(owner: tuple[object, str], text: str) -> object:
    current = getattr(*owner)
    if isinstance(current, tuple):
        return tuple(float(x) for x in text.split("/"))
    return type(current)(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--set", action="append", default=[],
                        help="NAME=v1,v2,... (a constant of bot/conversation.py)")
    parser.add_argument("--stories", type=int, default=None,
                        help="ask only the dialogues of the first N stories (all indexed)")
    parser.add_argument("--half", choices=("even", "odd"), default=None,
                        help="ask only the dialogues of the stories at even (odd) positions")
    parser.add_argument("--rows", default=None,
                        help="write one JSON line per scored turn and setting to this file")
    parser.add_argument("--work-dir", default=None, help="as bot eval --work-dir")
    parser.add_argument("--steps", action="store_true",
                        help="only count the rationale steps between turns")
    args = parser.parse_args()
    coqa = load_coqa(args.file)
    if args.stories:
        full = coqa
        coqa = type(full)(full.articles, [d for d in full.dialogues if d.story < args.stories],
                          full.digest)
    if args.half:
        keep = 0 if args.half == "even" else 1
        coqa = type(coqa)(coqa.articles, [d for d in coqa.dialogues if d.story % 2 == keep],
                          coqa.digest)
    spec = EncoderSpec.from_env()
    encoder = load_encoder(spec)
    work = Path(args.work_dir) if args.work_dir else work_dir_for(coqa, spec)
    indexed = index_articles(coqa, work, encoder)
    spans = indexed.spans
    answerer = Answerer(indexed.searcher)
    if args.steps:
        count_steps(coqa, spans)
        return
    grid = [(name, [_value(_owner(name), v) for v in values.split(",")])
            for name, values in (s.split("=", 1) for s in args.set)]
    for combo in itertools.product(*(values for _, values in grid)):
        for (name, _), value in zip(grid, combo):
            setattr(*_owner(name), value)
        setting = " ".join(f"{n}={v}" for (n, _), v in zip(grid, combo)) or "defaults"
        rows: list[dict] = []
        print(f"{setting}: {run(answerer, coqa, spans, rows)}", flush=True)
        if args.rows:
            with open(args.rows, "a", encoding="utf-8") as out:
                out.writelines(json.dumps({"setting": setting, **r}) + "\n" for r in rows)


if __name__ == "__main__":
    main()
